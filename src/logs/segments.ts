/**
 * The segments of a node under `DATA/segments/`: its own (lines it received through `logger`)
 * and copies of other nodes' segments (replicas). Segment files are named by their origin:
 * `<origin>-YYYYMMDD-NNNN.log` (UTC day, sequence per day), with an `.idx` beside each.
 *
 * The origin appends to one open segment at a time and opens a new one when the day changes, when
 * the next batch would pass `maxSegmentBytes`, or after a restart. The store also keeps the
 * deduplication index (job key → where its batch is), rebuilt from the index files on open.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../client/options.ts';
import { InvalidArgumentError, StoreError } from '../errors.ts';
import { SEGMENT_INDEX_EXT, SegmentFile, type BatchRecord, type SegmentHeader } from './segment-file.ts';

export const DEFAULT_MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Deduplication keys remembered at most (the oldest are forgotten first). */
export const DEFAULT_MAX_DEDUPE_KEYS = 500_000;
/**
 * Keys made of a job handle (jobs without a unique key) are trusted this long: a server restarted
 * since numbers its handles from 1 again, and a new job must not pass for an old one.
 */
export const HANDLE_KEY_TTL_MS = 24 * 60 * 60 * 1000;
/**
 * How long a replica batch that starts past its segment's end waits for the batches before it
 * (copies sent at once may arrive out of order, through different job servers).
 */
export const DEFAULT_REPLICA_GAP_WAIT_MS = 5000;
/** Replica batches of one segment waiting for earlier ones at once; more are refused at once. */
const MAX_GAP_WAITERS = 8;

/** Where a stored batch is. */
export interface BatchLocation {
  readonly segment: SegmentFile;
  readonly offset: number;
  readonly length: number;
  /** Resolves when the batch is stored (already resolved for batches found on open). */
  readonly committed: Promise<void>;
  /** When the batch was appended (for batches found on open: when their segment was last written). */
  readonly at: number;
}

export interface SegmentStoreOptions {
  /** The directory holding the segments (`DATA/segments`). */
  readonly dir: string;
  /** This node's name: the origin of the segments it appends to. */
  readonly node: string;
  /** LogFormat string of the lines this node ingests. */
  readonly format: string;
  readonly maxSegmentBytes?: number;
  readonly maxDedupeKeys?: number;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** See DEFAULT_REPLICA_GAP_WAIT_MS. */
  readonly replicaGapWaitMs?: number;
}

/** What a replicated batch says about where it goes (see ingest-replication.ts). */
export interface ReplicaTarget {
  readonly segmentId: string;
  readonly origin: string;
  readonly segment: string;
  readonly format: string;
  readonly created: number;
  readonly offset: number;
}

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

const NAME_RE = /^(.+)-(\d{8})-(\d{4,})$/;

export class SegmentStore {
  readonly dir: string;
  readonly node: string;
  readonly format: string;
  readonly maxSegmentBytes: number;
  readonly #maxKeys: number;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  /** Every segment by id. */
  readonly #segments = new Map<string, SegmentFile>();
  /** File names in use (a replica whose name is taken gets the id appended). */
  readonly #fileNames = new Set<string>();
  readonly #keys = new Map<string, BatchLocation>();
  /** Highest sequence number used per day by this node. */
  readonly #sequence = new Map<string, number>();
  #current: SegmentFile | undefined;
  #closed = false;
  readonly #gapWaitMs: number;
  /** Replica batches waiting for their segment to grow up to their offset, by segment id. */
  readonly #gapWaiters = new Map<string, Set<() => void>>();

  private constructor(opts: SegmentStoreOptions) {
    this.dir = opts.dir;
    this.node = opts.node;
    this.format = opts.format;
    this.maxSegmentBytes = opts.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    if (!Number.isInteger(this.maxSegmentBytes) || this.maxSegmentBytes < 1) {
      throw new InvalidArgumentError('maxSegmentBytes must be a positive integer', { field: 'maxSegmentBytes' });
    }
    this.#maxKeys = opts.maxDedupeKeys ?? DEFAULT_MAX_DEDUPE_KEYS;
    this.#logger = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#gapWaitMs = opts.replicaGapWaitMs ?? DEFAULT_REPLICA_GAP_WAIT_MS;
  }

  /** Opens (creating if needed) the segment directory and recovers every segment in it. */
  static async open(opts: SegmentStoreOptions): Promise<SegmentStore> {
    const store = new SegmentStore(opts);
    await fs.promises.mkdir(store.dir, { recursive: true });
    const names = (await fs.promises.readdir(store.dir)).filter((n) => n.endsWith(SEGMENT_INDEX_EXT)).map((n) => n.slice(0, -SEGMENT_INDEX_EXT.length));
    const opened: SegmentFile[] = [];
    for (const name of names) {
      let seg: SegmentFile | undefined;
      try {
        seg = await SegmentFile.open(store.dir, name);
        if (seg) await seg.ready();
      } catch (err) {
        throw new StoreError(`cannot open segment ${name} in ${store.dir}: ${(err as Error).message}`, { cause: err });
      }
      if (!seg) {
        store.#logger?.warn?.(`segment ${name} has no valid index header (interrupted creation); ignored`);
        continue;
      }
      opened.push(seg);
    }
    opened.sort((a, b) => a.header.created - b.header.created);
    for (const seg of opened) {
      store.#add(seg, path.basename(seg.dataPath, path.extname(seg.dataPath)));
      for (const r of seg.records.values()) store.#remember(r.key, seg, r);
      const m = NAME_RE.exec(seg.header.name);
      if (m && seg.header.origin === store.node) store.#sequence.set(m[2]!, Math.max(store.#sequence.get(m[2]!) ?? 0, Number(m[3])));
    }
    return store;
  }

  /** Every segment (own and replicas). */
  segments(): SegmentFile[] {
    return [...this.#segments.values()];
  }

  get(id: string): SegmentFile | undefined {
    return this.#segments.get(id);
  }

  /** The open segment of this node, if any. */
  get current(): SegmentFile | undefined {
    return this.#current;
  }

  /** Where the batch of a job with this key is, if it was stored (or is being stored) here. */
  lookup(key: string): BatchLocation | undefined {
    const loc = this.#keys.get(key);
    if (loc && key.startsWith('h:') && this.#now() - loc.at > HANDLE_KEY_TTL_MS) return undefined;
    return loc;
  }

  /**
   * The segment the next append of `length` bytes goes to, opening a new one when the day changed
   * or the open one is full. Synchronous, so appends keep their arrival order.
   */
  target(length: number): SegmentFile {
    this.#checkOpen();
    const now = this.#now();
    const day = utcDay(now);
    const cur = this.#current;
    if (cur && !cur.sealed && !cur.broken && utcDay(cur.header.created) === day && (cur.nextOffset === 0 || cur.nextOffset + length <= this.maxSegmentBytes)) return cur;
    if (cur) cur.sealed = true;
    const seq = (this.#sequence.get(day) ?? 0) + 1;
    this.#sequence.set(day, seq);
    const name = `${this.node}-${day}-${String(seq).padStart(4, '0')}`;
    const header: SegmentHeader = {
      id: 's-' + createHash('sha256').update(`${this.node}\0${name}\0${now}\0`).update(randomBytes(16)).digest('hex').slice(0, 16),
      origin: this.node,
      name,
      format: this.format,
      created: now,
    };
    const seg = SegmentFile.create(this.dir, header, this.#freeName(name, header.id));
    this.#add(seg, path.basename(seg.dataPath, path.extname(seg.dataPath)));
    this.#current = seg;
    return seg;
  }

  /** Seals the open segment: the next append opens a new one (used when its replica set broke). */
  seal(segment: SegmentFile): void {
    segment.sealed = true;
    if (this.#current === segment) this.#current = undefined;
  }

  /** Appends a batch to `segment` (from `target()`), remembering its key at once. */
  append(segment: SegmentFile, data: Buffer, meta: Omit<BatchRecord, 'offset' | 'length'>): BatchLocation {
    this.#checkOpen();
    const { offset, committed } = segment.append(data, meta);
    const loc: BatchLocation = { segment, offset, length: data.length, committed, at: this.#now() };
    if (meta.key !== undefined) {
      this.#setKey(meta.key, loc);
      committed.catch(() => {
        if (this.#keys.get(meta.key!) === loc) this.#keys.delete(meta.key!);
      });
    }
    return loc;
  }

  /**
   * Stores a batch replicated from another node at the origin's offset. A batch already stored
   * there (a resent batch) is not written again; a different one is refused.
   */
  async writeReplica(target: ReplicaTarget, data: Buffer, meta: Omit<BatchRecord, 'offset' | 'length'>): Promise<'stored' | 'duplicate'> {
    this.#checkOpen();
    let seg = this.#segments.get(target.segmentId);
    if (seg && seg.header.origin === this.node) throw new StoreError(`segment ${target.segment} belongs to this node; a replica of it was refused`);
    await this.#waitForEnd(target);
    seg = this.#segments.get(target.segmentId);
    if (!seg) {
      const header: SegmentHeader = { id: target.segmentId, origin: target.origin, name: target.segment, format: target.format, created: target.created };
      seg = SegmentFile.create(this.dir, header, this.#freeName(target.segment, target.segmentId));
      this.#add(seg, path.basename(seg.dataPath, path.extname(seg.dataPath)));
    }
    for (;;) {
      const existing = seg.batchAt(target.offset);
      if (existing === undefined) break;
      if (existing instanceof Promise) {
        await existing.catch(() => {});
        continue;
      }
      if (existing.length !== data.length) {
        throw new StoreError(`replica batch at ${target.segment}:${target.offset} has ${data.length} bytes, ${existing.length} stored before`);
      }
      if (meta.key !== undefined && !this.#keys.has(meta.key)) this.#remember(meta.key, seg, existing);
      return 'duplicate';
    }
    if (seg.overlaps(target.offset, data.length)) {
      throw new InvalidArgumentError(`replica batch at ${target.segment}:${target.offset} (${data.length} bytes) overlaps batches stored before`, { field: 'offset' });
    }
    const committed = seg.write(target.offset, data, meta);
    this.#grew(seg.id);
    await committed;
    if (meta.key !== undefined) this.#setKey(meta.key, { segment: seg, offset: target.offset, length: data.length, committed, at: this.#now() });
    return 'stored';
  }

  /**
   * A replica batch is written where its segment ends or before, never past it: a file with a hole
   * would be read as zeros, and an offset of 2^31 would make a 2 GiB sparse file. One that starts
   * past the end waits (briefly) for the batches before it, then is refused.
   */
  async #waitForEnd(target: ReplicaTarget): Promise<void> {
    const deadline = this.#now() + this.#gapWaitMs;
    for (;;) {
      const end = this.#segments.get(target.segmentId)?.extent ?? 0;
      if (target.offset <= end) return;
      let waiters = this.#gapWaiters.get(target.segmentId);
      const left = deadline - this.#now();
      if (left <= 0 || (waiters?.size ?? 0) >= MAX_GAP_WAITERS || this.#closed) {
        throw new InvalidArgumentError(
          `replica batch at ${target.segment}:${target.offset} starts past the end of the segment here (${end} bytes): the batches before it did not arrive`,
          { field: 'offset' },
        );
      }
      if (!waiters) this.#gapWaiters.set(target.segmentId, (waiters = new Set()));
      const set = waiters;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          set.delete(wake);
          if (set.size === 0 && this.#gapWaiters.get(target.segmentId) === set) this.#gapWaiters.delete(target.segmentId);
          resolve();
        };
        const timer = setTimeout(wake, left);
        set.add(wake);
      });
    }
  }

  /** Wakes replica batches waiting for this segment to grow. */
  #grew(segmentId: string): void {
    for (const wake of [...(this.#gapWaiters.get(segmentId) ?? [])]) wake();
  }

  /** Waits for queued batches and closes every segment. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#segments.values()].map((s) => s.close()));
  }

  #checkOpen(): void {
    if (this.#closed) throw new StoreError('segment store is closed');
  }

  #add(seg: SegmentFile, fileName: string): void {
    this.#segments.set(seg.id, seg);
    this.#fileNames.add(fileName);
  }

  #freeName(name: string, id: string): string {
    if (!this.#fileNames.has(name) && !fs.existsSync(path.join(this.dir, name + SEGMENT_INDEX_EXT))) return name;
    return `${name}-${id.slice(2, 10)}`;
  }

  #remember(key: string | undefined, segment: SegmentFile, r: BatchRecord): void {
    if (key === undefined) return;
    this.#setKey(key, { segment, offset: r.offset, length: r.length, committed: Promise.resolve(), at: segment.mtimeMs });
  }

  #setKey(key: string, loc: BatchLocation): void {
    this.#keys.delete(key);
    this.#keys.set(key, loc);
    if (this.#keys.size > this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
  }
}
