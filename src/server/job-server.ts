import net from 'node:net';
import { ClosedError, StoreError } from '../errors.ts';
import { Connection } from './connection.ts';
import { ServerCore, type ServerStats } from './core.ts';
import { coalesceKeyOf, Job, Priority, visibleUnique } from './job.ts';
import { parseServerOptions, type JobServerOptions, type ResolvedServerOptions } from './options.ts';
import type { JobStore, StoredJob } from './store/types.ts';
import { WriteBatcher } from './write-batcher.ts';

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
  #nextConnId = 1;
  #state: 'new' | 'listening' | 'closing' | 'closed' = 'new';
  #address: ServerAddress | null = null;
  #closed: Promise<void> | null = null;
  #shutdownListeners: ((graceful: boolean) => void)[] = [];

  constructor(options: JobServerOptions = {}) {
    this.options = parseServerOptions(options);
    this.#core = new ServerCore(this.options);
    this.#core.onShutdownRequest = (graceful) => {
      for (const l of this.#shutdownListeners) l(graceful);
      if (this.#shutdownListeners.length === 0) {
        if (graceful) void this.close();
        else this.destroy();
      }
    };
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server.maxConnections = this.options.maxConnections;
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
      // Handles are <prefix>:<seq>. A replayed job keeps its number, and numbering restarts above
      // both the stored jobs and the clock, so a handle from before the restart never names
      // another job after it.
      this.#core.bumpSeq(Math.max(Date.now() * 100, ...rows.map((r) => r.seq)));
      for (const row of rows) {
        const fn = this.#core.fn(row.functionName);
        // Rows written by gearmand have no seq: they get new numbers, in replay order.
        const seq = row.seq > 0 ? row.seq : this.#core.nextSeq();
        const job = new Job(
          {
            fn,
            unique: visibleUnique(row.unique),
            storeKey: row.unique,
            coalesceKey: coalesceKeyOf(visibleUnique(row.unique), row.data),
            data: row.data,
            priority: row.priority as number as Priority,
            background: true,
            whenToRun: row.whenToRun,
            reducer: row.reducer,
          },
          this.#core.handleFor(seq),
          seq,
        );
        job.persisted = true;
        this.#core.jobs.set(job.handle, job);
        if (job.coalesceKey !== '') fn.byUnique.set(job.coalesceKey, job);
        this.#core.admit(job);
      }
      const replayed = rows.length;
      if (replayed > 0) this.options.logger.info(`replayed ${replayed} job(s) from the ${store.kind} queue`);
    } catch (err) {
      await store.close().catch(() => {});
      throw err instanceof StoreError ? err : new StoreError(`cannot open the ${store.kind} queue: ${(err as Error).message}`, { cause: err });
    }
    this.#store = store;
    this.#core.batcher = new WriteBatcher(store, this.options.logger);
  }

  #accept(socket: net.Socket): void {
    if (this.#state !== 'listening') {
      socket.destroy();
      return;
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
        frame: (c, frame) => this.#core.onFrame(c, frame),
        error: (c, err) => {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ECONNRESET' || code === 'EPIPE') return;
          this.options.logger.warn(`connection ${c.remoteAddress}:${c.remotePort}: ${err.message}`);
        },
        close: (c) => this.#core.connectionClosed(c),
      },
    );
    this.#core.connections.add(conn);
    this.#core.stats.connectionsAccepted++;
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
    this.#core.draining = true;
    this.#server.close();
    const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : Infinity;
    while (this.#core.runningCount > 0 && Date.now() < deadline && !options.signal?.aborted) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.#core.batcher?.drain();
    for (const conn of this.#core.connections) conn.end();
    this.#finish();
    await this.#store?.close();
  }

  /** Immediate stop: every connection is dropped, nothing waits. */
  destroy(): void {
    if (this.#state === 'closed') return;
    this.#server.close();
    for (const conn of [...this.#core.connections]) conn.destroy();
    this.#finish();
    const store = this.#store;
    this.#store = null;
    void store?.close().catch(() => {});
    this.#closed ??= Promise.resolve();
  }

  #finish(): void {
    this.#state = 'closed';
    this.#core.shutdown();
    this.#core.batcher?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close({ timeoutMs: 0 });
  }
}
