/**
 * What a kind of job does at every stage, in one object: the coordinator asks it how map tasks
 * split their output, how the reduce tree runs and what the output is; a node's map executor runs
 * its map, and the reduce executor its reduce steps. Adding a kind is a module beside the others
 * and a line in index.ts.
 */
import type { AnyJob, JobDefinition, RunInfo } from '../job-definition.ts';
import type { MapInput } from '../map-input.ts';
import type { MapOutput } from '../map-scheduler.ts';
import type { NodeClient } from '../node-client.ts';
import type { OutputSink, RunOutput } from '../output-sink.ts';
import type { PartialStore } from '../partial-store.ts';
import type { PlannedTask } from '../planner.ts';
import type { ReduceMode, ReduceTree, StoredPartial } from '../reduce-tree.ts';
import type { MapResult, ReduceResult, ReduceTask, ShardSpec } from '../wire.ts';

/** A job module's kind (`JobDefinition['kind']`), or `streaming`. */
export type KindName = JobDefinition['kind'] | 'streaming';

/** How every map task of a run splits its output, decided before the first one starts. */
export interface MapShape {
  /** Outputs per map task, one per reduce partition (keyed, and streaming with a reducer). */
  readonly partitions?: number;
  /** Sorted jobs split by key range: R-1 boundaries, from a sample of keys. */
  readonly rangeBoundaries?: readonly Buffer[];
}

/** What the coordinator knows when it shapes the map tasks. */
export interface ShapeContext {
  readonly params: unknown;
  /** `--partitions`, when given. */
  readonly partitions: number | undefined;
  /** Nodes with map slots. */
  readonly nodes: number;
  readonly tasks: readonly PlannedTask[];
  /** Keys of the job for lines read at random offsets of a node's shards. */
  sampleKeys(node: string, shards: readonly ShardSpec[], perShard: number): Promise<Buffer[]>;
}

/** Where a reduce step runs on a node: partials to read (here or on other nodes) and to write. */
export interface ReduceEnv {
  readonly nodes: NodeClient;
  readonly store: PartialStore;
  /** The job's module; null for steps that need none. */
  readonly job: AnyJob | null;
  readonly signal?: AbortSignal;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ReduceStepRunner {
  /** Whether the step needs the job's module (merging sorted runs does not). */
  readonly needsJob: boolean;
  run(task: ReduceTask, env: ReduceEnv): Promise<ReduceResult>;
}

/** `D` is the kind's job definition (the streaming spec for streaming jobs). */
export interface JobKind<D> {
  readonly name: KindName;

  // ---- at the coordinator
  /** Whether `--incremental` (per-day partials cached on the nodes) applies to this job. */
  incremental?(def: D, params: unknown): boolean;
  /** How map tasks split their output; may ask the nodes for samples first. */
  shape(def: D, ctx: ShapeContext): Promise<MapShape>;
  /** From the map outputs to the last partials, through the reduce tree. */
  reduce(def: D, tree: ReduceTree, outputs: readonly MapOutput[], shape: MapShape): Promise<StoredPartial[]>;
  /** The last partials to the run's output. */
  finish(def: D, sink: OutputSink, final: readonly StoredPartial[], params: unknown, run: RunInfo): Promise<RunOutput>;

  // ---- on a node
  /** A map task over the shards in `input` (streaming jobs have their own runner: streaming.ts). */
  map?(def: D, input: MapInput): Promise<MapResult>;
  /** Keys for range partitioning (`fetch {op: sample}`), for kinds that split by key range. */
  sampleKeys?(def: D, params: unknown, shards: readonly ShardSpec[], perShard: number, seed: number, node: string): Promise<Buffer[]>;
  /** The reduce modes this kind runs on nodes (a mode is owned by one kind; others may use it). */
  readonly reduceSteps: Partial<Record<ReduceMode, ReduceStepRunner>>;
}
