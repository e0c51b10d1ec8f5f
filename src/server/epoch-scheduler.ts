import { systemClock, type Clock, type ClockTimer } from '../clock.ts';
import type { Job } from './job.ts';

/** Due earlier, or at the same second submitted earlier (FIFO among jobs due together). */
function before(a: Job, b: Job): boolean {
  return a.whenToRun < b.whenToRun || (a.whenToRun === b.whenToRun && a.seq < b.seq);
}

/**
 * Epoch jobs wait here until their time, then move to their run queue. One timer for the earliest
 * job, so they run on time rather than at the next unrelated wakeup (gearmand #101).
 */
export class EpochScheduler {
  readonly #heap: Job[] = [];
  readonly #onDue: (job: Job) => void;
  readonly #clock: Clock;
  #timer: ClockTimer | null = null;
  #timerAt = Infinity;

  constructor(onDue: (job: Job) => void, clock: Clock = systemClock) {
    this.#onDue = onDue;
    this.#clock = clock;
  }

  get size(): number {
    return this.#heap.length;
  }

  add(job: Job): void {
    const heap = this.#heap;
    heap.push(job);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
    this.#arm();
  }

  /** Take a job out before its time (cancelled, dropped), so it is not kept until then. */
  remove(job: Job): void {
    const heap = this.#heap;
    const i = heap.indexOf(job);
    if (i === -1) return;
    const last = heap.pop()!;
    if (i < heap.length) {
      heap[i] = last;
      this.#siftUp(i);
      this.#siftDown(i);
    }
    this.#arm();
  }

  #siftUp(i: number): void {
    const heap = this.#heap;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[m], heap[i]] = [heap[i]!, heap[m]!];
      i = m;
    }
  }

  #pop(): Job | undefined {
    const heap = this.#heap;
    if (heap.length === 0) return undefined;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  #arm(): void {
    const next = this.#heap[0];
    if (!next) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
      return;
    }
    const at = next.whenToRun * 1000;
    if (this.#timer && at >= this.#timerAt) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    // setTimeout caps at 2^31-1 ms; far-future jobs re-arm when that fires.
    const delay = Math.min(Math.max(0, at - this.#clock.now()), 0x7fffffff);
    this.#timer = this.#clock.setTimeout(() => this.#fire(), delay).unref();
  }

  #fire(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = this.#clock.now();
    while (this.#heap.length > 0 && this.#heap[0]!.whenToRun * 1000 <= now) {
      const job = this.#pop()!;
      if (job.state === 'scheduled') this.#onDue(job);
    }
    this.#arm();
  }

  /** Jobs still waiting (cancelled ones are skipped by state when they come due). */
  *jobs(): IterableIterator<Job> {
    for (const job of this.#heap) if (job.state === 'scheduled') yield job;
  }

  clear(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#heap.length = 0;
  }
}
