/**
 * Runs one reduce task on a node: the step its mode names (kinds/: merge summary states, merge
 * sorted runs, reduce keyed groups, a streaming reducer) fetches the inputs from wherever they are
 * stored and stores its output as a new partial.
 */
import { reduceStepOf } from './kinds/index.ts';
import type { ReduceEnv } from './kinds/job-kind.ts';
import type { ReduceResult, ReduceTask } from './wire.ts';

export type { ReduceEnv } from './kinds/job-kind.ts';

/** Whether a reduce task of this mode needs the job's module loaded. */
export function reduceNeedsJob(task: ReduceTask): boolean {
  return reduceStepOf(task.mode).needsJob;
}

export function executeReduceTask(task: ReduceTask, env: ReduceEnv): Promise<ReduceResult> {
  return reduceStepOf(task.mode).run(task, env);
}
