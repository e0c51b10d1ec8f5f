/**
 * Jobs per second over the last minutes, sampled once a second from the server's cumulative
 * counters (no cost on the job path). Per function only the last minute is kept.
 */
import type { ServerCore } from '../core.ts';

/** Seconds of history kept for the totals. */
export const THROUGHPUT_WINDOW_S = 600;
/** Seconds of history kept per function. */
const FUNCTION_WINDOW_S = 60;

/** Fixed-size ring of per-second counts, oldest first when read. */
class Ring {
  readonly #slots: Float64Array;
  #next = 0;
  #filled = 0;

  constructor(size: number) {
    this.#slots = new Float64Array(size);
  }

  push(v: number): void {
    this.#slots[this.#next] = v;
    this.#next = (this.#next + 1) % this.#slots.length;
    if (this.#filled < this.#slots.length) this.#filled++;
  }

  /** The last `n` values (fewer if not filled yet), oldest first. */
  last(n = this.#filled): number[] {
    const k = Math.min(n, this.#filled);
    const out = new Array<number>(k);
    const size = this.#slots.length;
    for (let i = 0; i < k; i++) out[i] = this.#slots[(this.#next - k + i + size) % size]!;
    return out;
  }

  sumLast(n: number): number {
    let s = 0;
    for (const v of this.last(n)) s += v;
    return s;
  }
}

export interface ThroughputSeries {
  /** Seconds per value. */
  readonly intervalSeconds: number;
  /** Per-second counts, oldest first; the last value is the most recent whole second. */
  readonly submitted: number[];
  readonly completed: number[];
  /** WORK_FAIL, WORK_EXCEPTION and retries used up. */
  readonly failed: number[];
  /** Jobs completed in the last 60 s (or since sampling began, when shorter). */
  readonly completedLastMinute: number;
  readonly submittedLastMinute: number;
  readonly failedLastMinute: number;
}

interface FunctionCounts {
  completed: number;
  failed: number;
  readonly completedRing: Ring;
  readonly failedRing: Ring;
}

export class ThroughputSampler {
  readonly #core: ServerCore;
  readonly #submitted = new Ring(THROUGHPUT_WINDOW_S);
  readonly #completed = new Ring(THROUGHPUT_WINDOW_S);
  readonly #failed = new Ring(THROUGHPUT_WINDOW_S);
  readonly #functions = new Map<string, FunctionCounts>();
  #last: { submitted: number; completed: number; failed: number };

  constructor(core: ServerCore) {
    this.#core = core;
    this.#last = this.#totals();
  }

  #totals(): { submitted: number; completed: number; failed: number } {
    const s = this.#core.stats;
    return { submitted: s.submitted, completed: s.completed, failed: s.failed + s.exceptions };
  }

  /** Record the second that just ended. */
  tick(): void {
    const now = this.#totals();
    // Counters only grow; max(0) guards against a core swapped under us.
    this.#submitted.push(Math.max(0, now.submitted - this.#last.submitted));
    this.#completed.push(Math.max(0, now.completed - this.#last.completed));
    this.#failed.push(Math.max(0, now.failed - this.#last.failed));
    this.#last = now;

    const seen = new Set<string>();
    for (const fn of this.#core.functions.values()) {
      seen.add(fn.name);
      let c = this.#functions.get(fn.name);
      if (!c) {
        // Counted from zero: a function is new since the last tick (or replayed, with no history).
        c = { completed: 0, failed: 0, completedRing: new Ring(FUNCTION_WINDOW_S), failedRing: new Ring(FUNCTION_WINDOW_S) };
        this.#functions.set(fn.name, c);
      }
      // A dropped and re-created function starts its counters again from zero.
      c.completedRing.push(Math.max(0, fn.completed - c.completed));
      c.failedRing.push(Math.max(0, fn.failed - c.failed));
      c.completed = fn.completed;
      c.failed = fn.failed;
    }
    for (const name of this.#functions.keys()) if (!seen.has(name)) this.#functions.delete(name);
  }

  series(seconds = THROUGHPUT_WINDOW_S): ThroughputSeries {
    return {
      intervalSeconds: 1,
      submitted: this.#submitted.last(seconds),
      completed: this.#completed.last(seconds),
      failed: this.#failed.last(seconds),
      completedLastMinute: this.#completed.sumLast(60),
      submittedLastMinute: this.#submitted.sumLast(60),
      failedLastMinute: this.#failed.sumLast(60),
    };
  }

  /** Jobs of `fn` completed and failed in the last minute. */
  functionLastMinute(name: string): { completed: number; failed: number } {
    const c = this.#functions.get(name);
    if (!c) return { completed: 0, failed: 0 };
    return { completed: c.completedRing.sumLast(60), failed: c.failedRing.sumLast(60) };
  }
}
