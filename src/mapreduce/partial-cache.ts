/**
 * The node's cache of map partials for incremental runs (`geartrain run --incremental`): per shard
 * byte range and per day, the encoded partial state of a summary job, computed without the run's
 * --since/--until, so later runs reuse whole days and recompute only new bytes and the days cut by
 * a time bound.
 *
 * An entry is identified by the run's cache key, which the node computes itself from the job code
 * it loaded (a hash of the module file), the parameters, --where and --vhost (a task only asks for
 * an incremental run: a key taken from a task could name another job's entries), the
 * shard id (the file's identity: device, inode, truncation, first line — so a renamed rotated file
 * keeps its entries), its format, and the byte range. Plans split files at fixed multiples of the
 * split size, so a grown file keeps its earlier ranges and only the last one changes.
 *
 *   <data>/cache/<key>/<entry>/days.json     { days: number[], stats, counters }
 *   <data>/cache/<key>/<entry>/<day>.partial
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { GEARTRAIN_VERSION } from '../version.ts';
import { pathUnder } from './store-names.ts';
import type { FilterSpec } from './wire.ts';

const entrySchema = z.object({
  days: z.array(z.number().int()),
  stats: z.unknown(),
  counters: z.record(z.string(), z.number()),
});

export type CacheEntry = z.infer<typeof entrySchema>;

export const DAY_MS = 86_400_000;

export class PartialCache {
  readonly #root: string;

  constructor(dataDir: string) {
    this.#root = path.join(dataDir, 'cache');
  }

  #dir(key: string, shardId: string, format: string, start: number, end: number): string {
    const entry = createHash('sha256').update(`${shardId}\0${format}\0${start}\0${end}`).digest('hex').slice(0, 32);
    return pathUnder(this.#root, [key, entry], 'cache key');
  }

  /** The entry for this range, or null. A damaged entry counts as missing. */
  async get(key: string, shardId: string, format: string, start: number, end: number): Promise<{ entry: CacheEntry; read(day: number): Promise<Buffer> } | null> {
    const dir = this.#dir(key, shardId, format, start, end);
    try {
      const entry = entrySchema.parse(JSON.parse(await fs.promises.readFile(path.join(dir, 'days.json'), 'utf8')));
      const now = new Date();
      await fs.promises.utimes(dir, now, now).catch(() => {});
      return { entry, read: (day) => fs.promises.readFile(path.join(dir, `${day}.partial`)) };
    } catch {
      return null;
    }
  }

  /** Store an entry atomically (the manifest is written last, after every day file). */
  async put(key: string, shardId: string, format: string, start: number, end: number, days: ReadonlyMap<number, Buffer>, meta: Omit<CacheEntry, 'days'>): Promise<void> {
    const dir = this.#dir(key, shardId, format, start, end);
    await fs.promises.mkdir(dir, { recursive: true });
    for (const [day, data] of days) await fs.promises.writeFile(path.join(dir, `${day}.partial`), data);
    const tmp = path.join(dir, `days.json.${process.pid}.tmp`);
    await fs.promises.writeFile(tmp, JSON.stringify({ days: [...days.keys()].sort((a, b) => a - b), ...meta }));
    await fs.promises.rename(tmp, path.join(dir, 'days.json'));
  }
}

const fileHashes = new Map<string, { mtimeMs: number; size: number; hash: string }>();

/** sha256 of a job module file, remembered while the file is unchanged. */
export function jobCodeHash(file: string): string {
  const st = fs.statSync(file);
  const known = fileHashes.get(file);
  if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known.hash;
  const hash = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  fileHashes.set(file, { mtimeMs: st.mtimeMs, size: st.size, hash });
  return hash;
}

/**
 * The cache key of an incremental run: what decides the meaning of a cached partial. Time bounds
 * are not part of it (entries are per day, cut at run time).
 */
export function incrementalCacheKey(jobFile: string, params: unknown, filter: FilterSpec): string {
  const identity = { v: GEARTRAIN_VERSION, code: jobCodeHash(jobFile), params: params ?? null, where: filter.where ?? null, vhost: filter.vhost ?? null };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

/** The days a time filter keeps whole, and those it cuts (their records are filtered one by one). */
export function classifyDay(day: number, since: number | undefined, until: number | undefined): 'inside' | 'outside' | 'boundary' {
  const lo = day * DAY_MS;
  const hi = lo + DAY_MS;
  const s = since ?? -Infinity;
  const u = until ?? Infinity;
  if (hi <= s || lo >= u) return 'outside';
  if (lo >= s && hi <= u) return 'inside';
  return 'boundary';
}
