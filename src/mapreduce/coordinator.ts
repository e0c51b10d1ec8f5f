/**
 * The coordinator: a Gearman client that runs one map/reduce job over the cluster.
 *
 *   discover nodes (admin status) → catalogues → plan map tasks → map on the nodes that hold
 *   the data → combine per node → reduce tiers of fan-in F on any node → the root fetches the
 *   last partial and finalizes
 *
 * Partials never pass through the coordinator except the final one: map and reduce tasks store
 * their output on their node and return a reference; the next tier fetches it from there. When a
 * node is lost, what it held is recomputed from its lineage (map tasks on a live replica of their
 * shards); when no replica exists, the run fails naming the node and the unread shards, or with
 * `allowPartial` completes and says what it left out.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, type ClientOptions } from '../client/index.ts';
import { AbortError, describeDamage, IncompleteResultError, InvalidArgumentError, NodeUnavailableError, TaskFailedError } from '../errors.ts';
import { ParseStats, type ParseStatsJSON } from '../logs/index.ts';
import type { NodeCatalog } from '../logs/catalog.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { ClusterView, fetchCatalog, fetchNodeInfo } from './discovery.ts';
import { fetchAll, fetchChunks } from './fetch.ts';
import { mergeRunChunks } from './run-cursor.ts';
import { builtinJobPath, importJobFile, sha256Hex } from './job-loader.ts';
import { GEARTRAIN_VERSION } from '../version.ts';
import { decodeState, resolveJob, type AnyJob, type JobDefinition, type RenderedResult, type SortedJob } from './job-definition.ts';
import { planMapTasks, type PlannedTask } from './planner.ts';
import { shipJobFile, type ShippedCode } from './ship-code.ts';
import { StragglerDetector } from './speculation.ts';
import { callTask } from './task-runner.ts';
import {
  fetchFunction,
  mapFunction,
  mapResultSchema,
  reduceFunction,
  reduceResultSchema,
  WIRE_VERSION,
  type FilterSpec,
  type JobRef,
  type MapResult,
  type MapTask,
  type Ref,
  type ReduceTask,
  type ShardSpec,
} from './wire.ts';
import { compileFilter, parseTimeBound } from './filter.ts';

export interface StreamingSpec {
  readonly mapper?: string;
  readonly mapperFunction?: string;
  readonly combiner?: string;
  readonly reducer?: string;
}

export interface RunProgress {
  readonly phase: 'plan' | 'map' | 'reduce' | 'merge' | 'done';
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly tasksDone: number;
  readonly tasksRunning: number;
  readonly tasksTotal: number;
  readonly retries: number;
}

export interface RunJobOptions {
  /** Job servers, `host:port`. */
  readonly servers: readonly string[];
  /** A built-in job name (`grep`) or the path of a job file (`./my-job.ts`). Ignored with `streaming`. */
  readonly job?: string;
  /** The job's parameters, validated by its zod schema. */
  readonly params?: unknown;
  /** Hadoop Streaming style job instead of a job module. */
  readonly streaming?: StreamingSpec;
  /**
   * Time bounds: epoch ms, or an ISO 8601 date or date-time; one without a zone is read in the
   * zone of the logs (as the nodes report it; UTC when they cannot tell).
   */
  readonly since?: number | string;
  readonly until?: number | string;
  readonly where?: string;
  readonly vhost?: string;
  /** Partials merged per reduce task (default 8). */
  readonly fanIn?: number;
  /** Attempts per task after the first (default 3). */
  readonly retries?: number;
  /**
   * Re-issue a straggling map task on another node that holds its shards, and keep whichever
   * copy finishes first (default true; only replicated shards have somewhere to go).
   */
  readonly speculative?: boolean;
  /** A task fails when it reports no progress for this long (default 60 s). */
  readonly taskTimeoutMs?: number;
  /** Wait for this many nodes before planning, at most `waitTimeoutMs` (default 30 s). */
  readonly waitNodes?: number;
  readonly waitTimeoutMs?: number;
  /** While waiting for nodes: those registered so far and the time left, after each poll. */
  readonly onWaitNodes?: (seen: readonly string[], msLeft: number) => void;
  /** Finish with the shards that could be read, and say which were not. */
  readonly allowPartial?: boolean;
  /** Largest byte range of one map task (default 64 MiB). */
  readonly splitBytes?: number;
  /** Reduce partitions of keyed and streaming jobs (default: one per node). */
  readonly partitions?: number;
  /** Map output held in memory before spilling (sorted and keyed jobs). */
  readonly memoryBudget?: number;
  /**
   * Summary jobs over parsed records: keep per-day partials of every shard range in the nodes'
   * caches and reuse them, so a re-run over grown or rotated logs reads only what is new.
   */
  readonly incremental?: boolean;
  /** Shared secret to sign shipped code (default GEARTRAIN_SECRET). */
  readonly secret?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: RunProgress) => void;
  /**
   * Sorted and streaming output, line by line (without newline; the bytes are only valid during
   * the call). Default: collected in `lines`.
   */
  readonly output?: (line: Buffer) => void | Promise<void>;
  /** The same output in large chunks of newline-terminated lines (faster for files and pipes). */
  readonly outputChunk?: (chunk: Buffer) => void | Promise<void>;
  /** Streaming jobs: write part-NNNNN files here instead of calling `output`. */
  readonly outputDir?: string;
  readonly logger?: Logger;
  /** TLS towards the job servers (as `Client`'s `tls` option). */
  readonly tls?: ClientOptions['tls'];
}

export interface TierReport {
  readonly tier: number;
  readonly label: string;
  readonly tasks: number;
  /** Nodes that ran the tier's tasks. */
  readonly nodes: readonly string[];
}

export interface RunReport {
  readonly runId: string;
  readonly job: string;
  readonly kind: JobDefinition['kind'] | 'streaming';
  readonly nodes: readonly string[];
  /** Finalized result of a summary or keyed job. */
  readonly result?: unknown;
  readonly rendered?: RenderedResult;
  /** Output lines of a sorted or streaming job, when no `output` callback was given. */
  readonly lines?: readonly Buffer[];
  readonly outputLines: number;
  readonly counters: Readonly<Record<string, number>>;
  readonly stats: ParseStatsJSON | null;
  readonly tiers: readonly TierReport[];
  /** Partials the coordinator itself fetched (at most the fan-in). */
  readonly partialsAtRoot: number;
  readonly tasks: {
    readonly map: number;
    readonly reduce: number;
    readonly retried: number;
    /** Speculative copies of straggling map tasks started, and how many of them finished first. */
    readonly speculative: number;
    readonly speculativeWon: number;
  };
  readonly timings: { readonly plan: number; readonly map: number; readonly reduce: number; readonly merge: number; readonly total: number };
  readonly bytes: number;
  /** Shards not read, or not to their end, and why (only with allowPartial). */
  readonly missing: readonly { readonly node: string; readonly path: string; readonly reason?: string }[];
  readonly partial: boolean;
  readonly pruned: number;
  readonly shards: number;
}

/** Packs lines into large newline-terminated chunks. */
class LineBatcher {
  readonly #sink: (chunk: Buffer) => Promise<void>;
  #buf = Buffer.allocUnsafe(1024 * 1024);
  #used = 0;
  constructor(sink: (chunk: Buffer) => Promise<void>) {
    this.#sink = sink;
  }
  async add(line: Buffer): Promise<void> {
    const n = line.length + 1;
    if (this.#used + n > this.#buf.length) {
      await this.flush();
      if (n > this.#buf.length) this.#buf = Buffer.allocUnsafe(n);
    }
    line.copy(this.#buf, this.#used);
    this.#buf[this.#used + n - 1] = 10;
    this.#used += n;
  }
  async flush(): Promise<void> {
    if (this.#used === 0) return;
    const chunk = this.#buf.subarray(0, this.#used);
    this.#buf = Buffer.allocUnsafe(this.#buf.length);
    this.#used = 0;
    await this.#sink(chunk);
  }
}

export const DEFAULT_FAN_IN = 8;
export const DEFAULT_RETRIES = 3;
export const DEFAULT_TASK_TIMEOUT_MS = 60_000;
export const DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;
/** How often running map tasks are checked for stragglers. */
const SPECULATION_CHECK_MS = 250;

/** A stored partial and how to compute it again. */
interface Partial {
  ref: Ref;
  readonly producer: MapOutput | ReduceStep;
  /** Output index of a map task (keyed and streaming jobs have one per partition). */
  readonly index: number;
}

interface MapCopyResult {
  readonly node: string;
  readonly data: Buffer;
  readonly ms: number;
}

interface MapOutput {
  readonly kind: 'map';
  task: PlannedTask;
  node: string;
  result: MapResult | null;
}

interface ReduceStep {
  readonly kind: 'reduce';
  readonly taskId: string;
  readonly mode: ReduceTask['mode'];
  /** Node-local reduce (`geartrain.reduce@node`), or any node. */
  readonly node: string | null;
  inputs: Partial[];
}

function validateParams(job: AnyJob, raw: unknown): unknown {
  const parsed = job.params.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || 'params';
    throw new InvalidArgumentError(`${job.name}: invalid parameter '${field}': ${issue.message}`, { field });
  }
  return parsed.data;
}

export async function runJob(options: RunJobOptions): Promise<RunReport> {
  return new Run(options).execute();
}

class Run {
  readonly o: RunJobOptions;
  readonly runId = `r${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  readonly client: Client;
  readonly cluster: ClusterView;
  readonly logger: Logger;
  readonly fanIn: number;
  readonly retries: number;
  readonly timeoutMs: number;
  readonly ac = new AbortController();
  readonly involved = new Set<string>();
  readonly counters: Record<string, number> = Object.create(null);
  readonly stats = new ParseStats();
  hasStats = false;
  readonly tiers: TierReport[] = [];
  readonly missing: { node: string; path: string; reason?: string }[] = [];
  retried = 0;
  speculative = 0;
  speculativeWon = 0;
  reduceTasks = 0;
  reduceSeq = 0;
  jobRef!: JobRef;
  job: AnyJob | null = null;
  def: JobDefinition | null = null;
  params: unknown = undefined;
  shipped: ShippedCode | null = null;
  /** Partial-cache key of an incremental run (null: not incremental). */
  cacheKey: string | null = null;
  filter: FilterSpec = {};
  progress = { phase: 'plan' as RunProgress['phase'], bytesDone: 0, bytesTotal: 0, tasksDone: 0, tasksRunning: 0, tasksTotal: 0 };
  readonly taskBytes = new Map<string, number>();
  #partitions: number | undefined;
  #stragglers = new StragglerDetector(0);
  /** Map tasks not yet started: no copy is made while real work still waits for a slot. */
  #mapQueued = 0;
  /** Range-partitioned sorted jobs: R-1 key boundaries from the sample. */
  rangeBoundaries: Buffer[] = [];

  constructor(options: RunJobOptions) {
    this.o = options;
    if (options.servers.length === 0) throw new InvalidArgumentError('no job servers given', { field: 'servers' });
    this.fanIn = options.fanIn ?? DEFAULT_FAN_IN;
    if (!Number.isInteger(this.fanIn) || this.fanIn < 2) throw new InvalidArgumentError('--fan-in must be an integer of at least 2', { field: 'fanIn' });
    this.retries = options.retries ?? DEFAULT_RETRIES;
    this.timeoutMs = options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    this.logger = options.logger ?? silentLogger;
    this.client = new Client({ servers: [...options.servers], ...(options.tls ? { tls: options.tls } : {}) });
    this.cluster = new ClusterView(options.servers, options.tls);
    if (options.signal) {
      if (options.signal.aborted) this.ac.abort(options.signal.reason);
      else options.signal.addEventListener('abort', () => this.ac.abort(options.signal!.reason), { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  emitProgress(): void {
    this.o.onProgress?.({ ...this.progress, retries: this.retried });
  }

  addCounters(c: Record<string, number>): void {
    for (const [k, v] of Object.entries(c)) this.counters[k] = (this.counters[k] ?? 0) + v;
  }

  async execute(): Promise<RunReport> {
    const t0 = Date.now();
    try {
      await this.loadJob();
      // Bad --since/--until/--where fail here, before any node is involved.
      for (const [field, v] of [['since', this.o.since], ['until', this.o.until]] as const) if (typeof v === 'string') parseTimeBound(v, field);
      compileFilter({ ...(this.o.where !== undefined ? { where: this.o.where } : {}) });
      const { nodes, catalogs, slots, zone } = await this.discover();
      const bound = (v: number | string | undefined, field: 'since' | 'until') => (typeof v === 'string' ? parseTimeBound(v, field, zone) : v);
      const since = bound(this.o.since, 'since');
      const until = bound(this.o.until, 'until');
      this.filter = {
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(this.o.where !== undefined ? { where: this.o.where } : {}),
        ...(this.o.vhost !== undefined ? { vhost: this.o.vhost } : {}),
      };
      const plan = planMapTasks(catalogs, {
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        splitBytes: this.o.splitBytes ?? DEFAULT_SPLIT_BYTES,
        slots,
        fixedSplits: this.cacheKey !== null,
      });
      const tPlan = Date.now();
      this.progress = { ...this.progress, phase: 'map', bytesTotal: plan.bytes, tasksTotal: plan.tasks.length };
      this.emitProgress();
      if (this.def?.kind === 'sorted' && this.def.rangePartitions) await this.sampleRanges(plan.tasks, slots.size);
      const outputs = await this.mapPhase(plan.tasks, slots);
      const tMap = Date.now();
      this.progress = { ...this.progress, phase: 'reduce' };
      this.emitProgress();
      const reportBase = {
        runId: this.runId,
        job: this.o.streaming ? 'streaming' : this.o.job!,
        kind: this.def ? this.def.kind : ('streaming' as const),
        nodes: [...nodes].sort(),
        tiers: this.tiers,
        missing: this.missing,
        partial: this.missing.length > 0,
        pruned: plan.pruned,
        shards: plan.shards,
        bytes: plan.bytes,
        tasks: { map: plan.tasks.length, reduce: 0, retried: 0, speculative: 0, speculativeWon: 0 },
      };
      const final = await this.reducePhase(outputs);
      const tReduce = Date.now();
      this.progress = { ...this.progress, phase: 'merge' };
      this.emitProgress();
      const out = await this.finish(final);
      const tEnd = Date.now();
      this.progress = { ...this.progress, phase: 'done' };
      this.emitProgress();
      return {
        ...reportBase,
        ...out,
        counters: { ...this.counters },
        stats: this.hasStats ? this.stats.toJSON() : null,
        tasks: { map: plan.tasks.length, reduce: this.reduceTasks, retried: this.retried, speculative: this.speculative, speculativeWon: this.speculativeWon },
        timings: { plan: tPlan - t0, map: tMap - tPlan, reduce: tReduce - tMap, merge: tEnd - tReduce, total: tEnd - t0 },
      };
    } catch (err) {
      if (this.signal.aborted) await this.cancelOnNodes();
      if (this.o.signal?.aborted && !(err instanceof AbortError)) throw new AbortError('run cancelled', { cause: err });
      throw err;
    } finally {
      await this.cleanup();
    }
  }

  async loadJob(): Promise<void> {
    if (this.o.streaming) {
      const s = this.o.streaming;
      if (!s.mapper && !s.mapperFunction && !s.reducer) throw new InvalidArgumentError('a streaming job needs --mapper, --mapper-function or --reducer', { field: 'mapper' });
      this.jobRef = { type: 'streaming', ...s };
      return;
    }
    const name = this.o.job;
    if (!name) throw new InvalidArgumentError('no job given', { field: 'job' });
    const isFile = name.includes('/') || /\.(m?[jt]s)$/.test(name);
    if (isFile) {
      this.shipped = await shipJobFile(name, this.o.servers, this.o.secret ?? process.env.GEARTRAIN_SECRET, this.o.tls);
      this.job = this.shipped.job;
      this.jobRef = { type: 'code', hash: this.shipped.hash, signature: this.shipped.signature };
    } else {
      this.job = await importJobFile(builtinJobPath(name));
      this.jobRef = { type: 'builtin', name };
    }
    this.params = validateParams(this.job, this.o.params);
    this.def = resolveJob(this.job, this.params);
    if (this.o.incremental) {
      if (this.def.kind !== 'summary' || !('records' in this.def.input(this.params))) {
        throw new InvalidArgumentError(`--incremental works for summary jobs over parsed records; ${this.def.name} is not one`, { field: 'incremental' });
      }
      // The job's code, parameters and record filters decide what a cached partial means.
      const code = this.jobRef.type === 'builtin' ? sha256Hex(fs.readFileSync(builtinJobPath(this.jobRef.name))) : this.jobRef.type === 'code' ? this.jobRef.hash : '';
      this.cacheKey = sha256Hex(JSON.stringify({ v: GEARTRAIN_VERSION, code, params: this.params, where: this.o.where ?? null, vhost: this.o.vhost ?? null }));
    }
  }

  async discover(): Promise<{ nodes: Set<string>; catalogs: NodeCatalog[]; slots: Map<string, number>; zone: number }> {
    const nodes = this.o.waitNodes
      ? await this.cluster.waitForNodes(this.o.waitNodes, this.o.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS, this.signal, this.o.onWaitNodes)
      : await this.cluster.liveNodes(0, this.signal);
    if (nodes.size === 0) {
      throw new NodeUnavailableError(`no geartrain nodes are registered on ${this.o.servers.join(', ')} (start one with: geartrain node --name NAME --logs GLOB)`, []);
    }
    const catalogs: NodeCatalog[] = [];
    const slots = new Map<string, number>();
    const zones = new Map<string, number>();
    await Promise.all(
      [...nodes].map(async (node) => {
        const [cat, info] = await Promise.all([
          fetchCatalog(this.client, node, this.signal, this.timeoutMs, this.o.since !== undefined || this.o.until !== undefined),
          fetchNodeInfo(this.client, node, this.signal, this.timeoutMs),
        ]);
        catalogs.push(cat);
        slots.set(node, info.slots);
        if (info.tzOffset !== null) zones.set(node, info.tzOffset);
        if (this.jobRef.type === 'code' && !info.allowCode) {
          this.logger.warn(`node ${node} was not started with --allow-code: its tasks will be refused`);
        }
      }),
    );
    catalogs.sort((a, b) => (a.node < b.node ? -1 : 1));
    // The logs' zone: the first node (by name) that knows one.
    const zone = [...zones].sort((a, b) => (a[0] < b[0] ? -1 : 1))[0]?.[1] ?? 0;
    return { nodes, catalogs, slots, zone };
  }

  mapTask(task: PlannedTask, partitions: number | undefined): MapTask {
    return {
      v: WIRE_VERSION,
      kind: 'map',
      runId: this.runId,
      taskId: task.taskId,
      job: this.jobRef,
      params: this.params ?? null,
      shards: [...task.shards],
      filter: this.filter,
      ...(partitions !== undefined ? { partitions } : {}),
      ...(this.o.memoryBudget !== undefined ? { memoryBudget: this.o.memoryBudget } : {}),
      ...(this.cacheKey ? { incremental: { key: this.cacheKey } } : {}),
      ...(this.rangeBoundaries.length > 0 ? { rangeBoundaries: this.rangeBoundaries.map((b) => b.toString('hex')) } : {}),
    };
  }

  /**
   * Sample keys from every node (lines at random offsets of the planned shards) and cut them into
   * R ranges of about equal size (TeraSort's and Spark's RangePartitioner's approach).
   */
  async sampleRanges(tasks: readonly PlannedTask[], nodes: number): Promise<void> {
    const def = this.def as SortedJob;
    const ranges = Math.max(1, this.o.partitions ?? def.rangePartitions!(this.params, nodes));
    if (ranges <= 1) return;
    const byNode = new Map<string, ShardSpec[]>();
    for (const t of tasks) byNode.set(t.node, [...(byNode.get(t.node) ?? []), ...t.shards]);
    const perShard = Math.max(10, Math.ceil((40 * ranges) / Math.max(1, tasks.length)));
    const keys: Buffer[] = [];
    await Promise.all(
      [...byNode].map(async ([node, shards]) => {
        const data = await this.client.call(
          fetchFunction(node),
          JSON.stringify({ op: 'sample', job: this.jobRef, params: this.params ?? null, shards, perShard, seed: 12345 }),
          { priority: 'high', timeoutMs: this.timeoutMs, signal: this.signal },
        );
        for (const k of (JSON.parse(data.toString('utf8')) as { keys: string[] }).keys) keys.push(Buffer.from(k, 'hex'));
      }),
    );
    keys.sort(Buffer.compare);
    const bounds: Buffer[] = [];
    for (let r = 1; r < ranges && keys.length > 0; r++) {
      const b = keys[Math.min(keys.length - 1, Math.floor((r * keys.length) / ranges))]!;
      if (bounds.length === 0 || Buffer.compare(bounds[bounds.length - 1]!, b) < 0) bounds.push(b);
    }
    this.rangeBoundaries = bounds;
  }

  partitionsFor(nodes: number): number | undefined {
    const keyed = this.def?.kind === 'keyed';
    const streaming = this.jobRef.type === 'streaming' && !!this.o.streaming?.reducer;
    if (!keyed && !streaming) return undefined;
    if (this.o.partitions !== undefined) return this.o.partitions;
    if (keyed && this.def!.kind === 'keyed' && this.def!.partitions) return this.def!.partitions(this.params, nodes);
    return Math.max(1, nodes);
  }

  /** Run one map task (with retries, failover and a speculative copy); resolves with its output. */
  async runMap(output: MapOutput, live: () => Promise<Set<string>>): Promise<void> {
    const task = output.task;
    let attempt = 0;
    let lastError: unknown;
    for (;;) {
      this.signal.throwIfAborted();
      const node = output.node;
      this.involved.add(node);
      this.progress.tasksRunning++;
      this.emitProgress();
      try {
        const done = await this.#attemptMap(task, node, attempt, live);
        const result = mapResultSchema.parse(JSON.parse(done.data.toString('utf8')));
        output.result = result;
        output.node = done.node;
        this.#stragglers.finished(task.bytes, done.ms);
        this.progress.tasksRunning--;
        this.progress.tasksDone++;
        this.progress.bytesDone += task.bytes - (this.taskBytes.get(task.taskId) ?? 0);
        this.taskBytes.set(task.taskId, task.bytes);
        this.emitProgress();
        return;
      } catch (err) {
        this.progress.tasksRunning--;
        if (this.signal.aborted) throw err;
        lastError = err;
        attempt++;
        this.retried++;
        const alive = await live();
        if (!alive.has(node)) {
          const alt = task.holders.find((h) => h !== node && alive.has(h));
          if (alt) {
            this.logger.warn(`node ${node} is gone; task ${task.taskId} moves to replica ${alt}`);
            output.node = alt;
            continue;
          }
          throw new NodeUnavailableError(
            `node ${node} is unavailable (${(err as Error).message}); unread shards: ${task.shards.map((s) => `${node}:${s.path}${s.start > 0 || s.end !== null ? `[${s.start}-${s.end ?? 'end'}]` : ''}`).join(', ')}`,
            [node],
            { cause: err },
          );
        }
        if (attempt > this.retries) {
          throw new TaskFailedError(`map task ${task.taskId} on ${node} failed after ${attempt} attempts: ${(lastError as Error).message}`, { cause: lastError });
        }
        this.logger.warn(`map task ${task.taskId} on ${node} failed (${(err as Error).message}); retrying`);
      }
    }
  }

  /** Progress of a task, from whichever of its copies is furthest along. */
  #taskProgress(task: PlannedTask, done: number): void {
    const before = this.taskBytes.get(task.taskId) ?? 0;
    if (done <= before) return;
    this.taskBytes.set(task.taskId, done);
    this.progress.bytesDone += done - before;
    this.emitProgress();
  }

  /** One copy of a map task on `node`; `ms` is how long that copy took. */
  #callMap(task: PlannedTask, node: string, unique: string, signal: AbortSignal): Promise<MapCopyResult> {
    const started = Date.now();
    return callTask(this.client, {
      fn: mapFunction(node),
      payload: JSON.stringify(this.mapTask(task, this.#partitions)),
      unique,
      idleTimeoutMs: this.timeoutMs,
      signal,
      onStatus: (done) => this.#taskProgress(task, done),
    }).then((data) => ({ node, data, ms: Date.now() - started }));
  }

  /**
   * One attempt of a map task on `node`. When the task straggles (StragglerDetector) and no task
   * is waiting for a slot, a copy starts on another live holder of its shards; the first copy to
   * finish wins and the other is cancelled on its node. The attempt fails only when every copy has.
   */
  #attemptMap(task: PlannedTask, node: string, attempt: number, live: () => Promise<Set<string>>): Promise<MapCopyResult> {
    const unique = `${this.runId}:${task.taskId}:${attempt}`;
    const others = this.o.speculative === false ? [] : task.holders.filter((h) => h !== node);
    if (others.length === 0) return this.#callMap(task, node, unique, this.signal);
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const copies = new Map<string, AbortController>();
      let failures = 0;
      let firstError: unknown;
      let settled = false;
      const settle = () => {
        settled = true;
        clearInterval(timer);
      };
      const launch = (on: string, suffix: string) => {
        const ac = new AbortController();
        copies.set(on, ac);
        this.#callMap(task, on, unique + suffix, AbortSignal.any([this.signal, ac.signal]))
          .then(
            (done) => {
              if (settled) return;
              settle();
              if (on !== node) this.speculativeWon++;
              for (const [other, otherAc] of copies) if (other !== on) this.#cancelCopy(other, task, otherAc);
              resolve(done);
            },
            (err: unknown) => {
              if (settled) return;
              firstError ??= err;
              if (++failures === copies.size) {
                settle();
                reject(firstError);
              }
            },
          )
          .finally(() => {
            if (on === node) return;
            this.#stragglers.copyEnded();
            this.progress.tasksRunning--;
          });
      };
      // At most one copy per attempt: the timer stops once it has been tried.
      const check = async () => {
        if (settled || this.#mapQueued > 0 || !this.#stragglers.shouldCopy(task.bytes, Date.now() - started)) return;
        clearInterval(timer);
        const alive = await live().catch(() => new Set<string>());
        const target = others.find((h) => alive.has(h));
        if (!target || settled) {
          this.#stragglers.copyEnded();
          return;
        }
        this.progress.tasksRunning++;
        this.speculative++;
        this.involved.add(target);
        this.logger.info(`map task ${task.taskId} on ${node} is straggling after ${Date.now() - started} ms; a copy starts on ${target}`);
        launch(target, 's');
      };
      const timer = setInterval(() => void check(), SPECULATION_CHECK_MS);
      launch(node, '');
    });
  }

  /** Stop the losing copy of a task: stop waiting for it, and abort it on its node. */
  #cancelCopy(node: string, task: PlannedTask, ac: AbortController): void {
    ac.abort(new AbortError(`another copy of map task ${task.taskId} finished first`));
    this.client
      .call(fetchFunction(node), JSON.stringify({ op: 'cancel', runId: this.runId, taskId: task.taskId }), { priority: 'high', timeoutMs: 2000 })
      .catch(() => {});
  }

  async mapPhase(tasks: readonly PlannedTask[], slots: Map<string, number>): Promise<MapOutput[]> {
    const nodes = new Set(tasks.map((t) => t.node));
    this.#partitions = this.partitionsFor(slots.size);
    const outputs: MapOutput[] = tasks.map((task) => ({ kind: 'map', task, node: task.node, result: null }));
    this.#stragglers = new StragglerDetector(tasks.length);
    this.#mapQueued = tasks.length;
    let liveCache: Promise<Set<string>> | null = null;
    const live = () => (liveCache ??= this.cluster.liveNodes(0, this.signal).finally(() => setTimeout(() => (liveCache = null), 200)));
    // Per node, at most its slot count in flight: a queued task would otherwise age towards its
    // timeout while it waits behind its siblings.
    const queues = new Map<string, MapOutput[]>();
    for (const out of outputs) {
      const q = queues.get(out.node) ?? [];
      q.push(out);
      queues.set(out.node, q);
    }
    const failures: { output: MapOutput; error: unknown }[] = [];
    let fatal: unknown = null;
    await Promise.all(
      [...nodes].map(async (node) => {
        const q = queues.get(node) ?? [];
        const width = Math.max(1, slots.get(node) ?? 1);
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(width, q.length) }, async () => {
            while (next < q.length) {
              const out = q[next++]!;
              this.#mapQueued--;
              try {
                await this.runMap(out, live);
              } catch (err) {
                if (this.signal.aborted) return;
                if (!this.o.allowPartial) {
                  // Stop the other tasks: the run has failed.
                  fatal = err;
                  this.ac.abort(err);
                  return;
                }
                failures.push({ output: out, error: err });
              }
            }
          }),
        );
      }),
    );
    if (fatal) throw fatal;
    this.signal.throwIfAborted();
    for (const f of failures) {
      for (const s of f.output.task.shards) this.missing.push({ node: f.output.node, path: s.path });
    }
    const done = outputs.filter((o) => o.result !== null);
    // A gzip file cut short was mapped as far as it could be read: the result lacks the rest.
    for (const o of done) for (const d of o.result!.damaged ?? []) this.missing.push({ node: o.node, path: d.path, reason: describeDamage(d) });
    if (!this.o.allowPartial && this.missing.length > 0) {
      const list = this.missing.map((m) => `${m.node}:${m.path} (${m.reason})`).join(', ');
      throw new IncompleteResultError(`${this.missing.length} file(s) could not be read to their end: ${list}; allow a partial result (--allow-partial) to get what was read`, this.missing);
    }
    for (const o of done) {
      this.addCounters(o.result!.counters);
      if (o.result!.stats) {
        this.stats.merge(ParseStats.fromJSON(o.result!.stats));
        this.hasStats = true;
      }
    }
    return done;
  }

  // ------------------------------------------------------------------ reduce

  async reducePhase(outputs: MapOutput[]): Promise<Partial[]> {
    const kind = this.def ? this.def.kind : 'streaming';
    if (kind === 'sorted' && this.rangeBoundaries.length > 0) {
      // Range-partitioned: reducer r merges range r from every map task; parts concatenate in order.
      return this.runTier(
        'range merge',
        Array.from({ length: this.rangeBoundaries.length + 1 }, (_, r) => ({
          mode: 'sorted' as const,
          node: null,
          inputs: outputs.map((o) => ({ ref: o.result!.refs[r]!, producer: o, index: r })),
        })),
      );
    }
    if (kind === 'summary' || kind === 'sorted') {
      const mode = kind === 'summary' ? 'summary' : 'sorted';
      let partials: Partial[] = outputs.map((o) => ({ ref: o.result!.refs[0]!, producer: o, index: 0 }));
      partials = await this.combinePerNode(partials, mode);
      return [await this.tree(partials, mode)];
    }
    const partitions = this.#partitions ?? 1;
    if (kind === 'keyed') {
      const grouped = await this.runTier(
        'group by key',
        Array.from({ length: partitions }, (_, p) => ({
          mode: 'group' as const,
          node: null,
          inputs: outputs.map((o) => ({ ref: o.result!.refs[p]!, producer: o, index: p })),
        })),
      );
      return [await this.tree(grouped, 'summary')];
    }
    // streaming
    if (!this.o.streaming?.reducer) return outputs.map((o) => ({ ref: o.result!.refs[0]!, producer: o, index: 0 }));
    return this.runTier(
      'streaming reduce',
      Array.from({ length: partitions }, (_, p) => ({
        mode: 'streaming' as const,
        node: null,
        inputs: outputs.map((o) => ({ ref: o.result!.refs[p]!, producer: o, index: p })),
      })),
    );
  }

  /** One reduce per node over that node's own partials (its combiner): fetches stay local. */
  async combinePerNode(partials: Partial[], mode: 'summary' | 'sorted'): Promise<Partial[]> {
    const byNode = new Map<string, Partial[]>();
    for (const p of partials) {
      const list = byNode.get(p.ref.node) ?? [];
      list.push(p);
      byNode.set(p.ref.node, list);
    }
    const steps = [...byNode].filter(([, list]) => list.length > 1);
    const single = [...byNode].filter(([, list]) => list.length === 1).map(([, list]) => list[0]!);
    if (steps.length === 0) return partials;
    const combined = await this.runTier(
      'node combine',
      steps.map(([node, inputs]) => ({ mode, node, inputs })),
    );
    return [...combined, ...single];
  }

  /** Reduce tiers of fan-in F until one partial is left. */
  async tree(partials: Partial[], mode: 'summary' | 'sorted'): Promise<Partial> {
    if (partials.length === 0) throw new TaskFailedError('no partial results to merge (no shard was read)');
    let level = partials;
    while (level.length > 1) {
      const groups: Partial[][] = [];
      for (let i = 0; i < level.length; i += this.fanIn) groups.push(level.slice(i, i + this.fanIn));
      // A group of one passes through unchanged.
      const work = groups.filter((g) => g.length > 1);
      const merged = await this.runTier(`merge (fan-in ${this.fanIn})`, work.map((inputs) => ({ mode, node: null, inputs })));
      level = [...merged, ...groups.filter((g) => g.length === 1).map((g) => g[0]!)];
    }
    return level[0]!;
  }

  async runTier(label: string, steps: { mode: ReduceTask['mode']; node: string | null; inputs: Partial[] }[]): Promise<Partial[]> {
    const tier = this.tiers.length + 1;
    const results = await Promise.all(
      steps.map((s) => {
        const step: ReduceStep = { kind: 'reduce', taskId: `t${tier}r${this.reduceSeq++}`, mode: s.mode, node: s.node, inputs: s.inputs };
        return this.runReduce(step);
      }),
    );
    this.tiers.push({ tier, label, tasks: steps.length, nodes: [...new Set(results.map((p) => p.ref.node))].sort() });
    return results;
  }

  async runReduce(step: ReduceStep): Promise<Partial> {
    let attempt = 0;
    for (;;) {
      this.signal.throwIfAborted();
      await this.ensureInputs(step);
      const task: ReduceTask = {
        v: WIRE_VERSION,
        kind: 'reduce',
        runId: this.runId,
        taskId: `${step.taskId}a${attempt}`,
        job: this.jobRef,
        params: this.params ?? null,
        mode: step.mode,
        inputs: step.inputs.map((p) => p.ref),
      };
      this.reduceTasks++;
      try {
        const data = await callTask(this.client, {
          fn: reduceFunction(step.node ?? undefined),
          payload: JSON.stringify(task),
          unique: `${this.runId}:${task.taskId}`,
          idleTimeoutMs: this.timeoutMs,
          signal: this.signal,
        });
        const result = reduceResultSchema.parse(JSON.parse(data.toString('utf8')));
        this.involved.add(result.ref.node);
        if (step.mode !== 'summary' && step.mode !== 'sorted') this.addCounters(result.counters);
        return { ref: result.ref, producer: step, index: 0 };
      } catch (err) {
        if (this.signal.aborted) throw err;
        attempt++;
        this.retried++;
        if (attempt > this.retries) throw new TaskFailedError(`reduce task ${step.taskId} failed after ${attempt} attempts: ${(err as Error).message}`, { cause: err });
        this.logger.warn(`reduce task ${step.taskId} failed (${(err as Error).message}); retrying`);
        if (step.node) {
          const alive = await this.cluster.liveNodes(0, this.signal);
          // A node-local combine whose node is gone runs anywhere once its inputs are recomputed.
          if (!alive.has(step.node)) (step as { node: string | null }).node = null;
        }
      }
    }
  }

  /** Recompute inputs whose node left, from their lineage. */
  async ensureInputs(step: ReduceStep): Promise<void> {
    const alive = await this.cluster.liveNodes(0, this.signal);
    for (let i = 0; i < step.inputs.length; i++) {
      const p = step.inputs[i]!;
      if (alive.has(p.ref.node)) continue;
      step.inputs[i] = await this.recompute(p, alive);
    }
  }

  async recompute(p: Partial, alive: Set<string>): Promise<Partial> {
    const producer = p.producer;
    if (producer.kind === 'map') {
      const holder = producer.task.holders.find((h) => alive.has(h));
      if (!holder) {
        throw new NodeUnavailableError(
          `node ${p.ref.node} is unavailable and holds the only copy of: ${producer.task.shards.map((s) => `${p.ref.node}:${s.path}`).join(', ')}`,
          [p.ref.node],
        );
      }
      this.logger.warn(`recomputing map task ${producer.task.taskId} on ${holder} (node ${p.ref.node} left)`);
      producer.node = holder;
      await this.runMap(producer, () => this.cluster.liveNodes(0, this.signal));
      return { ref: producer.result!.refs[p.index]!, producer, index: p.index };
    }
    return this.runReduce(producer);
  }

  // ------------------------------------------------------------------ finish

  async finish(final: Partial[]): Promise<{ result?: unknown; rendered?: RenderedResult; lines?: Buffer[]; outputLines: number; partialsAtRoot: number }> {
    const src = { client: this.client, signal: this.signal };
    const runInfo = { runId: this.runId, nodes: [...this.involved].sort(), counters: this.counters, startedAt: Date.now() };
    if (this.def && (this.def.kind === 'summary' || this.def.kind === 'keyed')) {
      const data = await fetchAll(final[0]!.ref, src);
      const state = decodeState(this.def, data, this.params);
      const result = this.def.finalize(state, this.params, runInfo);
      const rendered = this.def.render?.(result, this.params);
      return { result, ...(rendered ? { rendered } : {}), outputLines: 0, partialsAtRoot: 1 };
    }
    const lines: Buffer[] = [];
    let count = 0;
    const out = new LineBatcher(async (chunk) => {
      if (this.o.outputChunk) await this.o.outputChunk(chunk);
    });
    const emit = async (line: Buffer) => {
      count++;
      if (this.o.output) await this.o.output(line);
      else if (this.o.outputChunk) await out.add(line);
      else lines.push(Buffer.from(line));
    };
    const collected = !this.o.output && !this.o.outputChunk;
    if (this.def && this.def.kind === 'sorted') {
      const job = this.def as SortedJob;
      // One run, or one per key range: ranges are in key order, so reading them in turn is sorted.
      for (const part of final) {
        await mergeRunChunks([fetchChunks(part.ref, src)], async (buf, _start, keyStart, keyEnd, end) => {
          const value = buf.subarray(keyEnd, end);
          await emit(job.formatValue ? job.formatValue(buf.subarray(keyStart, keyEnd), value, this.params) : value);
        });
      }
      await out.flush();
      return { ...(collected ? { lines } : {}), outputLines: count, partialsAtRoot: final.length };
    }
    // Streaming: parts in order, each to its own part-NNNNN file or to the output.
    if (this.o.outputDir) fs.mkdirSync(this.o.outputDir, { recursive: true });
    for (let i = 0; i < final.length; i++) {
      const file = this.o.outputDir ? fs.createWriteStream(path.join(this.o.outputDir, `part-${String(i).padStart(5, '0')}`)) : null;
      const part = file
        ? new LineBatcher(async (chunk) => {
            if (!file.write(chunk)) await new Promise<void>((res) => file.once('drain', () => res()));
          })
        : null;
      await mergeRunChunks([fetchChunks(final[i]!.ref, src)], async (buf, _start, _keyStart, keyEnd, end) => {
        if (part) {
          count++;
          await part.add(buf.subarray(keyEnd, end));
        } else await emit(buf.subarray(keyEnd, end));
      });
      if (part && file) {
        await part.flush();
        await new Promise<void>((res, rej) => file.end((err?: Error | null) => (err ? rej(err) : res())));
      }
    }
    await out.flush();
    return { ...(collected && !this.o.outputDir ? { lines } : {}), outputLines: count, partialsAtRoot: final.length };
  }

  async cancelOnNodes(): Promise<void> {
    await Promise.all(
      [...this.involved].map((node) =>
        this.client.call(fetchFunction(node), JSON.stringify({ op: 'cancel', runId: this.runId }), { priority: 'high', timeoutMs: 2000 }).catch(() => {}),
      ),
    );
  }

  async cleanup(): Promise<void> {
    const drops = [...this.involved].map((node) =>
      this.client.call(fetchFunction(node), JSON.stringify({ op: 'drop', runId: this.runId }), { priority: 'high', timeoutMs: 3000 }).catch(() => {}),
    );
    await Promise.all(drops);
    await this.shipped?.close().catch(() => {});
    this.cluster.close();
    await this.client.close().catch(() => {});
  }
}
