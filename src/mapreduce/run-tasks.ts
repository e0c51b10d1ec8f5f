/**
 * A run's tasks on the nodes: the map and reduce task bodies, built from the run's settings, sent
 * through the NodeClient with the run's unique keys. The nodes that took part are remembered, so a
 * cancelled or failed run stops its tasks there, and what a run stored is dropped at its end.
 */
import { mapTaskUnique, reduceTaskId, reduceTaskUnique } from '../wire-names.ts';
import type { MapCopy, MapTransport } from './map-scheduler.ts';
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
  readonly #involved = new Set<string>();

  constructor(nodes: NodeClient, settings: RunTaskSettings) {
    this.#nodes = nodes;
    this.#s = settings;
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

  runMap(node: string, task: PlannedTask, copy: MapCopy, options: { signal: AbortSignal; onProgress: (done: number) => void }): Promise<MapResult> {
    this.#involved.add(node);
    return this.#nodes.map(node, this.#mapTask(task), {
      unique: mapTaskUnique(this.#s.runId, task.taskId, copy.attempt, copy.speculative),
      idleTimeoutMs: this.#s.idleTimeoutMs,
      signal: options.signal,
      onStatus: (done) => options.onProgress(done),
    });
  }

  cancelMap(node: string, task: PlannedTask): void {
    this.#nodes.cancel(node, this.#s.runId, task.taskId, { timeoutMs: 2000 }).catch(() => {});
  }

  async runReduce(step: ReduceStep, attempt: number, signal: AbortSignal): Promise<ReduceResult> {
    const s = this.#s;
    const taskId = reduceTaskId(step.id, attempt);
    const task: ReduceTask = { v: WIRE_VERSION, kind: 'reduce', runId: s.runId, taskId, job: s.job, params: s.params ?? null, mode: step.mode, inputs: [...step.inputs] };
    const result = await this.#nodes.reduce(step.node, task, { unique: reduceTaskUnique(s.runId, taskId), idleTimeoutMs: s.idleTimeoutMs, signal });
    this.#involved.add(result.ref.node);
    return result;
  }

  /** Abort the run's tasks on every node involved. */
  async cancelAll(): Promise<void> {
    await Promise.all([...this.#involved].map((node) => this.#nodes.cancel(node, this.#s.runId, undefined, { timeoutMs: 2000 }).catch(() => {})));
  }

  /** Delete what the run stored on every node involved. */
  async dropAll(): Promise<void> {
    await Promise.all([...this.#involved].map((node) => this.#nodes.drop(node, this.#s.runId, { timeoutMs: 3000 }).catch(() => {})));
  }
}
