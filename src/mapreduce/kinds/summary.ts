/**
 * Summary jobs (count, top, analyze, `grep -c`): each map task folds its records or raw chunks
 * into one state; states merge in any order and grouping — on each node first, then in tiers of
 * fan-in F until F or fewer are left — and the root merges those and finalizes. The `summary` reduce step (merge encoded states)
 * also serves keyed jobs once their groups are reduced.
 */
import { AbortError, InvalidArgumentError } from '../../errors.ts';
import { fetchAll, sourceOn } from '../fetch.ts';
import { decodeState, encodeState, resolveJob, type KeyedJob, type SummaryJob } from '../job-definition.ts';
import { partitionOf } from '../reduce-tree.ts';
import type { JobKind, ReduceStepRunner } from './job-kind.ts';
import { incrementalSummary } from './summary-incremental.ts';

/**
 * Merge the encoded states of a summary (or keyed) job: folded one at a time, the next input
 * fetched while one is decoded and merged. So a task holds the running state, one decoded input
 * and at most two encoded ones, however many inputs it has (a node combine takes every map output
 * of its node: one per 64 MiB of log), and it gives the event loop back between inputs: on a node
 * the merge runs on the main thread, beside the node's heartbeats and fetches (and, in the
 * one-shot `geartrain analyze`, the job server and the coordinator).
 */
export const mergeStates: ReduceStepRunner = {
  needsJob: true,
  async run(task, env) {
    const params = task.params;
    const job = resolveJob(env.job!, params) as SummaryJob | KeyedJob;
    const src = sourceOn(env, task.fetchChunk);
    const total = task.inputs.reduce((n, r) => n + r.size, 0);
    let state: unknown = undefined;
    let done = 0;
    const fetch = (i: number) => {
      const p = fetchAll(task.inputs[i]!, src);
      // Awaited below; a failure while an earlier input is merged must not go unhandled meanwhile.
      p.catch(() => {});
      return p;
    };
    let next = task.inputs.length > 0 ? fetch(0) : null;
    for (let i = 0; next !== null; i++) {
      const data = await next;
      next = i + 1 < task.inputs.length ? fetch(i + 1) : null;
      if (env.signal?.aborted) throw new AbortError(`reduce task ${task.taskId} cancelled`);
      const s = decodeState(job, data, params);
      // Merge is commutative: folding in input order is as good as any.
      state = state === undefined ? s : job.merge(state, s, params);
      done += task.inputs[i]!.size;
      env.onProgress?.(done, total);
      await yieldToEventLoop();
    }
    if (state === undefined) state = job.create(params);
    const ref = await env.store.putBuffer(task.runId, `${task.taskId}.partial`, encodeState(job, state, params));
    return { ref, counters: { reduce_inputs: task.inputs.length } };
  },
};

/** Lets timers and sockets run (setImmediate: after the poll phase, before the next loop). */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export const summaryKind: JobKind<SummaryJob> = {
  name: 'summary',

  incremental: (def, params) => 'records' in def.input(params),

  shape: async () => ({}),

  // The tiers stop at F partials or fewer, which the root merges as it finalizes: a last reduce
  // task would only encode the merged state for the root to fetch and decode it again (for
  // analyze, the biggest state of the run). Up to F map outputs skip the node combine too.
  async reduce(_def, tree, outputs) {
    const partials = partitionOf(outputs, 0);
    if (partials.length > 0 && partials.length <= tree.fanIn) return tree.current(partials);
    return tree.merge(await tree.combinePerNode(partials, 'summary'), 'summary', tree.fanIn);
  },

  finish: (def, sink, final, params, run) => sink.summary(final.map((p) => p.ref), def, params, run),

  async map(def, input) {
    const { task, params } = input;
    const wants = def.input(params);
    if (task.incremental && 'records' in wants) return incrementalSummary(def, wants.records, input);
    const state = def.create(params);
    for (const shard of task.shards) {
      const ctx = input.context(shard);
      if ('lines' in wants) {
        if (!def.mapChunk) throw new InvalidArgumentError(`job ${def.name} asks for lines but has no mapChunk`, { field: 'mapChunk' });
        for await (const { chunk } of input.chunks(shard, { transient: wants.transient === true })) def.mapChunk(state, chunk, ctx);
      } else {
        const map = def.map;
        if (!map) throw new InvalidArgumentError(`job ${def.name} asks for records but has no map`, { field: 'map' });
        await input.records(shard, wants.records, (record) => map(state, record, ctx));
      }
    }
    const ref = await input.env.store.putBuffer(task.runId, `${task.taskId}.partial`, encodeState(def, state, params));
    return input.result([ref]);
  },

  reduceSteps: { summary: mergeStates },
};
