/**
 * Time as a port: code with timers takes a `Clock` (default `systemClock`), so tests can drive
 * timeouts, heartbeats, backoff and schedules with a `ManualClock` instead of waiting.
 */

/** An opaque timer, as returned by `Clock.setTimeout`/`setInterval`. */
export interface TimerHandle {
  /** Do not keep the process alive for this timer (a no-op on a manual clock). */
  unref(): TimerHandle;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | null | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | null | undefined): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout | undefined),
};

class ManualTimer implements TimerHandle {
  constructor(
    readonly id: number,
    public at: number,
    readonly fn: () => void,
    readonly every: number | null,
  ) {}
  unref(): TimerHandle {
    return this;
  }
}

/**
 * A clock that moves only when told: `advance(ms)` runs every timer due on the way, in time
 * order (ties in creation order), with `now()` set to each timer's time while it runs.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t = new ManualTimer(++this.#seq, this.#now + Math.max(0, ms), fn, null);
    this.#timers.set(t.id, t);
    return t;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const every = Math.max(1, ms);
    const t = new ManualTimer(++this.#seq, this.#now + every, fn, every);
    this.#timers.set(t.id, t);
    return t;
  }

  clearTimeout(handle: TimerHandle | null | undefined): void {
    if (handle instanceof ManualTimer) this.#timers.delete(handle.id);
  }

  clearInterval(handle: TimerHandle | null | undefined): void {
    this.clearTimeout(handle);
  }

  /** Timers not yet run or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Move time forward by `ms`, running the timers that fall due. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const t of this.#timers.values()) if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (!next) break;
      this.#now = next.at;
      if (next.every === null) this.#timers.delete(next.id);
      else next.at += next.every;
      next.fn();
    }
    this.#now = end;
  }

  /** Move time forward, letting promise callbacks settle after each timer (for async code under test). */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (;;) {
      await flushMicrotasks();
      let next: ManualTimer | undefined;
      for (const t of this.#timers.values()) if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) next = t;
      if (!next) break;
      this.#now = next.at;
      if (next.every === null) this.#timers.delete(next.id);
      else next.at += next.every;
      next.fn();
    }
    this.#now = end;
    await flushMicrotasks();
  }
}

/** Let queued promise callbacks run (a macrotask turn). */
function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
