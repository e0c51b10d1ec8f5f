import { createHash } from 'node:crypto';
import type { ClockTimer } from '../clock.ts';
import type { Connection } from './connection.ts';
import type { FunctionEntry } from './function-entry.ts';
import type { StoredJob } from './store/types.ts';

const GENERATED_KEY_PREFIX = 'gt:';
const PAYLOAD_KEY_PREFIX = 'gt-:';

/**
 * The key of a job's row in the persistent queue. A background job without a unique key gets a
 * generated one, so rows never collide (gearmand #80). A `-` job coalesces on its payload, so its
 * row is keyed by the payload's hash: two `-` jobs with different payloads are two rows.
 */
export function storeKeyFor(unique: string, data: Buffer, background: boolean, uuid: () => string): string {
  if (unique === '-' && background) return PAYLOAD_KEY_PREFIX + createHash('sha1').update(data).digest('hex');
  if (unique === '' && background) return GENERATED_KEY_PREFIX + uuid();
  return unique;
}

/** The unique key a worker sees for a stored row: '' for generated keys, '-' for payload keys. */
export function visibleUnique(storeKey: string): string {
  if (storeKey.startsWith(GENERATED_KEY_PREFIX) && storeKey.length === GENERATED_KEY_PREFIX.length + 36) return '';
  if (storeKey.startsWith(PAYLOAD_KEY_PREFIX) && storeKey.length === PAYLOAD_KEY_PREFIX.length + 40) return '-';
  return storeKey;
}

/**
 * Key under which a job coalesces in its function: '' never coalesces; `-` (gearmand's "the
 * payload is the key") keys on a hash of the payload, so a large payload is not held twice.
 */
export function coalesceKeyOf(unique: string, data: Buffer): string {
  if (unique === '') return '';
  if (unique === '-') return `-\0${createHash('sha1').update(data).digest('hex')}`;
  return unique;
}

/** What a new job is made of; the server adds its handle and sequence number. */
export interface NewJobSpec {
  fn: FunctionEntry;
  unique: string;
  storeKey: string;
  coalesceKey: string;
  data: Buffer;
  priority: Priority;
  background: boolean;
  whenToRun: number;
  reducer: string | null;
}

/** A background job's row in the persistent queue. */
export function storedRowOf(job: Job): StoredJob {
  return {
    unique: job.storeKey,
    functionName: job.fn.name,
    priority: job.priority as number,
    data: job.data,
    whenToRun: job.whenToRun,
    reducer: job.reducer,
    seq: job.seq,
  };
}

/** The job a stored row describes (a replay after a restart): always a background job. */
export function specOfStoredRow(row: StoredJob, fn: FunctionEntry): NewJobSpec {
  const unique = visibleUnique(row.unique);
  return {
    fn,
    unique,
    storeKey: row.unique,
    coalesceKey: coalesceKeyOf(unique, row.data),
    data: row.data,
    priority: row.priority as number as Priority,
    background: true,
    whenToRun: row.whenToRun,
    reducer: row.reducer,
  };
}

/** Priority as stored by gearmand: 0 HIGH, 1 NORMAL, 2 LOW. */
export const enum Priority {
  HIGH = 0,
  NORMAL = 1,
  LOW = 2,
}

export const PRIORITY_NAMES = ['high', 'normal', 'low'] as const;

/**
 * Where a job is in its life:
 * - `storing`   background job waiting for its row to commit (no JOB_CREATED yet)
 * - `scheduled` epoch job whose time has not come
 * - `queued`    runnable, waiting for a worker
 * - `running`   assigned to a worker
 * - `done`      ended or dropped; stale references skip it
 */
export type JobState = 'storing' | 'scheduled' | 'queued' | 'running' | 'done';

export class Job {
  readonly handle: string;
  readonly fn: FunctionEntry;
  /** The unique key as submitted ('' when none); workers see this one. */
  readonly unique: string;
  /**
   * Key of the job's row in the persistent queue and in `show unique jobs`: the unique key, or
   * a generated one for a background job submitted without (so rows never collide, gearmand #80).
   */
  readonly storeKey: string;
  /** Key under which the job coalesces in its function ('' = never). */
  readonly coalesceKey: string;
  readonly data: Buffer;
  readonly priority: Priority;
  readonly background: boolean;
  /** Unix seconds; 0 = run now. */
  readonly whenToRun: number;
  readonly reducer: string | null;
  readonly seq: number;
  readonly createdAt: number;

  state: JobState = 'queued';
  /** Foreground clients waiting for the result. */
  clients: Connection[] = [];
  worker: Connection | null = null;
  numerator = '0';
  denominator = '0';
  /** Times the job was handed to a worker that did not finish it. */
  retries = 0;
  /** Nobody wants the result any more (cancelled, or every client left). */
  ignore = false;
  /** A row for this job is in the persistent queue. */
  persisted = false;
  timeoutTimer: ClockTimer | null = null;
  startedAt = 0;

  constructor(
    init: NewJobSpec,
    handle: string,
    seq: number,
  ) {
    this.handle = handle;
    this.fn = init.fn;
    this.unique = init.unique;
    this.storeKey = init.storeKey;
    this.coalesceKey = init.coalesceKey;
    this.data = init.data;
    this.priority = init.priority;
    this.background = init.background;
    this.whenToRun = init.whenToRun;
    this.reducer = init.reducer;
    this.seq = seq;
    this.createdAt = Date.now();
  }

  get isReduce(): boolean {
    return this.reducer !== null && this.reducer.length > 0;
  }
}
