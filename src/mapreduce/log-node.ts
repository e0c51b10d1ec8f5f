/**
 * A whole log node as a library call: the log service (catalogue, `logger` ingestion, replicas)
 * and the map/reduce runtime on shared connections. `geartrain node` runs one per process;
 * `geartrain analyze` runs one in-process beside an embedded job server.
 */
import fs from 'node:fs';
import os from 'node:os';
import { Client, Worker, type WorkerOptions } from '../client/index.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { compileLogFormat, type LogFormat } from '../logs/index.ts';
import type { LogSource } from '../logs/log-sources.ts';
import { startLogService, type LogService, type LogServiceOptions } from '../logs/log-service.ts';
import { checkNodePermissions } from './job-gate.ts';
import { startNodeRuntime, type NodeRuntime } from './node-runtime.ts';
import { sealerFor, TaskGuard } from './task-auth.ts';

export interface LogNodeOptions {
  readonly servers: readonly string[];
  readonly name: string;
  readonly sources: readonly LogSource[];
  readonly dataDir: string;
  /** Serve log files whose symlinks lead out of the directories of their `--logs` globs. */
  readonly followSymlinks?: boolean;
  /** Default format of sources without one, and of ingested lines. */
  readonly format?: string | LogFormat;
  /** Map tasks at once (task threads); default: CPU count. */
  readonly concurrency?: number;
  readonly replicas?: number;
  readonly peers?: readonly string[];
  readonly allowCode?: boolean;
  readonly allowExec?: boolean;
  /** The cluster secret (GEARTRAIN_SECRET): every task and request must be signed with it. */
  readonly secret?: string;
  /** Makes `logger` take only batches signed with it (GEARTRAIN_INGEST_SECRET). */
  readonly ingestSecret?: string;
  /** Connection options shared by every worker and the client (reconnect delays, TLS…). */
  readonly connection?: Omit<WorkerOptions, 'servers' | 'concurrency' | 'clientId' | 'logger'>;
  /** Log-service options beyond the basics (ingest concurrency, segment size, polling…). */
  readonly logService?: Partial<Omit<LogServiceOptions, 'servers' | 'client' | 'name' | 'sources' | 'dataDir' | 'format' | 'logger'>>;
  readonly logger?: Logger;
}

export interface LogNode {
  readonly name: string;
  readonly logs: LogService;
  readonly runtime: NodeRuntime;
  /** Client ids and functions of the node's workers, for readiness checks (`workers` on the admin port). */
  readonly registrations: readonly { readonly clientId: string; readonly functions: readonly string[] }[];
  /** Stop taking jobs, let running ones finish, disconnect. */
  close(): Promise<void>;
}

export async function startLogNode(o: LogNodeOptions): Promise<LogNode> {
  const logger = o.logger ?? silentLogger;
  checkNodePermissions(o);
  const servers = [...o.servers];
  const connection = o.connection ?? {};
  const format = typeof o.format === 'object' ? o.format : compileLogFormat(o.format ?? 'combined');
  const client = new Client({ servers, ...connection, clientId: `${o.name}:client` });
  // The map/reduce service worker (fetches of stored partials): many slots, so a reducer's fetch
  // never waits behind map or reduce tasks. Maps and reduces get workers of their own.
  const worker = new Worker({ servers, ...connection, concurrency: 32, clientId: `${o.name}:mapreduce`, logger });
  const logs = await startLogService({
    ...o.logService,
    servers,
    client,
    name: o.name,
    sources: o.sources,
    dataDir: o.dataDir,
    followSymlinks: o.followSymlinks ?? false,
    format,
    ...(o.replicas !== undefined ? { replicas: o.replicas } : {}),
    ...(o.peers !== undefined ? { peers: o.peers } : {}),
    workerOptions: connection,
    requestGuard: new TaskGuard({ node: o.name, secret: o.secret }),
    ingestGuard: new TaskGuard({ node: o.name, secret: o.ingestSecret, kind: 'ingest' }),
    seal: sealerFor(o.secret),
    logger,
  });
  const runtime = await startNodeRuntime({
    name: o.name,
    worker,
    client,
    createWorker: (role, slots) => new Worker({ servers, ...connection, concurrency: slots, clientId: `${o.name}:${role}`, logger }),
    dataDir: o.dataDir,
    concurrency: o.concurrency ?? os.availableParallelism(),
    locateShard: (id) => logs.catalog.locate(id),
    logZone: () => zoneOfLatestLines(logs),
    allowCode: o.allowCode ?? false,
    allowExec: o.allowExec ?? false,
    ...(o.secret ? { secret: o.secret } : {}),
    logger,
  });
  await worker.start();
  if (!o.secret) {
    logger.warn(
      `node ${o.name} has no GEARTRAIN_SECRET: any client of its job servers can read its logs and run built-in jobs over them (set GEARTRAIN_SECRET on the nodes and where geartrain run runs to allow only those who hold it)`,
    );
  }
  return {
    name: o.name,
    logs,
    runtime,
    registrations: [...logs.registrations, ...runtime.registrations, { clientId: `${o.name}:mapreduce`, functions: worker.functions }],
    async close() {
      await runtime.close();
      await worker.close();
      await logs.close();
      await client.close();
    },
  };
}

/** The zone of the last parseable line of the most recently written shard. */
export async function zoneOfLatestLines(logs: LogService): Promise<number | undefined> {
  const catalog = await logs.catalog.snapshot({ scanBudgetBytes: 0 });
  const latest = catalog.shards.filter((s) => !s.gzip && s.size > 0).sort((a, b) => b.mtimeMs - a.mtimeMs)[0];
  if (!latest) return undefined;
  const format = compileLogFormat(latest.format);
  if (!format.provides('tzOffset')) return undefined;
  const fh = await fs.promises.open(latest.path, 'r');
  try {
    const size = Math.min(64 * 1024, latest.size);
    const buf = Buffer.allocUnsafe(size);
    const { bytesRead } = await fh.read(buf, 0, size, latest.size - size);
    const lines = buf.toString('latin1', 0, bytesRead).split('\n');
    const parser = format.createParser(['tzOffset']);
    for (let i = lines.length - 1; i >= 1; i--) {
      const r = parser.parse(lines[i]!);
      if (typeof r !== 'string') return r.tzOffset;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}
