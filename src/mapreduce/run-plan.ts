/**
 * Before a run's first task: the nodes it starts with, their catalogues and slots (remembered for
 * the next runs), the record filter (time bounds without a zone are read in the logs' zone, as the
 * nodes report it), the map tasks planned over the shards (planner.ts), and the expected nodes
 * that do not take part, with the shards of theirs the run needs (expected-nodes.ts).
 */
import { parseTimeBound, compileFilter } from './filter.ts';
import type { Logger } from '../logger.ts';
import type { NodeCatalog } from '../logs/catalog.ts';
import { missingNodes, type MissingNode } from './expected-nodes.ts';
import type { ClusterMembership } from './membership.ts';
import type { NodeClient } from './node-client.ts';
import { planMapTasks, type Plan } from './planner.ts';
import type { FilterSpec } from './wire.ts';

export interface FilterOptions {
  /** Epoch ms, or an ISO 8601 date or date-time (without a zone: the logs' zone). */
  readonly since?: number | string;
  readonly until?: number | string;
  readonly where?: string;
  readonly vhost?: string;
}

export interface RunPlanOptions extends FilterOptions {
  readonly membership: ClusterMembership;
  readonly nodes: NodeClient;
  readonly servers: readonly string[];
  /** Wait for this many nodes before planning, at most `waitTimeoutMs`. */
  readonly waitNodes?: number;
  readonly waitTimeoutMs: number;
  /** While waiting for nodes: those registered so far and the time left, after each poll. */
  readonly onWaitNodes?: (seen: readonly string[], msLeft: number) => void;
  /** Time allowed to each node's answers. */
  readonly timeoutMs: number;
  readonly splitBytes: number;
  /** Split files at fixed offsets (incremental runs). */
  readonly fixedSplits: boolean;
  /** The job is shipped code: warn about nodes that will refuse it. */
  readonly shipsCode: boolean;
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

export interface RunPlan {
  readonly nodes: ReadonlySet<string>;
  /** Map slots per node. */
  readonly slots: ReadonlyMap<string, number>;
  readonly filter: FilterSpec;
  readonly plan: Plan;
  /** Expected nodes not taking part whose data in the time range no live node holds. */
  readonly missing: readonly MissingNode[];
}

/** Refuse a bad --since/--until/--where before any node is involved. */
export function checkFilterOptions(o: FilterOptions): void {
  for (const [field, v] of [['since', o.since], ['until', o.until]] as const) if (typeof v === 'string') parseTimeBound(v, field);
  compileFilter({ ...(o.where !== undefined ? { where: o.where } : {}) });
}

export async function planRun(o: RunPlanOptions): Promise<RunPlan> {
  const { nodes, expected } = await o.membership.initial(o.waitNodes, o.waitTimeoutMs, o.servers, o.onWaitNodes);
  const catalogs: NodeCatalog[] = [];
  const slots = new Map<string, number>();
  const zones = new Map<string, number>();
  const bounded = o.since !== undefined || o.until !== undefined;
  await Promise.all(
    [...nodes].map(async (node) => {
      // A node found gone while it answers is left out, and missing like any absent node.
      const lost = o.membership.lost(node);
      const signal = AbortSignal.any([o.signal, lost]);
      let cat: NodeCatalog;
      let info: Awaited<ReturnType<NodeClient['info']>>;
      try {
        [cat, info] = await Promise.all([
          // Exact time spans only when --since/--until prune by them: the node may scan up to
          // 256 MiB of files it has not scanned yet before answering.
          o.nodes.catalog(node, { scanBudgetBytes: bounded ? 256 * 1024 * 1024 : 0 }, { signal, timeoutMs: o.timeoutMs }),
          o.nodes.info(node, { signal, timeoutMs: o.timeoutMs }),
        ]);
      } catch (err) {
        if (!lost.aborted || o.signal.aborted) throw err;
        nodes.delete(node);
        return;
      }
      o.membership.heard(node);
      catalogs.push(cat);
      slots.set(node, info.slots);
      if (info.tzOffset !== null) zones.set(node, info.tzOffset);
      if (o.shipsCode && !info.allowCode) o.logger.warn(`node ${node} was not started with --allow-code: its tasks will be refused`);
    }),
  );
  catalogs.sort((a, b) => (a.node < b.node ? -1 : 1));
  await o.membership.remember(catalogs);
  // The logs' zone: the first node (by name) that knows one.
  const zone = [...zones].sort((a, b) => (a[0] < b[0] ? -1 : 1))[0]?.[1] ?? 0;
  const bound = (v: number | string | undefined, field: 'since' | 'until') => (typeof v === 'string' ? parseTimeBound(v, field, zone) : v);
  const since = bound(o.since, 'since');
  const until = bound(o.until, 'until');
  const filter: FilterSpec = {
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(o.where !== undefined ? { where: o.where } : {}),
    ...(o.vhost !== undefined ? { vhost: o.vhost } : {}),
  };
  const plan = planMapTasks(catalogs, {
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    splitBytes: o.splitBytes,
    slots,
    fixedSplits: o.fixedSplits,
  });
  const missing = missingNodes(expected, { taking: nodes, catalogs, since, until, why: (node) => o.membership.whyAbsent(node) });
  return { nodes, slots, filter, plan, missing };
}
