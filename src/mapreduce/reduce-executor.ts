/**
 * Runs one reduce task on a node: fetches its inputs from wherever they are stored and merges
 * them — summary states by the job's `merge`, sorted runs by a streaming k-way merge, keyed runs
 * by merge + `reduceGroup` per key — and stores the output as a new partial.
 */
import { AbortError } from '../errors.ts';
import { decodeState, encodeState, resolveJob, type AnyJob, type KeyedJob, type SummaryJob } from './job-definition.ts';
import { fetchAll, fetchChunks, type FetchSource } from './fetch.ts';
import type { PartialStore } from './partial-store.ts';
import { mergeRunChunks, RunFileWriter } from './run-cursor.ts';
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
  const src: FetchSource = { nodes: env.nodes, store: env.store, ...(env.signal ? { signal: env.signal } : {}), ...(task.fetchChunk ? { chunkSize: task.fetchChunk } : {}) };
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
    const w = new RunFileWriter(file);
    let n = 0;
    await mergeRunChunks(
      task.inputs.map((ref) => fetchChunks(ref, src)),
      (buf, start, _keyStart, _keyEnd, end) => {
        if ((++n & 0xffff) === 0) checkAbort();
        return w.copyRecord(buf, start, end);
      },
    );
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
        if ((++n & 0xffff) === 0) checkAbort();
      },
    );
    if (key !== null) {
      job.reduceGroup(state, key, values, params);
      groups++;
    }
    counters.groups = groups;
    const ref = await env.store.putBuffer(task.runId, `${name}.partial`, encodeState(job, state, params));
    return { ref, counters };
  }

  throw new Error(`reduce mode ${task.mode} is handled by the streaming runner`);
}
