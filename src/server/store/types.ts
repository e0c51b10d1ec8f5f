/**
 * The persistent queue ("queue module" in gearmand's words). Only background jobs are stored:
 * SUBMIT_JOB_BG/HIGH_BG/LOW_BG, SUBMIT_JOB_EPOCH and SUBMIT_REDUCE_JOB_BACKGROUND. A row is added
 * before the client gets JOB_CREATED and removed when the job ends (COMPLETE, FAIL, EXCEPTION,
 * cancel, or dropped after its retries), never on assignment: a job running at a crash runs again.
 */

/** gearmand's stored priority encoding. */
export const enum StoredPriority {
  HIGH = 0,
  NORMAL = 1,
  LOW = 2,
}

export interface StoredJob {
  /** Never empty: the server generates a key for background jobs submitted without one. */
  readonly unique: string;
  readonly functionName: string;
  readonly priority: StoredPriority;
  readonly data: Buffer;
  /** Unix time in seconds at which an epoch job may run; 0 for "now". */
  readonly whenToRun: number;
  /** Reducer function of a reduce job; null otherwise. (gearmand does not store it.) */
  readonly reducer: string | null;
  /** Submission order, so a replay keeps FIFO order within a priority. */
  readonly seq: number;
}

export interface JobKey {
  readonly functionName: string;
  readonly unique: string;
}

/** `normal`: survives the death of the server process. `always`: survives power loss too. */
export type FsyncMode = 'normal' | 'always';

export interface JobStore {
  /** Short name for logs and errors: `memory`, `sqlite`, `postgres`, `redis`. */
  readonly kind: string;
  /** Connect and create the table if needed. Throws StoreError with the reason. */
  open(): Promise<void>;
  /** Every stored job, ordered by (priority, seq). Called once, after open, before serving. */
  replay(): AsyncIterable<StoredJob>;
  /**
   * Store a batch in one transaction. Resolves only once the rows are durable (per FsyncMode);
   * rejects with StoreError if none of them could be stored. Adding an existing (function,
   * unique) key replaces the row.
   */
  add(jobs: readonly StoredJob[]): Promise<void>;
  /** Delete a batch of rows; missing rows are not an error. */
  remove(keys: readonly JobKey[]): Promise<void>;
  /** Flush and release connections. Safe to call twice. */
  close(): Promise<void>;
}
