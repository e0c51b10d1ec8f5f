/**
 * Which nodes a run must hear from, and what is missing when one does not take part. A run is
 * complete only if every expected node took part for the time range asked; a node is expected
 * when the user named it (`--nodes`), or else when this machine remembers it (member-store.ts) or
 * a job server lists its map function (with or without workers: gearmand and geartrain's server
 * keep a function listed after its workers leave), unless it has left since it was last seen.
 *
 * A missing node's shards are those this machine remembers, within the time range, that no live
 * node holds as a copy at least as long (a replica, `--replicas`): those are read there, and a node
 * whose every shard is covered so, or out of range, costs the run nothing.
 */
import type { NodeCatalog } from '../logs/catalog.ts';
import type { MemberRecord, MemberState, RememberedShard } from './member-store.ts';
import { overlaps } from './planner.ts';

/** A shard not read, or a file not read to its end (`reason` says why). */
export interface MissingShard {
  readonly node: string;
  readonly path: string;
  readonly reason?: string;
}

/** Why a node is expected: named by the user, remembered here, or listed by a job server. */
export type ExpectedBecause = 'named' | 'remembered' | 'listed';

export interface ExpectedNode {
  readonly node: string;
  readonly because: ExpectedBecause;
  readonly record: MemberRecord | null;
}

/** Whether `node` left after this machine last saw it. */
function hasLeft(state: MemberState, node: string): boolean {
  const left = state.departed[node];
  if (left === undefined) return false;
  const record = state.nodes[node];
  return !record || record.lastSeen < left;
}

/**
 * The nodes a run expects: exactly `named` when given; else the remembered ones and those the job
 * servers list (`known`), less those that left.
 */
export function expectedNodes(state: MemberState, known: ReadonlySet<string>, named?: readonly string[]): Map<string, ExpectedNode> {
  const out = new Map<string, ExpectedNode>();
  if (named && named.length > 0) {
    for (const node of named) out.set(node, { node, because: 'named', record: state.nodes[node] ?? null });
    return out;
  }
  for (const [node, record] of Object.entries(state.nodes)) if (!hasLeft(state, node)) out.set(node, { node, because: 'remembered', record });
  for (const node of known) if (!out.has(node) && !hasLeft(state, node)) out.set(node, { node, because: 'listed', record: null });
  return out;
}

export interface MissingNode {
  readonly node: string;
  readonly because: ExpectedBecause;
  /** Why it is not in the run. */
  readonly why: string;
  readonly lastSeen: number | null;
  /** Its remembered shards in the time range that no live node holds; null when not known here. */
  readonly shards: readonly RememberedShard[] | null;
}

export interface MissingOptions {
  /** Nodes taking part in the run. */
  readonly taking: ReadonlySet<string>;
  /** Their catalogues: a shard copied to one of them is read there. */
  readonly catalogs: readonly NodeCatalog[];
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  /** Why a node not taking part is not (not registered, found gone…). */
  readonly why: (node: string) => string;
}

/** The expected nodes that do not take part and held data the run needs. */
export function missingNodes(expected: ReadonlyMap<string, ExpectedNode>, o: MissingOptions): MissingNode[] {
  const held = new Map<string, number>();
  for (const cat of o.catalogs) for (const s of cat.shards) held.set(s.id, Math.max(held.get(s.id) ?? 0, s.size));
  const out: MissingNode[] = [];
  for (const e of [...expected.values()].sort((a, b) => (a.node < b.node ? -1 : 1))) {
    if (o.taking.has(e.node)) continue;
    const base = { node: e.node, because: e.because, why: o.why(e.node), lastSeen: e.record?.lastSeen ?? null };
    if (!e.record) {
      out.push({ ...base, shards: null });
      continue;
    }
    const shards = e.record.shards.filter((s) => overlaps(s, o.since, o.until) && (held.get(s.id) ?? -1) < s.size);
    if (shards.length > 0) out.push({ ...base, shards });
  }
  return out;
}

/** The entries of a report's `missing` for missing nodes: one per shard (or one `*` when unknown). */
export function missingShardsOf(nodes: readonly MissingNode[]): MissingShard[] {
  return nodes.flatMap((m) => {
    const reason = `node ${m.node} did not take part: ${m.why}`;
    if (m.shards === null) return [{ node: m.node, path: '*', reason: `${reason}; its shards are not known on this machine` }];
    return m.shards.map((s) => ({ node: m.node, path: s.path, reason }));
  });
}

/** `web2 (why; last seen T) with its shards: web2:/p (first – last), …` for messages. */
function describeMissingNode(m: MissingNode): string {
  const seen = m.lastSeen !== null ? `; last seen ${formatTime(m.lastSeen)}` : '';
  const head = `${m.node} (${m.why}${seen})`;
  if (m.shards === null) return `${head}, its shards not known on this machine`;
  const list = m.shards.map((s) => `${m.node}:${s.path}${s.firstTime !== null && s.lastTime !== null ? ` (${formatTime(s.firstTime)} to ${formatTime(s.lastTime)})` : ''}`);
  return `${head} with ${list.length} shard(s) in the time asked: ${list.join(', ')}`;
}

/** The message of a run that cannot be complete because of missing nodes. */
export function missingNodesMessage(nodes: readonly MissingNode[]): string {
  return (
    `incomplete result: ${nodes.length} expected node(s) did not take part: ${nodes.map(describeMissingNode).join('; ')}. ` +
    `Run again once ${nodes.length === 1 ? 'it is' : 'they are'} back, add --allow-partial for the result without ${nodes.length === 1 ? 'it' : 'them'}, ` +
    `or, for a node that left for good: geartrain nodes forget NAME`
  );
}

/** `2026-10-01T12:00:03Z`: a time in messages, to the second, in UTC. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
