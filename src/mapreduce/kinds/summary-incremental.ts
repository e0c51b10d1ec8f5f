/**
 * A summary map task with the node's partial cache (`--incremental`): each shard range's partial
 * is kept per day (without --since/--until), so a later run reads only ranges it has not seen and
 * re-filters only the days its time bounds cut. Counters and bad-line stats of cached ranges are
 * added as if read, so the result equals a full run; `cache_hit_bytes` and `bytes_scanned` show
 * what was saved.
 */
import { TaskFailedError } from '../../errors.ts';
import type { FieldName } from '../../logs/fields.ts';
import { ParseStats } from '../../logs/parse-stats.ts';
import { compileFilter } from '../filter.ts';
import { decodeState, encodeState, type SummaryJob } from '../job-definition.ts';
import { formatOf, parserFields, shardBytes, type MapInput } from '../map-input.ts';
import { classifyDay, DAY_MS, incrementalCacheKey, PartialCache } from '../partial-cache.ts';
import type { MapResult } from '../wire.ts';

export async function incrementalSummary(job: SummaryJob, wanted: readonly FieldName[], input: MapInput): Promise<MapResult> {
  const { task, params, counters, stats, env } = input;
  const { since, until, ...rest } = task.filter;
  const baseFilter = compileFilter(rest);
  const cache = new PartialCache(env.store.dataDir);
  if (!env.jobFile) throw new TaskFailedError(`map task ${task.taskId}: an incremental run needs the job's module file`);
  const key = incrementalCacheKey(env.jobFile, params, task.filter);
  const result = job.create(params);
  const addEncoded = (data: Buffer) => job.merge(result, decodeState(job, data, params), params);
  for (const shard of task.shards) {
    const end = shard.end ?? shardBytes(shard);
    // A range that reaches past the file's end today would be cached short, and served short once
    // the file has grown: such a range is read, never cached.
    const cacheable = shard.gzip || end - shard.start <= shardBytes({ ...shard, end: null });
    const cached = cacheable ? await cache.get(key, shard.id, shard.format, shard.start, end) : null;
    const boundaryDays = cached ? cached.entry.days.filter((d) => classifyDay(d, since, until) === 'boundary') : [];
    if (cached) {
      for (const day of cached.entry.days) if (classifyDay(day, since, until) === 'inside') addEncoded(await cached.read(day));
      stats.merge(ParseStats.fromJSON(cached.entry.stats));
      for (const [k, v] of Object.entries(cached.entry.counters)) counters.add(k, v);
      counters.add('cache_hit_bytes', end - shard.start);
      if (boundaryDays.length === 0) {
        input.progress(end - shard.start);
        continue;
      }
    }
    // Read the range: build per-day states for the cache (on a miss), and the records of the days
    // the time bounds cut, filtered one by one, for this run.
    const format = formatOf(shard.format);
    const ctx = input.context(shard, baseFilter);
    const days = new Map<number, unknown>();
    const cut = job.create(params);
    const shardStats = new ParseStats();
    const fields = parserFields(format, wanted, ['time', ...baseFilter.fields]);
    const parser = format.createParser(fields);
    const test = baseFilter.test;
    const source = `${env.node}:${shard.path}`;
    let bytes = 0;
    for await (const { chunk, offset } of input.rawChunks(shard)) {
      input.checkAbort();
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
      if (!cached) input.progress(chunk.length);
    }
    counters.add('bytes_scanned', bytes);
    if (cached) {
      input.progress(end - shard.start);
    } else {
      const encoded = new Map<number, Buffer>();
      for (const [day, st] of days) encoded.set(day, encodeState(job, st, params));
      const rangeCounters = { bytes_read: bytes, lines_read: shardStats.lines, records: shardStats.records, bad_lines: shardStats.invalidLines };
      // What was read of a damaged file is this run's, not the cache's: a later run reads it again.
      if (cacheable && !input.damaged.has(shard.path)) await cache.put(key, shard.id, shard.format, shard.start, end, encoded, { stats: shardStats.toJSON(), counters: rangeCounters });
      for (const [day, data] of encoded) if (classifyDay(day, since, until) === 'inside') addEncoded(data);
      stats.merge(shardStats);
      for (const [k, v] of Object.entries(rangeCounters)) counters.add(k, v);
    }
    job.merge(result, cut, params);
  }
  const refs = [await env.store.putBuffer(task.runId, `${task.taskId}.partial`, encodeState(job, result, params))];
  env.onProgress?.(input.total, input.total);
  return { refs, counters: counters.values, stats: stats.toJSON(), bytes: input.total, lines: stats.lines, ...input.damagedFiles() };
}
