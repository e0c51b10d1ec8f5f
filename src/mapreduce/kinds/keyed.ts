/**
 * Keyed jobs (clicks): `mapKeyed` emits (key, sortKey, value); each map task splits its records by
 * hash(key) into R partitions; reducer r merges partition r of every map task in (key, sortKey)
 * order and folds each key's records with `reduceGroup` into a summary state, and those states
 * merge like a summary job's.
 */
import { AbortError, InvalidArgumentError } from '../../errors.ts';
import { fetchChunks, sourceOn } from '../fetch.ts';
import { encodeState, resolveJob, type KeyedJob } from '../job-definition.ts';
import { hashPartition, PartitionedOutput } from '../map-output.ts';
import { partitionOf } from '../reduce-tree.ts';
import { mergeRunChunks } from '../run-cursor.ts';
import type { JobKind, ReduceStepRunner } from './job-kind.ts';

/** Merge partition runs by (key, sortKey) and reduce each key's records into the state. */
export const reduceGroups: ReduceStepRunner = {
  needsJob: true,
  async run(task, env) {
    const params = task.params;
    const job = resolveJob(env.job!, params) as KeyedJob;
    const src = sourceOn(env, task.fetchChunk);
    const state = job.create(params);
    let groups = 0;
    let key: string | null = null;
    let values: Buffer[] = [];
    let n = 0;
    await mergeRunChunks(
      task.inputs.map((ref) => fetchChunks(ref, src)),
      (buf, _start, keyStart, keyEnd, end) => {
        // The record key is the group key, a NUL, then the sort key (map-output.ts).
        const nul = buf.indexOf(0, keyStart);
        const k = buf.toString('utf8', keyStart, nul >= 0 && nul < keyEnd ? nul : keyEnd);
        if (k !== key) {
          if (key !== null) {
            job.reduceGroup(state, key, values, params);
            groups++;
          }
          key = k;
          values = [];
        }
        values.push(Buffer.from(buf.subarray(keyEnd, end)));
        if ((++n & 0xffff) === 0 && env.signal?.aborted) throw new AbortError(`reduce task ${task.taskId} cancelled`);
      },
    );
    if (key !== null) {
      job.reduceGroup(state, key, values, params);
      groups++;
    }
    const ref = await env.store.putBuffer(task.runId, `${task.taskId}.partial`, encodeState(job, state, params));
    return { ref, counters: { reduce_inputs: task.inputs.length, groups } };
  },
};

export const keyedKind: JobKind<KeyedJob> = {
  name: 'keyed',

  shape: async (def, ctx) => ({ partitions: ctx.partitions ?? (def.partitions ? def.partitions(ctx.params, ctx.nodes) : Math.max(1, ctx.nodes)) }),

  async reduce(_def, tree, outputs, shape) {
    const grouped = await tree.tier(
      'group by key',
      Array.from({ length: shape.partitions ?? 1 }, (_, p) => ({ mode: 'group' as const, node: null, inputs: partitionOf(outputs, p) })),
      { keepCounters: true },
    );
    return [await tree.merge(grouped, 'summary')];
  },

  finish: (def, sink, final, params, run) => sink.summary([final[0]!.ref], def, params, run),

  async map(def, input) {
    const { task, params } = input;
    const wants = def.input(params);
    if ('lines' in wants) throw new InvalidArgumentError(`keyed job ${def.name} must ask for records`, { field: 'input' });
    const partitions = task.partitions ?? 1;
    const out = new PartitionedOutput(input.env.store, task.runId, task.taskId, partitions, input.budget);
    for (const shard of task.shards) {
      const ctx = input.context(shard);
      await input.records(
        shard,
        wants.records,
        (record) => def.mapKeyed(record, (key, sortKey, value) => out.add(hashPartition(key, partitions), key, sortKey, value), ctx),
        () => out.maybeSpill(),
      );
    }
    return input.result(await out.finish());
  },

  reduceSteps: { group: reduceGroups },
};
