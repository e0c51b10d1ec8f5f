import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip, Gunzip } from 'node:zlib';
import { AbortError, CorruptFileError, InvalidArgumentError, type FileDamage } from '../errors.ts';

/**
 * Reading log files: plain or gzip, whole or by byte range, in chunks that end on line boundaries.
 *
 * Range rule: a line belongs to the range in which it starts. Reading `[start, end)` skips the
 * line in progress at `start` (its earlier range has it) and reads past `end` to finish the line
 * that started before `end`. Ranges that tile a file therefore yield each line exactly once.
 */

export interface ByteRange {
  /** First byte (inclusive). */
  start: number;
  /** Last byte (exclusive). */
  end: number;
}

export interface ReadOptions {
  /** Bytes per read. Default 256 KiB. */
  chunkSize?: number;
  /**
   * Longest line kept whole, in bytes. Default 16 MiB. The rest of a longer line is skipped up to
   * its newline, so a file without newlines cannot exhaust memory; the kept head still counts as
   * one (too long) line.
   */
  maxLineBytes?: number;
  /**
   * A gzip file that is cut short or corrupt ends the reading after what could be decompressed,
   * with `damage` set on the reader, instead of failing with CorruptFileError.
   */
  tolerateDamage?: boolean;
  /**
   * Plain files: read every chunk into the same buffer, so a chunk is valid only until the next
   * one is asked for (no buffer to allocate and collect per chunk; for scans that keep nothing).
   */
  reuseBuffer?: boolean;
  signal?: AbortSignal;
}

export const DEFAULT_CHUNK_SIZE = 256 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

const NEWLINE = Buffer.from('\n');

/**
 * Cuts a stream of buffers into buffers of whole lines. Buffers it is given must not be written
 * to afterwards: the chunks it returns may be views into them.
 */
export class LineChunker {
  readonly #maxLineBytes: number;
  /** Copy held-back bytes: the buffers pushed are written to again. */
  readonly #copyCarry: boolean;
  #carry: Buffer[] = [];
  #carryLength = 0;
  /** Skipping the rest of an overlong line up to its newline. */
  #skipping = false;

  constructor(maxLineBytes = DEFAULT_MAX_LINE_BYTES, options: { copyCarry?: boolean } = {}) {
    this.#maxLineBytes = maxLineBytes;
    this.#copyCarry = options.copyCarry ?? false;
  }

  /** Bytes held back: the start of a line whose newline has not arrived yet. */
  get pending(): number {
    return this.#carryLength;
  }

  /**
   * Whole lines completed by `chunk` (each buffer ends with `\n`): none, or the line that was
   * pending (copied together) followed by a view of the rest, so a large chunk is never copied.
   */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let rest = chunk;
    if (this.#carryLength > 0 || this.#skipping) {
      const nl = rest.indexOf(10);
      if (nl < 0) {
        if (!this.#skipping) this.#keep(rest);
        return out;
      }
      if (!this.#skipping) this.#keep(rest.subarray(0, nl + 1));
      else this.#carry.push(NEWLINE);
      out.push(this.#carry.length === 1 ? this.#carry[0]! : Buffer.concat(this.#carry));
      this.#carry = [];
      this.#carryLength = 0;
      this.#skipping = false;
      rest = rest.subarray(nl + 1);
    }
    const last = rest.lastIndexOf(10);
    if (last < 0) {
      if (rest.length > 0) this.#keep(rest);
      return out;
    }
    out.push(rest.subarray(0, last + 1));
    if (last + 1 < rest.length) this.#keep(rest.subarray(last + 1));
    return out;
  }

  /** The unterminated last line, if any. */
  flush(): Buffer | undefined {
    if (this.#carryLength === 0) return undefined;
    const tail = this.#carry.length === 1 ? this.#carry[0]! : Buffer.concat(this.#carry);
    this.#carry = [];
    this.#carryLength = 0;
    this.#skipping = false;
    return tail;
  }

  #keep(part: Buffer): void {
    if (this.#skipping) return;
    const room = this.#maxLineBytes - this.#carryLength;
    if (part.length > room) {
      if (room > 0) this.#carry.push(this.#held(part.subarray(0, room)));
      this.#carryLength = this.#maxLineBytes;
      this.#skipping = true;
      return;
    }
    this.#carry.push(this.#held(part));
    this.#carryLength += part.length;
  }

  #held(part: Buffer): Buffer {
    return this.#copyCarry ? Buffer.from(part) : part;
  }
}

/**
 * Calls `onLine(start, end)` for each line of `chunk` (`end` excludes the `\n`), including a last
 * line without a newline. Returns the number of lines.
 */
export function forEachLine(chunk: Buffer, onLine: (start: number, end: number) => void): number {
  let p = 0;
  let n = 0;
  const size = chunk.length;
  while (p < size) {
    let e = chunk.indexOf(10, p);
    if (e < 0) e = size;
    onLine(p, e);
    n++;
    p = e + 1;
  }
  return n;
}

/** Number of lines in a chunk, counting an unterminated last line (unlike `wc -l`). */
export function countLines(chunk: Buffer): number {
  let n = 0;
  let p = -1;
  while ((p = chunk.indexOf(10, p + 1)) >= 0) n++;
  if (chunk.length > 0 && chunk[chunk.length - 1] !== 10) n++;
  return n;
}

/** A readable source of line-aligned chunks; after iteration, says how the data ended. */
export interface LogChunkReader extends AsyncIterable<Buffer> {
  /** The last line had no newline (a truncated tail, or a line being written). Known once done. */
  readonly unterminated: boolean;
  /** Bytes yielded so far (decompressed bytes for gzip). */
  readonly bytesYielded: number;
  /** How far the reader has got in its file, for progress (decompressed bytes for gzip). */
  readonly position: number;
  /** With `tolerateDamage`: where a gzip file stopped being readable. Known once done. */
  readonly damage?: FileDamage | undefined;
}

function checkPositiveInt(value: number, field: string): void {
  if (!Number.isInteger(value) || value < 1) throw new InvalidArgumentError(`${field} must be a positive integer`, { field });
}

function abortIf(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/** True when the file starts with gzip's magic bytes. */
export async function isGzipFile(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** The file's bytes, decompressed when it is gzip (detected by its magic bytes, not its name). */
export async function openLogStream(file: string, options: { signal?: AbortSignal; highWaterMark?: number } = {}): Promise<Readable> {
  const gzip = await isGzipFile(file);
  const raw = createReadStream(file, { highWaterMark: options.highWaterMark ?? DEFAULT_CHUNK_SIZE, signal: options.signal });
  if (!gzip) return raw;
  const gunzip = createGunzip({ chunkSize: options.highWaterMark ?? DEFAULT_CHUNK_SIZE });
  raw.on('error', (err) => gunzip.destroy(err));
  gunzip.on('close', () => raw.destroy());
  return raw.pipe(gunzip);
}

class RangeReader implements LogChunkReader {
  unterminated = false;
  bytesYielded = 0;
  position: number;
  readonly #file: string;
  readonly #start: number;
  readonly #end: number | undefined;
  readonly #chunkSize: number;
  readonly #maxLineBytes: number;
  readonly #reuseBuffer: boolean;
  readonly #signal: AbortSignal | undefined;

  constructor(file: string, range: Partial<ByteRange>, options: ReadOptions) {
    this.#file = file;
    this.#start = range.start ?? 0;
    this.#end = range.end;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#reuseBuffer = options.reuseBuffer ?? false;
    this.#signal = options.signal;
    if (!Number.isInteger(this.#start) || this.#start < 0) throw new InvalidArgumentError('range start must be a non-negative integer', { field: 'start' });
    if (this.#end !== undefined && (!Number.isInteger(this.#end) || this.#end < this.#start)) {
      throw new InvalidArgumentError('range end must be an integer not below start', { field: 'end' });
    }
    checkPositiveInt(this.#chunkSize, 'chunkSize');
    checkPositiveInt(this.#maxLineBytes, 'maxLineBytes');
    this.position = this.#start;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    abortIf(this.#signal);
    const fh = await open(this.#file, 'r');
    try {
      const size = (await fh.stat()).size;
      const end = Math.min(this.#end ?? size, size);
      let pos = this.#start;
      if (pos >= end) return;
      const chunker = new LineChunker(this.#maxLineBytes, { copyCarry: this.#reuseBuffer });
      const shared = this.#reuseBuffer ? Buffer.allocUnsafeSlow(this.#chunkSize) : null;
      if (pos > 0) {
        pos = await this.#nextLineStart(fh, pos - 1, size);
        if (pos >= end) return;
      }
      this.position = pos;
      for (;;) {
        abortIf(this.#signal);
        const buf = shared ?? Buffer.allocUnsafe(this.#chunkSize);
        const { bytesRead } = await fh.read(buf, 0, this.#chunkSize, pos);
        if (bytesRead === 0) break;
        const data = buf.subarray(0, bytesRead);
        const dataStart = pos;
        pos += bytesRead;
        if (pos >= end) {
          // The last line of the range is the one holding byte end-1: stop after its newline.
          const from = Math.max(0, end - 1 - dataStart);
          const nl = data.indexOf(10, from);
          if (nl >= 0) {
            for (const lines of chunker.push(data.subarray(0, nl + 1))) yield this.#emit(lines);
            this.position = dataStart + nl + 1;
            return;
          }
        }
        for (const lines of chunker.push(data)) yield this.#emit(lines);
        this.position = pos - chunker.pending;
      }
      const tail = chunker.flush();
      if (tail) {
        this.unterminated = true;
        yield this.#emit(tail);
      }
      this.position = size;
    } finally {
      await fh.close();
    }
  }

  #emit(lines: Buffer): Buffer {
    this.bytesYielded += lines.length;
    return lines;
  }

  /** The offset just after the first `\n` at or after `from` (or the file size if none). */
  async #nextLineStart(fh: Awaited<ReturnType<typeof open>>, from: number, size: number): Promise<number> {
    const buf = Buffer.allocUnsafe(Math.min(this.#chunkSize, 64 * 1024));
    let pos = from;
    while (pos < size) {
      abortIf(this.#signal);
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      const nl = buf.subarray(0, bytesRead).indexOf(10);
      if (nl >= 0) return pos + nl + 1;
      pos += bytesRead;
    }
    return size;
  }
}

/**
 * Reads the lines of a plain file that start in `[start, end)` (default: the whole file) as
 * chunks of whole lines. The last chunk of a file whose last line has no newline lacks it, and
 * the reader's `unterminated` is then true.
 */
export function readLogRange(file: string, range: Partial<ByteRange> = {}, options: ReadOptions = {}): LogChunkReader {
  return new RangeReader(file, range, options);
}

class StreamReader implements LogChunkReader {
  unterminated = false;
  bytesYielded = 0;
  damage: FileDamage | undefined;
  readonly #file: string;
  readonly #options: ReadOptions;

  constructor(file: string, options: ReadOptions) {
    this.#file = file;
    this.#options = options;
    checkPositiveInt(options.chunkSize ?? DEFAULT_CHUNK_SIZE, 'chunkSize');
  }

  get position(): number {
    return this.bytesYielded;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const { signal } = this.#options;
    abortIf(signal);
    const stream = await openLogStream(this.#file, { signal, highWaterMark: this.#options.chunkSize });
    const chunker = new LineChunker(this.#options.maxLineBytes);
    try {
      for await (const chunk of stream) {
        for (const lines of chunker.push(chunk as Buffer)) {
          this.bytesYielded += lines.length;
          yield lines;
        }
      }
    } catch (err) {
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      const code = (err as NodeJS.ErrnoException).code;
      // zlib's Z_BUF_ERROR is input that ends before the stream does; Z_DATA_ERROR, bad input.
      if (!(stream instanceof Gunzip) || typeof code !== 'string' || !code.startsWith('Z_')) throw err;
      const damage: FileDamage = {
        kind: code === 'Z_BUF_ERROR' ? 'truncated' : 'corrupt',
        offset: stream.bytesWritten,
        bytesRead: this.bytesYielded + chunker.pending,
        detail: (err as Error).message,
      };
      if (!this.#options.tolerateDamage) throw new CorruptFileError(this.#file, damage, { cause: err });
      this.damage = damage;
    } finally {
      stream.destroy();
    }
    const tail = chunker.flush();
    if (tail) {
      this.unterminated = true;
      this.bytesYielded += tail.length;
      yield tail;
    }
  }
}

/**
 * Reads a whole log file, plain or gzip (by magic bytes; multi-member gzip files work), as chunks
 * of whole lines. A corrupt or cut gzip stream fails with CorruptFileError (naming the file and
 * the byte where decompression stopped) after the lines before it, or with `tolerateDamage` ends
 * there, the reader's `damage` saying where and why.
 */
export function readLogFile(file: string, options: ReadOptions = {}): LogChunkReader {
  return new StreamReader(file, options);
}

/**
 * Splits `size` bytes into at most `parts` ranges of at least `minBytes` each (the last may be
 * shorter), tiling `[0, size)`. Line boundaries are resolved when reading.
 */
export function planRanges(size: number, parts: number, options: { minBytes?: number } = {}): ByteRange[] {
  if (!Number.isInteger(size) || size < 0) throw new InvalidArgumentError('size must be a non-negative integer', { field: 'size' });
  checkPositiveInt(parts, 'parts');
  const minBytes = options.minBytes ?? 1024 * 1024;
  checkPositiveInt(minBytes, 'minBytes');
  const n = Math.max(1, Math.min(parts, Math.floor(size / minBytes)));
  const out: ByteRange[] = [];
  for (let i = 0; i < n; i++) out.push({ start: Math.floor((size * i) / n), end: Math.floor((size * (i + 1)) / n) });
  return out;
}

export interface LogFilePlan {
  path: string;
  size: number;
  mtimeMs: number;
  /** Gzip files cannot be split: they get one range over their compressed size. */
  gzip: boolean;
  ranges: ByteRange[];
}

/** Stats a file and plans its ranges (`readLogRange` for plain files, `readLogFile` for gzip). */
export async function planFileRanges(file: string, parts: number, options: { minBytes?: number } = {}): Promise<LogFilePlan> {
  const st = await stat(file);
  const gzip = st.size >= 2 && (await isGzipFile(file));
  return {
    path: file,
    size: st.size,
    mtimeMs: st.mtimeMs,
    gzip,
    ranges: gzip ? [{ start: 0, end: st.size }] : planRanges(st.size, parts, options),
  };
}
