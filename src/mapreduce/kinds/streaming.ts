/**
 * Streaming jobs (Hadoop Streaming): the mapper is a shell command or any Gearman function, run by
 * streaming.ts on a node's main thread. Without a reducer, the map outputs are the output, in map
 * order; with one, each map task splits its lines by hash(key) into R partitions, and reducer r
 * merges partition r of every map task by key and pipes it through the reducer command.
 */
import { partitionOf } from '../reduce-tree.ts';
import { executeStreamingReduce } from '../streaming.ts';
import type { StreamingSpec } from '../wire.ts';
import type { JobKind } from './job-kind.ts';

export const streamingKind: JobKind<StreamingSpec> = {
  name: 'streaming',

  shape: async (spec, ctx) => (spec.reducer ? { partitions: ctx.partitions ?? Math.max(1, ctx.nodes) } : {}),

  async reduce(spec, tree, outputs, shape) {
    if (!spec.reducer) return partitionOf(outputs, 0);
    return tree.tier(
      'streaming reduce',
      Array.from({ length: shape.partitions ?? 1 }, (_, p) => ({ mode: 'streaming' as const, node: null, inputs: partitionOf(outputs, p) })),
      { keepCounters: true },
    );
  },

  finish: (_spec, sink, final) => sink.streaming(final.map((p) => p.ref)),

  reduceSteps: { streaming: { needsJob: false, run: (task, env) => executeStreamingReduce(task, env) } },
};
