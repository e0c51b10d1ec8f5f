/**
 * Time as a port: what reads the time or waits goes through a `Clock`, so tests drive timeouts,
 * heartbeats, backoff and epoch jobs with a fake one (test/helpers/fake-clock.ts) instead of
 * waiting. `systemClock` is the real thing, and the default everywhere.
 */

/** A pending timer; `unref()` lets the process exit while it waits (as Node's timers). */
export interface ClockTimer {
  unref(): ClockTimer;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): ClockTimer;
  clearTimeout(timer: ClockTimer | null | undefined): void;
  setInterval(callback: () => void, ms: number): ClockTimer;
  clearInterval(timer: ClockTimer | null | undefined): void;
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
  clearTimeout: (timer: ClockTimer | null | undefined) => clearTimeout(timer as NodeJS.Timeout | undefined),
  setInterval: (callback: () => void, ms: number) => setInterval(callback, ms),
  clearInterval: (timer: ClockTimer | null | undefined) => clearInterval(timer as NodeJS.Timeout | undefined),
});

/** Resolves after `ms` on `clock`, or rejects with the signal's reason. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
