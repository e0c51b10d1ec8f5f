import { createHash } from 'node:crypto';
import type { ClockTimer } from '../clock.ts';
import type { Connection } from './connection.ts';
import type { FunctionEntry } from './function-entry.ts';
import type { JobBytes } from './job-bytes.ts';
import type { StoredJob } from './store/types.ts';

const GENERATED_KEY_PREFIX = 'gt:';
const PAYLOAD_KEY_PREFIX = 'gt-:';
const DASH = 0x2d;

/**
 * The key of a job's row in the persistent queue, when it is not the unique key itself (null).
 * A background job without a unique key gets a generated one, so rows never collide (gearmand
 * #80). A `-` job coalesces on its payload, so its row is keyed by the payload's hash: two `-`
 * jobs with different payloads are two rows.
 */
export function generatedStoreKey(unique: Uint8Array, data: Buffer, background: boolean, uuid: () => string): Buffer | null {
  if (!background) return null;
  if (unique.length === 0) return Buffer.from(GENERATED_KEY_PREFIX + uuid(), 'latin1');
  if (isDash(unique)) return Buffer.from(PAYLOAD_KEY_PREFIX + createHash('sha1').update(data).digest('hex'), 'latin1');
  return null;
}

/** The unique key `-`: gearmand's "the payload is the key". */
export function isDash(unique: Uint8Array): boolean {
  return unique.length === 1 && unique[0] === DASH;
}

/** The unique key a worker sees for a stored row: '' for generated keys, '-' for payload keys. */
export function visibleUnique(storeKey: string): string {
  if (storeKey.startsWith(GENERATED_KEY_PREFIX) && storeKey.length === GENERATED_KEY_PREFIX.length + 36) return '';
  if (storeKey.startsWith(PAYLOAD_KEY_PREFIX) && storeKey.length === PAYLOAD_KEY_PREFIX.length + 40) return '-';
  return storeKey;
}

/** What a new job is made of; the server adds its handle and sequence number. */
export interface NewJobSpec {
  fn: FunctionEntry;
  /** The unique key's bytes as workers will see them (UTF-8; empty when none). */
  unique: Uint8Array;
  /** The key of its row in a persistent queue, when it is not the unique key. */
  storeKey: Uint8Array | null;
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
    unique: Buffer.from(unique, 'utf8'),
    storeKey: unique === row.unique ? null : Buffer.from(row.unique, 'utf8'),
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

/** Yes/no fields of a job, as bits in the job table. */
export const enum JobFlag {
  BACKGROUND = 1,
  /** Nobody wants the result any more (cancelled, or every client left). */
  IGNORE = 2,
  /** A row for this job is in the persistent queue. */
  PERSISTED = 4,
  /** In its function's coalescing index. */
  KEYED = 8,
  /** Coalesces on its payload (unique key `-`) rather than on its unique key. */
  PAYLOAD_KEY = 16,
}

/** What a job view reads and writes in the job table (job-table.ts), by slot. */
export interface JobRecords {
  readonly bytes: JobBytes;
  /** Whether `slot` still holds the job numbered `seq`. */
  holds(slot: number, seq: number): boolean;
  stateOf(slot: number): JobState;
  setState(slot: number, state: JobState): void;
  priorityOf(slot: number): Priority;
  flag(slot: number, bit: JobFlag): boolean;
  setFlag(slot: number, bit: JobFlag, on: boolean): void;
  retriesOf(slot: number): number;
  setRetries(slot: number, retries: number): void;
  createdAtOf(slot: number): number;
}

/** A job's fields when no table holds them: a job that ended, or one made outside a server. */
export interface OwnJobFields {
  state: JobState;
  priority: Priority;
  background: boolean;
  ignore: boolean;
  persisted: boolean;
  retries: number;
  createdAt: number;
  data: Buffer;
  unique: string;
  storeKey: string;
}

/**
 * A job as the rest of the server sees it. The job table holds every job's fields compactly
 * (job-table.ts); a Job is a view of one slot of it, plus what only a job in use needs: the
 * clients waiting for it, its worker, its timer, its status. A job that is queued and needs
 * none of that has no Job object at all; one is made when a worker takes it, a client joins
 * it, or something looks it up. When the job ends, its view keeps a copy of its fields, so a
 * late reference still reads what the job was.
 */
export class Job {
  readonly fn: FunctionEntry;
  readonly seq: number;
  readonly handle: string;
  /** Unix seconds; 0 = run now. */
  readonly whenToRun: number;
  readonly reducer: string | null;

  /** Foreground clients waiting for the result. */
  clients: Connection[] = [];
  worker: Connection | null = null;
  numerator = '0';
  denominator = '0';
  timeoutTimer: ClockTimer | null = null;
  startedAt = 0;

  #records: JobRecords | null;
  #slot: number;
  #own: OwnJobFields | null;

  constructor(fn: FunctionEntry, seq: number, handle: string, whenToRun: number, reducer: string | null, records: JobRecords | null, slot: number, own: OwnJobFields | null) {
    this.fn = fn;
    this.seq = seq;
    this.handle = handle;
    this.whenToRun = whenToRun;
    this.reducer = reducer;
    this.#records = records;
    this.#slot = slot;
    this.#own = own;
  }

  /** A job outside any server's table (for parts that only read jobs). */
  static standalone(init: { fn: FunctionEntry; unique: string; storeKey: string; data: Buffer; priority: Priority; background: boolean; whenToRun: number; reducer: string | null }, handle: string, seq: number): Job {
    const own: OwnJobFields = {
      state: 'queued',
      priority: init.priority,
      background: init.background,
      ignore: false,
      persisted: false,
      retries: 0,
      createdAt: Date.now(),
      data: init.data,
      unique: init.unique,
      storeKey: init.storeKey,
    };
    return new Job(init.fn, seq, handle, init.whenToRun, init.reducer, null, -1, own);
  }

  /** Its slot in the job table; -1 once it ended. */
  get slot(): number {
    return this.#live() ? this.#slot : -1;
  }

  /** The job ended: keep its last fields, the table's slot is no longer its own. */
  ended(own: OwnJobFields): void {
    this.#own = own;
    this.#records = null;
    this.#slot = -1;
  }

  #live(): JobRecords | null {
    const r = this.#records;
    return r !== null && r.holds(this.#slot, this.seq) ? r : null;
  }

  #ownFields(): OwnJobFields {
    // A view made for a lookup outlived its job, which had no other view to keep its fields.
    if (this.#own === null) throw new Error(`job ${this.handle} was read after it ended`);
    return this.#own;
  }

  get state(): JobState {
    const r = this.#live();
    return r ? r.stateOf(this.#slot) : (this.#own?.state ?? 'done');
  }

  set state(state: JobState) {
    const r = this.#live();
    if (r) r.setState(this.#slot, state);
    else if (this.#own) this.#own.state = state;
  }

  get priority(): Priority {
    const r = this.#live();
    return r ? r.priorityOf(this.#slot) : this.#ownFields().priority;
  }

  get background(): boolean {
    const r = this.#live();
    return r ? r.flag(this.#slot, JobFlag.BACKGROUND) : this.#ownFields().background;
  }

  /** Nobody wants the result any more (cancelled, or every client left). */
  get ignore(): boolean {
    const r = this.#live();
    return r ? r.flag(this.#slot, JobFlag.IGNORE) : this.#ownFields().ignore;
  }

  set ignore(on: boolean) {
    const r = this.#live();
    if (r) r.setFlag(this.#slot, JobFlag.IGNORE, on);
    else this.#ownFields().ignore = on;
  }

  /** A row for this job is in the persistent queue. */
  get persisted(): boolean {
    const r = this.#live();
    return r ? r.flag(this.#slot, JobFlag.PERSISTED) : this.#ownFields().persisted;
  }

  set persisted(on: boolean) {
    const r = this.#live();
    if (r) r.setFlag(this.#slot, JobFlag.PERSISTED, on);
    else this.#ownFields().persisted = on;
  }

  /** Times the job was handed to a worker that did not finish it. */
  get retries(): number {
    const r = this.#live();
    return r ? r.retriesOf(this.#slot) : this.#ownFields().retries;
  }

  set retries(n: number) {
    const r = this.#live();
    if (r) r.setRetries(this.#slot, n);
    else this.#ownFields().retries = n;
  }

  /** When the server took the job, ms since the epoch. */
  get createdAt(): number {
    const r = this.#live();
    return r ? r.createdAtOf(this.#slot) : this.#ownFields().createdAt;
  }

  /** The payload: a view of the job table's bytes, valid for as long as it is held. */
  get data(): Buffer {
    const r = this.#live();
    return r ? r.bytes.payload(this.#slot) : this.#ownFields().data;
  }

  /** The unique key as submitted ('' when none); workers see this one. */
  get unique(): string {
    const r = this.#live();
    return r ? r.bytes.unique(this.#slot) : this.#ownFields().unique;
  }

  /**
   * Key of the job's row in the persistent queue and in `show unique jobs`: the unique key, or
   * a generated one for a background job submitted without (so rows never collide, gearmand #80).
   */
  get storeKey(): string {
    const r = this.#live();
    return r ? r.bytes.storeKey(this.#slot) : this.#ownFields().storeKey;
  }

  get isReduce(): boolean {
    return this.reducer !== null && this.reducer.length > 0;
  }
}
