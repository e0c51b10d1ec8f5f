import net from 'node:net';
import { ClosedError, OutputLimitError, StoreError } from '../errors.ts';
import { Connection } from './connection.ts';
import { ServerCore, type ServerStats } from './core.ts';
import { MonitorServer, type HttpAddress } from './http/http-server.ts';
import { localStreamPair } from './http/local-stream.ts';
import { ADMIN_RESERVE, isLoopback, refuseConnection, REFUSAL_WAIT_MS } from './limits.ts';
import { parseServerOptions, type JobServerOptions, type ResolvedServerOptions } from './options.ts';
import { dispatchFrame } from './packet-dispatch.ts';
import { Relay } from './relay.ts';
import type { JobStore, StoredJob } from './store/types.ts';
import { TlsAcceptor, type TlsPeer } from './tls.ts';
import { WriteBatcher } from './write-batcher.ts';

/** How long a graceful close waits for hooks to deliver their backlog. */
const HOOK_DRAIN_MS = 2000;

export interface ServerAddress {
  host: string;
  port: number;
}

export interface CloseOptions {
  /** Give up waiting for running jobs after this long (ms); default: wait for all of them. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * An embeddable Gearman job server.
 *
 * ```ts
 * const server = new JobServer({ port: 0 });
 * await server.listen();
 * console.log(server.address()); // { host: '127.0.0.1', port: 40123 }
 * await server.close();          // stop accepting, let running jobs finish, then disconnect
 * ```
 */
export class JobServer {
  readonly options: ResolvedServerOptions;
  readonly #core: ServerCore;
  readonly #server: net.Server;
  #store: JobStore | null = null;
  /** Group commit in front of #store (persistent queues only). */
  #queue: WriteBatcher | null = null;
  #nextConnId = 1;
  #state: 'new' | 'listening' | 'closing' | 'closed' = 'new';
  #address: ServerAddress | null = null;
  #closed: Promise<void> | null = null;
  #shutdownListeners: ((graceful: boolean) => void)[] = [];
  readonly #tls: TlsAcceptor | null;
  /** Accepted sockets still in their TLS handshake (they count toward maxConnections). */
  readonly #handshaking = new Set<net.Socket>();
  #lastLimitWarning = 0;
  #http: MonitorServer | null = null;
  /** Loopback admin peers served beyond the connection limit. */
  readonly #adminReserve = new Set<net.Socket>();

  constructor(options: JobServerOptions = {}) {
    this.options = parseServerOptions(options);
    const relayRules = this.options.relay ?? [];
    this.#core = new ServerCore(this.options, {
      ...(relayRules.length > 0 ? { relay: (core: ServerCore) => new Relay(core, relayRules) } : {}),
      onShutdownRequest: (graceful) => {
        for (const l of this.#shutdownListeners) l(graceful);
        if (this.#shutdownListeners.length === 0) {
          if (graceful) void this.close();
          else this.destroy();
        }
      },
    });
    this.#tls = this.options.tls
      ? new TlsAcceptor(this.options.tls, this.options.logger, {
          secure: (peer) => this.#acceptTls(peer),
          refused: () => this.#core.connectionRefused(),
        })
      : null;
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#onSocket(socket));
  }

  /** Open the queue, replay stored jobs, then accept connections. */
  async listen(): Promise<ServerAddress> {
    if (this.#state !== 'new') throw new ClosedError('JobServer.listen() may be called once');
    await this.#openStore();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(this.options.port, this.options.host, () => {
        this.#server.off('error', onError);
        resolve();
      });
    });
    const addr = this.#server.address() as net.AddressInfo;
    this.#address = { host: addr.address, port: addr.port };
    this.#state = 'listening';
    this.options.logger.info(`listening on ${addr.address}:${addr.port}`);
    if (this.options.httpPort !== undefined) await this.#startHttp(this.options.httpPort);
    return this.#address;
  }

  async #openStore(): Promise<void> {
    let store = this.options.store ?? null;
    if (!store && this.options.queue !== 'memory') {
      const { createStore } = await import('./store/index.ts');
      const o = this.options;
      store = createStore(
        {
          queue: o.queue,
          fsync: o.fsync,
          ...(o.sqliteDb !== undefined ? { sqliteDb: o.sqliteDb } : {}),
          ...(o.postgresUrl !== undefined ? { postgresUrl: o.postgresUrl } : {}),
          ...(o.redisUrl !== undefined ? { redisUrl: o.redisUrl } : {}),
          ...(o.queueTable !== undefined ? { table: o.queueTable } : {}),
        },
        { logger: o.logger },
      );
    }
    if (!store || store.kind === 'memory') return;
    try {
      await store.open();
      const rows: StoredJob[] = [];
      for await (const row of store.replay()) rows.push(row);
      this.#core.restore(rows);
      const replayed = rows.length;
      if (replayed > 0) this.options.logger.info(`replayed ${replayed} job(s) from the ${store.kind} queue`);
    } catch (err) {
      await store.close().catch(() => {});
      throw err instanceof StoreError ? err : new StoreError(`cannot open the ${store.kind} queue: ${(err as Error).message}`, { cause: err });
    }
    this.#store = store;
    this.#queue = new WriteBatcher(store, this.options.logger);
    this.#core.persistTo(this.#queue);
  }

  /** A socket from the listener: connection limit, then TLS (when on), then a Connection. */
  #onSocket(socket: net.Socket): void {
    if (this.#state !== 'listening') {
      socket.destroy();
      return;
    }
    const max = this.options.maxConnections;
    if (!this.#hasRoom()) {
      if (!this.#tls && this.#adminReserve.size < ADMIN_RESERVE && isLoopback(socket.remoteAddress ?? '')) {
        this.#acceptAdminOverLimit(socket, max);
        return;
      }
      this.#core.connectionRefused();
      const now = Date.now();
      if (now - this.#lastLimitWarning >= 1000) {
        this.#lastLimitWarning = now;
        this.options.logger.warn(`connection limit (${max}) reached: refusing ${socket.remoteAddress}:${socket.remotePort}`);
      }
      // A TLS peer could not read a plain-text reason: it is just closed.
      if (this.#tls) socket.destroy();
      else refuseConnection(socket, 'TOO_MANY_CONNECTIONS', `the server is at its limit of ${max} connections`);
      return;
    }
    if (!this.#tls) {
      this.#accept(socket);
      return;
    }
    if (this.options.keepalive > 0) socket.setKeepAlive(true, this.options.keepalive * 1000);
    this.#handshaking.add(socket);
    socket.once('close', () => this.#handshaking.delete(socket));
    this.#tls.accept(socket);
  }

  /** Connections of both ports (HTTP ones included) are below `maxConnections`. */
  #hasRoom(): boolean {
    const open = this.#core.connections.size + this.#handshaking.size + (this.#http?.openConnections ?? 0);
    return open < this.options.maxConnections;
  }

  /**
   * At the limit, a loopback peer that speaks the admin dialect is still served (up to
   * ADMIN_RESERVE of them), so an operator can see what fills the server; others are refused.
   */
  #acceptAdminOverLimit(socket: net.Socket, max: number): void {
    this.#adminReserve.add(socket);
    socket.once('close', () => this.#adminReserve.delete(socket));
    socket.on('error', () => {});
    const timer = setTimeout(() => socket.destroy(), REFUSAL_WAIT_MS);
    timer.unref();
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      socket.pause();
      if (chunk[0] === 0 || chunk[0] === 0x16) {
        this.#adminReserve.delete(socket);
        this.#core.connectionRefused();
        refuseConnection(socket, 'TOO_MANY_CONNECTIONS', `the server is at its limit of ${max} connections`, { firstChunk: chunk });
        return;
      }
      socket.unshift(chunk);
      if (this.#accept(socket)) socket.resume();
    });
  }

  /** A TLS peer after its handshake: its tenant (when the server has tenants), then a Connection. */
  #acceptTls(peer: TlsPeer): void {
    // The TLS socket wraps the accepted one (Node's `_parent`): its handshake is over. Were the
    // link missing, the slot would be freed when the socket closes.
    const raw = (peer.socket as unknown as { _parent?: net.Socket })._parent;
    if (raw) this.#handshaking.delete(raw);
    const tenants = this.#core.tenants;
    const logger = this.options.logger;
    const who = `${peer.socket.remoteAddress}:${peer.socket.remotePort}`;
    if (!tenants) {
      this.#accept(peer.socket);
      return;
    }
    const id = tenants.identify(peer.certificate);
    if (id.kind === 'refused') {
      this.#core.connectionRefused();
      logger.info(`TLS peer ${who}: ${id.reason}`);
      refuseConnection(peer.socket, id.code, id.reason);
      return;
    }
    if (id.kind === 'operator') {
      const conn = this.#accept(peer.socket);
      if (conn) conn.certificateAuthenticated = true;
      return;
    }
    const tenant = id.tenant;
    const limit = tenant.limits.maxConnections;
    if (limit > 0 && tenant.connections >= limit) {
      this.#core.connectionRefused();
      logger.warn(`tenant ${tenant.name} is at its limit of ${limit} connections: refusing ${who}`);
      refuseConnection(peer.socket, 'TOO_MANY_CONNECTIONS', `tenant ${tenant.name} is at its limit of ${limit} connections`);
      return;
    }
    const conn = this.#accept(peer.socket);
    if (!conn) return;
    // Set before any packet is handled: the socket's data is only read from the next turn on.
    conn.tenant = tenant;
    conn.certificateAuthenticated = id.byCertificate;
    tenant.connections++;
  }

  /** Replace the TLS certificate, key and CA for new connections (certificate rotation). */
  setTlsCredentials(creds: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer }): void {
    if (!this.#tls) throw new ClosedError('the server was started without TLS');
    this.#tls.setCredentials(creds);
  }

  #accept(socket: net.Socket): Connection | null {
    if (this.#state !== 'listening') {
      socket.destroy();
      return null;
    }
    if (this.options.keepalive > 0) socket.setKeepAlive(true, this.options.keepalive * 1000);
    const conn = new Connection(
      this.#nextConnId++,
      socket,
      {
        maxPacketSize: this.options.maxPacketSize,
        outputHighWater: this.options.outputHighWater,
        maxPendingOutput: this.options.maxPendingOutput,
      },
      {
        frame: (c, frame) => dispatchFrame(this.#core, c, frame),
        error: (c, err) => {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ECONNRESET' || code === 'EPIPE') return;
          if (err instanceof OutputLimitError) this.#core.connectionCutOff();
          this.options.logger.warn(`connection ${c.remoteAddress}:${c.remotePort}: ${err.message}`);
        },
        close: (c) => this.#core.connectionClosed(c),
      },
    );
    this.#core.connectionOpened(conn);
    return conn;
  }

  async #startHttp(port: number): Promise<void> {
    const http = new MonitorServer({
      host: this.options.httpHost ?? this.options.host,
      port,
      core: this.#core,
      jobAddress: () => this.#address,
      openStream: () => {
        const { client, server } = localStreamPair();
        this.#accept(server);
        return client;
      },
      maxPacketSize: this.options.maxPacketSize,
      allowSubmit: this.options.tls === undefined,
      allowedHosts: this.options.httpAllowedHosts ?? [],
      hasRoom: () => this.#hasRoom(),
      logger: this.options.logger,
    });
    try {
      const a = await http.listen();
      this.#http = http;
      this.options.logger.info(`http monitor on ${a.host}:${a.port}`);
    } catch (err) {
      await http.close();
      this.destroy();
      throw err;
    }
  }

  /** Address of the HTTP port (`httpPort`), or null when it is off. */
  httpAddress(): HttpAddress | null {
    return this.#http?.address() ?? null;
  }

  /** The HTTP monitor (its `status()` is the `/status` document), or null when it is off. */
  get monitor(): MonitorServer | null {
    return this.#http;
  }

  address(): ServerAddress {
    if (!this.#address) throw new ClosedError('JobServer is not listening');
    return { ...this.#address };
  }

  get listening(): boolean {
    return this.#state === 'listening';
  }

  /** Live view of the server's state, for embedding programs and the monitor. */
  get core(): ServerCore {
    return this.#core;
  }

  get stats(): Readonly<ServerStats> {
    return this.#core.stats;
  }

  /**
   * Called on the admin `shutdown [graceful]` command instead of the default (close or destroy).
   * The standalone server uses it to exit the process.
   */
  onShutdownRequest(listener: (graceful: boolean) => void): void {
    this.#shutdownListeners.push(listener);
  }

  /**
   * Graceful stop: accept no connection, hand out no job, wait for running jobs to end (gearmand's
   * SIGUSR1), flush the queue, then disconnect everyone. Queued jobs stay in the persistent queue.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = this.#close(options);
    return this.#closed;
  }

  async #close(options: CloseOptions): Promise<void> {
    this.#state = 'closing';
    this.#core.beginDraining();
    this.#server.close();
    this.#http?.stopAccepting();
    const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : Infinity;
    // Running jobs end first; then the HTTP answers of those that ended reach their clients.
    const giveUp = new AbortController();
    const onAbort = () => giveUp.abort();
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = options.timeoutMs !== undefined ? setTimeout(onAbort, options.timeoutMs) : null;
    try {
      await this.#core.whenIdle(giveUp.signal);
      await this.#http?.whenAnswered(giveUp.signal);
    } catch {
      // Gave up waiting (timeoutMs or the signal): what still runs is cut off below.
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
    await this.#queue?.drain();
    // Give hooks a moment to deliver the last events; a dead receiver cannot hold the close up.
    await this.#core.hooks?.drain(Math.min(deadline, Date.now() + HOOK_DRAIN_MS), options.signal);
    await this.#http?.close();
    for (const conn of this.#core.connections) conn.end();
    for (const socket of this.#handshaking) socket.destroy();
    this.#finish();
    await this.#store?.close();
  }

  /** Immediate stop: every connection is dropped, nothing waits. */
  destroy(): void {
    if (this.#state === 'closed') return;
    this.#server.close();
    this.#http?.destroy();
    for (const conn of [...this.#core.connections]) conn.destroy();
    for (const socket of [...this.#handshaking]) socket.destroy();
    this.#finish();
    const store = this.#store;
    this.#store = null;
    void store?.close().catch(() => {});
    this.#closed ??= Promise.resolve();
  }

  #finish(): void {
    this.#state = 'closed';
    this.#core.shutdown();
    this.#queue?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close({ timeoutMs: 0 });
  }
}
