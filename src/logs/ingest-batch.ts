/**
 * What a `logger` job carries and how it is keyed: one or more log lines (newline-separated, a
 * missing final newline added), stored byte for byte.
 *
 * Deduplication key of a job, so that a retried job is not stored twice:
 * - with a unique key (libgearman's CLI and `geartrain ship` send one per job): the unique plus a
 *   hash of the lines, so a retry of the same job matches while a client that reuses one unique
 *   for different lines (`gearman -u x -n …`) loses nothing;
 * - without one (gearmand gives background jobs without a unique none; geartrain's client sends
 *   none for foreground jobs): the server and job handle plus the hash. A job the server hands out
 *   again after its worker was lost keeps its handle, so that retry matches too.
 */
import { createHash } from 'node:crypto';
import type { WorkerJob } from '../client/worker-job.ts';
import type { LogFormat } from './format.ts';
import { foldTimes, timeParser } from './shard-scan.ts';

/** The job's lines with a final newline; an empty buffer for an empty job. */
export function normalizeBatch(payload: Buffer): Buffer {
  if (payload.length === 0 || payload[payload.length - 1] === 10) return payload;
  return Buffer.concat([payload, Buffer.from('\n')]);
}

export function batchDigest(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 24);
}

/** The deduplication key of a logger job whose normalized lines are `data`. */
export function dedupeKey(job: Pick<WorkerJob, 'unique' | 'handle' | 'server'>, data: Buffer): string {
  const digest = batchDigest(data);
  return job.unique.length > 0 ? `u:${job.unique}:${digest}` : `h:${job.server}/${job.handle}:${digest}`;
}

export interface BatchMeta {
  readonly lines: number;
  readonly firstTime: number | null;
  readonly lastTime: number | null;
}

/** Line count and the time range of the records (lines that do not parse have no time). */
export function batchMeta(data: Buffer, format: LogFormat): BatchMeta {
  let lines = 0;
  for (let p = data.indexOf(10); p >= 0; p = data.indexOf(10, p + 1)) lines++;
  const times = { firstTime: null as number | null, lastTime: null as number | null };
  foldTimes(data, timeParser(format), times);
  return { lines, ...times };
}
