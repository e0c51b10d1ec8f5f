/**
 * Finding the nodes of a cluster through the job servers' admin `status` (gearmand answers it
 * too): a node is a `geartrain.map@<name>` function with at least one worker. A function listed
 * with 0 workers is a node that was there since the server started and is gone now; a
 * `geartrain.left@<name>@<ms>` function is the notice that a node left the cluster for good.
 */
import { AdminClient, type AdminClientOptions } from '../client/index.ts';
import { TimeoutError } from '../errors.ts';
import { MAP_FUNCTION_PREFIX, parseDepartureFunction, type DepartureNotice } from '../wire-names.ts';

/** What the job servers say of the cluster's nodes. */
export interface ClusterListing {
  /** Nodes with a live map worker on some server. */
  readonly live: ReadonlySet<string>;
  /** Every node some server lists a map function of, live or not. */
  readonly known: ReadonlySet<string>;
  /** Departure notices, as the servers list them (membership.ts checks them). */
  readonly departures: readonly DepartureNotice[];
}

export class ClusterView {
  readonly #admins: AdminClient[];

  constructor(servers: readonly string[], tls?: AdminClientOptions['tls']) {
    this.#admins = servers.map((server) => new AdminClient({ server, timeoutMs: 5000, ...(tls ? { tls } : {}) }));
  }

  /** Live and known nodes and departure notices, from every server that answers (one at least). */
  async listing(signal?: AbortSignal): Promise<ClusterListing> {
    const live = new Set<string>();
    const known = new Set<string>();
    const departures: DepartureNotice[] = [];
    await this.#eachStatus(signal, (name, workers) => {
      if (name.startsWith(MAP_FUNCTION_PREFIX)) {
        const node = name.slice(MAP_FUNCTION_PREFIX.length);
        known.add(node);
        if (workers > 0) live.add(node);
        return;
      }
      const left = parseDepartureFunction(name);
      if (left) departures.push(left);
    });
    return { live, known, departures };
  }

  /** Nodes with a live map worker on any server, asked now. */
  async liveNodes(signal?: AbortSignal): Promise<ReadonlySet<string>> {
    return (await this.listing(signal)).live;
  }

  /** Every function of every server's `status`; throws only when no server answered. */
  async #eachStatus(signal: AbortSignal | undefined, each: (name: string, workers: number) => void): Promise<void> {
    let reached = 0;
    let lastError: unknown;
    await Promise.all(
      this.#admins.map(async (admin) => {
        try {
          for (const f of await admin.status(signal ? { signal } : {})) each(f.name, f.workers);
          reached++;
        } catch (err) {
          lastError = err;
        }
      }),
    );
    if (reached === 0) throw lastError;
  }

  /**
   * Waits until at least `count` nodes are live, polling every 100 ms; `onWait` hears after each
   * poll who is there and how long is left. Fails with TimeoutError naming the nodes seen: not
   * getting the nodes is a failure before any result, not an incomplete one.
   */
  async waitForNodes(count: number, timeoutMs: number, signal?: AbortSignal, onWait?: (seen: readonly string[], msLeft: number) => void): Promise<ReadonlySet<string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nodes = await this.liveNodes(signal);
      if (nodes.size >= count) return nodes;
      const seen = [...nodes].sort();
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError(
          `waited ${Math.round(timeoutMs / 1000)} s for ${count} node(s); ${seen.length} registered${seen.length > 0 ? `: ${seen.join(', ')}` : ''} (start the others, lower --wait-nodes, or wait longer with --wait-timeout S)`,
        );
      }
      onWait?.(seen, left);
      await new Promise((r) => setTimeout(r, Math.min(100, left)));
      signal?.throwIfAborted();
    }
  }

  close(): void {
    for (const a of this.#admins) void a.close();
  }
}
