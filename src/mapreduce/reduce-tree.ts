/**
 * The reduce side of a run: reduce tasks in tiers, each merging partials that stay on the nodes.
 * A node first combines its own map outputs (`geartrain.reduce@<node>`, local reads); then tiers of
 * fan-in F merge on any node until one partial is left (or F, for the root to merge). Before a
 * task runs, inputs whose node has left are computed again from their lineage: map tasks on a
 * live replica of their shards, reduce tasks from their (recomputed) inputs; without a replica
 * the run fails naming the node, or, with `allowPartial`, goes on without that input and reports
 * its shards missing.
 *
 * Its ports: a `ReduceTransport` that runs one reduce task, the run's `Membership`, and how to run
 * a map task again (the map scheduler), so the tree is tested without a cluster.
 */
import { IncompleteResultError, NodeUnavailableError, TaskFailedError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';
import { reduceStepId } from '../wire-names.ts';
import type { MissingShard } from './expected-nodes.ts';
import { groupBy } from './group-by.ts';
import type { MapOutput } from './map-scheduler.ts';
import type { Membership } from './membership.ts';
import { ProgressTracker } from './run-progress.ts';
import type { ReduceResult, ReduceTask, Ref } from './wire.ts';

export type ReduceMode = ReduceTask['mode'];

/** A reduce step as the tree plans it; attempts get task ids `<id>a<attempt>`. */
export interface ReduceStep {
  readonly id: string;
  readonly mode: ReduceMode;
  /** The node it must run on (a node combine), or null for any node. */
  readonly node: string | null;
  readonly inputs: readonly Ref[];
}

export interface ReduceTransport {
  runReduce(step: ReduceStep, attempt: number, signal: AbortSignal): Promise<ReduceResult>;
}

/** A stored partial and how to compute it again. */
export interface StoredPartial {
  readonly ref: Ref;
  /** Output index of the producing task (keyed and streaming map tasks have one per partition). */
  readonly index: number;
  readonly producer: { readonly map: MapOutput } | { readonly reduce: PlannedStep };
}

/** One reduce step of a tier, as a kind plans it. */
export interface TierStep {
  readonly mode: ReduceMode;
  /** Run on this node (its own partials), or null for any node. */
  readonly node: string | null;
  readonly inputs: readonly StoredPartial[];
}

export interface TierReport {
  readonly tier: number;
  readonly label: string;
  readonly tasks: number;
  /** Nodes that ran the tier's tasks. */
  readonly nodes: readonly string[];
}

export interface ReduceTreeOptions {
  readonly transport: ReduceTransport;
  readonly membership: Membership;
  /** Run a map task again on `holder`; resolves with its new output. */
  readonly rerunMap: (output: MapOutput, holder: string) => Promise<MapOutput>;
  readonly fanIn: number;
  /** Attempts per task after the first. */
  readonly retries: number;
  readonly signal: AbortSignal;
  /** Go on without a partial whose node is gone and whose shards have no live replica. */
  readonly allowPartial?: boolean;
  /** Counters of the tiers asked to keep them (`keepCounters`), as their tasks finish. */
  readonly onCounters?: (counters: Readonly<Record<string, number>>) => void;
  readonly logger?: Logger;
  readonly progress?: ProgressTracker;
}

/** A step with its lineage; the tree alone changes it (node freed, inputs recomputed). */
class PlannedStep {
  constructor(
    readonly id: string,
    readonly mode: ReduceMode,
    public node: string | null,
    public inputs: StoredPartial[],
    readonly keepCounters: boolean,
  ) {}
}

export class ReduceTree {
  readonly #o: ReduceTreeOptions;
  readonly #logger: Logger;
  readonly #progress: ProgressTracker;
  readonly #tiers: TierReport[] = [];
  readonly #missing: MissingShard[] = [];
  #seq = 0;
  #tasks = 0;
  #retried = 0;

  constructor(options: ReduceTreeOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#progress = options.progress ?? new ProgressTracker();
  }

  /** The tiers run so far, in order. */
  get tiers(): readonly TierReport[] {
    return this.#tiers;
  }

  /** With `allowPartial`: the shards of the partials left out (their node gone, no replica). */
  get missing(): readonly MissingShard[] {
    return this.#missing;
  }

  /** Reduce tasks started (attempts included). */
  get tasks(): number {
    return this.#tasks;
  }

  /** Failed reduce attempts that were tried again. */
  get retried(): number {
    return this.#retried;
  }

  /** One reduce per node over that node's own partials (its combiner): fetches stay local. */
  async combinePerNode(partials: readonly StoredPartial[], mode: ReduceMode): Promise<StoredPartial[]> {
    const byNode = groupBy(partials, (p) => p.ref.node);
    const steps = [...byNode].filter(([, list]) => list.length > 1);
    if (steps.length === 0) return [...partials];
    const single = [...byNode].filter(([, list]) => list.length === 1).map(([, list]) => list[0]!);
    const combined = await this.tier('node combine', steps.map(([node, inputs]) => ({ mode, node, inputs })));
    return [...combined, ...single];
  }

  /** The fan-in F: inputs per merge task. */
  get fanIn(): number {
    return this.#o.fanIn;
  }

  /**
   * The partials as the root can read them: those whose node has left are computed again from
   * their lineage (with `allowPartial`, those that cannot be are left out).
   */
  async current(partials: readonly StoredPartial[]): Promise<StoredPartial[]> {
    const step = new PlannedStep('root', 'summary', null, [...partials], false);
    await this.#ensureInputs(step);
    if (step.inputs.length === 0) return [await this.merge([], 'summary')];
    return step.inputs;
  }

  /** Tiers of fan-in F until one partial is left. */
  async merge(partials: readonly StoredPartial[], mode: ReduceMode): Promise<StoredPartial>;
  /** Tiers of fan-in F until at most `atMost` partials are left (for the root to merge). */
  async merge(partials: readonly StoredPartial[], mode: ReduceMode, atMost: number): Promise<StoredPartial[]>;
  async merge(partials: readonly StoredPartial[], mode: ReduceMode, atMost?: number): Promise<StoredPartial | StoredPartial[]> {
    if (partials.length === 0) {
      if (this.#missing.length > 0) throw new IncompleteResultError(`no partial result is left to merge: every node that held one is gone (${describeMissing(this.#missing)})`, this.#missing);
      throw new TaskFailedError('no partial results to merge (no shard was read)');
    }
    let level = [...partials];
    const fanIn = this.#o.fanIn;
    while (level.length > (atMost ?? 1)) {
      const groups: StoredPartial[][] = [];
      for (let i = 0; i < level.length; i += fanIn) groups.push(level.slice(i, i + fanIn));
      // A group of one passes through unchanged.
      const merged = await this.tier(`merge (fan-in ${fanIn})`, groups.filter((g) => g.length > 1).map((inputs) => ({ mode, node: null, inputs })));
      level = [...merged, ...groups.filter((g) => g.length === 1).map((g) => g[0]!)];
    }
    return atMost === undefined ? level[0]! : level;
  }

  /**
   * One tier of reduce tasks, run at once, their outputs in the order of `steps`; `keepCounters`
   * passes their counters to the run. A step all of whose inputs were left out (`allowPartial`)
   * has no output.
   */
  async tier(label: string, steps: readonly TierStep[], options: { readonly keepCounters?: boolean } = {}): Promise<StoredPartial[]> {
    const tier = this.#tiers.length + 1;
    const results = (
      await Promise.all(steps.map((s) => this.#run(new PlannedStep(reduceStepId(tier, this.#seq++), s.mode, s.node, [...s.inputs], options.keepCounters ?? false))))
    ).filter((p): p is StoredPartial => p !== null);
    this.#tiers.push({ tier, label, tasks: steps.length, nodes: [...new Set(results.map((p) => p.ref.node))].sort() });
    return results;
  }

  async #run(step: PlannedStep): Promise<StoredPartial | null> {
    const signal = this.#o.signal;
    let attempt = 0;
    for (;;) {
      signal.throwIfAborted();
      const had = step.inputs.length;
      await this.#ensureInputs(step);
      if (step.inputs.length === 0 && had > 0) return null;
      this.#tasks++;
      try {
        const result = await this.#o.transport.runReduce({ id: step.id, mode: step.mode, node: step.node, inputs: step.inputs.map((p) => p.ref) }, attempt, signal);
        if (step.keepCounters) this.#o.onCounters?.(result.counters);
        return { ref: result.ref, producer: { reduce: step }, index: 0 };
      } catch (err) {
        if (signal.aborted) throw err;
        attempt++;
        this.#retried++;
        this.#progress.retried();
        if (attempt > this.#o.retries) throw new TaskFailedError(`reduce task ${step.id} failed after ${attempt} attempts: ${(err as Error).message}`, { cause: err });
        this.#logger.warn(`reduce task ${step.id} failed (${(err as Error).message}); retrying`);
        // A node combine whose node is gone runs anywhere once its inputs are recomputed.
        if (step.node !== null && !(await this.#o.membership.live()).has(step.node)) step.node = null;
      }
    }
  }

  /** Recompute inputs whose node left, from their lineage; with `allowPartial`, leave out those that cannot be. */
  async #ensureInputs(step: PlannedStep): Promise<void> {
    const alive = await this.#o.membership.live();
    const inputs: StoredPartial[] = [];
    for (const p of step.inputs) {
      const again = alive.has(p.ref.node) ? p : await this.#recompute(p, alive);
      if (again) inputs.push(again);
    }
    step.inputs = inputs;
  }

  async #recompute(p: StoredPartial, alive: ReadonlySet<string>): Promise<StoredPartial | null> {
    if ('reduce' in p.producer) return this.#run(p.producer.reduce);
    const output = p.producer.map;
    const holder = output.task.holders.find((h) => alive.has(h));
    if (!holder) {
      const shards = output.task.shards.map((s) => ({ node: p.ref.node, path: s.path }));
      if (this.#o.allowPartial) {
        this.#logger.warn(`node ${p.ref.node} is gone with the output of map task ${output.task.taskId}, and no live node holds its shards: left out`);
        const reason = `node ${p.ref.node} went away holding what was read of it`;
        for (const shard of shards) if (!this.#missing.some((m) => m.node === shard.node && m.path === shard.path)) this.#missing.push({ ...shard, reason });
        return null;
      }
      throw new NodeUnavailableError(`node ${p.ref.node} is unavailable and holds the only copy of: ${shards.map((s) => `${s.node}:${s.path}`).join(', ')}`, [p.ref.node]);
    }
    this.#logger.warn(`recomputing map task ${output.task.taskId} on ${holder} (node ${p.ref.node} left)`);
    const again = await this.#o.rerunMap(output, holder);
    return { ref: again.result.refs[p.index]!, producer: { map: again }, index: p.index };
  }
}

function describeMissing(missing: readonly MissingShard[]): string {
  return missing.map((m) => `${m.node}:${m.path}`).join(', ');
}

/** Partition `index` of every map output, as inputs of reduce steps. */
export function partitionOf(outputs: readonly MapOutput[], index: number): StoredPartial[] {
  return outputs.map((output) => ({ ref: output.result.refs[index]!, producer: { map: output }, index }));
}
