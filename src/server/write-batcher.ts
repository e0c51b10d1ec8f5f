import { StoreError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { JobKey, JobStore, StoredJob } from './store/types.ts';

interface PendingAdd {
  job: StoredJob;
  resolve(): void;
  reject(err: Error): void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * Group commit in front of a JobStore: every add and remove requested during one event-loop turn
 * (and while the previous commit is still running) goes to the store as one batch. Removes run
 * before adds: a (function, unique) key can only be re-added after its previous job ended, so a
 * remove and an add of the same key in one batch are always in that order.
 *
 * Removes that fail (database away) are retried on a timer with backoff, not in a loop; until
 * they succeed those rows stay, and their jobs would run again after a restart (at-least-once).
 */
export class WriteBatcher {
  readonly #store: JobStore;
  readonly #logger: Logger;
  #adds: PendingAdd[] = [];
  #removes: JobKey[] = [];
  /** Removes that failed, waiting for the retry timer. */
  #retryRemoves: JobKey[] = [];
  #retryTimer: NodeJS.Timeout | null = null;
  #retryDelay = RETRY_MIN_MS;
  #scheduled = false;
  #running: Promise<void> | null = null;
  #closed = false;

  constructor(store: JobStore, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Resolves once the row is committed; rejects with StoreError if it could not be stored. */
  add(job: StoredJob): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreError('the job store is closed'));
    return new Promise((resolve, reject) => {
      this.#adds.push({ job, resolve, reject });
      this.#schedule();
    });
  }

  remove(key: JobKey): void {
    if (this.#closed) return;
    this.#removes.push(key);
    this.#schedule();
  }

  /** Finished jobs whose rows could not be deleted yet. */
  get pendingRemoves(): number {
    return this.#retryRemoves.length;
  }

  #schedule(): void {
    if (this.#scheduled || this.#running) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#running = this.#flush().finally(() => {
        this.#running = null;
        if (this.#adds.length > 0 || this.#removes.length > 0) this.#schedule();
      });
    });
  }

  #scheduleRetry(): void {
    if (this.#retryTimer || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#removes.unshift(...this.#retryRemoves);
      this.#retryRemoves = [];
      this.#schedule();
    }, this.#retryDelay);
    this.#retryTimer.unref();
    this.#retryDelay = Math.min(RETRY_MAX_MS, this.#retryDelay * 2);
  }

  async #flush(): Promise<void> {
    const adds = this.#adds;
    const removes = this.#removes;
    this.#adds = [];
    this.#removes = [];
    if (removes.length > 0) {
      try {
        await this.#store.remove(removes);
        this.#retryDelay = RETRY_MIN_MS;
      } catch (err) {
        this.#logger.error(`queue ${this.#store.kind}: removing ${removes.length} finished job(s) failed, will retry: ${(err as Error).message}`);
        this.#retryRemoves.push(...removes);
        this.#scheduleRetry();
      }
    }
    if (adds.length > 0) {
      try {
        await this.#store.add(adds.map((a) => a.job));
        for (const a of adds) a.resolve();
      } catch (err) {
        const e = err instanceof StoreError ? err : new StoreError((err as Error).message, { cause: err });
        this.#logger.error(`queue ${this.#store.kind}: storing ${adds.length} job(s) failed: ${e.message}`);
        for (const a of adds) a.reject(e);
      }
    }
  }

  /**
   * Wait for everything requested so far to reach the store once. Removes that failed and wait
   * for a retry are not waited for: their rows stay, and the jobs run again after a restart.
   */
  async drain(): Promise<void> {
    while (this.#running || this.#scheduled || this.#adds.length > 0 || this.#removes.length > 0) {
      if (this.#running) await this.#running;
      else await new Promise((r) => setImmediate(r));
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    for (const a of this.#adds) a.reject(new StoreError('the job store is closed'));
    this.#adds = [];
  }
}
