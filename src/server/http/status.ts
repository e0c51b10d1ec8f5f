/**
 * The `/status` document: one consistent picture of the server, built in one turn of the event
 * loop from the live ServerCore. The monitor page, `geartrain top --http` and `/metrics` all
 * read it, so the three never disagree.
 */
import v8 from 'node:v8';
import { GEARMAND_COMPAT_VERSION, GEARTRAIN_VERSION } from '../../version.ts';
import type { Connection } from '../connection.ts';
import type { ServerCore } from '../core.ts';
import type { HookStats } from '../hooks.ts';
import type { RelayStats } from '../relay-spec.ts';
import type { ResultCacheStats } from '../result-cache.ts';
import type { GcInfo } from './gc-watcher.ts';
import type { RunInfo } from './runs.ts';
import type { ThroughputSeries } from './throughput.ts';

export interface FunctionStatusJson {
  readonly name: string;
  /** Runnable jobs waiting for a worker, per priority and in all. */
  readonly queued: { readonly high: number; readonly normal: number; readonly low: number; readonly total: number };
  /** Epoch jobs whose time has not come, and background jobs waiting for their row to commit. */
  readonly scheduled: number;
  readonly running: number;
  /** CAN_DO registrations, as in the admin `status` WORKERS column. */
  readonly workers: number;
  /** Worker connections that can do the function. */
  readonly connectedWorkers: number;
  /** Of those, connections asleep (PRE_SLEEP) waiting for a NOOP. */
  readonly sleepingWorkers: number;
  /** Cumulative since the function was created on this server. */
  readonly completed: number;
  readonly failed: number;
  readonly completedLastMinute: number;
  readonly failedLastMinute: number;
  /** Age of the oldest runnable job, ms; null when none is queued. */
  readonly oldestQueuedMs: number | null;
}

export interface ConnectionJson {
  /** Server-side id (the `workers` listing's fd column when the fd is unknown). */
  readonly id: number;
  readonly fd: number;
  readonly address: string;
  readonly port: number;
  /** SET_CLIENT_ID, or `-`. */
  readonly clientId: string;
  readonly connectedAt: number;
}

export interface WorkerJson extends ConnectionJson {
  readonly functions: string[];
  /** Jobs this worker holds now. */
  readonly running: number;
  readonly sleeping: boolean;
}

export interface ClientJson extends ConnectionJson {
  /** Foreground jobs this connection waits for. */
  readonly waiting: number;
}

export interface MemoryJson {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly heapSizeLimit: number;
  /** V8 heap in use just after the last garbage collection (null before the first one). */
  readonly heapUsedAfterLastGc: number | null;
  readonly heapUsedAfterLastMajorGc: number | null;
  readonly lastGcAt: number | null;
  readonly lastGcKind: string | null;
  readonly gcCounts: Readonly<Record<string, number>>;
  readonly gcPauseSeconds: number;
}

/** Longest `workers` and `clients` lists in the document (the totals count them all). */
export const MAX_LISTED_CONNECTIONS = 1000;

export interface StatusJson {
  readonly server: {
    readonly version: string;
    readonly gearmandCompatVersion: string;
    readonly pid: number;
    readonly node: string;
    /** Address of the Gearman port. */
    readonly address: { readonly host: string; readonly port: number } | null;
    readonly queue: string;
    readonly startedAt: number;
    readonly uptimeSeconds: number;
    readonly now: number;
    readonly draining: boolean;
  };
  readonly totals: {
    readonly functions: number;
    readonly jobs: number;
    readonly queued: number;
    readonly scheduled: number;
    readonly running: number;
    readonly connections: number;
    readonly workers: number;
    readonly clients: number;
  };
  /** Cumulative counters since the server started. */
  readonly counters: {
    readonly submitted: number;
    readonly completed: number;
    readonly failed: number;
    readonly exceptions: number;
    readonly requeued: number;
    readonly connectionsAccepted: number;
    readonly httpSubmitted: number;
  };
  readonly throughput: ThroughputSeries;
  readonly functions: FunctionStatusJson[];
  /** At most MAX_LISTED_CONNECTIONS, oldest connections first. */
  readonly workers: WorkerJson[];
  /** At most MAX_LISTED_CONNECTIONS, oldest connections first. */
  readonly clients: ClientJson[];
  readonly runs: RunInfo[];
  readonly memory: MemoryJson;
  /** The server extras' counters; null when the feature is off (docs/server-extras.md). */
  readonly resultCache: ResultCacheStats | null;
  readonly hooks: HookStats[] | null;
  readonly relay: RelayStats | null;
}

export interface StatusSources {
  readonly core: ServerCore;
  readonly address: { host: string; port: number } | null;
  readonly startedAt: number;
  readonly throughput: ThroughputSeries;
  readonly functionLastMinute: (name: string) => { completed: number; failed: number };
  readonly runs: RunInfo[];
  readonly gc: GcInfo;
  readonly httpSubmitted: number;
}

function connectionJson(c: Connection): ConnectionJson {
  return { id: c.id, fd: c.fd, address: c.remoteAddress, port: c.remotePort, clientId: c.clientId, connectedAt: c.connectedAt };
}

export function buildStatus(src: StatusSources): StatusJson {
  const core = src.core;
  const now = Date.now();

  const functions: FunctionStatusJson[] = [];
  let queued = 0;
  let scheduled = 0;
  let running = 0;
  for (const fn of core.functions.values()) {
    const oldest = core.jobs.oldestQueuedAt(fn);
    let sleeping = 0;
    for (const w of fn.workers) if (w.sleeping) sleeping++;
    const minute = src.functionLastMinute(fn.name);
    functions.push({
      name: fn.name,
      queued: { high: fn.queued[0], normal: fn.queued[1], low: fn.queued[2], total: fn.queuedTotal },
      scheduled: fn.waiting,
      running: fn.running,
      workers: fn.registrations,
      connectedWorkers: fn.workers.size,
      sleepingWorkers: sleeping,
      completed: fn.completed,
      failed: fn.failed,
      completedLastMinute: minute.completed,
      failedLastMinute: minute.failed,
      oldestQueuedMs: oldest === null ? null : Math.max(0, now - oldest),
    });
    queued += fn.queuedTotal;
    scheduled += fn.waiting;
    running += fn.running;
  }
  functions.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const workers: WorkerJson[] = [];
  const clients: ClientJson[] = [];
  let workerCount = 0;
  let clientCount = 0;
  for (const c of core.connections) {
    if (c.isWorker) {
      if (++workerCount > MAX_LISTED_CONNECTIONS) continue;
      workers.push({ ...connectionJson(c), functions: c.abilities.map((a) => a.fn.name), running: c.workerJobs.size, sleeping: c.sleeping });
    } else {
      if (++clientCount > MAX_LISTED_CONNECTIONS) continue;
      clients.push({ ...connectionJson(c), waiting: c.clientJobs.size });
    }
  }

  const mem = process.memoryUsage();
  const heap = v8.getHeapStatistics();
  const s = core.stats;
  return {
    server: {
      version: GEARTRAIN_VERSION,
      gearmandCompatVersion: GEARMAND_COMPAT_VERSION,
      pid: process.pid,
      node: process.version,
      address: src.address,
      queue: core.options.store?.kind ?? core.options.queue,
      startedAt: src.startedAt,
      uptimeSeconds: Math.round((now - src.startedAt) / 1000),
      now,
      draining: core.draining,
    },
    totals: {
      functions: core.functions.size,
      jobs: core.jobs.size,
      queued,
      scheduled,
      running,
      connections: workerCount + clientCount,
      workers: workerCount,
      clients: clientCount,
    },
    counters: {
      submitted: s.submitted,
      completed: s.completed,
      failed: s.failed,
      exceptions: s.exceptions,
      requeued: s.requeued,
      connectionsAccepted: s.connectionsAccepted,
      httpSubmitted: src.httpSubmitted,
    },
    throughput: src.throughput,
    functions,
    workers,
    clients,
    runs: src.runs,
    memory: {
      rss: mem.rss,
      heapTotal: mem.heapTotal,
      heapUsed: mem.heapUsed,
      external: mem.external,
      arrayBuffers: mem.arrayBuffers,
      heapSizeLimit: heap.heap_size_limit,
      heapUsedAfterLastGc: src.gc.heapUsedAfterLastGc,
      heapUsedAfterLastMajorGc: src.gc.heapUsedAfterLastMajorGc,
      lastGcAt: src.gc.lastGcAt,
      lastGcKind: src.gc.lastGcKind,
      gcCounts: src.gc.counts,
      gcPauseSeconds: src.gc.pauseSeconds,
    },
    resultCache: core.resultCache ? { ...core.resultCache.stats } : null,
    hooks: core.hooks ? core.hooks.stats() : null,
    relay: core.relay ? { ...core.relay.stats } : null,
  };
}
