/**
 * The map phase: every planned task runs on the node that holds its shards, at most that node's
 * slot count at once (a queued task would otherwise age towards its timeout behind its siblings).
 * A failed attempt is retried; when its node is gone the task moves to a live replica of its
 * shards, or fails naming the node and the unread shards (with `allowPartial`, the run goes on and
 * the shards are reported missing). A gzip file a task could read only in part (cut short or
 * corrupt) makes the result incomplete too: IncompleteResultError, or with `allowPartial` a missing
 * file with its reason. Once no task waits for a slot, a straggler (speculation.ts) is
 * copied to another live holder; the first copy to finish wins and the other is cancelled.
 *
 * Its ports: a `MapTransport` that runs one copy of a task on a node, the run's `Membership`, and a
 * `Clock`, so the scheduling is tested without a cluster.
 */
import { systemClock, type Clock } from '../clock.ts';
import { AbortError, describeDamage, IncompleteResultError, NodeUnavailableError, TaskFailedError } from '../errors.ts';
import { silentLogger, type Logger } from '../logger.ts';
import type { MissingShard } from './expected-nodes.ts';
import { groupBy } from './group-by.ts';
import type { Membership } from './membership.ts';
import type { PlannedTask } from './planner.ts';
import { ProgressTracker } from './run-progress.ts';
import { DEFAULT_SPECULATION, StragglerDetector, type SpeculationPolicy } from './speculation.ts';
import type { MapResult } from './wire.ts';

/** Which copy of a task: its attempt, and whether it is the speculative copy of that attempt. */
export interface MapCopy {
  readonly attempt: number;
  readonly speculative: boolean;
}

export interface MapTransport {
  /** Run one copy of `task` on `node`; `onProgress(bytesDone)` as the node reports it. */
  runMap(node: string, task: PlannedTask, copy: MapCopy, options: { readonly signal: AbortSignal; readonly onProgress: (done: number) => void }): Promise<MapResult>;
  /** Abort a copy still running on `node` (the loser of a speculative pair); best effort. */
  cancelMap(node: string, task: PlannedTask): void;
}

/** A map task's output, and what lineage needs to compute it again. */
export interface MapOutput {
  readonly task: PlannedTask;
  /** The node that ran it and holds its output (a replica after a failover). */
  readonly node: string;
  readonly result: MapResult;
}

export interface MapPhaseResult {
  /** The tasks that finished, in plan order. */
  readonly outputs: readonly MapOutput[];
  /**
   * With `allowPartial`: the shards of the tasks that failed, by the node they were last tried on,
   * and the damaged files the tasks that finished read only in part.
   */
  readonly missing: readonly MissingShard[];
}

export interface MapSchedulerOptions {
  readonly transport: MapTransport;
  readonly membership: Membership;
  /** Map slots per node: tasks in flight on a node at once. */
  readonly slots: ReadonlyMap<string, number>;
  /** The run's signal: aborting it stops every task. */
  readonly signal: AbortSignal;
  /** Attempts per task after the first. */
  readonly retries: number;
  readonly speculative?: boolean;
  readonly allowPartial?: boolean;
  readonly policy?: SpeculationPolicy;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly progress?: ProgressTracker;
}

/** How often running tasks are checked for stragglers. */
const SPECULATION_CHECK_MS = 250;
/** Liveness answers reused by the map tasks for this long (many tasks fail at once when a node goes). */
const LIVE_MAX_AGE_MS = 200;

interface MapTaskState {
  readonly task: PlannedTask;
  node: string;
  result: MapResult | null;
}

interface CopyDone {
  readonly node: string;
  readonly result: MapResult;
  readonly ms: number;
}

export class MapScheduler {
  readonly #o: MapSchedulerOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #progress: ProgressTracker;
  readonly #speculative: boolean;
  /** Stops every task of this phase: the run's signal, or a failure that fails the run. */
  readonly #ac = new AbortController();
  readonly #signal: AbortSignal;
  #stragglers = new StragglerDetector(0);
  /** Tasks not yet started: no copy is made while real work still waits for a slot. */
  #queued = 0;
  /** Bytes credited to the progress per task (the furthest copy's). */
  readonly #credited = new Map<string, number>();
  readonly #states = new Map<string, MapTaskState>();
  #retried = 0;
  #copies = 0;
  #copiesWon = 0;

  constructor(options: MapSchedulerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#progress = options.progress ?? new ProgressTracker();
    this.#speculative = options.speculative ?? true;
    this.#signal = AbortSignal.any([options.signal, this.#ac.signal]);
  }

  /** Failed attempts that were tried again. */
  get retried(): number {
    return this.#retried;
  }

  /** Speculative copies started, and how many of them finished first. */
  get speculative(): { readonly started: number; readonly won: number } {
    return { started: this.#copies, won: this.#copiesWon };
  }

  async run(tasks: readonly PlannedTask[]): Promise<MapPhaseResult> {
    const states: MapTaskState[] = tasks.map((task) => ({ task, node: task.node, result: null }));
    for (const s of states) this.#states.set(s.task.taskId, s);
    this.#stragglers = new StragglerDetector(tasks.length, this.#o.policy ?? DEFAULT_SPECULATION);
    this.#queued = tasks.length;
    const queues = groupBy(states, (s) => s.node);
    const failed: { readonly state: MapTaskState; readonly reason: string }[] = [];
    let fatal: unknown = null;
    await Promise.all(
      [...queues].map(async ([node, queue]) => {
        const width = Math.max(1, this.#o.slots.get(node) ?? 1);
        let next = 0;
        const lane = async () => {
          while (next < queue.length) {
            const state = queue[next++]!;
            this.#queued--;
            try {
              await this.#runTask(state);
            } catch (err) {
              if (this.#signal.aborted) return;
              if (!this.#o.allowPartial) {
                // The run has failed: stop the other tasks.
                fatal = err;
                this.#ac.abort(err);
                return;
              }
              failed.push({ state, reason: err instanceof NodeUnavailableError ? `node ${state.node} went away before it was read` : (err as Error).message });
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(width, queue.length) }, lane));
      }),
    );
    if (fatal) throw fatal;
    this.#o.signal.throwIfAborted();
    const outputs = states.filter((s): s is MapTaskState & MapOutput => s.result !== null);
    const missing: MissingShard[] = [];
    for (const { state, reason } of failed) {
      for (const shard of state.task.shards) if (!missing.some((m) => m.node === state.node && m.path === shard.path)) missing.push({ node: state.node, path: shard.path, reason });
    }
    // A gzip file cut short was mapped as far as it could be read: the result lacks the rest.
    for (const o of outputs) for (const d of o.result.damaged ?? []) missing.push({ node: o.node, path: d.path, reason: describeDamage(d) });
    if (!this.#o.allowPartial && missing.length > 0) {
      const list = missing.map((m) => `${m.node}:${m.path} (${m.reason})`).join(', ');
      throw new IncompleteResultError(`${missing.length} file(s) could not be read to their end: ${list}; allow a partial result (--allow-partial) to get what was read`, missing);
    }
    return { outputs, missing };
  }

  /** Run a finished task again on `holder` (its output was on a node that left); retried as any. */
  async rerun(output: MapOutput, holder: string): Promise<MapOutput> {
    const state = this.#states.get(output.task.taskId);
    if (!state) throw new TaskFailedError(`map task ${output.task.taskId} is not one of this run's`);
    state.node = holder;
    await this.#runTask(state);
    return state as MapTaskState & MapOutput;
  }

  /** One task, with retries and failover to a replica, until it has a result. */
  async #runTask(state: MapTaskState): Promise<void> {
    const task = state.task;
    let attempt = 0;
    for (;;) {
      this.#signal.throwIfAborted();
      const node = state.node;
      this.#progress.running(1);
      this.#progress.emit();
      try {
        const done = await this.#attempt(task, node, attempt);
        state.result = done.result;
        state.node = done.node;
        this.#stragglers.finished(task.bytes, done.ms);
        this.#progress.running(-1);
        this.#progress.taskDone();
        this.#progress.bytes(task.bytes - (this.#credited.get(task.taskId) ?? 0));
        this.#credited.set(task.taskId, task.bytes);
        this.#progress.emit();
        return;
      } catch (err) {
        this.#progress.running(-1);
        if (this.#signal.aborted) throw err;
        attempt++;
        this.#retried++;
        this.#progress.retried();
        const alive = await this.#o.membership.live(LIVE_MAX_AGE_MS);
        if (!alive.has(node)) {
          const alt = task.holders.find((h) => h !== node && alive.has(h));
          if (alt) {
            this.#logger.warn(`node ${node} is gone; task ${task.taskId} moves to replica ${alt}`);
            state.node = alt;
            continue;
          }
          throw new NodeUnavailableError(`node ${node} is unavailable (${(err as Error).message}); unread shards: ${unreadShards(task, node)}`, [node], { cause: err });
        }
        if (attempt > this.#o.retries) {
          throw new TaskFailedError(`map task ${task.taskId} on ${node} failed after ${attempt} attempts: ${(err as Error).message}`, { cause: err });
        }
        this.#logger.warn(`map task ${task.taskId} on ${node} failed (${(err as Error).message}); retrying`);
      }
    }
  }

  /** One copy on `node`; `ms` is how long that copy took. */
  #runCopy(task: PlannedTask, node: string, copy: MapCopy, signal: AbortSignal): Promise<CopyDone> {
    const started = this.#clock.now();
    return this.#o.transport
      .runMap(node, task, copy, { signal, onProgress: (done) => this.#taskProgress(task, done) })
      .then((result) => ({ node, result, ms: this.#clock.now() - started }));
  }

  /** Progress of a task, from whichever of its copies is furthest along. */
  #taskProgress(task: PlannedTask, reported: number): void {
    // A file that grew since planning reports more than planned: never count past the plan.
    const done = Math.min(reported, task.bytes);
    const before = this.#credited.get(task.taskId) ?? 0;
    if (done <= before) return;
    this.#credited.set(task.taskId, done);
    this.#progress.bytes(done - before);
    this.#progress.emit();
  }

  /**
   * One attempt of a task on `node`. When it straggles and no task waits for a slot, a copy starts
   * on another live holder of its shards; the first copy to finish wins and the other is cancelled
   * on its node. The attempt fails only when every copy has.
   */
  #attempt(task: PlannedTask, node: string, attempt: number): Promise<CopyDone> {
    const others = this.#speculative ? task.holders.filter((h) => h !== node) : [];
    if (others.length === 0) return this.#runCopy(task, node, { attempt, speculative: false }, this.#signal);
    return new Promise((resolve, reject) => {
      const started = this.#clock.now();
      const copies = new Map<string, AbortController>();
      let failures = 0;
      let firstError: unknown;
      let settled = false;
      const settle = () => {
        settled = true;
        this.#clock.clearInterval(timer);
      };
      const launch = (on: string, speculative: boolean) => {
        const ac = new AbortController();
        copies.set(on, ac);
        this.#runCopy(task, on, { attempt, speculative }, AbortSignal.any([this.#signal, ac.signal]))
          .then(
            (done) => {
              if (settled) return;
              settle();
              if (speculative) this.#copiesWon++;
              for (const [other, otherAc] of copies) {
                if (other === on) continue;
                otherAc.abort(new AbortError(`another copy of map task ${task.taskId} finished first`));
                this.#o.transport.cancelMap(other, task);
              }
              resolve(done);
            },
            (err: unknown) => {
              if (settled) return;
              firstError ??= err;
              if (++failures === copies.size) {
                settle();
                reject(firstError);
              }
            },
          )
          .finally(() => {
            if (!speculative) return;
            this.#stragglers.copyEnded();
            this.#progress.running(-1);
          });
      };
      // At most one copy per attempt: the timer stops once it has been tried.
      const check = async () => {
        if (settled || this.#queued > 0 || !this.#stragglers.shouldCopy(task.bytes, this.#clock.now() - started)) return;
        this.#clock.clearInterval(timer);
        const alive = await this.#o.membership.live(LIVE_MAX_AGE_MS).catch(() => new Set<string>());
        const target = others.find((h) => alive.has(h));
        if (!target || settled) {
          this.#stragglers.copyEnded();
          return;
        }
        this.#progress.running(1);
        this.#copies++;
        this.#logger.info(`map task ${task.taskId} on ${node} is straggling after ${this.#clock.now() - started} ms; a copy starts on ${target}`);
        launch(target, true);
      };
      const timer = this.#clock.setInterval(() => void check(), SPECULATION_CHECK_MS);
      launch(node, false);
    });
  }
}

/** `node:path[start-end]` of each shard of a task, for messages. */
function unreadShards(task: PlannedTask, node: string): string {
  return task.shards.map((s) => `${node}:${s.path}${s.start > 0 || s.end !== null ? `[${s.start}-${s.end ?? 'end'}]` : ''}`).join(', ');
}
