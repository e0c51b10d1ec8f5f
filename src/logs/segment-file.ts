/**
 * One ingested segment: a data file of log lines (`NAME.log`) and its index (`NAME.idx`, JSON
 * lines: a header, then one record per stored batch with its offset, length, line count, time
 * range and deduplication key).
 *
 * Writes are group-committed: batches queued while a commit runs go out together in the next one.
 * A commit writes the batches' bytes at their offsets, fdatasyncs the data file, then appends their
 * index records and fdatasyncs the index. A batch counts as stored once its record is in the index;
 * on open, data past the last indexed byte (written, never acknowledged) is cut off.
 *
 * The node that received the lines (the origin) appends batches back to back; a replica writes the
 * same batches at the offsets the origin chose, in whatever order they arrive, so its file ends up
 * byte-identical. `contiguous` is the end of the gapless prefix: what a reader may read.
 */
import fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { StoreError } from '../errors.ts';

export const SEGMENT_DATA_EXT = '.log';
export const SEGMENT_INDEX_EXT = '.idx';

const headerSchema = z.object({
  t: z.literal('h'),
  v: z.literal(1),
  id: z.string().regex(/^s-[0-9a-f]{16,64}$/),
  origin: z.string().min(1),
  name: z.string().min(1),
  format: z.string().min(1),
  created: z.number(),
});

const batchSchema = z.object({
  t: z.literal('b'),
  o: z.number().int().nonnegative(),
  n: z.number().int().positive(),
  l: z.number().int().nonnegative(),
  f: z.number().nullable(),
  z: z.number().nullable(),
  k: z.string().optional(),
});

const peersSchema = z.object({ t: z.literal('p'), peers: z.array(z.string()) });

export type SegmentHeader = Omit<z.infer<typeof headerSchema>, 't' | 'v'>;

/** One stored batch. */
export interface BatchRecord {
  readonly offset: number;
  readonly length: number;
  readonly lines: number;
  readonly firstTime: number | null;
  readonly lastTime: number | null;
  /** Deduplication key of the job that brought the batch (see ingest.ts). */
  readonly key: string | undefined;
}

type Entry =
  | { kind: 'batch'; record: BatchRecord; data: Buffer; resolve: () => void; reject: (e: Error) => void }
  | { kind: 'meta'; json: string; resolve: () => void; reject: (e: Error) => void };

function recordJson(r: BatchRecord): string {
  return JSON.stringify({ t: 'b', o: r.offset, n: r.length, l: r.lines, f: r.firstTime, z: r.lastTime, ...(r.key !== undefined ? { k: r.key } : {}) });
}

async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the files themselves are synced.
  }
}

export class SegmentFile {
  readonly header: SegmentHeader;
  readonly dataPath: string;
  readonly indexPath: string;
  /** Committed batches by offset. */
  readonly #records = new Map<number, BatchRecord>();
  /** Batches queued or being committed, by offset, and their lengths. */
  readonly #pending = new Map<number, Promise<void>>();
  readonly #pendingLength = new Map<number, number>();
  #queue: Entry[] = [];
  #flushing = false;
  #data: FileHandle | undefined;
  #index: FileHandle | undefined;
  #ready: Promise<void>;
  #broken: Error | undefined;
  #closed = false;
  /** Origin side: where the next appended batch goes. */
  nextOffset = 0;
  /** No more appends from the origin (rotated, or opened after a restart). */
  sealed = false;
  /** Replica set chosen by the origin (origin side only). */
  peers: string[] = [];
  /** Time of the last commit (or the file's mtime when opened). */
  mtimeMs: number;
  /** End of the furthest batch stored or queued: where the data file ends once they are written. */
  extent = 0;
  // The gapless prefix and its totals.
  contiguous = 0;
  lines = 0;
  firstTime: number | null = null;
  lastTime: number | null = null;

  private constructor(dir: string, header: SegmentHeader, fileName: string, ready: (self: SegmentFile) => Promise<void>) {
    this.header = header;
    this.dataPath = path.join(dir, fileName + SEGMENT_DATA_EXT);
    this.indexPath = path.join(dir, fileName + SEGMENT_INDEX_EXT);
    this.mtimeMs = header.created;
    this.#ready = ready(this);
    this.#ready.catch((err: Error) => (this.#broken = err));
  }

  get id(): string {
    return this.header.id;
  }

  /** A write or the creation failed: the segment takes no more batches. */
  get broken(): boolean {
    return this.#broken !== undefined;
  }

  get records(): ReadonlyMap<number, BatchRecord> {
    return this.#records;
  }

  /** Creates the files of a new segment (the index header is synced before any batch). */
  static create(dir: string, header: SegmentHeader, fileName = header.name): SegmentFile {
    return new SegmentFile(dir, header, fileName, async (self) => {
      const index = await open(self.indexPath, 'wx');
      self.#index = index;
      await index.write(JSON.stringify({ t: 'h', v: 1, ...header }) + '\n');
      await index.datasync();
      self.#data = await open(self.dataPath, fs.constants.O_RDWR | fs.constants.O_CREAT);
      syncDir(dir);
    });
  }

  /**
   * Opens an existing segment from its index: torn index lines and unindexed data are cut off.
   * Returns undefined for an index without a valid header (a crash while it was created).
   */
  static async open(dir: string, fileName: string): Promise<SegmentFile | undefined> {
    const indexPath = path.join(dir, fileName + SEGMENT_INDEX_EXT);
    const text = await fs.promises.readFile(indexPath, 'latin1');
    const lines = text.split('\n');
    const validLength = text.endsWith('\n') ? text.length : text.lastIndexOf('\n') + 1;
    let header: SegmentHeader | undefined;
    const batches: BatchRecord[] = [];
    let peers: string[] = [];
    let consumed = 0;
    for (const line of lines) {
      if (consumed + line.length + 1 > validLength) break; // torn last line
      consumed += line.length + 1;
      if (line.length === 0) continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      if (!header) {
        const h = headerSchema.safeParse(value);
        if (!h.success) return undefined;
        const { t: _t, v: _v, ...rest } = h.data;
        header = rest;
        continue;
      }
      const b = batchSchema.safeParse(value);
      if (b.success) {
        const d = b.data;
        batches.push({ offset: d.o, length: d.n, lines: d.l, firstTime: d.f, lastTime: d.z, key: d.k });
        continue;
      }
      const p = peersSchema.safeParse(value);
      if (p.success) peers = p.data.peers;
    }
    if (!header) return undefined;
    if (validLength < Buffer.byteLength(text, 'latin1')) await fs.promises.truncate(indexPath, validLength);
    const h = header;
    return new SegmentFile(dir, h, fileName, async (self) => {
      self.#data = await open(self.dataPath, fs.constants.O_RDWR | fs.constants.O_CREAT);
      const st = await self.#data.stat();
      let end = 0;
      for (const r of batches) {
        if (r.offset + r.length > st.size) continue; // indexed but not on disk: never acknowledged as such
        if (self.#records.has(r.offset)) continue;
        self.#records.set(r.offset, r);
        end = Math.max(end, r.offset + r.length);
      }
      if (st.size > end) await self.#data.truncate(end);
      self.#index = await open(self.indexPath, 'a');
      self.nextOffset = end;
      self.extent = end;
      self.peers = peers;
      self.sealed = true;
      self.mtimeMs = st.mtimeMs;
      self.#advance();
    });
  }

  /** Resolves once the files are open (rejects if they could not be). */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** A committed or queued batch at `offset`, if any. */
  batchAt(offset: number): BatchRecord | Promise<void> | undefined {
    return this.#records.get(offset) ?? this.#pending.get(offset);
  }

  /**
   * Whether `[offset, offset + length)` overlaps a stored or queued batch that does not start at
   * `offset`. Only a write before the end can: that case is rare (copies out of order), so a scan.
   */
  overlaps(offset: number, length: number): boolean {
    if (offset >= this.extent) return false;
    const end = offset + length;
    const hits = (start: number, n: number) => start !== offset && start < end && offset < start + n;
    for (const r of this.#records.values()) if (hits(r.offset, r.length)) return true;
    for (const [start, n] of this.#pendingLength) if (hits(start, n)) return true;
    return false;
  }

  /** Origin: reserves the next `data.length` bytes and queues the batch. */
  append(data: Buffer, meta: Omit<BatchRecord, 'offset' | 'length'>): { offset: number; committed: Promise<void> } {
    const offset = this.nextOffset;
    this.nextOffset += data.length;
    return { offset, committed: this.write(offset, data, meta) };
  }

  /** Queues a batch at `offset`; resolves when it is stored. */
  write(offset: number, data: Buffer, meta: Omit<BatchRecord, 'offset' | 'length'>): Promise<void> {
    const record: BatchRecord = { offset, length: data.length, ...meta };
    this.extent = Math.max(this.extent, offset + data.length);
    const committed = new Promise<void>((resolve, reject) => {
      if (this.#broken || this.#closed) return reject(this.#broken ?? new StoreError(`segment ${this.header.name} is closed`));
      this.#queue.push({ kind: 'batch', record, data, resolve, reject });
      this.#kick();
    });
    this.#pending.set(offset, committed);
    this.#pendingLength.set(offset, data.length);
    const done = () => {
      if (this.#pending.get(offset) !== committed) return;
      this.#pending.delete(offset);
      this.#pendingLength.delete(offset);
    };
    committed.then(done, done);
    return committed;
  }

  /** Records the origin's replica set in the index. */
  setPeers(peers: string[]): Promise<void> {
    this.peers = peers;
    return new Promise<void>((resolve, reject) => {
      if (this.#broken || this.#closed) return reject(this.#broken ?? new StoreError(`segment ${this.header.name} is closed`));
      this.#queue.push({ kind: 'meta', json: JSON.stringify({ t: 'p', peers }), resolve, reject });
      this.#kick();
    });
  }

  /** Reads stored bytes back (for re-sending a batch to a replica). */
  async read(offset: number, length: number): Promise<Buffer> {
    await this.#ready;
    const buf = Buffer.alloc(length);
    const { bytesRead } = await this.#data!.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  }

  /** Waits for queued batches, then closes the files. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#pending.values()]);
    await this.#ready.catch(() => {});
    await this.#data?.close().catch(() => {});
    await this.#index?.close().catch(() => {});
  }

  #kick(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    void this.#flushLoop();
  }

  async #flushLoop(): Promise<void> {
    try {
      await this.#ready;
    } catch (err) {
      this.#failAll(err as Error);
      return;
    }
    while (this.#queue.length > 0) {
      const group = this.#queue;
      this.#queue = [];
      try {
        if (this.#broken) throw this.#broken;
        let wrote = false;
        for (const e of group) {
          if (e.kind !== 'batch') continue;
          await writeAll(this.#data!, e.data, e.record.offset);
          wrote = true;
        }
        if (wrote) await this.#data!.datasync();
        const text = group.map((e) => (e.kind === 'batch' ? recordJson(e.record) : e.json) + '\n').join('');
        await this.#index!.write(text);
        await this.#index!.datasync();
      } catch (err) {
        // The files are in an unknown state: refuse further writes; a restart recovers from the index.
        this.#broken = err instanceof StoreError ? err : new StoreError(`segment ${this.header.name}: ${(err as Error).message}`, { cause: err });
        for (const e of group) e.reject(this.#broken);
        continue;
      }
      this.mtimeMs = Date.now();
      for (const e of group) {
        if (e.kind === 'batch') this.#records.set(e.record.offset, e.record);
      }
      this.#advance();
      for (const e of group) e.resolve();
    }
    this.#flushing = false;
  }

  #failAll(err: Error): void {
    for (const e of this.#queue.splice(0)) e.reject(err);
    this.#flushing = false;
  }

  /** Moves the gapless prefix forward over committed batches. */
  #advance(): void {
    for (let r = this.#records.get(this.contiguous); r; r = this.#records.get(this.contiguous)) {
      this.contiguous += r.length;
      this.lines += r.lines;
      if (r.firstTime !== null) this.firstTime = this.firstTime === null ? r.firstTime : Math.min(this.firstTime, r.firstTime);
      if (r.lastTime !== null) this.lastTime = this.lastTime === null ? r.lastTime : Math.max(this.lastTime, r.lastTime);
    }
  }
}
