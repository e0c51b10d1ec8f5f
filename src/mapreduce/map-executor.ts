/**
 * Runs one map task: reads the task's shards (byte ranges of plain files, or whole gzip files),
 * feeds the job's map function, and stores the output in the node's PartialStore. Runs inside a
 * task thread (task-thread.ts) so a node with N slots maps N shards in parallel.
 */
import fs from 'node:fs';
import { AbortError, type FileDamage } from '../errors.ts';
import {
  compileLogFormat,
  ParseStats,
  readLogFile,
  readLogRange,
  type FieldName,
  type LogChunkReader,
  type LogFormat,
  type LogParser,
  type LogRecord,
} from '../logs/index.ts';
import { ParsedTime, scanBracketTime } from '../logs/time.ts';
import { compileFilter, type RecordFilter } from './filter.ts';
import { classifyDay, DAY_MS, PartialCache } from './partial-cache.ts';
import { resolveJob, encodeState, decodeState, type AnyJob, type JobDefinition, type KeyedJob, type MapContext, type SortedJob, type SummaryJob } from './job-definition.ts';
import { SortedOutput, PartitionedOutput, hashPartition, rangeOf } from './map-output.ts';
import type { PartialStore } from './partial-store.ts';
import type { MapResult, MapTask, ShardSpec } from './wire.ts';

export interface MapEnv {
  readonly node: string;
  readonly store: PartialStore;
  readonly job: AnyJob;
  readonly signal?: AbortSignal;
  /** Called with bytes read so far and bytes planned, at most every 100 ms. */
  readonly onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_MAP_MEMORY_BUDGET = 64 * 1024 * 1024;

const formats = new Map<string, LogFormat>();
function formatOf(name: string): LogFormat {
  let f = formats.get(name);
  if (!f) {
    f = compileLogFormat(name);
    formats.set(name, f);
  }
  return f;
}

function shardBytes(s: ShardSpec): number {
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
async function* shardChunks(shard: ShardSpec, signal: AbortSignal | undefined, damaged: Damaged): AsyncGenerator<{ chunk: Buffer; offset: number }> {
  const reader: LogChunkReader = shard.gzip
    ? readLogFile(shard.path, { signal, tolerateDamage: true })
    : readLogRange(shard.path, { start: shard.start, ...(shard.end !== null ? { end: shard.end } : {}) }, { signal });
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

class Counters {
  readonly values: Record<string, number> = Object.create(null);
  add(name: string, n = 1): void {
    this.values[name] = (this.values[name] ?? 0) + n;
  }
}

/** Per-shard context for map functions, with lazily built parsers for raw-line filtering. */
function makeContext<P>(params: P, node: string, file: string, format: LogFormat, filter: RecordFilter, counters: Counters): MapContext<P> {
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

export async function executeMapTask(task: MapTask, env: MapEnv): Promise<MapResult> {
  const job: JobDefinition = resolveJob(env.job, task.params);
  const params = task.params;
  const filter = compileFilter(task.filter);
  const counters = new Counters();
  const stats = new ParseStats();
  const damaged: Damaged = new Map();
  const total = task.shards.reduce((n, s) => n + shardBytes(s), 0);
  let done = 0;
  let lines = 0;
  let lastProgress = 0;
  const progress = (bytes: number) => {
    done += bytes;
    const now = Date.now();
    if (env.onProgress && now - lastProgress >= 100) {
      lastProgress = now;
      env.onProgress(Math.min(done, total), total);
    }
  };
  const checkAbort = () => {
    if (env.signal?.aborted) throw new AbortError(`map task ${task.taskId} cancelled`, { cause: env.signal.reason });
  };
  const input = job.input(params);
  const budget = task.memoryBudget ?? DEFAULT_MAP_MEMORY_BUDGET;
  const tag = `${task.taskId}`;

  let refs: MapResult['refs'];
  if (job.kind === 'summary' && task.incremental && 'records' in input) {
    const data = await incrementalSummary(task, job, input.records, env, counters, stats, progress, checkAbort, damaged);
    refs = [await env.store.putBuffer(task.runId, `${tag}.partial`, data)];
    env.onProgress?.(total, total);
    return { refs, counters: counters.values, stats: stats.toJSON(), bytes: total, lines: stats.lines, ...damagedField(damaged) };
  }
  if (job.kind === 'summary') {
    const state = job.create(params);
    for (const shard of task.shards) {
      const format = formatOf(shard.format);
      const ctx = makeContext(params, env.node, shard.path, format, filter, counters);
      if ('lines' in input) {
        if (!job.mapChunk) throw new Error(`job ${job.name} asks for lines but has no mapChunk`);
        for await (const { chunk } of shardChunks(shard, env.signal, damaged)) {
          checkAbort();
          lines += countNewlines(chunk);
          job.mapChunk(state, chunk, ctx);
          progress(chunk.length);
        }
      } else {
        await parseShard(shard, format, input.records, filter, stats, damaged, env, (record) => (job as SummaryJob).map!(state, record, ctx), progress, checkAbort);
      }
    }
    const data = encodeState(job, state, params);
    refs = [await env.store.putBuffer(task.runId, `${tag}.partial`, data)];
  } else if (job.kind === 'sorted') {
    const boundaries = (task.rangeBoundaries ?? []).map((h) => Buffer.from(h, 'hex'));
    const ranged = boundaries.length > 0 ? new PartitionedOutput(env.store, task.runId, tag, boundaries.length + 1, budget) : null;
    const single = ranged ? null : new SortedOutput(env.store, task.runId, tag, budget);
    const emit = (key: Buffer, value: Buffer) => (ranged ? ranged.addRecord(rangeOf(key, boundaries), key, value) : single!.add(key, value));
    const spill = () => (ranged ? ranged.maybeSpill() : single!.maybeSpill());
    for (const shard of task.shards) {
      const format = formatOf(shard.format);
      const ctx = makeContext(params, env.node, shard.path, format, filter, counters);
      if ('records' in input) {
        if (!job.mapSortedRecord) throw new Error(`job ${job.name} asks for records but has no mapSortedRecord`);
        await parseShard(shard, format, input.records, filter, stats, damaged, env, (r) => job.mapSortedRecord!(r, emit, ctx), progress, checkAbort, spill);
        continue;
      }
      if (!job.mapSorted) throw new Error(`job ${job.name} asks for lines but has no mapSorted`);
      for await (const { chunk, offset } of shardChunks(shard, env.signal, damaged)) {
        checkAbort();
        lines += countNewlines(chunk);
        job.mapSorted(chunk, offset, emit, ctx);
        await spill();
        progress(chunk.length);
      }
    }
    refs = ranged ? await ranged.finish() : [await single!.finish()];
  } else {
    const keyed = job as KeyedJob;
    const partitions = task.partitions ?? 1;
    const out = new PartitionedOutput(env.store, task.runId, tag, partitions, budget);
    if ('lines' in input) throw new Error(`keyed job ${job.name} must ask for records`);
    for (const shard of task.shards) {
      const format = formatOf(shard.format);
      const ctx = makeContext(params, env.node, shard.path, format, filter, counters);
      await parseShard(
        shard,
        format,
        input.records,
        filter,
        stats,
        damaged,
        env,
        (record) => keyed.mapKeyed(record, (key, sortKey, value) => out.add(hashPartition(key, partitions), key, sortKey, value), ctx),
        progress,
        checkAbort,
        () => out.maybeSpill(),
      );
    }
    refs = await out.finish();
  }
  if (lines === 0) lines = stats.lines;
  counters.add('bytes_read', done);
  counters.add('bytes_scanned', done);
  counters.add('lines_read', lines);
  if (stats.records > 0 || stats.invalidLines > 0) {
    counters.add('records', stats.records);
    counters.add('bad_lines', stats.invalidLines);
  }
  env.onProgress?.(total, total);
  return { refs, counters: counters.values, stats: stats.toJSON(), bytes: done, lines, ...damagedField(damaged) };
}

function damagedField(damaged: Damaged): Pick<MapResult, 'damaged'> {
  return damaged.size > 0 ? { damaged: [...damaged].map(([path, d]) => ({ path, ...d })) } : {};
}

function countNewlines(chunk: Buffer): number {
  let n = 0;
  let p = -1;
  while ((p = chunk.indexOf(10, p + 1)) >= 0) n++;
  if (chunk.length > 0 && chunk[chunk.length - 1] !== 10) n++;
  return n;
}

async function parseShard(
  shard: ShardSpec,
  format: LogFormat,
  wanted: readonly FieldName[],
  filter: RecordFilter,
  stats: ParseStats,
  damaged: Damaged,
  env: MapEnv,
  onRecord: (record: LogRecord<FieldName>) => void,
  progress: (bytes: number) => void,
  checkAbort: () => void,
  afterChunk?: () => Promise<void>,
): Promise<void> {
  const fields = [...new Set<FieldName>([...wanted, ...filter.fields])].filter((f) => format.provides(f) || f === 'line' || f === 'offset');
  const parser = format.createParser(fields);
  const test = filter.test;
  const source = `${env.node}:${shard.path}`;
  const emit = test ? (r: LogRecord<FieldName>) => (test(r) ? onRecord(r) : undefined) : onRecord;
  for await (const { chunk, offset } of shardChunks(shard, env.signal, damaged)) {
    checkAbort();
    parser.parseBuffer(chunk, emit, stats, { source, offset });
    if (afterChunk) await afterChunk();
    progress(chunk.length);
  }
}

/**
 * A summary map task with the node's partial cache: each shard range's partial is kept per day
 * (without --since/--until), so a later run reads only ranges it has not seen and re-filters only
 * the days its time bounds cut. Counters and bad-line stats of cached ranges are added as if read,
 * so the result equals a full run; `cache_hit_bytes` and `bytes_scanned` show what was saved.
 */
async function incrementalSummary(
  task: MapTask,
  job: SummaryJob,
  wanted: readonly FieldName[],
  env: MapEnv,
  counters: Counters,
  stats: ParseStats,
  progress: (bytes: number) => void,
  checkAbort: () => void,
  damaged: Damaged,
): Promise<Buffer> {
  const params = task.params;
  const { since, until, ...rest } = task.filter;
  const baseFilter = compileFilter(rest);
  const cache = new PartialCache(env.store.dataDir);
  const key = task.incremental!.key;
  const result = job.create(params);
  const addEncoded = (data: Buffer) => job.merge(result, decodeState(job, data, params), params);
  for (const shard of task.shards) {
    const end = shard.end ?? shardBytes(shard);
    const cached = await cache.get(key, shard.id, shard.format, shard.start, end);
    const boundaryDays = cached ? cached.entry.days.filter((d) => classifyDay(d, since, until) === 'boundary') : [];
    if (cached) {
      for (const day of cached.entry.days) if (classifyDay(day, since, until) === 'inside') addEncoded(await cached.read(day));
      stats.merge(ParseStats.fromJSON(cached.entry.stats));
      for (const [k, v] of Object.entries(cached.entry.counters)) counters.add(k, v);
      counters.add('cache_hit_bytes', end - shard.start);
      if (boundaryDays.length === 0) {
        progress(end - shard.start);
        continue;
      }
    }
    // Read the range: build per-day states for the cache (on a miss), and the records of the days
    // the time bounds cut, filtered one by one, for this run.
    const format = formatOf(shard.format);
    const ctx = makeContext(params, env.node, shard.path, format, baseFilter, counters);
    const days = new Map<number, unknown>();
    const cut = job.create(params);
    const shardStats = new ParseStats();
    const fields = [...new Set<FieldName>([...wanted, 'time', ...baseFilter.fields])].filter((f) => format.provides(f) || f === 'line' || f === 'offset');
    const parser = format.createParser(fields);
    const test = baseFilter.test;
    const source = `${env.node}:${shard.path}`;
    let bytes = 0;
    for await (const { chunk, offset } of shardChunks(shard, env.signal, damaged)) {
      checkAbort();
      parser.parseBuffer(
        chunk,
        (r) => {
          if (test && !test(r)) return;
          const t = r.time as number;
          const day = Math.floor(t / DAY_MS);
          if (!cached) {
            let st = days.get(day);
            if (st === undefined) days.set(day, (st = job.create(params)));
            job.map!(st, r, ctx);
          }
          if (classifyDay(day, since, until) === 'boundary' && (since === undefined || t >= since) && (until === undefined || t < until)) {
            job.map!(cut, r, ctx);
          }
        },
        cached ? undefined : shardStats,
        { source, offset },
      );
      bytes += chunk.length;
      if (!cached) progress(chunk.length);
    }
    counters.add('bytes_scanned', bytes);
    if (cached) {
      progress(end - shard.start);
    } else {
      const encoded = new Map<number, Buffer>();
      for (const [day, st] of days) encoded.set(day, encodeState(job, st, params));
      const rangeCounters = { bytes_read: bytes, lines_read: shardStats.lines, records: shardStats.records, bad_lines: shardStats.invalidLines };
      // What was read of a damaged file is this run's, not the cache's: a later run reads it again.
      if (!damaged.has(shard.path)) await cache.put(key, shard.id, shard.format, shard.start, end, encoded, { stats: shardStats.toJSON(), counters: rangeCounters });
      for (const [day, data] of encoded) if (classifyDay(day, since, until) === 'inside') addEncoded(data);
      stats.merge(shardStats);
      for (const [k, v] of Object.entries(rangeCounters)) counters.add(k, v);
    }
    job.merge(result, cut, params);
  }
  return encodeState(job, result, params);
}

/**
 * Keys of a sorted job for `perShard` lines read at random offsets of each shard: the sample the
 * coordinator cuts into key ranges. Cheap (no full pass); a line is taken whole from the first
 * newline after the offset.
 */
export async function sampleSortedKeys(job: SortedJob, params: unknown, shards: readonly ShardSpec[], perShard: number, seed: number, node: string): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  let x = seed >>> 0 || 1;
  const random = () => {
    // xorshift32: deterministic for a seed, so a retried sample is the same sample.
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const filter = compileFilter({});
  const counters = new Counters();
  for (const shard of shards) {
    if (shard.gzip) continue;
    const format = formatOf(shard.format);
    const ctx = makeContext(params, node, shard.path, format, filter, counters);
    const start = shard.start;
    const end = shard.end ?? shardBytes(shard);
    if (end <= start) continue;
    const fh = await fs.promises.open(shard.path, 'r');
    try {
      const lines: Buffer[] = [];
      const buf = Buffer.allocUnsafe(64 * 1024);
      for (let i = 0; i < perShard; i++) {
        const at = start + Math.floor(random() * (end - start));
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        const got = buf.subarray(0, bytesRead);
        const a = at === 0 ? 0 : got.indexOf(10) + 1;
        const b = a > 0 || at === 0 ? got.indexOf(10, a) : -1;
        if (a <= 0 && at !== 0) continue;
        if (b < 0) continue;
        lines.push(Buffer.from(got.subarray(a, b + 1)));
      }
      const chunk = Buffer.concat(lines);
      const emit = (key: Buffer) => void keys.push(Buffer.from(key));
      if (job.mapSortedRecord) {
        const input = job.input(params);
        const fields = 'records' in input ? input.records.filter((f) => format.provides(f) || f === 'line' || f === 'offset') : [];
        format.createParser(fields).parseBuffer(chunk, (r) => job.mapSortedRecord!(r, emit, ctx));
      } else job.mapSorted?.(chunk, start, emit, ctx);
    } finally {
      await fh.close();
    }
  }
  return keys;
}
