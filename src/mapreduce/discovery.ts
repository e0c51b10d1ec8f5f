/**
 * Finding the nodes of a cluster through the job servers' admin `status` (gearmand answers it
 * too): a node is a `geartrain.map@<name>` function with at least one worker. A function listed
 * with 0 workers is a node that left.
 */
import { AdminClient, type AdminClientOptions } from '../client/index.ts';
import { TimeoutError } from '../errors.ts';
import { MAP_FUNCTION_PREFIX } from '../wire-names.ts';

export class ClusterView {
  readonly #admins: AdminClient[];
  #cache: { at: number; nodes: Set<string> } | null = null;

  constructor(servers: readonly string[], tls?: AdminClientOptions['tls']) {
    this.#admins = servers.map((server) => new AdminClient({ server, timeoutMs: 5000, ...(tls ? { tls } : {}) }));
  }

  /** Nodes with a live map worker on any server (cached for `maxAgeMs`). */
  async liveNodes(maxAgeMs = 300, signal?: AbortSignal): Promise<Set<string>> {
    if (this.#cache && Date.now() - this.#cache.at <= maxAgeMs) return this.#cache.nodes;
    const nodes = new Set<string>();
    let reached = 0;
    let lastError: unknown;
    await Promise.all(
      this.#admins.map(async (admin) => {
        try {
          for (const f of await admin.status(signal ? { signal } : {})) {
            if (f.name.startsWith(MAP_FUNCTION_PREFIX) && f.workers > 0) nodes.add(f.name.slice(MAP_FUNCTION_PREFIX.length));
          }
          reached++;
        } catch (err) {
          lastError = err;
        }
      }),
    );
    if (reached === 0) throw lastError;
    this.#cache = { at: Date.now(), nodes };
    return nodes;
  }

  /**
   * Waits until at least `count` nodes are live, polling every 100 ms; `onWait` hears after each
   * poll who is there and how long is left. Fails with TimeoutError naming the nodes seen: not
   * getting the nodes is a failure before any result, not an incomplete one.
   */
  async waitForNodes(count: number, timeoutMs: number, signal?: AbortSignal, onWait?: (seen: readonly string[], msLeft: number) => void): Promise<Set<string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nodes = await this.liveNodes(0, signal);
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
