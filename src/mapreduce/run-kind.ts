/** The kind of a prepared job, bound to its definition and parameters: what the coordinator calls. */
import type { RunInfo } from './job-definition.ts';
import { kindOf, streamingKind } from './kinds/index.ts';
import type { JobKind, KindName, MapShape, ShapeContext } from './kinds/job-kind.ts';
import type { MapOutput } from './map-scheduler.ts';
import type { OutputSink, RunOutput } from './output-sink.ts';
import type { PreparedJob } from './prepare-job.ts';
import type { ReduceTree, StoredPartial } from './reduce-tree.ts';

export interface RunKind {
  readonly name: KindName;
  incremental(): boolean;
  shape(ctx: Omit<ShapeContext, 'params'>): Promise<MapShape>;
  reduce(tree: ReduceTree, outputs: readonly MapOutput[], shape: MapShape): Promise<StoredPartial[]>;
  finish(sink: OutputSink, final: readonly StoredPartial[], run: RunInfo): Promise<RunOutput>;
}

export function runKindOf(job: PreparedJob): RunKind {
  return job.type === 'streaming' ? bind(streamingKind, job.spec, null) : bind(kindOf(job.def), job.def, job.params);
}

function bind<D>(kind: JobKind<D>, def: D, params: unknown): RunKind {
  return {
    name: kind.name,
    incremental: () => kind.incremental?.(def, params) ?? false,
    shape: (ctx) => kind.shape(def, { ...ctx, params }),
    reduce: (tree, outputs, shape) => kind.reduce(def, tree, outputs, shape),
    finish: (sink, final, run) => kind.finish(def, sink, final, params, run),
  };
}
