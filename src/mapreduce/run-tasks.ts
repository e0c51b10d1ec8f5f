/**
 * A run's tasks on the nodes: the map and reduce task bodies, built from the run's settings, sent
 * through the NodeClient with the run's unique keys. A task stops waiting as soon as a node it
 * needs is found gone (the node it runs on, or one holding a partial it reads: `NodeWatch`), and
 * every status or result a node sends counts as word from it. The nodes that took part are
 * remembered, so the run's tasks still running there are stopped and what it stored is dropped at
 * its end.
 */
import { mapTaskUnique, reduceTaskId, reduceTaskUnique } from '../wire-names.ts';
import type { MapCopy, MapTransport } from './map-scheduler.ts';
import type { NodeWatch } from './membership.ts';
import type { NodeClient } from './node-client.ts';
import type { PlannedTask } from './planner.ts';
import type { ReduceStep, ReduceTransport } from './reduce-tree.ts';
import { WIRE_VERSION, type FilterSpec, type JobRef, type MapResult, type MapTask, type ReduceResult, type ReduceTask } from './wire.ts';

export interface RunTaskSettings {
  readonly runId: string;
  readonly job: JobRef;
  readonly params: unknown;
  readonly filter: FilterSpec;
  /** A task fails when it reports no progress for this long. */
  readonly idleTimeoutMs: number;
  /** Map output partitions (keyed and streaming jobs with a reducer). */
  readonly partitions?: number;
  readonly memoryBudget?: number;
  /** Sorted jobs split by key range: the R-1 boundaries. */
  readonly rangeBoundaries?: readonly Buffer[];
  /** Summary tasks use the nodes' partial caches (each node keys its cache itself). */
  readonly incremental?: boolean;
}

export class RunTasks implements MapTransport, ReduceTransport {
  readonly #nodes: NodeClient;
  readonly #s: RunTaskSettings;
  readonly #watch: NodeWatch;
  readonly #involved = new Set<string>();

  constructor(nodes: NodeClient, settings: RunTaskSettings, watch: NodeWatch) {
    this.#nodes = nodes;
    this.#s = settings;
    this.#watch = watch;
  }

  /** Nodes that ran (or were sent) a task of the run, sorted. */
  get involved(): string[] {
    return [...this.#involved].sort();
  }

  #mapTask(task: PlannedTask): MapTask {
    const s = this.#s;
    return {
      v: WIRE_VERSION,
      kind: 'map',
      runId: s.runId,
      taskId: task.taskId,
      job: s.job,
      params: s.params ?? null,
      shards: [...task.shards],
      filter: s.filter,
      ...(s.partitions !== undefined ? { partitions: s.partitions } : {}),
      ...(s.memoryBudget !== undefined ? { memoryBudget: s.memoryBudget } : {}),
      ...(s.incremental ? { incremental: true } : {}),
      ...(s.rangeBoundaries && s.rangeBoundaries.length > 0 ? { rangeBoundaries: s.rangeBoundaries.map((b) => b.toString('hex')) } : {}),
    };
  }

  async runMap(node: string, task: PlannedTask, copy: MapCopy, options: { signal: AbortSignal; onProgress: (done: number) => void }): Promise<MapResult> {
    const watching = new Watching(this.#watch, [node]);
    watching.throwIfLost();
    this.#involved.add(node);
    try {
      const result = await this.#nodes.map(node, this.#mapTask(task), {
        unique: mapTaskUnique(this.#s.runId, task.taskId, copy.attempt, copy.speculative),
        idleTimeoutMs: this.#s.idleTimeoutMs,
        signal: AbortSignal.any([options.signal, watching.signal]),
        onStatus: (done) => {
          this.#watch.heard(node);
          options.onProgress(done);
        },
      });
      this.#watch.heard(node);
      return result;
    } catch (err) {
      watching.throwIfLost();
      throw err;
    } finally {
      watching.end();
    }
  }

  cancelMap(node: string, task: PlannedTask): void {
    this.#nodes.cancel(node, this.#s.runId, task.taskId, { timeoutMs: 2000 }).catch(() => {});
  }

  /** Watches the node it must run on and every node holding one of its inputs, then the node it starts on. */
  async runReduce(step: ReduceStep, attempt: number, signal: AbortSignal): Promise<ReduceResult> {
    const s = this.#s;
    const taskId = reduceTaskId(step.id, attempt);
    const task: ReduceTask = { v: WIRE_VERSION, kind: 'reduce', runId: s.runId, taskId, job: s.job, params: s.params ?? null, mode: step.mode, inputs: [...step.inputs] };
    const watching = new Watching(this.#watch, [...(step.node !== null ? [step.node] : []), ...step.inputs.map((r) => r.node)]);
    watching.throwIfLost();
    let runsOn = step.node;
    if (runsOn !== null) this.#involved.add(runsOn);
    try {
      const result = await this.#nodes.reduce(step.node, task, {
        unique: reduceTaskUnique(s.runId, taskId),
        idleTimeoutMs: s.idleTimeoutMs,
        signal: AbortSignal.any([signal, watching.signal]),
        onNode: (node) => {
          runsOn = node;
          this.#involved.add(node);
          watching.add(node);
          this.#watch.heard(node);
        },
        onStatus: () => {
          if (runsOn !== null) this.#watch.heard(runsOn);
        },
      });
      this.#involved.add(result.ref.node);
      this.#watch.heard(result.ref.node);
      return result;
    } catch (err) {
      // An input's holder is gone: the task waits for it no longer, on a node that is still there.
      if (watching.lostNode !== null && runsOn !== null && runsOn !== watching.lostNode) this.#nodes.cancel(runsOn, s.runId, taskId, { timeoutMs: 2000 }).catch(() => {});
      watching.throwIfLost();
      throw err;
    } finally {
      watching.end();
    }
  }

  /** Abort the run's tasks on every node involved that is not gone. */
  async cancelAll(): Promise<void> {
    await Promise.all(this.#reachable().map((node) => this.#nodes.cancel(node, this.#s.runId, undefined, { timeoutMs: 2000 }).catch(() => {})));
  }

  /** Delete what the run stored on every node involved that is not gone. */
  async dropAll(): Promise<void> {
    await Promise.all(this.#reachable().map((node) => this.#nodes.drop(node, this.#s.runId, { timeoutMs: 3000 }).catch(() => {})));
  }

  #reachable(): string[] {
    return [...this.#involved].filter((node) => !this.#watch.lost(node).aborted);
  }
}

/** The nodes one task depends on: `signal` aborts when one is found gone. */
class Watching {
  readonly #watch: NodeWatch;
  readonly #ac = new AbortController();
  readonly #ends: (() => void)[] = [];
  #lost: string | null = null;

  constructor(watch: NodeWatch, nodes: readonly string[]) {
    this.#watch = watch;
    for (const node of new Set(nodes)) this.add(node);
  }

  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  /** The node found gone, if one was. */
  get lostNode(): string | null {
    return this.#lost;
  }

  add(node: string): void {
    const lost = this.#watch.lost(node);
    const onLost = () => {
      this.#lost ??= node;
      this.#ac.abort(lost.reason);
    };
    if (lost.aborted) return onLost();
    lost.addEventListener('abort', onLost, { once: true });
    this.#ends.push(() => lost.removeEventListener('abort', onLost));
  }

  /** Throws why, when a node the task needs is gone. */
  throwIfLost(): void {
    if (this.#ac.signal.aborted) throw this.#ac.signal.reason;
  }

  end(): void {
    for (const f of this.#ends) f();
  }
}
