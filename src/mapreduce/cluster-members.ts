/**
 * The cluster's members as an operator sees them (`geartrain nodes`), and a node's departure
 * (`geartrain nodes forget`, `geartrain node --leave`).
 *
 * A departure is told to every coordinator through the job servers: a function
 * `geartrain.left@<node>@<ms>` registered and left without a worker, which gearmand and geartrain's
 * server keep listing (until they restart or it is dropped). A coordinator that reads it forgets
 * the node if it last saw it before then (membership.ts); a node seen live after its departure is
 * a member again.
 */
import { AdminClient, Client, Worker, type ClientOptions } from '../client/index.ts';
import { JobFailedError, NodeNameTakenError, TimeoutError } from '../errors.ts';
import type { NodeCatalog } from '../logs/catalog.ts';
import { departureFunction } from '../wire-names.ts';
import { ClusterView } from './discovery.ts';
import type { ExpectedBecause } from './expected-nodes.ts';
import { recordDeparture, type MemberStore, type RememberedShard } from './member-store.ts';
import { ClusterMembership } from './membership.ts';
import { NodeClient } from './node-client.ts';
import { departureSignature, sealerFor } from './task-auth.ts';

type Tls = ClientOptions['tls'];

export interface MembersOptions {
  readonly servers: readonly string[];
  readonly store: MemberStore;
  /** The nodes the user expects (`--nodes`), instead of the remembered and listed ones. */
  readonly named?: readonly string[];
  readonly tls?: Tls;
  /** The cluster secret: nodes that have it answer only signed requests. */
  readonly secret?: string;
  readonly signal?: AbortSignal;
}

export interface MemberRow {
  readonly node: string;
  /**
   * live: listed with workers and answering; silent: listed with workers but not answering (its
   * host down or cut off); missing: expected, but no live worker on the job servers.
   */
  readonly state: 'live' | 'silent' | 'missing';
  /** Why a run expects it; null for a live node not expected (outside `--nodes`). */
  readonly expected: ExpectedBecause | null;
  /** When this machine last saw it live (now for a live node); null when never. */
  readonly lastSeen: number | null;
  /** Its shards: now for a live node, as remembered otherwise; null when not known here. */
  readonly shards: readonly RememberedShard[] | null;
}

/** Every live, silent and expected node; the live ones' catalogues are remembered on the way. */
export async function surveyMembers(o: MembersOptions): Promise<MemberRow[]> {
  const signal = o.signal ?? new AbortController().signal;
  const view = new ClusterView(o.servers, o.tls);
  const client = new Client({ servers: [...o.servers], ...(o.tls ? { tls: o.tls } : {}) });
  const nodes = new NodeClient(client, sealerFor(o.secret));
  const membership = new ClusterMembership(view, {
    signal,
    probe: (node, timeoutMs, s) => nodes.ping(node, { timeoutMs, signal: s }),
    store: o.store,
    ...(o.named ? { named: o.named } : {}),
    ...(o.secret ? { secret: o.secret } : {}),
  });
  try {
    const { nodes: live, expected, silent } = await membership.survey();
    const catalogs: NodeCatalog[] = [];
    await Promise.all(
      [...live].map(async (node) => {
        catalogs.push(await nodes.catalog(node, { scanBudgetBytes: 0 }, { signal, timeoutMs: 30_000 }));
      }),
    );
    await membership.remember(catalogs);
    const state = await o.store.read();
    const rows: MemberRow[] = [];
    for (const cat of catalogs) {
      rows.push({ node: cat.node, state: 'live', expected: expected.get(cat.node)?.because ?? null, lastSeen: state.nodes[cat.node]?.lastSeen ?? null, shards: state.nodes[cat.node]?.shards ?? [] });
    }
    for (const node of silent) {
      const record = state.nodes[node];
      rows.push({ node, state: 'silent', expected: expected.get(node)?.because ?? null, lastSeen: record?.lastSeen ?? null, shards: record?.shards ?? null });
    }
    for (const e of expected.values()) {
      if (rows.some((r) => r.node === e.node)) continue;
      rows.push({ node: e.node, state: 'missing', expected: e.because, lastSeen: e.record?.lastSeen ?? null, shards: e.record?.shards ?? null });
    }
    return rows.sort((a, b) => (a.node < b.node ? -1 : 1));
  } finally {
    membership.stop();
    view.close();
    client.destroy();
  }
}

export interface DepartureResult {
  /** Servers that now list the notice. */
  readonly told: readonly string[];
  /** Servers that could not be told, and why. */
  readonly failed: readonly { readonly server: string; readonly error: string }[];
}

/**
 * Tells every coordinator that `node` has left at `at`: this machine forgets it at once (`store`),
 * the others when they next read the servers' notice. Refuses (NodeNameTakenError) while a live
 * node of that name answers: stop it first.
 */
export async function announceDeparture(node: string, at: number, o: Omit<MembersOptions, 'named'> & { readonly store?: MemberStore }): Promise<DepartureResult> {
  const signal = o.signal ?? new AbortController().signal;
  await refuseIfLive(node, o, signal);
  await o.store?.update((s) => recordDeparture(s, node, at));
  const fn = departureFunction(node, at, o.secret ? departureSignature(o.secret, node, at) : undefined);
  const told: string[] = [];
  const failed: { server: string; error: string }[] = [];
  await Promise.all(
    o.servers.map(async (server) => {
      try {
        await leaveNotice(server, fn, o.tls, signal);
        told.push(server);
      } catch (err) {
        failed.push({ server, error: (err as Error).message });
      }
    }),
  );
  return { told: told.sort(), failed };
}

/** Registers `fn` on `server` and goes, once the server lists it: the function stays, without a worker. */
async function leaveNotice(server: string, fn: string, tls: Tls, signal: AbortSignal): Promise<void> {
  const worker = new Worker({ servers: [server], connectAttempts: 1, ...(tls ? { tls } : {}) });
  worker.register(fn, () => {
    throw new JobFailedError(`${fn} is a notice, not a function to call`);
  });
  const admin = new AdminClient({ server, timeoutMs: 3000, ...(tls ? { tls } : {}) });
  try {
    await worker.start({ signal, timeoutMs: 10_000 });
    const deadline = Date.now() + 10_000;
    while (!(await admin.status({ signal })).some((f) => f.name === fn)) {
      if (Date.now() > deadline) throw new TimeoutError(`${server} did not list ${fn} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await worker.close({ timeoutMs: 3000 }).catch(() => {});
    await admin.close().catch(() => {});
  }
}

async function refuseIfLive(node: string, o: Omit<MembersOptions, 'named'>, signal: AbortSignal): Promise<void> {
  const view = new ClusterView(o.servers, o.tls);
  const client = new Client({ servers: [...o.servers], ...(o.tls ? { tls: o.tls } : {}) });
  try {
    const listing = await view.listing(signal);
    if (!listing.live.has(node)) return;
    try {
      await new NodeClient(client, sealerFor(o.secret)).ping(node, { timeoutMs: 3000, signal });
    } catch (err) {
      // Listed but silent (its host cut off): it may leave. A refusal is an answer.
      if (err instanceof TimeoutError) return;
    }
    throw new NodeNameTakenError(`node ${node} is live on ${o.servers.join(', ')}: stop it first, then say it left`, node, o.servers.join(', '), []);
  } finally {
    view.close();
    client.destroy();
  }
}
