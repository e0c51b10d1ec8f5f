import { systemClock, type Clock, type ClockTimer } from '../clock.ts';
import { AbortError, TimeoutError } from '../errors.ts';
import type { CallOptions } from './options.ts';

/**
 * One AbortSignal for a call, whose `reason` is always a geartrain error: AbortError when the
 * caller's signal fired, TimeoutError when `timeoutMs` passed. `dispose()` removes the listener
 * and the timer once the call has settled (so long-lived signals do not collect listeners).
 */
export interface Deadline {
  readonly signal: AbortSignal;
  dispose(): void;
}

export function deadline(opts: CallOptions | undefined, what: string, defaultTimeoutMs?: number, clock: Clock = systemClock): Deadline {
  const ac = new AbortController();
  const outer = opts?.signal;
  const timeoutMs = opts?.timeoutMs ?? defaultTimeoutMs;
  let timer: ClockTimer | undefined;
  const onAbort = () => ac.abort(new AbortError(`${what} aborted`, { cause: outer?.reason }));
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  if (timeoutMs !== undefined && !ac.signal.aborted) {
    timer = clock.setTimeout(() => ac.abort(new TimeoutError(`${what} timed out after ${timeoutMs} ms`)), timeoutMs);
  }
  return {
    signal: ac.signal,
    dispose() {
      clock.clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

/** Reject when `signal` aborts (with its reason), else settle as `promise` does. Cleans up its listener. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A promise whose rejection is never reported as unhandled (the caller may never await it). */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
