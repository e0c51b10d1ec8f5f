/**
 * The map/reduce side of a node: `geartrain.map@<node>`, `geartrain.reduce`,
 * `geartrain.reduce@<node>` and `geartrain.fetch@<node>`. Map tasks run on a pool of task threads;
 * reduce tasks and fetches run on the main thread.
 *
 * Each kind has its own Worker (its own connection and concurrency): fetches must never wait for
 * a slot, or reducers on two nodes that fetch from each other while holding every slot would wait
 * forever. Maps take at most `concurrency` slots, reduces as many, fetches many more.
 *
 * Safety: with a secret, every payload must be signed with it (task-auth.ts); every job a task
 * names passes one gate (job-gate.ts: shell commands only with `allowExec`, shipped code only with
 * `allowCode` and a valid signature); a map task may only read shards the node serves (its
 * catalogue says where and how); run ids and keys never leave the partial store (store-names.ts).
 */
import os from 'node:os';
import type { z } from 'zod';
import type { Client, JobContext, Worker, WorkerJob } from '../client/index.ts';
import { systemClock, type Clock } from '../clock.ts';
import { AbortError, InvalidArgumentError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { silentLogger } from '../logger.ts';
import { GEARTRAIN_VERSION } from '../version.ts';
import { admitJob, checkNodePermissions, type NodePolicy } from './job-gate.ts';
import { CodeCache, importJobFile, jobModulePath } from './job-loader.ts';
import { resolveJob, type AnyJob } from './job-definition.ts';
import { kindOf } from './kinds/index.ts';
import { NodeClient } from './node-client.ts';
import { PartialStore } from './partial-store.ts';
import { executeReduceTask, reduceNeedsJob } from './reduce-executor.ts';
import { executeStreamingMap } from './streaming.ts';
import { TaskPool } from './task-pool.ts';
import { sealerFor, TaskGuard } from './task-auth.ts';
import { codeFunction, fetchFunction, mapFunction, reduceFunction } from '../wire-names.ts';
import {
  fetchRequestSchema,
  mapTaskSchema,
  parseWire,
  reduceTaskSchema,
  TASK_HEARTBEAT_MS,
  type JobRef,
  type MapTask,
  type NodeInfo,
  type SampleResult,
  type ShardSpec,
} from './wire.ts';

export interface NodeRuntimeOptions {
  readonly name: string;
  /** The node's service worker (high concurrency): fetches are registered on it. */
  readonly worker: Worker;
  /** Makes a Worker connected to the node's job servers, with this concurrency (not started). */
  readonly createWorker: (role: 'map' | 'reduce', concurrency: number) => Worker;
  /** For outgoing calls: fetching partials from other nodes, shipped code, mapper functions. */
  readonly client: Client;
  readonly dataDir: string;
  /** Map tasks run at once (task threads); default: CPU count. 0 runs maps on the main thread. */
  readonly concurrency?: number;
  /**
   * Where a shard of this node is now, by id (a rotated file has a new path), or undefined when
   * the node does not hold it. Map tasks may only read shards found here.
   */
  readonly locateShard: (id: string) => Promise<{ readonly path: string; readonly gzip: boolean } | undefined>;
  readonly allowCode?: boolean;
  readonly allowExec?: boolean;
  /** The zone (minutes east of UTC) of the node's most recent log lines, when known. */
  readonly logZone?: () => Promise<number | undefined>;
  /**
   * The cluster secret (GEARTRAIN_SECRET): every task and request must be signed with it
   * (task-auth.ts), and the node signs its own fetches from other nodes. Without it the node runs
   * built-in jobs only, for anyone who can reach its job servers.
   */
  readonly secret?: string;
  readonly logger?: Logger;
  /** Task heartbeats run on it (default: the system clock). */
  readonly clock?: Clock;
}

export interface NodeRuntime {
  readonly store: PartialStore;
  /** Client ids and functions of the runtime's own workers, for readiness checks. */
  readonly registrations: readonly { readonly clientId: string; readonly functions: readonly string[] }[];
  close(): Promise<void>;
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const { name, worker, client } = options;
  const logger = options.logger ?? silentLogger;
  checkNodePermissions(options);
  const guard = new TaskGuard({ node: name, secret: options.secret });
  // The node's own requests to other nodes (a reducer reading their partials) are signed too.
  const nodes = new NodeClient(client, sealerFor(options.secret));
  const policy: NodePolicy = { node: name, secret: options.secret, allowCode: !!options.allowCode, allowExec: !!options.allowExec };
  /** A payload that may run here: signed (when the node has a secret), valid, and its job admitted. */
  const receive = <T>(schema: z.ZodType<T>, job: WorkerJob, what: string): T => {
    const task = parseWire(schema, guard.open(job.function, job.payload), what);
    const ref = (task as { job?: JobRef }).job;
    if (ref) admitJob(ref, policy);
    return task;
  };
  const store = new PartialStore(options.dataDir, name);
  store.startSweeping();
  const code = new CodeCache(options.dataDir);
  const threads = options.concurrency ?? os.availableParallelism();
  const pool = new TaskPool({ node: name, dataDir: options.dataDir, store, threads });
  const slots = Math.max(1, threads);
  const mapWorker = options.createWorker('map', slots);
  const reduceWorker = options.createWorker('reduce', slots);
  /** Running tasks by run id (each with its task id), so a cancelled run or task stops at once. */
  const running = new Map<string, Map<AbortController, string>>();
  const mainThreadJobs = new Map<string, Promise<AnyJob>>();

  const track = (runId: string, taskId: string, ctx: JobContext): { signal: AbortSignal; done(): void } => {
    const ac = new AbortController();
    const onAbort = () => ac.abort(ctx.signal.reason);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let tasks = running.get(runId);
    if (!tasks) running.set(runId, (tasks = new Map()));
    tasks.set(ac, taskId);
    return {
      signal: ac.signal,
      done() {
        ctx.signal.removeEventListener('abort', onAbort);
        tasks!.delete(ac);
        if (tasks!.size === 0) running.delete(runId);
      },
    };
  };

  const resolveJobPath = async (ref: JobRef, signal: AbortSignal): Promise<string> => {
    if (ref.type === 'code') {
      if (!code.has(ref.hash)) {
        const bundle = await client.call(codeFunction(ref.hash), ref.hash, { signal, priority: 'high' });
        await code.put(ref.hash, bundle);
      }
    }
    return jobModulePath(ref, code);
  };

  const loadJob = async (ref: JobRef, signal: AbortSignal): Promise<AnyJob> => {
    const path = await resolveJobPath(ref, signal);
    let job = mainThreadJobs.get(path);
    if (!job) {
      job = importJobFile(path);
      mainThreadJobs.set(path, job);
      job.catch(() => mainThreadJobs.delete(path));
    }
    return job;
  };

  /** Each shard where and as the node holds it (path, compression); refuses shards it does not hold. */
  const localize = (shards: readonly ShardSpec[]): Promise<ShardSpec[]> =>
    Promise.all(
      shards.map(async (s) => {
        const where = await options.locateShard(s.id);
        if (!where) throw new InvalidArgumentError(`node ${name} does not hold shard ${s.id} (${s.path})`, { field: 'shards.id' });
        return where.path === s.path && where.gzip === s.gzip ? s : { ...s, path: where.path, gzip: where.gzip };
      }),
    );

  const clock = options.clock ?? systemClock;
  /**
   * A running task tells its coordinator where it runs (its first WORK_DATA), then sends its
   * progress, re-sent every TASK_HEARTBEAT_MS while nothing new happens: a task that goes quiet
   * has lost its node (the coordinator then probes it; failure-detector.ts).
   */
  const heartbeat = (ctx: JobContext) => {
    let last: readonly [number, number] = [0, 0];
    const send = () => void ctx.sendStatus(last[0], last[1]).catch(() => {});
    void ctx.sendData(JSON.stringify({ node: name })).catch(() => {});
    const timer = clock.setInterval(send, TASK_HEARTBEAT_MS).unref();
    return {
      progress(done: number, total: number) {
        last = [done, total];
        send();
      },
      stop: () => clock.clearInterval(timer),
    };
  };

  mapWorker.register(mapFunction(name), async (job: WorkerJob, ctx: JobContext) => {
    const parsed = receive(mapTaskSchema, job, 'map task');
    const task: MapTask = { ...parsed, shards: await localize(parsed.shards) };
    const t = track(task.runId, task.taskId, ctx);
    const beat = heartbeat(ctx);
    try {
      if (task.job.type === 'streaming') {
        return JSON.stringify(await executeStreamingMap(task, { node: name, store, client, signal: t.signal, onProgress: beat.progress }));
      }
      const jobPath = await resolveJobPath(task.job, t.signal);
      const result = await pool.runMap(task, jobPath, { signal: t.signal, onProgress: beat.progress });
      return JSON.stringify(result);
    } finally {
      beat.stop();
      t.done();
    }
  });

  const reduceHandler = async (job: WorkerJob, ctx: JobContext) => {
    const task = receive(reduceTaskSchema, job, 'reduce task');
    const t = track(task.runId, task.taskId, ctx);
    const beat = heartbeat(ctx);
    try {
      // receive() admitted the job: a reducer command only runs here with --allow-exec.
      const def = reduceNeedsJob(task) ? await loadJob(task.job, t.signal) : null;
      const result = await executeReduceTask(task, { nodes, store, job: def, signal: t.signal, onProgress: beat.progress });
      return JSON.stringify(result);
    } finally {
      beat.stop();
      t.done();
    }
  };
  reduceWorker.register(reduceFunction(), reduceHandler);
  reduceWorker.register(reduceFunction(name), reduceHandler);

  worker.register(fetchFunction(name), async (job: WorkerJob) => {
    const req = receive(fetchRequestSchema, job, 'fetch request');
    switch (req.op) {
      case 'get':
        return store.read(req.key, req.offset, req.length);
      case 'drop':
        await store.drop(req.runId);
        return '';
      case 'cancel': {
        let n = 0;
        for (const [ac, taskId] of running.get(req.runId) ?? []) {
          if (req.taskId !== undefined && taskId !== req.taskId) continue;
          ac.abort(new AbortError(req.taskId === undefined ? `run ${req.runId} cancelled` : `task ${taskId} of run ${req.runId} cancelled`));
          n++;
        }
        logger.info(`node ${name}: cancelled ${n} task(s) of run ${req.runId}${req.taskId === undefined ? '' : ` (task ${req.taskId})`}`);
        return String(n);
      }
      case 'sample': {
        const def = resolveJob(await loadJob(req.job, AbortSignal.timeout(60_000)), req.params);
        const sampleKeys = kindOf(def).sampleKeys;
        if (!sampleKeys) throw new InvalidArgumentError(`job ${def.name} is not a sorted job`, { field: 'job' });
        const keys = await sampleKeys(def, req.params, await localize(req.shards), req.perShard, req.seed, name);
        return JSON.stringify({ keys: keys.map((k) => k.toString('hex')) } satisfies SampleResult);
      }
      case 'ping':
        return JSON.stringify({ node: name });
      case 'info':
        // A coordinator asks while it plans a run: map tasks follow.
        pool.warm();
        return JSON.stringify({
          node: name,
          slots,
          allowCode: !!options.allowCode,
          allowExec: !!options.allowExec,
          version: GEARTRAIN_VERSION,
          tzOffset: (await options.logZone?.().catch(() => undefined)) ?? null,
        } satisfies NodeInfo);
    }
  });

  await Promise.all([mapWorker.start(), reduceWorker.start()]);

  return {
    store,
    registrations: [
      { clientId: mapWorker.options.clientId ?? '', functions: mapWorker.functions },
      { clientId: reduceWorker.options.clientId ?? '', functions: reduceWorker.functions },
    ],
    async close() {
      await Promise.all([mapWorker.close(), reduceWorker.close()]);
      for (const tasks of running.values()) for (const ac of tasks.keys()) ac.abort(new AbortError('node shutting down'));
      store.stop();
      await pool.close();
    },
  };
}
