/**
 * Map/reduce runs as the job server sees them: task jobs of `geartrain.map@<node>` and
 * `geartrain.reduce[@<node>]` carry their run id in their unique keys (the grammar is in
 * src/wire-names.ts). Queued and running tasks are read from the server's queues when asked; ended
 * tasks are counted as they end (ServerCore.onJobEnd), so short tasks are never missed. Progress is
 * the WORK_STATUS numerator/denominator (bytes done / bytes total) of the running tasks.
 */
import { isTaskFunction, taskOfJob } from '../../wire-names.ts';
import type { ServerCore } from '../core.ts';
import type { FunctionEntry } from '../function-entry.ts';
import type { Job } from '../job.ts';

/** A finished run stays listed this long. */
const KEEP_FINISHED_MS = 5 * 60_000;
/** Runs remembered at most (the longest idle ones are forgotten first). */
const MAX_RUNS = 200;

export interface RunningTask {
  readonly taskId: string;
  readonly kind: 'map' | 'reduce';
  readonly node: string | null;
  readonly handle: string;
  readonly numerator: number;
  readonly denominator: number;
  /** `address:port` of the worker connection running it. */
  readonly worker: string;
  readonly startedAt: number;
}

export interface TaskCounts {
  readonly queued: number;
  readonly running: number;
  /** Ended with WORK_COMPLETE. */
  readonly done: number;
  /** Ended with WORK_FAIL or WORK_EXCEPTION (the coordinator may retry them). */
  readonly failed: number;
}

export interface RunInfo {
  readonly runId: string;
  /** Nodes named in the run's task functions. */
  readonly nodes: string[];
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** False once none of its tasks is queued or running. */
  readonly active: boolean;
  readonly map: TaskCounts;
  readonly reduce: TaskCounts;
  /** Sums of WORK_STATUS numerators / denominators of the running tasks. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** bytesDone / bytesTotal, or null when no running task reported a denominator. */
  readonly progress: number | null;
  readonly running: RunningTask[];
}

interface Ended {
  done: number;
  failed: number;
}

interface RunState {
  readonly runId: string;
  readonly nodes: Set<string>;
  readonly firstSeen: number;
  lastSeen: number;
  readonly ended: { map: Ended; reduce: Ended };
}

/** Queued and running jobs of one function. */
function* liveJobs(core: ServerCore, fn: FunctionEntry): Generator<Job> {
  yield* core.jobs.queued(fn);
  for (const conn of fn.workers) for (const job of conn.workerJobs) if (job.fn === fn && job.state === 'running') yield job;
}

function num(s: string): number {
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

const byTaskId = (a: RunningTask, b: RunningTask) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);

export class RunTracker {
  readonly #runs = new Map<string, RunState>();

  #state(runId: string, now: number): RunState {
    let run = this.#runs.get(runId);
    if (!run) {
      run = { runId, nodes: new Set(), firstSeen: now, lastSeen: now, ended: { map: { done: 0, failed: 0 }, reduce: { done: 0, failed: 0 } } };
      this.#runs.set(runId, run);
      if (this.#runs.size > MAX_RUNS) this.#forgetIdlest();
    }
    run.lastSeen = now;
    return run;
  }

  /** A job ended with a terminal packet; counted if it is a map/reduce task. */
  taskEnded(job: Job, outcome: 'complete' | 'fail' | 'exception', now = Date.now()): void {
    const key = taskOfJob(job.fn.name, job.unique);
    if (!key) return;
    const run = this.#state(key.runId, now);
    if (key.node !== null) run.nodes.add(key.node);
    const ended = run.ended[key.kind];
    if (outcome === 'complete') ended.done++;
    else ended.failed++;
  }

  /** Runs with their queued and running tasks now, active first, newest first. */
  runs(core: ServerCore, now = Date.now()): RunInfo[] {
    const live = new Map<string, { map: { queued: number; running: number }; reduce: { queued: number; running: number }; running: RunningTask[]; bytesDone: number; bytesTotal: number }>();
    for (const fn of core.functions.values()) {
      if (!isTaskFunction(fn.name)) continue;
      for (const job of liveJobs(core, fn)) {
        const key = taskOfJob(fn.name, job.unique);
        if (!key) continue;
        const run = this.#state(key.runId, now);
        if (key.node !== null) run.nodes.add(key.node);
        let l = live.get(key.runId);
        if (!l) live.set(key.runId, (l = { map: { queued: 0, running: 0 }, reduce: { queued: 0, running: 0 }, running: [], bytesDone: 0, bytesTotal: 0 }));
        if (job.state !== 'running') {
          l[key.kind].queued++;
          continue;
        }
        l[key.kind].running++;
        const numerator = num(job.numerator);
        const denominator = num(job.denominator);
        l.bytesDone += denominator > 0 ? Math.min(numerator, denominator) : 0;
        l.bytesTotal += denominator;
        const w = job.worker;
        l.running.push({
          taskId: key.taskId,
          kind: key.kind,
          node: key.node,
          handle: job.handle,
          numerator,
          denominator,
          worker: w ? `${w.remoteAddress}:${w.remotePort}` : '',
          startedAt: job.startedAt,
        });
      }
    }
    const out: RunInfo[] = [];
    for (const run of this.#runs.values()) {
      const l = live.get(run.runId);
      if (!l && now - run.lastSeen > KEEP_FINISHED_MS) {
        this.#runs.delete(run.runId);
        continue;
      }
      const counts = (kind: 'map' | 'reduce'): TaskCounts => ({
        queued: l?.[kind].queued ?? 0,
        running: l?.[kind].running ?? 0,
        done: run.ended[kind].done,
        failed: run.ended[kind].failed,
      });
      out.push({
        runId: run.runId,
        nodes: [...run.nodes].sort(),
        firstSeen: run.firstSeen,
        lastSeen: run.lastSeen,
        active: l !== undefined,
        map: counts('map'),
        reduce: counts('reduce'),
        bytesDone: l?.bytesDone ?? 0,
        bytesTotal: l?.bytesTotal ?? 0,
        progress: l && l.bytesTotal > 0 ? l.bytesDone / l.bytesTotal : null,
        running: l ? l.running.sort(byTaskId) : [],
      });
    }
    return out.sort((a, b) => Number(b.active) - Number(a.active) || b.firstSeen - a.firstSeen);
  }

  #forgetIdlest(): void {
    let idlest: RunState | undefined;
    for (const run of this.#runs.values()) if (!idlest || run.lastSeen < idlest.lastSeen) idlest = run;
    if (idlest) this.#runs.delete(idlest.runId);
  }
}
