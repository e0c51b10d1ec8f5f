/**
 * Planning a run's map tasks from the nodes' catalogues: keep the shards whose time span meets
 * --since/--until, read each shard once (from the holder with the most bytes, spreading load when
 * replicas tie), split big plain files into byte ranges so a node with N slots runs N tasks at
 * once, and pack small shards together so tiny files do not cost a task each.
 */
import { planRanges } from '../logs/files.ts';
import type { NodeCatalog, ShardInfo } from '../logs/catalog.ts';
import type { ShardSpec } from './wire.ts';

export interface PlanOptions {
  readonly since?: number;
  readonly until?: number;
  /** Largest byte range of one map task (plain files are split above it). */
  readonly splitBytes: number;
  /** Map slots per node. */
  readonly slots: ReadonlyMap<string, number>;
  /**
   * Split plain files at fixed multiples of `splitBytes` (incremental runs: a grown file keeps
   * its earlier ranges, so their cached partials still apply).
   */
  readonly fixedSplits?: boolean;
}

export interface PlannedTask {
  readonly taskId: string;
  /** Node the task goes to first. */
  readonly node: string;
  /** Every node that holds all of the task's shards (the first is `node`). */
  readonly holders: readonly string[];
  readonly shards: readonly ShardSpec[];
  readonly bytes: number;
}

export interface Plan {
  readonly tasks: readonly PlannedTask[];
  readonly bytes: number;
  /** Shards left out by the time filter. */
  readonly pruned: number;
  readonly shards: number;
}

const MIN_SPLIT = 1024 * 1024;

/** Whether a shard's time span (widened by its tolerance) meets [since, until); unknown spans do. */
export function overlaps(s: Pick<ShardInfo, 'firstTime' | 'lastTime' | 'timeToleranceMs'>, since: number | undefined, until: number | undefined): boolean {
  if (s.firstTime === null || s.lastTime === null) return true;
  const lo = s.firstTime - s.timeToleranceMs;
  const hi = s.lastTime + s.timeToleranceMs;
  if (since !== undefined && hi < since) return false;
  if (until !== undefined && lo >= until) return false;
  return true;
}

export function planMapTasks(catalogs: readonly NodeCatalog[], options: PlanOptions): Plan {
  // Every copy of every shard, by id.
  const copies = new Map<string, { node: string; shard: ShardInfo }[]>();
  for (const cat of catalogs) {
    for (const shard of cat.shards) {
      const list = copies.get(shard.id) ?? [];
      list.push({ node: cat.node, shard });
      copies.set(shard.id, list);
    }
  }
  const load = new Map<string, number>(catalogs.map((c) => [c.node, 0]));
  let pruned = 0;
  // Pick one copy per shard: the most bytes (a replica still catching up has fewer), then the
  // least-loaded node. Larger shards first so the balance is decided by them.
  const chosen: { shard: ShardInfo; node: string; holders: string[] }[] = [];
  const ids = [...copies.keys()].sort((a, b) => maxSize(copies.get(b)!) - maxSize(copies.get(a)!) || (a < b ? -1 : 1));
  for (const id of ids) {
    const list = copies.get(id)!;
    const size = maxSize(list);
    const best = list.filter((c) => c.shard.size === size);
    if (!overlaps(best[0]!.shard, options.since, options.until)) {
      pruned++;
      continue;
    }
    best.sort((a, b) => load.get(a.node)! - load.get(b.node)! || (a.node < b.node ? -1 : 1));
    const pick = best[0]!;
    load.set(pick.node, load.get(pick.node)! + size);
    chosen.push({ shard: pick.shard, node: pick.node, holders: [pick.node, ...best.slice(1).map((c) => c.node)] });
  }

  // Per node: split size so each node gets at least `slots` tasks when it has enough data.
  const splitFor = new Map<string, number>();
  for (const [node, bytes] of load) {
    const slots = options.slots.get(node) ?? 1;
    splitFor.set(node, options.fixedSplits ? options.splitBytes : Math.max(MIN_SPLIT, Math.min(options.splitBytes, Math.ceil(bytes / slots))));
  }

  const tasks: PlannedTask[] = [];
  const small = new Map<string, { holders: string[]; shards: ShardSpec[]; bytes: number }>();
  let n = 0;
  const nextId = () => `m${String(n++).padStart(5, '0')}`;
  for (const { shard, node, holders } of chosen) {
    const split = splitFor.get(node)!;
    const spec = (start: number, end: number | null): ShardSpec => ({
      id: shard.id,
      path: shard.path,
      start,
      end,
      format: shard.format,
      gzip: shard.gzip,
    });
    if (!shard.gzip && shard.size > split) {
      const ranges = options.fixedSplits
        ? Array.from({ length: Math.ceil(shard.size / split) }, (_, i) => ({ start: i * split, end: Math.min((i + 1) * split, shard.size) }))
        : planRanges(shard.size, Math.ceil(shard.size / split), { minBytes: MIN_SPLIT });
      for (const r of ranges) {
        tasks.push({ taskId: nextId(), node, holders, shards: [spec(r.start, r.end)], bytes: r.end - r.start });
      }
    } else if (shard.size >= split / 4) {
      tasks.push({ taskId: nextId(), node, holders, shards: [spec(0, shard.gzip ? null : shard.size)], bytes: shard.size });
    } else {
      // Pack small shards that live on the same set of nodes.
      const key = holders.join('\0');
      const pack = small.get(key) ?? { holders, shards: [], bytes: 0 };
      pack.shards.push(spec(0, shard.gzip ? null : shard.size));
      pack.bytes += shard.size;
      if (pack.bytes >= split) {
        tasks.push({ taskId: nextId(), node: holders[0]!, holders, shards: pack.shards, bytes: pack.bytes });
        small.delete(key);
      } else small.set(key, pack);
    }
  }
  for (const pack of small.values()) {
    tasks.push({ taskId: nextId(), node: pack.holders[0]!, holders: pack.holders, shards: pack.shards, bytes: pack.bytes });
  }
  return { tasks, bytes: tasks.reduce((s, t) => s + t.bytes, 0), pruned, shards: chosen.length };
}

function maxSize(list: readonly { shard: ShardInfo }[]): number {
  return Math.max(...list.map((c) => c.shard.size));
}
