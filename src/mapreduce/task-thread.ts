/** Entry of a task thread: runs map tasks sent by the node's TaskPool, one at a time. */
import { parentPort, workerData } from 'node:worker_threads';
import { serializeError, type SerializedError } from '../errors.ts';
import { importJobFile } from './job-loader.ts';
import type { AnyJob } from './job-definition.ts';
import { executeMapTask } from './map-executor.ts';
import { PartialStore } from './partial-store.ts';
import type { MapTask } from './wire.ts';

export type ToThread =
  | { readonly type: 'map'; readonly id: number; readonly task: MapTask; readonly jobPath: string }
  | { readonly type: 'cancel'; readonly id: number };

export type FromThread =
  | { readonly type: 'progress'; readonly id: number; readonly done: number; readonly total: number }
  | { readonly type: 'result'; readonly id: number; readonly result: unknown }
  | { readonly type: 'error'; readonly id: number; readonly error: SerializedError };

const { node, dataDir } = workerData as { node: string; dataDir: string; entry: string };
const store = new PartialStore(dataDir, node);
const jobs = new Map<string, Promise<AnyJob>>();
const running = new Map<number, AbortController>();
const port = parentPort!;

port.on('message', (msg: ToThread) => {
  if (msg.type === 'cancel') {
    running.get(msg.id)?.abort();
    return;
  }
  void run(msg);
});

async function run(msg: Extract<ToThread, { type: 'map' }>): Promise<void> {
  const abort = new AbortController();
  running.set(msg.id, abort);
  try {
    let job = jobs.get(msg.jobPath);
    if (!job) {
      job = importJobFile(msg.jobPath);
      jobs.set(msg.jobPath, job);
    }
    const result = await executeMapTask(msg.task, {
      node,
      store,
      job: await job,
      jobFile: msg.jobPath,
      signal: abort.signal,
      onProgress: (done, total) => port.postMessage({ type: 'progress', id: msg.id, done, total } satisfies FromThread),
    });
    port.postMessage({ type: 'result', id: msg.id, result } satisfies FromThread);
  } catch (err) {
    port.postMessage({ type: 'error', id: msg.id, error: serializeError(err) } satisfies FromThread);
  } finally {
    running.delete(msg.id);
  }
}
