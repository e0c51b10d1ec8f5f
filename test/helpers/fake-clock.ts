/**
 * A Clock (src/clock.ts) that stands still until the test moves it: timeouts, heartbeats,
 * backoff and epoch jobs then run when the test says, not after real waiting. Timers fire in the
 * order of their due time (then of their creation), each with `now()` set to its due time.
 */
import type { Clock, ClockTimer } from '../../src/clock.ts';

interface Pending {
  readonly id: number;
  at: number;
  readonly every: number | null;
  readonly callback: () => void;
}

class FakeTimer implements ClockTimer {
  constructor(readonly id: number) {}
  unref(): this {
    return this;
  }
}

export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();

  /** Starts at `start` (ms since the epoch; a fixed day by default, so runs repeat exactly). */
  constructor(start = Date.UTC(2026, 9, 1, 12)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    return this.#add(callback, ms, null);
  }

  setInterval(callback: () => void, ms: number): ClockTimer {
    return this.#add(callback, ms, Math.max(1, ms));
  }

  clearTimeout(timer: ClockTimer | null | undefined): void {
    if (timer instanceof FakeTimer) this.#pending.delete(timer.id);
  }

  clearInterval(timer: ClockTimer | null | undefined): void {
    this.clearTimeout(timer);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Milliseconds until the next timer fires, or undefined when none waits. */
  get nextIn(): number | undefined {
    let at = Infinity;
    for (const p of this.#pending.values()) at = Math.min(at, p.at);
    return at === Infinity ? undefined : at - this.#now;
  }

  /** Move time forward by `ms`, firing every timer that comes due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.#pending.values()) if (p.at <= end && (!next || p.at < next.at || (p.at === next.at && p.id < next.id))) next = p;
      if (!next) break;
      this.#now = next.at;
      if (next.every === null) this.#pending.delete(next.id);
      else next.at += next.every;
      next.callback();
    }
    this.#now = end;
  }

  /**
   * As `advance`, but lets promise callbacks settle before each timer fires and after the last,
   * for async code under test whose next timer is set in a `then`.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.nextIn;
      if (due === undefined || this.#now + due > end) break;
      this.advance(due);
    }
    this.#now = end;
    await settle();
  }

  #add(callback: () => void, ms: number, every: number | null): ClockTimer {
    const id = this.#nextId++;
    this.#pending.set(id, { id, at: this.#now + Math.max(0, ms), every, callback });
    return new FakeTimer(id);
  }
}

/** One macrotask turn: promise callbacks queued so far run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
