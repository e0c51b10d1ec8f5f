/**
 * Byte-level access to sorted runs (layout in runs.ts: `u32 keyLength, u32 valueLength, key,
 * value`) without an object per record: the hot path of sorted jobs, where a run may hold
 * millions of records. A cursor walks a stream of chunks; a merge compares keys in place with
 * `Buffer#compare` ranges and copies record bytes straight into the output.
 */
import fs from 'node:fs';
import { once } from 'node:events';
import { DataCorruptError } from '../errors.ts';

const HEADER = 8;

/** Reads records from a stream of run chunks. After `next()` resolves true, the fields describe the current record. */
export class RunCursor {
  readonly #chunks: AsyncIterator<Buffer>;
  /** Buffer holding the current record; valid until the next call to `next()`. */
  buf: Buffer = Buffer.alloc(0);
  /** Start of the current record (its header) in `buf`. */
  start = 0;
  keyStart = 0;
  keyEnd = 0;
  valueEnd = 0;
  #pos = 0;
  #done = false;

  constructor(chunks: AsyncIterable<Buffer>) {
    this.#chunks = chunks[Symbol.asyncIterator]();
  }

  /** Advance to the next record; false at the end of the run. */
  async next(): Promise<boolean> {
    for (;;) {
      const avail = this.buf.length - this.#pos;
      if (avail >= HEADER) {
        const k = this.buf.readUInt32BE(this.#pos);
        const v = this.buf.readUInt32BE(this.#pos + 4);
        const end = this.#pos + HEADER + k + v;
        if (end <= this.buf.length) {
          this.start = this.#pos;
          this.keyStart = this.#pos + HEADER;
          this.keyEnd = this.keyStart + k;
          this.valueEnd = end;
          this.#pos = end;
          return true;
        }
      }
      if (this.#done) {
        if (avail > 0) throw new DataCorruptError(`sorted run is truncated: ${avail} trailing bytes`);
        return false;
      }
      const r = await this.#chunks.next();
      if (r.done) {
        this.#done = true;
        continue;
      }
      // Keep the unread tail (a record split across chunks) in front of the new chunk.
      this.buf = avail > 0 ? Buffer.concat([this.buf.subarray(this.#pos), r.value]) : r.value;
      this.#pos = 0;
    }
  }

  async close(): Promise<void> {
    await this.#chunks.return?.();
  }
}

/** Key comparison of two cursors' current records; ties broken by source index (stable merge). */
function cursorLess(a: RunCursor, ai: number, b: RunCursor, bi: number): boolean {
  const c = a.buf.compare(b.buf, b.keyStart, b.keyEnd, a.keyStart, a.keyEnd);
  return c < 0 || (c === 0 && ai < bi);
}

/**
 * K-way merge of run chunk streams. `onRecord(buf, start, keyStart, keyEnd, end)` receives each
 * record in key order (stable by source order); the bytes are valid only during the call, and
 * `onRecord` may return a promise to apply back-pressure.
 */
export async function mergeRunChunks(
  sources: readonly AsyncIterable<Buffer>[],
  onRecord: (buf: Buffer, start: number, keyStart: number, keyEnd: number, end: number) => void | boolean | Promise<void | boolean>,
): Promise<number> {
  const cursors = sources.map((s) => new RunCursor(s));
  const heap: number[] = [];
  const less = (i: number, j: number) => cursorLess(cursors[heap[i]!]!, heap[i]!, cursors[heap[j]!]!, heap[j]!);
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(l, m)) m = l;
      if (r < heap.length && less(r, m)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  let count = 0;
  try {
    for (let i = 0; i < cursors.length; i++) if (await cursors[i]!.next()) heap.push(i);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
    while (heap.length > 0) {
      const c = cursors[heap[0]!]!;
      const p = onRecord(c.buf, c.start, c.keyStart, c.keyEnd, c.valueEnd);
      // false (or a promise of it) ends the merge early.
      if ((p instanceof Promise ? await p : p) === false) break;
      count++;
      if (await c.next()) siftDown(0);
      else {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          siftDown(0);
        }
      }
    }
  } finally {
    await Promise.all(cursors.map((c) => c.close()));
  }
  return count;
}

/** Writes run bytes to a file in large blocks; records are copied in from wherever they live. */
export class RunFileWriter {
  readonly path: string;
  readonly #stream: fs.WriteStream;
  readonly #blockSize: number;
  #block: Buffer;
  #used = 0;
  records = 0;
  bytes = 0;

  constructor(path: string, blockSize = 1024 * 1024) {
    this.path = path;
    this.#blockSize = blockSize;
    this.#block = Buffer.allocUnsafe(blockSize);
    this.#stream = fs.createWriteStream(path, { highWaterMark: blockSize });
  }

  /** Copy an encoded record (`buf[start, end)`, header included). */
  copyRecord(buf: Buffer, start: number, end: number): void | Promise<void> {
    const n = end - start;
    this.records++;
    this.bytes += n;
    if (this.#used + n > this.#block.length) {
      const flushed = this.#flush(n);
      buf.copy(this.#block, this.#used, start, end);
      this.#used += n;
      return flushed;
    }
    buf.copy(this.#block, this.#used, start, end);
    this.#used += n;
  }

  /** Append a record from its parts. */
  write(key: Buffer, value: Buffer): void | Promise<void> {
    const n = HEADER + key.length + value.length;
    this.records++;
    this.bytes += n;
    const flushed = this.#used + n > this.#block.length ? this.#flush(n) : undefined;
    const b = this.#block;
    b.writeUInt32BE(key.length, this.#used);
    b.writeUInt32BE(value.length, this.#used + 4);
    key.copy(b, this.#used + HEADER);
    value.copy(b, this.#used + HEADER + key.length);
    this.#used += n;
    return flushed;
  }

  #flush(need: number): Promise<void> | undefined {
    const full = this.#block.subarray(0, this.#used);
    this.#block = Buffer.allocUnsafe(Math.max(this.#blockSize, need));
    this.#used = 0;
    if (full.length === 0) return undefined;
    if (!this.#stream.write(full)) return once(this.#stream, 'drain').then(() => undefined);
    return undefined;
  }

  async close(): Promise<void> {
    await this.#flush(0);
    await new Promise<void>((resolve, reject) => {
      this.#stream.once('error', reject);
      this.#stream.end(() => resolve());
    });
  }
}

/** A run file's bytes as a stream of chunks. */
export function runFileChunks(path: string, chunkSize = 1024 * 1024): AsyncIterable<Buffer> {
  return fs.createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Buffer>;
}
