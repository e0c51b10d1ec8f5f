/**
 * The coordinator: a Gearman client that runs one map/reduce job over the cluster.
 *
 *   prepare the job (prepare-job.ts) → discover nodes, catalogues and slots, plan map tasks
 *   (run-plan.ts) → map on the nodes that hold the data (map-scheduler.ts) → combine per node and
 *   reduce in tiers of fan-in F on any node (reduce-tree.ts) → the root fetches the last partials
 *   and makes the output (output-sink.ts) → drop what the run stored on the nodes (run-tasks.ts)
 *
 * What differs between summary, sorted, keyed and streaming jobs is decided by the job's kind
 * (kinds/). Partials never pass through the coordinator except the last ones. A run expects the
 * nodes named, or remembered on this machine, or listed by the servers (membership.ts); one that
 * does not take part, or is found gone mid-run (failure-detector.ts: seconds, not a task timeout),
 * costs its shards unless a live replica holds them: what it held is recomputed from its lineage
 * there; when no replica exists, the run fails naming the node and its shards (IncompleteResultError,
 * NodeUnavailableError), or with `allowPartial` completes and says what it left out.
 */
import { randomBytes } from 'node:crypto';
import { Client, type ClientOptions } from '../client/index.ts';
import { AbortError, IncompleteResultError, InvalidArgumentError, JobExceptionError, NodeUnavailableError, TaskRefusedError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { ParseStats, type ParseStatsJSON } from '../logs/parse-stats.ts';
import { ClusterView } from './discovery.ts';
import { formatTime, missingNodesMessage, missingShardsOf, type ExpectedBecause, type MissingNode, type MissingShard } from './expected-nodes.ts';
import type { DetectorPolicy } from './failure-detector.ts';
import type { RenderedResult } from './job-definition.ts';
import type { KindName } from './kinds/job-kind.ts';
import { MapScheduler, type MapOutput } from './map-scheduler.ts';
import type { MemberStore } from './member-store.ts';
import { ClusterMembership } from './membership.ts';
import { NodeClient } from './node-client.ts';
import { OutputSink } from './output-sink.ts';
import { loadJob, prepareJob, prepareStreamingJob, type PreparedJob, type StreamingSpec } from './prepare-job.ts';
import { ReduceTree, type TierReport } from './reduce-tree.ts';
import { runKindOf } from './run-kind.ts';
import { checkFilterOptions, planRun } from './run-plan.ts';
import { ProgressTracker, type RunProgress } from './run-progress.ts';
import { RunTasks } from './run-tasks.ts';
import { serveJobCode, type ShippedCode } from './ship-code.ts';
import { isSignatureRefusal, sealerFor } from './task-auth.ts';
import type { JobRef } from './wire.ts';

export type { StreamingSpec } from './prepare-job.ts';
export type { RunProgress } from './run-progress.ts';
export type { TierReport } from './reduce-tree.ts';

export const DEFAULT_FAN_IN = 8;
export const DEFAULT_RETRIES = 3;
export const DEFAULT_TASK_TIMEOUT_MS = 60_000;
export const DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_WAIT_TIMEOUT_MS = 30_000;

export interface RunJobOptions {
  /** Job servers, `host:port`. */
  readonly servers: readonly string[];
  /**
   * A built-in job name (`grep`) or the path of a job file (`./my-job.ts`), or a job already
   * prepared (prepare-job.ts; `params` is then ignored). Ignored with `streaming`.
   */
  readonly job?: string | PreparedJob;
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
  /**
   * The nodes that must take part (`--nodes`): exactly these are expected, instead of those
   * remembered in `members` and listed by the job servers.
   */
  readonly expectNodes?: readonly string[];
  /**
   * Where the nodes seen are remembered between runs, with their shards (the CLI: a file per set
   * of job servers, member-store.ts). Without it a run expects the nodes the servers list.
   */
  readonly members?: MemberStore;
  /** How quickly a node that goes away is noticed (failure-detector.ts; tests shorten it). */
  readonly detector?: Partial<DetectorPolicy>;
  /**
   * Nodes running in this process (`geartrain analyze FILE`'s embedded node): never found gone for
   * silence, since their heartbeats share this event loop (failure-detector.ts).
   */
  readonly inProcessNodes?: readonly string[];
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
  /**
   * The cluster secret (default GEARTRAIN_SECRET): signs shipped code, and every task and request
   * sent to the nodes (nodes that have it take nothing unsigned).
   */
  readonly secret?: string;
  /** How long a signed task stays valid after it is sent (default 15 minutes; retries sign anew). */
  readonly taskTtlMs?: number;
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

export interface RunReport {
  readonly runId: string;
  readonly job: string;
  readonly kind: KindName;
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
  readonly missing: readonly MissingShard[];
  /** Expected nodes that did not take part, or went away mid-run with data the result lacks. */
  readonly missingNodes: readonly MissingNodeReport[];
  readonly partial: boolean;
  readonly pruned: number;
  readonly shards: number;
}

/** A node the result lacks, in the report. */
export interface MissingNodeReport {
  readonly node: string;
  /** Why it was expected: named (`--nodes`), remembered on this machine, or listed by a server; `running` when it went away mid-run. */
  readonly expected: ExpectedBecause | 'running';
  readonly reason: string;
  /** When this machine last saw it live (ISO 8601), if it remembers it. */
  readonly lastSeen: string | null;
}

export async function runJob(options: RunJobOptions): Promise<RunReport> {
  return new Run(options).execute();
}

/** One run: the parts above, wired together, and what the report needs from each. */
class Run {
  readonly #o: RunJobOptions;
  readonly #runId = `r${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
  readonly #client: Client;
  readonly #nodes: NodeClient;
  readonly #view: ClusterView;
  readonly #membership: ClusterMembership;
  readonly #logger: Logger;
  readonly #secret: string | undefined;
  readonly #fanIn: number;
  readonly #retries: number;
  readonly #timeoutMs: number;
  readonly #ac = new AbortController();
  readonly #progress: ProgressTracker;
  readonly #counters: Record<string, number> = Object.create(null);
  readonly #stats = new ParseStats();
  #hasStats = false;
  #shipped: ShippedCode | null = null;
  #tasks: RunTasks | null = null;

  constructor(options: RunJobOptions) {
    this.#o = options;
    if (options.servers.length === 0) throw new InvalidArgumentError('no job servers given', { field: 'servers' });
    this.#fanIn = options.fanIn ?? DEFAULT_FAN_IN;
    if (!Number.isInteger(this.#fanIn) || this.#fanIn < 2) throw new InvalidArgumentError('--fan-in must be an integer of at least 2', { field: 'fanIn' });
    this.#retries = options.retries ?? DEFAULT_RETRIES;
    this.#timeoutMs = options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS;
    this.#logger = options.logger ?? silentLogger;
    this.#progress = new ProgressTracker(options.onProgress);
    this.#client = new Client({ servers: [...options.servers], ...(options.tls ? { tls: options.tls } : {}) });
    this.#secret = options.secret ?? (process.env.GEARTRAIN_SECRET || undefined);
    this.#nodes = new NodeClient(this.#client, sealerFor(this.#secret, options.taskTtlMs !== undefined ? { ttlMs: options.taskTtlMs } : {}));
    this.#view = new ClusterView(options.servers, options.tls);
    this.#membership = new ClusterMembership(this.#view, {
      signal: this.#ac.signal,
      probe: (node, timeoutMs, signal) => this.#nodes.ping(node, { timeoutMs, signal: AbortSignal.any([signal, this.#ac.signal]) }),
      ...(options.members ? { store: options.members } : {}),
      ...(options.expectNodes ? { named: options.expectNodes } : {}),
      ...(this.#secret ? { secret: this.#secret } : {}),
      ...(options.detector ? { policy: options.detector } : {}),
      ...(options.inProcessNodes ? { inProcess: options.inProcessNodes } : {}),
      logger: this.#logger,
    });
    const outer = options.signal;
    if (outer) {
      if (outer.aborted) this.#ac.abort(outer.reason);
      else outer.addEventListener('abort', () => this.#ac.abort(outer.reason), { once: true });
    }
  }

  get #signal(): AbortSignal {
    return this.#ac.signal;
  }

  async execute(): Promise<RunReport> {
    const o = this.#o;
    const t0 = Date.now();
    try {
      const { job, ref, incremental } = await this.#prepare();
      // Bad --since/--until/--where fail here, before any node is involved.
      checkFilterOptions(o);
      const { nodes, slots, filter, plan, missing: absent } = await planRun({
        servers: o.servers,
        ...pick(o, ['waitNodes', 'onWaitNodes', 'since', 'until', 'where', 'vhost']),
        waitTimeoutMs: o.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS,
        membership: this.#membership,
        nodes: this.#nodes,
        timeoutMs: this.#timeoutMs,
        splitBytes: o.splitBytes ?? DEFAULT_SPLIT_BYTES,
        fixedSplits: incremental,
        shipsCode: ref.type === 'code',
        signal: this.#signal,
        logger: this.#logger,
      });
      if (absent.length > 0 && !o.allowPartial) throw new IncompleteResultError(missingNodesMessage(absent), missingShardsOf(absent));
      const tPlan = Date.now();
      this.#progress.phase('map', { bytes: plan.bytes, tasks: plan.tasks.length });
      const params = job.type === 'module' ? job.params : null;
      const kind = runKindOf(job);
      const shape = await kind.shape({
        partitions: o.partitions,
        nodes: slots.size,
        tasks: plan.tasks,
        sampleKeys: (node, shards, perShard) => this.#nodes.sample(node, { job: ref, params, shards: [...shards], perShard, seed: 12345 }, { timeoutMs: this.#timeoutMs, signal: this.#signal }),
      });
      const tasks = (this.#tasks = new RunTasks(
        this.#nodes,
        {
        runId: this.#runId,
        job: ref,
        params,
        filter,
        idleTimeoutMs: this.#timeoutMs,
        ...shape,
        ...(o.memoryBudget !== undefined ? { memoryBudget: o.memoryBudget } : {}),
          ...(incremental ? { incremental: true } : {}),
        },
        this.#membership,
      ));
      const scheduler = new MapScheduler({
        transport: tasks,
        membership: this.#membership,
        slots,
        signal: this.#signal,
        retries: this.#retries,
        speculative: o.speculative !== false,
        allowPartial: o.allowPartial ?? false,
        logger: this.#logger,
        progress: this.#progress,
      });
      const mapped = await scheduler.run(plan.tasks).catch((err: unknown) => {
        // The run has failed: its tasks still running on the nodes are cancelled below.
        this.#ac.abort(err);
        throw err;
      });
      this.#addMapTotals(mapped.outputs);
      const tMap = Date.now();
      this.#progress.phase('reduce');
      const tree = new ReduceTree({
        transport: tasks,
        membership: this.#membership,
        rerunMap: (output, holder) => scheduler.rerun(output, holder),
        fanIn: this.#fanIn,
        retries: this.#retries,
        signal: this.#signal,
        allowPartial: o.allowPartial ?? false,
        onCounters: (c) => this.#addCounters(c),
        logger: this.#logger,
        progress: this.#progress,
      });
      const final = await kind.reduce(tree, mapped.outputs, shape);
      const tReduce = Date.now();
      this.#progress.phase('merge');
      // The last partials are read from their nodes: one of those gone ends the run (exit 3).
      for (const node of new Set(final.map((p) => p.ref.node))) {
        const lost = this.#membership.lost(node);
        const stop = () => this.#ac.abort(lost.reason);
        if (lost.aborted) stop();
        else lost.addEventListener('abort', stop, { once: true });
      }
      const sink = new OutputSink(o, this.#nodes, this.#signal);
      const out = await kind.finish(sink, final, { runId: this.#runId, nodes: tasks.involved, counters: this.#counters, startedAt: Date.now() });
      const tEnd = Date.now();
      this.#progress.phase('done');
      const missing = [...missingShardsOf(absent), ...mapped.missing, ...tree.missing];
      return {
        runId: this.#runId,
        job: job.name,
        kind: kind.name,
        nodes: [...nodes].sort(),
        tiers: tree.tiers,
        missing,
        missingNodes: this.#missingNodes(absent, missing),
        partial: missing.length > 0,
        pruned: plan.pruned,
        shards: plan.shards,
        bytes: plan.bytes,
        ...out,
        counters: { ...this.#counters },
        stats: this.#hasStats ? this.#stats.toJSON() : null,
        tasks: {
          map: plan.tasks.length,
          reduce: tree.tasks,
          retried: this.#progress.retries,
          speculative: scheduler.speculative.started,
          speculativeWon: scheduler.speculative.won,
        },
        timings: { plan: tPlan - t0, map: tMap - tPlan, reduce: tReduce - tMap, merge: tEnd - tReduce, total: tEnd - t0 },
      };
    } catch (err) {
      if (o.signal?.aborted && !(err instanceof AbortError)) throw new AbortError('run cancelled', { cause: err });
      const reason: unknown = this.#signal.reason;
      if (this.#signal.aborted && reason instanceof NodeUnavailableError) throw reason;
      throw this.#explainRefusal(err);
    } finally {
      // Tasks of the run still running somewhere (attempts given up on, readers of a gone node).
      await this.#tasks?.cancelAll();
      this.#membership.stop();
      await this.#tasks?.dropAll();
      await this.#shipped?.close().catch(() => {});
      this.#view.close();
      await this.#client.close().catch(() => {});
    }
  }

  /** The job, prepared once; shipped code is served while the run lasts. */
  async #prepare(): Promise<{ job: PreparedJob; ref: JobRef; incremental: boolean }> {
    const o = this.#o;
    let job: PreparedJob;
    if (o.streaming) job = prepareStreamingJob(o.streaming);
    else if (o.job === undefined || o.job === '') throw new InvalidArgumentError('no job given', { field: 'job' });
    else job = typeof o.job === 'string' ? prepareJob(await loadJob(o.job), o.params) : o.job;
    if (job.type === 'streaming') return { job, ref: { type: 'streaming', ...job.spec }, incremental: false };
    // Each node keys its cache by the code it loaded, the parameters and the record filters.
    const incremental = o.incremental === true;
    if (incremental && !runKindOf(job).incremental()) {
      throw new InvalidArgumentError(`--incremental works for summary jobs over parsed records; ${job.def.name} is not one`, { field: 'incremental' });
    }
    if (job.source.type === 'builtin') return { job, ref: { type: 'builtin', name: job.source.name }, incremental };
    const { code, hash } = job.source;
    this.#shipped = await serveJobCode(code, hash, o.servers, this.#secret, o.tls);
    return { job, ref: { type: 'code', hash, signature: this.#shipped.signature }, incremental };
  }

  /** The nodes absent from the start, and those that went away mid-run with shards the result lacks. */
  #missingNodes(absent: readonly MissingNode[], missing: readonly MissingShard[]): MissingNodeReport[] {
    const out: MissingNodeReport[] = absent.map((m) => ({ node: m.node, expected: m.because, reason: m.why, lastSeen: m.lastSeen !== null ? formatTime(m.lastSeen) : null }));
    for (const [node, reason] of this.#membership.gone) {
      if (out.some((m) => m.node === node) || !missing.some((m) => m.node === node)) continue;
      out.push({ node, expected: 'running', reason, lastSeen: null });
    }
    return out.sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  /** A node's refusal of an unsigned or badly signed task, with what to do about it. */
  #explainRefusal(err: unknown): unknown {
    const refusal = [err, (err as { cause?: unknown })?.cause].find((e) => e instanceof JobExceptionError && isSignatureRefusal(e.payload.toString('utf8')));
    if (!refusal) return err;
    const text = (refusal as JobExceptionError).payload.toString('utf8');
    const hint = this.#secret ? ' (the nodes were started with another GEARTRAIN_SECRET?)' : ": set GEARTRAIN_SECRET to the nodes' secret where you run geartrain";
    return new TaskRefusedError(`${text}${hint}`, { cause: err });
  }

  #addCounters(c: Readonly<Record<string, number>>): void {
    for (const [k, v] of Object.entries(c)) this.#counters[k] = (this.#counters[k] ?? 0) + v;
  }

  /** Counters and bad-line statistics of the map tasks that finished. */
  #addMapTotals(outputs: readonly MapOutput[]): void {
    for (const { result } of outputs) {
      this.#addCounters(result.counters);
      if (result.stats) {
        this.#stats.merge(ParseStats.fromJSON(result.stats));
        this.#hasStats = true;
      }
    }
  }
}

/** The options among `keys` that are set. */
function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
