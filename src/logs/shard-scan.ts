/**
 * Scanning a log file for its catalogue entry: line count and exact first/last record time, read
 * incrementally for plain files (a growing file is scanned from where the last scan stopped) and
 * whole for gzip; plus a cheap estimate of the times from the first and last lines.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { countNewlines } from '../byte-scan.ts';
import { AbortError } from '../errors.ts';
import { LineChunker, openLogStream, readLogFile } from './files.ts';
import type { LogFormat } from './format.ts';
import type { LogParser } from './parser.ts';

/** What a scan found over the first `scannedBytes` bytes (decompressed bytes for gzip). */
export interface ScanState {
  /** Bytes scanned from the start; always just after a newline (or the end of a gzip file). */
  scannedBytes: number;
  /** Newline-terminated lines in those bytes (what `wc -l` counts). */
  lines: number;
  firstTime: number | null;
  lastTime: number | null;
}

export const emptyScan = (): ScanState => ({ scannedBytes: 0, lines: 0, firstTime: null, lastTime: null });

/** Bytes a file's identity head holds at most: its first line, or this many bytes of it. */
export const HEAD_BYTES = 4096;

const READ_SIZE = 1024 * 1024;
const SAMPLE_BYTES = 64 * 1024;

const timeParsers = new WeakMap<LogFormat, LogParser<'time'> | null>();

/** A parser for the `time` field only, or null when the format has no time. */
export function timeParser(format: LogFormat): LogParser<'time'> | null {
  let p = timeParsers.get(format);
  if (p === undefined) {
    p = format.provides('time') ? format.createParser(['time']) : null;
    timeParsers.set(format, p);
  }
  return p;
}

/** Folds the record times of `lines` (whole lines) into `state`. Not reentrant per parser. */
export function foldTimes(lines: Buffer, parser: LogParser<'time'> | null, state: { firstTime: number | null; lastTime: number | null }): void {
  if (!parser) return;
  let first = state.firstTime ?? Infinity;
  let last = state.lastTime ?? -Infinity;
  parser.parseBuffer(lines, (r) => {
    if (r.time < first) first = r.time;
    if (r.time > last) last = r.time;
  });
  if (first !== Infinity) state.firstTime = first;
  if (last !== -Infinity) state.lastTime = last;
}


function abortIf(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/**
 * Continues the scan of a plain file from `state.scannedBytes` up to about `limit` (stopping at
 * the last newline before it). With `final`, a last line without a newline at `limit` counts as
 * scanned (its time too; `lines` still counts newlines, as `wc -l`). Returns the new state and the
 * bytes read.
 */
export async function scanPlainFile(
  file: string,
  state: ScanState,
  limit: number,
  format: LogFormat,
  opts: { signal?: AbortSignal; final?: boolean } = {},
): Promise<{ state: ScanState; bytesRead: number }> {
  const parser = timeParser(format);
  const next: ScanState = { ...state };
  const fh = await open(file, 'r');
  let bytesRead = 0;
  try {
    let pos = state.scannedBytes;
    const chunker = new LineChunker();
    const buf = Buffer.allocUnsafe(READ_SIZE);
    while (pos < limit) {
      abortIf(opts.signal);
      const want = Math.min(READ_SIZE, limit - pos);
      const { bytesRead: n } = await fh.read(buf, 0, want, pos);
      if (n === 0) break;
      bytesRead += n;
      // The chunker may keep views of what it is given: give it a copy, `buf` is reused.
      const data = Buffer.from(buf.subarray(0, n));
      const nl = data.lastIndexOf(10);
      if (nl >= 0) next.scannedBytes = pos + nl + 1;
      for (const lines of chunker.push(data)) {
        next.lines += countNewlines(lines);
        foldTimes(lines, parser, next);
      }
      pos += n;
    }
    const tail = opts.final && pos === limit ? chunker.flush() : undefined;
    if (tail) {
      foldTimes(tail, parser, next);
      next.scannedBytes = pos;
    }
  } finally {
    await fh.close();
  }
  return { state: next, bytesRead };
}

/** Scans a whole gzip file (or a plain file read as a stream). */
export async function scanWholeFile(file: string, format: LogFormat, opts: { signal?: AbortSignal } = {}): Promise<{ state: ScanState; bytesRead: number }> {
  const parser = timeParser(format);
  const state = emptyScan();
  const reader = readLogFile(file, { signal: opts.signal });
  for await (const lines of reader) {
    state.lines += countNewlines(lines);
    foldTimes(lines, parser, state);
  }
  state.scannedBytes = reader.bytesYielded;
  return { state, bytesRead: reader.bytesYielded };
}

/**
 * The identity head of a file: its first line with its newline, or its first HEAD_BYTES bytes
 * (decompressed for gzip). `complete` is false while a short first line is still being written.
 */
export async function readHead(file: string, gzip: boolean): Promise<{ hash: string; complete: boolean }> {
  const head = gzip ? await gzipPrefix(file, HEAD_BYTES) : await plainPrefix(file, 0, HEAD_BYTES);
  const nl = head.indexOf(10);
  const bytes = nl >= 0 ? head.subarray(0, nl + 1) : head;
  return { hash: createHash('sha256').update(bytes).digest('hex').slice(0, 32), complete: nl >= 0 || head.length >= HEAD_BYTES };
}

async function plainPrefix(file: string, position: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function gzipPrefix(file: string, length: number): Promise<Buffer> {
  const stream = await openLogStream(file, { highWaterMark: 16 * 1024 });
  const parts: Buffer[] = [];
  let got = 0;
  try {
    for await (const chunk of stream) {
      parts.push(chunk as Buffer);
      got += (chunk as Buffer).length;
      if (got >= length) break;
    }
  } catch {
    // A gzip file cut short still has a readable head; whatever was decoded is the head.
  } finally {
    stream.destroy();
  }
  return Buffer.concat(parts).subarray(0, length);
}

/**
 * Estimated first/last times of a file not yet scanned: the earliest time among its first lines
 * and the latest among its last lines (gzip: the first lines only; the caller bounds the last
 * time otherwise).
 */
export async function estimateTimes(file: string, gzip: boolean, size: number, format: LogFormat): Promise<{ firstTime: number | null; lastTime: number | null }> {
  const parser = timeParser(format);
  const out = { firstTime: null as number | null, lastTime: null as number | null };
  if (!parser || size === 0) return out;
  const head = gzip ? await gzipPrefix(file, SAMPLE_BYTES) : await plainPrefix(file, 0, Math.min(size, SAMPLE_BYTES));
  const headEnd = head.lastIndexOf(10);
  if (headEnd >= 0) foldTimes(head.subarray(0, headEnd + 1), parser, out);
  const first = out.firstTime;
  if (gzip) return { firstTime: first, lastTime: out.lastTime };
  const tailStart = Math.max(0, size - SAMPLE_BYTES);
  const tail = await plainPrefix(file, tailStart, size - tailStart);
  const from = tailStart === 0 ? 0 : tail.indexOf(10) + 1;
  const to = tail.lastIndexOf(10);
  const tailTimes = { firstTime: null as number | null, lastTime: null as number | null };
  if (from > 0 || tailStart === 0) {
    if (to >= from) foldTimes(tail.subarray(from, to + 1), parser, tailTimes);
  }
  return { firstTime: first ?? tailTimes.firstTime, lastTime: tailTimes.lastTime ?? out.lastTime };
}
