/**
 * Lifecycle events of a Client or Worker, read with `for await (const ev of x.status())`.
 * Event names describe what happened to the link, never a packet name.
 */
export type StatusEvent =
  /** A connection to `server` is up (and, for a worker, its functions are registered). */
  | { readonly type: 'connected'; readonly server: string; readonly reconnect: boolean }
  /** The connection to `server` was lost. */
  | { readonly type: 'disconnected'; readonly server: string; readonly error: Error }
  /** The next dial of `server` happens in `delayMs` (attempt counts consecutive failures). */
  | { readonly type: 'reconnecting'; readonly server: string; readonly attempt: number; readonly delayMs: number; readonly error: Error }
  /** `server` failed `attempts` dials in a row; it is tried again only when needed. */
  | { readonly type: 'gave-up'; readonly server: string; readonly attempts: number; readonly error: Error }
  /** The server answered with an ERROR packet that no call was waiting for (e.g. JOB_NOT_FOUND). */
  | { readonly type: 'server-error'; readonly server: string; readonly code: string; readonly text: string }
  /** The Client or Worker is closed; the iteration ends after this. */
  | { readonly type: 'closed'; readonly error: Error | undefined };

/** Most events kept for a subscriber that does not read; older ones are dropped. */
export const STATUS_BUFFER_LIMIT = 1000;

interface Subscriber {
  queue: StatusEvent[];
  wake: (() => void) | undefined;
}

/**
 * Fan-out of status events to any number of async-iterating subscribers, and the end of the
 * owner's life: `close()` sends the last event and settles every `closed()` promise.
 */
export class StatusChannel {
  readonly #subscribers = new Set<Subscriber>();
  #ended = false;
  /** null while open; then undefined (closed cleanly) or the error it was destroyed with. */
  #closedWith: Error | undefined | null = null;
  readonly #closedWaiters: ((e: Error | undefined) => void)[] = [];

  /** Once only: push the `closed` event and wake everyone waiting in `closed()`. */
  close(error: Error | undefined): void {
    if (this.#closedWith !== null) return;
    this.#closedWith = error;
    this.push({ type: 'closed', error });
    for (const w of this.#closedWaiters.splice(0)) w(error);
  }

  closed(): Promise<Error | undefined> {
    if (this.#closedWith !== null) return Promise.resolve(this.#closedWith);
    return new Promise((resolve) => this.#closedWaiters.push(resolve));
  }

  push(event: StatusEvent): void {
    if (this.#ended) return;
    for (const sub of this.#subscribers) {
      sub.queue.push(event);
      if (sub.queue.length > STATUS_BUFFER_LIMIT) sub.queue.shift();
      sub.wake?.();
    }
    if (event.type === 'closed') this.#ended = true;
  }

  subscribe(): AsyncIterableIterator<StatusEvent> {
    const sub: Subscriber = { queue: [], wake: undefined };
    const ended = this.#ended;
    if (!ended) this.#subscribers.add(sub);
    const done = (): IteratorResult<StatusEvent> => {
      this.#subscribers.delete(sub);
      return { done: true, value: undefined };
    };
    const iterator: AsyncIterableIterator<StatusEvent> = {
      next: async () => {
        for (;;) {
          const ev = sub.queue.shift();
          if (ev) {
            if (ev.type === 'closed') this.#subscribers.delete(sub);
            return { done: false, value: ev };
          }
          if (ended || !this.#subscribers.has(sub)) return done();
          await new Promise<void>((resolve) => (sub.wake = resolve));
          sub.wake = undefined;
        }
      },
      return: async () => done(),
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }
}
