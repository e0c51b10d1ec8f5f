/**
 * What a map task reads and counts, for every job kind: its shards (byte ranges of plain files, or
 * whole gzip files) as chunks of whole lines or as parsed, filtered records; the context map
 * functions get; counters, bad-line statistics, damaged files, progress and cancellation.
 */
import fs from 'node:fs';
import { countNewlines } from '../byte-scan.ts';
import { AbortError, type FileDamage } from '../errors.ts';
// From the modules themselves, not logs/index.ts: a task thread then loads no ingestion, shipping
// or generator code.
import type { FieldName, LogRecord } from '../logs/fields.ts';
import { readLogFile, readLogRange, type LogChunkReader } from '../logs/files.ts';
import { compileLogFormat, type LogFormat } from '../logs/format.ts';
import { ParseStats } from '../logs/parse-stats.ts';
import type { LogParser } from '../logs/parser.ts';
import { ParsedTime, scanBracketTime } from '../logs/time.ts';
import { compileFilter, type RecordFilter } from './filter.ts';
import type { MapContext } from './job-definition.ts';
import type { PartialStore } from './partial-store.ts';
import type { MapResult, MapTask, Ref, ShardSpec } from './wire.ts';

export const DEFAULT_MAP_MEMORY_BUDGET = 64 * 1024 * 1024;

const formats = new Map<string, LogFormat>();
export function formatOf(name: string): LogFormat {
  let f = formats.get(name);
  if (!f) {
    f = compileLogFormat(name);
    formats.set(name, f);
  }
  return f;
}

/** Bytes a shard covers (a gzip file: its compressed size). */
export function shardBytes(s: ShardSpec): number {
  if (s.gzip) {
    try {
      return fs.statSync(s.path).size;
    } catch {
      return 0;
    }
  }
  const end = s.end ?? (() => {
    try {
      return fs.statSync(s.path).size;
    } catch {
      return s.start;
    }
  })();
  return Math.max(0, end - s.start);
}

/** Gzip files that could not be read to their end, by path: the readable part was mapped. */
type Damaged = Map<string, FileDamage>;

/**
 * Reads a shard as chunks of whole lines, with each chunk's byte offset in its file. A gzip file
 * cut short or corrupt yields what could be decompressed, and is noted in `damaged`.
 */
async function* shardChunks(shard: ShardSpec, signal: AbortSignal | undefined, damaged: Damaged, reuseBuffer = false): AsyncGenerator<{ chunk: Buffer; offset: number }> {
  const reader: LogChunkReader = shard.gzip
    ? readLogFile(shard.path, { signal, tolerateDamage: true })
    : readLogRange(shard.path, { start: shard.start, ...(shard.end !== null ? { end: shard.end } : {}) }, { signal, reuseBuffer });
  let base = -1;
  for await (const chunk of reader) {
    if (base < 0) base = shard.gzip ? 0 : reader.position;
    yield { chunk, offset: base + reader.bytesYielded - chunk.length };
  }
  if (reader.damage) damaged.set(shard.path, reader.damage);
}

const parsedTime = new ParsedTime();

function isDigitByte(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `[dd/Mon/yyyy:HH:MM:SS ±hhmm]` at `at` (shape only; the values are checked by scanBracketTime). */
function bracketShapeAt(b: Buffer, at: number, end: number): boolean {
  if (at + 28 > end || b[at + 27] !== 93) return false;
  for (const i of [1, 2, 8, 9, 10, 11, 13, 14, 16, 17, 19, 20, 23, 24, 25, 26]) if (!isDigitByte(b[at + i]!)) return false;
  const sign = b[at + 22];
  return b[at + 3] === 47 && b[at + 7] === 47 && b[at + 12] === 58 && b[at + 15] === 58 && b[at + 18] === 58 && b[at + 21] === 32 && (sign === 43 || sign === 45);
}

/**
 * The time of a raw line: its first `[dd/Mon/yyyy:HH:MM:SS ±hhmm]`-shaped field, whether or not
 * the rest of the line parses (grep keeps lines that do not). An impossible date there means the
 * line has no readable time.
 */
function bracketTime(b: Buffer, start: number, end: number): number | undefined {
  for (let at = b.indexOf(91, start); at >= 0 && at < end; at = b.indexOf(91, at + 1)) {
    if (!bracketShapeAt(b, at, end)) continue;
    return scanBracketTime(b.toString('latin1', at, at + 28), 0, 28, parsedTime) > 0 ? parsedTime.time : undefined;
  }
  return undefined;
}

export class Counters {
  readonly values: Record<string, number> = Object.create(null);
  add(name: string, n = 1): void {
    this.values[name] = (this.values[name] ?? 0) + n;
  }
}

/** Per-shard context for map functions, with lazily built parsers for raw-line filtering. */
export function makeContext<P>(params: P, node: string, file: string, format: LogFormat, filter: RecordFilter, counters: Counters): MapContext<P> {
  let filterParser: LogParser<FieldName> | null = null;
  let timeParser: LogParser<'time'> | null = null;
  return {
    params,
    node,
    file,
    count: (name, n = 1) => counters.add(name, n),
    accepts(line, start, end) {
      if (!filter.test) return true;
      filterParser ??= format.createParser(filter.fields as FieldName[]);
      const r = filterParser.parse(line.toString('latin1', start, end));
      return typeof r !== 'string' && filter.test(r);
    },
    timeOf(line, start, end) {
      if (!format.provides('time')) return undefined;
      if (format.timeMode === 'bracket') return bracketTime(line, start, end);
      timeParser ??= format.createParser(['time']);
      const r = timeParser.parse(line.toString('latin1', start, end));
      return typeof r === 'string' ? undefined : r.time;
    },
  };
}

/** The fields a parser of `format` is asked for: `wanted` and `extra` once each, those the format has. */
export function parserFields(format: LogFormat, wanted: readonly FieldName[], extra: readonly FieldName[] = []): FieldName[] {
  return [...new Set<FieldName>([...wanted, ...extra])].filter((f) => format.provides(f) || f === 'line' || f === 'offset');
}

function countLines(chunk: Buffer): number {
  return countNewlines(chunk) + (chunk.length > 0 && chunk[chunk.length - 1] !== 10 ? 1 : 0);
}

export interface MapEnv {
  readonly node: string;
  readonly store: PartialStore;
  /** The module file the job was imported from: incremental runs key the node's cache by its hash. */
  readonly jobFile?: string;
  readonly signal?: AbortSignal;
  /** Called with bytes read so far and bytes planned, at most every 100 ms. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One map task's input and bookkeeping; a job kind's map reads through it. */
export class MapInput {
  readonly task: MapTask;
  readonly env: MapEnv;
  readonly filter: RecordFilter;
  readonly counters = new Counters();
  readonly stats = new ParseStats();
  /** Gzip files read only in part, by path (the task's result lists them). */
  readonly damaged: Damaged = new Map();
  /** Bytes planned over all shards. */
  readonly total: number;
  /** Map output held in memory before a sorted run spills. */
  readonly budget: number;
  #done = 0;
  #lines = 0;
  #lastProgress = 0;

  constructor(task: MapTask, env: MapEnv) {
    this.task = task;
    this.env = env;
    this.filter = compileFilter(task.filter);
    this.total = task.shards.reduce((n, s) => n + shardBytes(s), 0);
    this.budget = task.memoryBudget ?? DEFAULT_MAP_MEMORY_BUDGET;
  }

  get params(): unknown {
    return this.task.params;
  }

  /** The task's result: its outputs, with the counters every map task reports. */
  result(refs: Ref[]): MapResult {
    const lines = this.#lines === 0 ? this.stats.lines : this.#lines;
    this.counters.add('bytes_read', this.#done);
    this.counters.add('bytes_scanned', this.#done);
    this.counters.add('lines_read', lines);
    if (this.stats.records > 0 || this.stats.invalidLines > 0) {
      this.counters.add('records', this.stats.records);
      this.counters.add('bad_lines', this.stats.invalidLines);
    }
    this.env.onProgress?.(this.total, this.total);
    return { refs, counters: this.counters.values, stats: this.stats.toJSON(), bytes: this.#done, lines, ...this.damagedFiles() };
  }

  /** The result's `damaged` field: the gzip files read only in part, if any. */
  damagedFiles(): Pick<MapResult, 'damaged'> {
    return this.damaged.size > 0 ? { damaged: [...this.damaged].map(([path, d]) => ({ path, ...d })) } : {};
  }

  /** The context map functions get while reading `shard`. */
  context(shard: ShardSpec, filter: RecordFilter = this.filter): MapContext<unknown> {
    return makeContext(this.params, this.env.node, shard.path, formatOf(shard.format), filter, this.counters);
  }

  progress(bytes: number): void {
    this.#done += bytes;
    const now = Date.now();
    if (this.env.onProgress && now - this.#lastProgress >= 100) {
      this.#lastProgress = now;
      this.env.onProgress(Math.min(this.#done, this.total), this.total);
    }
  }

  checkAbort(): void {
    if (this.env.signal?.aborted) throw new AbortError(`map task ${this.task.taskId} cancelled`, { cause: this.env.signal.reason });
  }

  /**
   * The shard's chunks of whole lines; each is counted as read once the caller asks for the next.
   * With `transient`, a chunk is valid only until then (plain files are read into one buffer).
   */
  async *chunks(shard: ShardSpec, options: { transient?: boolean } = {}): AsyncGenerator<{ chunk: Buffer; offset: number }> {
    for await (const c of shardChunks(shard, this.env.signal, this.damaged, options.transient)) {
      this.checkAbort();
      this.#lines += countLines(c.chunk);
      yield c;
      this.progress(c.chunk.length);
    }
  }

  /** Raw chunks without the bookkeeping (a cached range read only for its cut days). */
  rawChunks(shard: ShardSpec): AsyncGenerator<{ chunk: Buffer; offset: number }> {
    return shardChunks(shard, this.env.signal, this.damaged);
  }

  /** Parse the shard's records holding `wanted` (plus what the filter needs); those that pass go to `onRecord`. */
  async records(shard: ShardSpec, wanted: readonly FieldName[], onRecord: (record: LogRecord<FieldName>) => void, afterChunk?: () => Promise<void>): Promise<void> {
    const format = formatOf(shard.format);
    const filter = this.filter;
    const fields = parserFields(format, wanted, filter.fields);
    const parser = format.createParser(fields);
    const test = filter.test;
    const source = `${this.env.node}:${shard.path}`;
    const emit = test ? (r: LogRecord<FieldName>) => (test(r) ? onRecord(r) : undefined) : onRecord;
    for await (const { chunk, offset } of shardChunks(shard, this.env.signal, this.damaged)) {
      this.checkAbort();
      parser.parseBuffer(chunk, emit, this.stats, { source, offset });
      if (afterChunk) await afterChunk();
      this.progress(chunk.length);
    }
  }
}
