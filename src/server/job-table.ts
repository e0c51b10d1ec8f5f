import type { FunctionEntry } from './function-entry.ts';
import { JobBytes, type JobBytesStats } from './job-bytes.ts';
import { isDash, Job, JobFlag, type JobRecords, type JobState, type NewJobSpec, type OwnJobFields, type Priority } from './job.ts';
import { SlotIndex } from './slot-index.ts';

const INITIAL_SLOTS = 1024;
const STATES: readonly JobState[] = ['storing', 'scheduled', 'queued', 'running', 'done'];
const STATE_CODES: Readonly<Record<JobState, number>> = { storing: 0, scheduled: 1, queued: 2, running: 3, done: 4 };
const STORING = 0;
const QUEUED = 2;
const RUNNING = 3;
const DONE = 4;

/** Jobs by handle, as `ServerCore.jobs` shows them (views, see `JobTable.view`). */
export interface JobsView {
  readonly size: number;
  get(handle: string): Job | undefined;
  has(handle: string): boolean;
  values(): IterableIterator<Job>;
  [Symbol.iterator](): IterableIterator<[string, Job]>;
  /** The job of `fn` a submission with this unique key (and payload, for `-`) joins, if any. */
  coalescing(fn: FunctionEntry, unique: Uint8Array, data: Buffer): Job | undefined;
  /** The job of `fn` whose unique key is `unique` (never a `-` job: those are known by payload). */
  withUnique(fn: FunctionEntry, unique: Uint8Array): Job | undefined;
  /** Queued jobs of `fn`, highest priority first, oldest first. */
  queued(fn: FunctionEntry): IterableIterator<Job>;
  /** When the oldest queued job of `fn` was submitted (ms), or null when none is queued. */
  oldestQueuedAt(fn: FunctionEntry): number | null;
  readonly bytesStats: JobBytesStats;
  /** Slots the table has room for (it shrinks back when it empties). */
  readonly capacity: number;
  /** Jobs with a kept Job object: running, waited for, scheduled or being stored. */
  readonly keptViews: number;
}

function seqHash(seq: number): number {
  return (seq % 4294967296) ^ Math.floor(seq / 4294967296);
}

/** FNV-1a with a final mix (seq-like keys such as `u-1-17` differ in few bits). */
function keyHash(seed: number, bytes: Uint8Array): number {
  let h = seed ^ 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function seedOf(fn: FunctionEntry, payloadKey: boolean): number {
  return payloadKey ? fn.hashSeed ^ 0x5bd1e995 : fn.hashSeed;
}

/**
 * Every job the server holds, as a record in typed-array columns indexed by slot: its number,
 * times, state, priority, flags and retries, its function, the links of its run queue, and
 * its bytes in shared slabs (job-bytes.ts). Handles and coalescing keys are found through hash
 * indexes over the slots (slot-index.ts). A queued background job is that record and nothing
 * else: about 80 bytes beside its payload and key, where a Job object with its Buffer, strings
 * and Map entries took about 650.
 *
 * Job objects (job.ts) are views of a slot. The one kept for a slot (`materialize`) carries the
 * job's clients, worker, timer and status, and is the job's identity for the connections and
 * maps that hold it; a job without one gets a fresh view for each lookup (`view`), which is
 * only read. The state `queued` means linked in its function's run queue, nothing else.
 */
export class JobTable implements JobRecords, JobsView {
  readonly bytes: JobBytes;
  readonly #handlePrefix: string;
  #capacity = INITIAL_SLOTS;
  #size = 0;
  /** Slots at and above it were never used since the table was (re)allocated. */
  #top = 0;
  /** Freed slots, linked through #next. */
  #freeSlot = -1;
  #seq!: Float64Array;
  #createdAt!: Float64Array;
  #state!: Uint8Array;
  #priority!: Uint8Array;
  #flags!: Uint8Array;
  #retries!: Int32Array;
  #fn!: (FunctionEntry | undefined)[];
  #prev!: Int32Array;
  #next!: Int32Array;
  readonly #bySeq: SlotIndex;
  readonly #byKey: SlotIndex;
  readonly #views = new Map<number, Job>();

  constructor(handlePrefix: string) {
    this.#handlePrefix = handlePrefix + ':';
    this.bytes = new JobBytes(INITIAL_SLOTS);
    this.#bySeq = new SlotIndex(INITIAL_SLOTS);
    this.#byKey = new SlotIndex(INITIAL_SLOTS);
    this.#allocate(INITIAL_SLOTS);
  }

  get size(): number {
    return this.#size;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get bytesStats(): JobBytesStats {
    return this.bytes.stats;
  }

  get keptViews(): number {
    return this.#views.size;
  }

  // ---------------------------------------------------------------- JobRecords (for views)

  holds(slot: number, seq: number): boolean {
    return this.#seq[slot] === seq;
  }

  stateOf(slot: number): JobState {
    return STATES[this.#state[slot]!]!;
  }

  /** Use enqueue() to make a job `queued`; a queued job leaves its queue by take() or free(). */
  setState(slot: number, state: JobState): void {
    this.#state[slot] = STATE_CODES[state];
  }

  priorityOf(slot: number): Priority {
    return this.#priority[slot]! as Priority;
  }

  flag(slot: number, bit: JobFlag): boolean {
    return (this.#flags[slot]! & bit) !== 0;
  }

  setFlag(slot: number, bit: JobFlag, on: boolean): void {
    this.#flags[slot] = on ? this.#flags[slot]! | bit : this.#flags[slot]! & ~bit;
  }

  retriesOf(slot: number): number {
    return this.#retries[slot]!;
  }

  setRetries(slot: number, retries: number): void {
    this.#retries[slot] = retries;
  }

  createdAtOf(slot: number): number {
    return this.#createdAt[slot]!;
  }

  // ---------------------------------------------------------------- adding and ending jobs

  /** A new job numbered `seq`; its state is `storing` until the core admits it. */
  add(spec: NewJobSpec, seq: number, createdAt: number): number {
    const slot = this.#allocSlot();
    this.#seq[slot] = seq;
    this.#createdAt[slot] = createdAt;
    this.#state[slot] = STORING;
    this.#priority[slot] = spec.priority;
    this.#retries[slot] = 0;
    this.#fn[slot] = spec.fn;
    let flags = spec.background ? JobFlag.BACKGROUND : 0;
    this.bytes.put(slot, spec.data, spec.unique, spec.storeKey);
    this.#bySeq.add(slot, seqHash(seq));
    if (spec.unique.length > 0) {
      const payloadKey = isDash(spec.unique);
      flags |= JobFlag.KEYED | (payloadKey ? JobFlag.PAYLOAD_KEY : 0);
      this.#byKey.add(slot, keyHash(seedOf(spec.fn, payloadKey), payloadKey ? spec.data : spec.unique));
    }
    this.#flags[slot] = flags;
    this.#size++;
    return slot;
  }

  /** Later submissions no longer join this job (it was cancelled while running). */
  unindexKey(slot: number): void {
    if ((this.#flags[slot]! & JobFlag.KEYED) === 0) return;
    this.#byKey.delete(slot);
    this.#flags[slot] = this.#flags[slot]! & ~JobFlag.KEYED;
  }

  /** The job ended: out of its queue and indexes, its bytes released, its view left with a copy of its fields. */
  free(slot: number): void {
    if (this.#state[slot] === QUEUED) this.#unlink(slot);
    this.#bySeq.delete(slot);
    this.unindexKey(slot);
    const view = this.#views.get(slot);
    if (view !== undefined) {
      view.ended(this.#ownFields(slot));
      this.#views.delete(slot);
    }
    this.bytes.delete(slot);
    this.#seq[slot] = -1;
    this.#state[slot] = DONE;
    this.#fn[slot] = undefined;
    this.#next[slot] = this.#freeSlot;
    this.#freeSlot = slot;
    if (--this.#size === 0 && this.#capacity > INITIAL_SLOTS) this.#allocate(INITIAL_SLOTS);
  }

  #ownFields(slot: number): OwnJobFields {
    const flags = this.#flags[slot]!;
    return {
      state: 'done',
      priority: this.#priority[slot]! as Priority,
      background: (flags & JobFlag.BACKGROUND) !== 0,
      ignore: (flags & JobFlag.IGNORE) !== 0,
      persisted: (flags & JobFlag.PERSISTED) !== 0,
      retries: this.#retries[slot]!,
      createdAt: this.#createdAt[slot]!,
      data: this.bytes.payload(slot),
      unique: this.bytes.unique(slot),
      storeKey: this.bytes.storeKey(slot),
    };
  }

  // ---------------------------------------------------------------- views

  /** The job's kept view, or a fresh one to read (a job without a kept view has no clients, worker, timer or status). */
  view(slot: number): Job {
    return this.#views.get(slot) ?? this.#newView(slot, 0, null);
  }

  /** The job's kept view, made now if it has none; `whenToRun` and `reducer` live only there. */
  materialize(slot: number, whenToRun = 0, reducer: string | null = null): Job {
    let view = this.#views.get(slot);
    if (view === undefined) {
      view = this.#newView(slot, whenToRun, reducer);
      this.#views.set(slot, view);
    }
    return view;
  }

  /** Forget the kept view of a queued job that needs none (see view()). */
  release(job: Job): void {
    const slot = job.slot;
    if (slot >= 0 && this.#views.get(slot) === job) this.#views.delete(slot);
  }

  /** The kept views: jobs that run, have clients, wait for a time or a store. */
  materialized(): IterableIterator<Job> {
    return this.#views.values();
  }

  #newView(slot: number, whenToRun: number, reducer: string | null): Job {
    const seq = this.#seq[slot]!;
    return new Job(this.#fn[slot]!, seq, this.#handlePrefix + seq, whenToRun, reducer, this, slot, null);
  }

  // ---------------------------------------------------------------- lookups

  /** The slot of the job whose handle is `handle` (`<prefix>:<seq>`), or -1. */
  slotOf(handle: string): number {
    const prefix = this.#handlePrefix;
    const n = handle.length;
    // 16 digits cover every seq below 2^53; a leading 0 is never in a handle we made.
    if (n <= prefix.length || n > prefix.length + 16 || !handle.startsWith(prefix) || handle.charCodeAt(prefix.length) === 48) return -1;
    let seq = 0;
    for (let i = prefix.length; i < n; i++) {
      const d = handle.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return -1;
      seq = seq * 10 + d;
    }
    for (let s = this.#bySeq.first(seqHash(seq)); s !== -1; s = this.#bySeq.next(s)) if (this.#seq[s] === seq) return s;
    return -1;
  }

  get(handle: string): Job | undefined {
    const slot = this.slotOf(handle);
    return slot < 0 ? undefined : this.view(slot);
  }

  has(handle: string): boolean {
    return this.slotOf(handle) >= 0;
  }

  coalescing(fn: FunctionEntry, unique: Uint8Array, data: Buffer): Job | undefined {
    if (unique.length === 0) return undefined;
    const slot = isDash(unique) ? this.#find(fn, true, data) : this.#find(fn, false, unique);
    return slot < 0 ? undefined : this.view(slot);
  }

  withUnique(fn: FunctionEntry, unique: Uint8Array): Job | undefined {
    if (unique.length === 0) return undefined;
    const slot = this.#find(fn, false, unique);
    return slot < 0 ? undefined : this.view(slot);
  }

  #find(fn: FunctionEntry, payloadKey: boolean, key: Uint8Array): number {
    const h = keyHash(seedOf(fn, payloadKey), key);
    const index = this.#byKey;
    for (let s = index.first(h); s !== -1; s = index.next(s)) {
      if (index.hashOf(s) !== h || this.#fn[s] !== fn || ((this.#flags[s]! & JobFlag.PAYLOAD_KEY) !== 0) !== payloadKey) continue;
      if (payloadKey ? this.bytes.payloadEquals(s, key as Buffer) : this.bytes.uniqueEquals(s, key)) return s;
    }
    return -1;
  }

  *values(): IterableIterator<Job> {
    for (let s = 0; s < this.#top; s++) if (this.#state[s] !== DONE) yield this.view(s);
  }

  *[Symbol.iterator](): IterableIterator<[string, Job]> {
    for (const job of this.values()) yield [job.handle, job];
  }

  /** Slots of the jobs of `fn`. */
  slotsOf(fn: FunctionEntry): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.#top; s++) if (this.#fn[s] === fn) out.push(s);
    return out;
  }

  // ---------------------------------------------------------------- run queues

  /** Append the job to the tail of its function's queue for its priority; it is `queued` now. */
  enqueue(slot: number): void {
    const q = this.#fn[slot]!.queues[this.#priority[slot]!]!;
    this.#state[slot] = QUEUED;
    this.#prev[slot] = q.tail;
    this.#next[slot] = -1;
    if (q.tail === -1) q.head = slot;
    else this.#next[q.tail] = slot;
    q.tail = slot;
    q.length++;
  }

  /** Take the oldest job of `fn` at `priority` for a worker (it is `running` now), or -1. */
  take(fn: FunctionEntry, priority: number): number {
    const slot = fn.queues[priority]!.head;
    if (slot === -1) return -1;
    this.#unlink(slot);
    this.#state[slot] = RUNNING;
    return slot;
  }

  *queued(fn: FunctionEntry): IterableIterator<Job> {
    for (const q of fn.queues) for (let s = q.head; s !== -1; s = this.#next[s]!) yield this.view(s);
  }

  oldestQueuedAt(fn: FunctionEntry): number | null {
    let oldest: number | null = null;
    for (const q of fn.queues) if (q.head !== -1 && (oldest === null || this.#createdAt[q.head]! < oldest)) oldest = this.#createdAt[q.head]!;
    return oldest;
  }

  #unlink(slot: number): void {
    const q = this.#fn[slot]!.queues[this.#priority[slot]!]!;
    const prev = this.#prev[slot]!;
    const next = this.#next[slot]!;
    if (prev === -1) q.head = next;
    else this.#next[prev] = next;
    if (next === -1) q.tail = prev;
    else this.#prev[next] = prev;
    q.length--;
  }

  // ---------------------------------------------------------------- slots

  #allocSlot(): number {
    const free = this.#freeSlot;
    if (free !== -1) {
      this.#freeSlot = this.#next[free]!;
      return free;
    }
    if (this.#top === this.#capacity) this.#grow(this.#capacity * 2);
    return this.#top++;
  }

  /** Fresh, empty columns of `capacity` slots (at start, and when the table empties). */
  #allocate(capacity: number): void {
    this.#capacity = capacity;
    this.#top = 0;
    this.#freeSlot = -1;
    this.#seq = new Float64Array(capacity).fill(-1);
    this.#createdAt = new Float64Array(capacity);
    this.#state = new Uint8Array(capacity).fill(DONE);
    this.#priority = new Uint8Array(capacity);
    this.#flags = new Uint8Array(capacity);
    this.#retries = new Int32Array(capacity);
    this.#fn = new Array<FunctionEntry | undefined>(capacity).fill(undefined);
    this.#prev = new Int32Array(capacity);
    this.#next = new Int32Array(capacity);
    this.bytes.reset(capacity);
    this.#bySeq.reset(capacity);
    this.#byKey.reset(capacity);
  }

  #grow(capacity: number): void {
    const widen = <T extends Float64Array | Uint8Array | Int32Array>(old: T, fresh: T, fill?: number): T => {
      if (fill !== undefined) fresh.fill(fill);
      fresh.set(old);
      return fresh;
    };
    this.#seq = widen(this.#seq, new Float64Array(capacity), -1);
    this.#createdAt = widen(this.#createdAt, new Float64Array(capacity));
    this.#state = widen(this.#state, new Uint8Array(capacity), DONE);
    this.#priority = widen(this.#priority, new Uint8Array(capacity));
    this.#flags = widen(this.#flags, new Uint8Array(capacity));
    this.#retries = widen(this.#retries, new Int32Array(capacity));
    this.#prev = widen(this.#prev, new Int32Array(capacity));
    this.#next = widen(this.#next, new Int32Array(capacity));
    const fns = new Array<FunctionEntry | undefined>(capacity).fill(undefined);
    for (let s = 0; s < this.#capacity; s++) fns[s] = this.#fn[s];
    this.#fn = fns;
    this.bytes.grow(capacity);
    this.#bySeq.grow(capacity);
    this.#byKey.grow(capacity);
    this.#capacity = capacity;
  }
}
