/**
 * Which other log nodes are alive, for replication: the job servers' admin `status` lists
 * `geartrain.replica@<name>` (registered by every node next to `logger@<name>`) with its worker
 * count; a node is alive while some server counts a worker for it. With `--peers`, only the named
 * nodes are candidates (still checked for liveness).
 */
import { AdminClient } from '../client/admin-client.ts';
import type { AdminClientOptions, Logger } from '../client/options.ts';
import { REPLICA_FUNCTION_PREFIX } from '../wire-names.ts';

export { LOGGER_FUNCTION, loggerFunction, REPLICA_FUNCTION_PREFIX, replicaFunction } from '../wire-names.ts';

export interface PeerDiscoveryOptions {
  readonly servers: readonly string[];
  readonly self: string;
  /** Only these nodes may hold replicas (`--peers`). */
  readonly peers?: readonly string[];
  /** How long one answer is reused. Default 1000 ms. */
  readonly ttlMs?: number;
  readonly timeoutMs?: number;
  readonly logger?: Logger;
  /** TLS for the admin connections (as the node's workers use). */
  readonly tls?: AdminClientOptions['tls'];
}

export class PeerDiscovery {
  readonly #servers: readonly string[];
  readonly #self: string;
  readonly #allowed: ReadonlySet<string> | undefined;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #admins = new Map<string, AdminClient>();
  #cached: { at: number; peers: string[] } | undefined;
  #inflight: Promise<string[]> | undefined;
  #closed = false;

  readonly #tls: AdminClientOptions['tls'];

  constructor(opts: PeerDiscoveryOptions) {
    this.#servers = opts.servers;
    this.#self = opts.self;
    this.#allowed = opts.peers && opts.peers.length > 0 ? new Set(opts.peers) : undefined;
    this.#ttlMs = opts.ttlMs ?? 1000;
    this.#timeoutMs = opts.timeoutMs ?? 3000;
    this.#logger = opts.logger;
    this.#tls = opts.tls;
  }

  /** Names of the other live nodes, sorted. `fresh` skips the cached answer. */
  async live(opts: { fresh?: boolean } = {}): Promise<string[]> {
    const c = this.#cached;
    if (!opts.fresh && c && Date.now() - c.at < this.#ttlMs) return c.peers;
    this.#inflight ??= this.#ask().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  /** Forgets the cached answer (after a peer failed). */
  invalidate(): void {
    this.#cached = undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#admins.values()].map((a) => a.close()));
    this.#admins.clear();
  }

  async #ask(): Promise<string[]> {
    const names = new Set<string>();
    await Promise.all(
      this.#servers.map(async (server) => {
        if (this.#closed) return;
        let admin = this.#admins.get(server);
        if (!admin) {
          admin = new AdminClient({ server, timeoutMs: this.#timeoutMs, connectTimeoutMs: this.#timeoutMs, ...(this.#tls ? { tls: this.#tls } : {}) });
          this.#admins.set(server, admin);
        }
        try {
          for (const f of await admin.status()) {
            if (f.workers > 0 && f.name.startsWith(REPLICA_FUNCTION_PREFIX)) names.add(f.name.slice(REPLICA_FUNCTION_PREFIX.length));
          }
        } catch (err) {
          this.#logger?.debug?.(`peer discovery: ${server} did not answer status: ${(err as Error).message}`);
          this.#admins.delete(server);
          await admin.close().catch(() => {});
        }
      }),
    );
    names.delete(this.#self);
    const peers = [...names].filter((n) => !this.#allowed || this.#allowed.has(n)).sort();
    this.#cached = { at: Date.now(), peers };
    return peers;
  }
}
