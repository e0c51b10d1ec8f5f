/**
 * What `geartrain node` makes sure of before it serves:
 * - a job server answers: a node started before its server (services start in any order) waits
 *   for one, with backoff, instead of exiting;
 * - no live node already has its name there: two nodes with one name would take each other's
 *   tasks and read each other's partials. The job servers' admin `workers` listing (gearmand has
 *   it too) shows each connection's client id, functions and peer address; a node's connections
 *   are `NAME:role` with `…@NAME` functions.
 *
 * A namesake that is listed but does not answer (a host cut off without a FIN or RST leaves its
 * connections listed until the server notices) is not live: the name is taken over. The probe is
 * a node request like any other (NodeClient), signed when this node has the cluster secret; a
 * namesake that refuses it (another secret, or this node has none) still answered: it is live.
 */
import { AdminClient, Client, type ClientOptions, type WorkerInfo } from '../client/index.ts';
import { NodeNameTakenError, TimeoutError } from '../errors.ts';
import { NodeClient } from './node-client.ts';
import { unsealed, type Sealer } from './task-auth.ts';

type Tls = ClientOptions['tls'];

/** How long a listed namesake has to answer `info` before it counts as gone. */
const NAMESAKE_PROBE_MS = 3000;
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2000;

export interface ServerWait {
  /** Each server that answered, with its `workers` listing. */
  readonly listings: ReadonlyMap<string, readonly WorkerInfo[]>;
  /** Servers that did not answer (yet); the node's workers keep dialling them. */
  readonly waiting: ReadonlySet<string>;
}

export interface ServerWaitOptions {
  readonly tls?: Tls;
  readonly signal: AbortSignal;
  /** A server did not answer; called once per server until it does. */
  readonly onWaiting?: (server: string, error: Error) => void;
  /** A server answered after onWaiting. */
  readonly onUp?: (server: string) => void;
}

async function listWorkers(server: string, tls: Tls, signal: AbortSignal): Promise<WorkerInfo[]> {
  const admin = new AdminClient({ server, timeoutMs: 3000, connectTimeoutMs: 3000, ...(tls ? { tls } : {}) });
  try {
    return await admin.workers({ signal });
  } finally {
    await admin.close().catch(() => {});
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Asks every server for its `workers` listing, in rounds 100 ms to 2 s apart (with jitter),
 * until at least one answers. Rejects only when `signal` aborts.
 */
export async function waitForJobServers(servers: readonly string[], o: ServerWaitOptions): Promise<ServerWait> {
  const waiting = new Set<string>();
  for (let round = 0; ; round++) {
    const listings = new Map<string, WorkerInfo[]>();
    await Promise.all(
      servers.map(async (server) => {
        try {
          listings.set(server, await listWorkers(server, o.tls, o.signal));
          if (waiting.delete(server)) o.onUp?.(server);
        } catch (err) {
          if (o.signal.aborted || waiting.has(server)) return;
          waiting.add(server);
          o.onWaiting?.(server, err as Error);
        }
      }),
    );
    o.signal.throwIfAborted();
    if (listings.size > 0) return { listings, waiting };
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** round);
    await sleep(delay * (0.5 + Math.random()), o.signal);
    o.signal.throwIfAborted();
  }
}

/** The connections of a listing that belong to a node called `name`. */
function namesakesOf(listing: readonly WorkerInfo[], name: string): WorkerInfo[] {
  return listing.filter((w) => w.clientId.startsWith(`${name}:`) || w.functions.some((f) => f.endsWith(`@${name}`)));
}

/** Whether a node called `name` answers `info` through `server` within `timeoutMs`. */
async function answers(server: string, name: string, tls: Tls, seal: Sealer, timeoutMs: number): Promise<boolean> {
  const client = new Client({ servers: [server], connectAttempts: 1, ...(tls ? { tls } : {}) });
  try {
    await new NodeClient(client, seal).info(name, { timeoutMs });
    return true;
  } catch (err) {
    if (err instanceof TimeoutError) return false;
    // Refused or failed, but by something that serves the function: it is alive.
    return true;
  } finally {
    client.destroy();
  }
}

const key = (w: WorkerInfo) => `${w.fd} ${w.ip}`;

export interface NameCheckOptions {
  readonly tls?: Tls;
  /** Signs the `info` probe (task-auth.ts `sealerFor` of this node's secret; default unsigned). */
  readonly seal?: Sealer;
  readonly probeTimeoutMs?: number;
  /** A namesake is listed on `server` but did not answer: its name is taken over. */
  readonly onStale?: (server: string, peers: readonly string[]) => void;
}

/**
 * Throws NodeNameTakenError when a live node called `name` is listed on a server. Resolves with
 * the listed connections found not to answer, for `checkNoTwin` to leave out.
 */
export async function ensureNameIsFree(name: string, listings: ServerWait['listings'], o: NameCheckOptions = {}): Promise<Set<string>> {
  const stale = new Set<string>();
  for (const [server, listing] of listings) {
    const found = namesakesOf(listing, name);
    if (found.length === 0) continue;
    const peers = [...new Set(found.map((w) => w.ip))];
    if (await answers(server, name, o.tls, o.seal ?? unsealed, o.probeTimeoutMs ?? NAMESAKE_PROBE_MS)) {
      const ids = [...new Set(found.map((w) => w.clientId))].sort().join(', ');
      throw new NodeNameTakenError(
        `a live node named ${name} is already registered on ${server} from ${peers.join(', ')} (client ids ${ids}); stop it, or give this node another --name`,
        name,
        server,
        peers,
      );
    }
    for (const w of found) stale.add(`${server} ${key(w)}`);
    o.onStale?.(server, peers);
  }
  return stale;
}

/**
 * After registering: a second connection with one of this node's client ids on a server means
 * another node of this name registered at the same time as this one (the check before could not
 * see it). Both then stop rather than mix their data.
 */
export async function checkNoTwin(
  name: string,
  servers: readonly string[],
  clientIds: readonly string[],
  stale: ReadonlySet<string>,
  o: { tls?: Tls; signal: AbortSignal },
): Promise<void> {
  for (const server of servers) {
    let listing: WorkerInfo[];
    try {
      listing = await listWorkers(server, o.tls, o.signal);
    } catch {
      continue;
    }
    for (const id of clientIds) {
      const same = listing.filter((w) => w.clientId === id && !stale.has(`${server} ${key(w)}`));
      if (same.length > 1) {
        const peers = same.map((w) => w.ip);
        throw new NodeNameTakenError(
          `another node named ${name} registered on ${server} at the same time as this one (connections from ${peers.join(' and ')}); give each node its own --name`,
          name,
          server,
          peers,
        );
      }
    }
  }
}
