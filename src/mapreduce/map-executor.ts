/**
 * Runs one map task of a job module: the kind of the job's definition for these parameters reads
 * the task's shards through a MapInput and stores its output in the node's PartialStore. Runs
 * inside a task thread (task-thread.ts), so a node with N slots maps N shards in parallel.
 * Streaming tasks, which have no module, run in streaming.ts.
 */
import { resolveJob, type AnyJob } from './job-definition.ts';
import { kindOf } from './kinds/index.ts';
import { MapInput, type MapEnv as InputEnv } from './map-input.ts';
import type { MapResult, MapTask } from './wire.ts';

export interface MapEnv extends InputEnv {
  readonly job: AnyJob;
}

export async function executeMapTask(task: MapTask, env: MapEnv): Promise<MapResult> {
  const def = resolveJob(env.job, task.params);
  return kindOf(def).map!(def, new MapInput(task, env));
}
