import { ClosedError } from '../../errors.ts';
import type { JobKey, JobStore, StoredJob } from './types.ts';

/**
 * The `memory` queue (gearmand's `builtin`): nothing is persisted. Jobs live only in the job
 * server's own memory, so every background job is lost when the server process ends.
 * It still honours the JobStore contract, including ClosedError after close().
 */
export class MemoryStore implements JobStore {
  readonly kind = 'memory';
  #closed = false;

  async open(): Promise<void> {
    this.#check();
  }

  async *replay(): AsyncIterable<StoredJob> {
    this.#check();
  }

  async add(_jobs: readonly StoredJob[]): Promise<void> {
    this.#check();
  }

  async remove(_keys: readonly JobKey[]): Promise<void> {
    this.#check();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new ClosedError('the memory queue is closed');
  }
}
