/**
 * Runs one reduce task on a node: fetches its inputs from wherever they are stored and merges
 * them — summary states by the job's `merge`, sorted runs by a streaming k-way merge, keyed runs
 * by merge + `reduceGroup` per key — and stores the output as a new partial.
 */
import { AbortError } from '../errors.ts';
import { decodeState, encodeState, resolveJob, type AnyJob, type KeyedJob, type SummaryJob } from './job-definition.ts';
import { fetchAll, fetchRecords, type FetchSource } from './fetch.ts';
import { mergeRuns } from './kway-merge.ts';
import { groupOf } from './map-output.ts';
import type { PartialStore } from './partial-store.ts';
import { RunWriter, type RunRecord } from './runs.ts';
import type { ReduceResult, ReduceTask } from './wire.ts';

export interface ReduceEnv extends FetchSource {
  readonly store: PartialStore;
  readonly job: AnyJob | null;
  readonly onProgress?: (done: number, total: number) => void;
}

export async function executeReduceTask(task: ReduceTask, env: ReduceEnv): Promise<ReduceResult> {
  const params = task.params;
  const checkAbort = () => {
    if (env.signal?.aborted) throw new AbortError(`reduce task ${task.taskId} cancelled`);
  };
  const name = `${task.taskId}`;
  const counters: Record<string, number> = { reduce_inputs: task.inputs.length };
  const src: FetchSource = { client: env.client, store: env.store, ...(env.signal ? { signal: env.signal } : {}), ...(task.fetchChunk ? { chunkSize: task.fetchChunk } : {}) };
  const total = task.inputs.reduce((n, r) => n + r.size, 0);

  if (task.mode === 'summary') {
    const job = resolveJob(env.job!, params) as SummaryJob | KeyedJob;
    let state: unknown = undefined;
    let done = 0;
    // Fetch all inputs concurrently; merge as they arrive (merge is commutative).
    await Promise.all(
      task.inputs.map(async (ref) => {
        const data = await fetchAll(ref, src);
        checkAbort();
        const s = decodeState(job, data, params);
        state = state === undefined ? s : job.merge(state, s, params);
        done += ref.size;
        env.onProgress?.(done, total);
      }),
    );
    if (state === undefined) state = job.create(params);
    const ref = await env.store.putBuffer(task.runId, `${name}.partial`, encodeState(job, state, params));
    return { ref, counters };
  }

  if (task.mode === 'sorted') {
    const { file } = env.store.pathFor(task.runId, `${name}.run`);
    const w = new RunWriter(file);
    for await (const r of mergeRuns(task.inputs.map((ref) => fetchRecords(ref, src)))) {
      await w.write(r);
      if ((w.records & 0xfff) === 0) checkAbort();
    }
    await w.close();
    counters.records_merged = w.records;
    return { ref: await env.store.refFor(task.runId, `${name}.run`, w.records), counters };
  }

  if (task.mode === 'group') {
    const job = resolveJob(env.job!, params) as KeyedJob;
    const state = job.create(params);
    let groups = 0;
    let key: string | null = null;
    let values: Buffer[] = [];
    const flush = () => {
      if (key !== null) {
        job.reduceGroup(state, key, values, params);
        groups++;
      }
    };
    let n = 0;
    for await (const r of mergeRuns(task.inputs.map((ref) => fetchRecords(ref, src))) as AsyncIterable<RunRecord>) {
      const k = groupOf(r.key);
      if (k !== key) {
        flush();
        key = k;
        values = [];
      }
      values.push(r.value);
      if ((++n & 0xfff) === 0) checkAbort();
    }
    flush();
    counters.groups = groups;
    const ref = await env.store.putBuffer(task.runId, `${name}.partial`, encodeState(job, state, params));
    return { ref, counters };
  }

  throw new Error(`reduce mode ${task.mode} is handled by the streaming runner`);
}
