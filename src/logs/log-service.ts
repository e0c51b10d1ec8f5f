/**
 * The log side of a node: its catalogue, ingestion and replication, served on the job servers.
 *
 * Functions registered (on every server):
 * - `logger`, `logger@<name>`: ingest lines (LogService.loggerWorker, `concurrency` jobs at once
 *   so their fsyncs are grouped);
 * - `geartrain.replica@<name>`: store a copy of another node's batch, and
 *   `geartrain.catalog@<name>`: the catalogue as JSON (nodeCatalogSchema). Both run on a second
 *   Worker (LogService.serviceWorker): they never wait for other jobs, so they are never stuck
 *   behind logger jobs that wait for replicas, nor behind long map tasks.
 *
 * Data directory: `segments/` (ingested segments), `scan-cache.json`, and `node.lock` (one node
 * per data directory).
 *
 * Signatures: the node assembly (mapreduce/log-node.ts) passes guards that check each payload's
 * signature (mapreduce/task-auth.ts) and a sealer for the copies this node sends: catalogue
 * requests and replica stores need the cluster secret when the node has one; `logger` needs the
 * ingest secret only when one is set.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '../client/client.ts';
import type { Logger, WorkerOptions } from '../client/options.ts';
import { Worker } from '../client/worker.ts';
import type { JobContext, WorkerJob } from '../client/worker-job.ts';
import { InvalidArgumentError, StoreError } from '../errors.ts';
import { parseCatalogRequest } from './catalog.ts';
import { FileShards } from './file-shards.ts';
import { compileLogFormat, type LogFormat } from './format.ts';
import { Ingestor } from './ingest.ts';
import { LOGGER_FUNCTION, loggerFunction, PeerDiscovery, replicaFunction } from './ingest-peers.ts';
import { Replicator } from './ingest-replication.ts';
import type { LogSource } from './log-sources.ts';
import { LogCatalog } from './node-catalog.ts';
import { ScanCache } from './scan-cache.ts';
import { SegmentStore } from './segments.ts';
import { catalogFunction } from '../wire-names.ts';

export { CATALOG_FUNCTION_PREFIX, catalogFunction } from '../wire-names.ts';

/** Logger jobs run at once by default (their fsyncs are grouped). */
export const DEFAULT_INGEST_CONCURRENCY = 32;
/** How often files are re-listed and grown files scanned, by default. */
export const DEFAULT_POLL_MS = 2000;

export interface LogServiceOptions {
  /** Job servers (`host:port` strings), as for Worker. */
  readonly servers: string | readonly string[];
  /** Used to send copies to other nodes (may be shared with other parts of the node). */
  readonly client: Client;
  /** The node's name: letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  readonly sources: readonly LogSource[];
  readonly dataDir: string;
  /** Serve log files whose symlinks lead out of the directories of their globs. */
  readonly followSymlinks?: boolean;
  /** Format of ingested lines (nickname or LogFormat string). Default `combined`. */
  readonly format?: string | LogFormat;
  /** Copies of each ingested batch, this node's included. Default 1. */
  readonly replicas?: number;
  /** Only these nodes may hold replicas. Default: any live node. */
  readonly peers?: readonly string[];
  /** Logger jobs at once. Default 32. */
  readonly concurrency?: number;
  readonly maxSegmentBytes?: number;
  /** 0 disables polling (the catalogue is then refreshed on request only). */
  readonly pollMs?: number;
  /** Unscanned bytes a catalogue request scans before answering. */
  readonly scanBudgetBytes?: number;
  readonly replicaTimeoutMs?: number;
  /** Extra Worker options (reconnect delays, TLS…) for the service's two workers. */
  readonly workerOptions?: Omit<WorkerOptions, 'servers' | 'concurrency' | 'clientId' | 'logger'>;
  readonly logger?: Logger;
  /** See IngestorOptions.afterStore. */
  readonly afterStore?: (job: WorkerJob) => void | Promise<void>;
  /** Checks catalogue requests and replica stores, returning their bodies (the cluster secret). */
  readonly requestGuard?: PayloadGuard;
  /** Checks logger batches, returning their lines (the ingest secret). */
  readonly ingestGuard?: PayloadGuard;
  /** Signs the replica stores this node sends (the cluster secret). */
  readonly seal?: (fn: string, body: Buffer) => Buffer | string;
}

/** Returns the body of a payload that may be served, or throws saying why not. */
export interface PayloadGuard {
  open(fn: string, payload: Buffer): Buffer;
}

export interface LogService {
  readonly name: string;
  readonly catalog: LogCatalog;
  readonly store: SegmentStore;
  readonly ingestor: Ingestor;
  /** Serves `logger` and `logger@<name>`. */
  readonly loggerWorker: Worker;
  /** Serves `geartrain.replica@<name>` and `geartrain.catalog@<name>`. */
  readonly serviceWorker: Worker;
  /** Each worker's client id (as `workers` on the admin port shows it) and its functions. */
  readonly registrations: readonly { readonly clientId: string; readonly functions: readonly string[] }[];
  /** Stops taking jobs, lets running ones finish, then closes the segments. Idempotent. */
  close(): Promise<void>;
  /** Drops every connection at once (running jobs go back to the servers). */
  destroy(): void;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** The handler, given the job with its payload's body once `guard` let it through. */
function guarded<R>(guard: PayloadGuard | undefined, handler: (job: WorkerJob, ctx: JobContext) => Promise<R>): (job: WorkerJob, ctx: JobContext) => Promise<R> {
  if (!guard) return handler;
  return (job, ctx) => handler({ ...job, payload: guard.open(job.function, job.payload) }, ctx);
}

/** Takes `DATA/node.lock` (a stale lock of a dead process is taken over). */
function lockDataDir(dataDir: string, name: string): () => void {
  const file = path.join(dataDir, 'node.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid} ${name}\n`, { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const [pidText, owner] = fs.readFileSync(file, 'utf8').trim().split(' ');
      const pid = Number(pidText);
      let alive = false;
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) throw new InvalidArgumentError(`data directory ${dataDir} is in use by node ${owner ?? '?'} (pid ${pid})`, { field: 'data' });
      fs.rmSync(file, { force: true });
    }
  }
  throw new StoreError(`cannot lock data directory ${dataDir}`);
}

/** Opens the data directory, registers the log functions and starts both workers. */
export async function startLogService(opts: LogServiceOptions): Promise<LogService> {
  const { name, client, logger } = opts;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new InvalidArgumentError(`node name ${JSON.stringify(name)} must be 1-63 letters, digits, '.', '_' or '-'`, { field: 'name' });
  }
  const replicas = opts.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) throw new InvalidArgumentError('replicas must be a positive integer', { field: 'replicas' });
  const format = typeof opts.format === 'object' ? opts.format : compileLogFormat(opts.format ?? 'combined');
  const servers = typeof opts.servers === 'string' ? opts.servers.split(',').map((s) => s.trim()) : [...opts.servers];
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  const unlock = lockDataDir(dataDir, name);

  let store: SegmentStore | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  try {
    store = await SegmentStore.open({ dir: path.join(dataDir, 'segments'), node: name, format: format.spec, maxSegmentBytes: opts.maxSegmentBytes, logger });
    const cache = new ScanCache(dataDir, logger);
    const files = new FileShards({ sources: opts.sources, cache, exclude: [dataDir], followSymlinks: opts.followSymlinks ?? false, logger });
    const catalog = new LogCatalog({ node: name, files, store, ingestFormat: format.spec, replicas, scanBudgetBytes: opts.scanBudgetBytes });
    const discovery = new PeerDiscovery({ servers, self: name, peers: opts.peers, logger, ...(opts.workerOptions?.tls ? { tls: opts.workerOptions.tls } : {}) });
    const s = store;
    const replicator =
      replicas > 1
        ? new Replicator({ client, discovery, self: name, replicas, timeoutMs: opts.replicaTimeoutMs, logger, seal: (seg) => s.seal(seg), sign: opts.seal })
        : undefined;
    const ingestor = new Ingestor({ store, format, replicator, logger, afterStore: opts.afterStore });

    const loggerId = `${name}:logger`;
    const serviceId = `${name}:service`;
    const loggerWorker = new Worker({ ...opts.workerOptions, servers, concurrency: opts.concurrency ?? DEFAULT_INGEST_CONCURRENCY, clientId: loggerId, logger });
    const serviceWorker = new Worker({ ...opts.workerOptions, servers, concurrency: 16, clientId: serviceId, logger });
    const loggerFns = [LOGGER_FUNCTION, loggerFunction(name)];
    const serviceFns = [replicaFunction(name), catalogFunction(name)];
    for (const fn of loggerFns) loggerWorker.register(fn, guarded(opts.ingestGuard, ingestor.logger));
    serviceWorker.register(replicaFunction(name), guarded(opts.requestGuard, ingestor.replica));
    serviceWorker.register(
      catalogFunction(name),
      guarded(opts.requestGuard, async (job) => JSON.stringify(await catalog.snapshot(parseCatalogRequest(job.payload)))),
    );

    cleanup = async () => {
      loggerWorker.destroy();
      serviceWorker.destroy();
      await catalog.close();
      await discovery.close();
    };
    await files.refresh();
    catalog.startPolling(opts.pollMs ?? DEFAULT_POLL_MS);
    // Replica stores first: a peer must be able to take copies before this node sends any.
    await serviceWorker.start();
    await loggerWorker.start();

    let closing: Promise<void> | undefined;
    const finish = async () => {
      await catalog.close();
      await discovery.close();
      await s.close();
      cache.save();
      unlock();
    };
    return {
      name,
      catalog,
      store,
      ingestor,
      loggerWorker,
      serviceWorker,
      registrations: [
        { clientId: loggerId, functions: loggerFns },
        { clientId: serviceId, functions: serviceFns },
      ],
      close() {
        closing ??= (async () => {
          // Logger jobs may wait for replica stores on other nodes, which stay served meanwhile.
          await loggerWorker.close();
          await serviceWorker.close();
          await finish();
        })();
        return closing;
      },
      destroy() {
        loggerWorker.destroy();
        serviceWorker.destroy();
        closing ??= finish();
      },
    };
  } catch (err) {
    await cleanup?.().catch(() => {});
    await store?.close().catch(() => {});
    unlock();
    throw err;
  }
}
