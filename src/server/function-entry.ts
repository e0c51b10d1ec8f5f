import type { Connection } from './connection.ts';
import { Fifo } from './fifo.ts';
import type { Job } from './job.ts';

/**
 * One function name on the server: its run queues (HIGH, NORMAL, LOW; reduce jobs apart, since
 * only GRAB_JOB_ALL may take them), the workers that can do it, and its counters.
 */
export class FunctionEntry {
  readonly name: string;
  readonly queues: [Fifo<Job>, Fifo<Job>, Fifo<Job>] = [new Fifo(), new Fifo(), new Fifo()];
  readonly reduceQueues: [Fifo<Job>, Fifo<Job>, Fifo<Job>] = [new Fifo(), new Fifo(), new Fifo()];
  /** Live jobs by coalescing key. */
  readonly byUnique = new Map<string, Job>();
  /** Connections that registered this function. */
  readonly workers = new Set<Connection>();
  /** CAN_DO registrations, repeats included: the WORKERS column of `status`. */
  registrations = 0;
  /** Workers asleep (PRE_SLEEP) that have not been sent a NOOP yet. */
  readonly sleepers = new Set<Connection>();
  /** Runnable jobs per priority. */
  readonly queued: [number, number, number] = [0, 0, 0];
  /** Epoch jobs whose time has not come, and jobs waiting for their row to commit. */
  waiting = 0;
  running = 0;
  /** Per-priority limit on queued+running jobs; 0 = unlimited (admin `maxqueue`). */
  maxQueue: [number, number, number] = [0, 0, 0];
  completed = 0;
  failed = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** gearmand's "total": queued (incl. scheduled) plus running. */
  get total(): number {
    return this.queued[0] + this.queued[1] + this.queued[2] + this.waiting + this.running;
  }

  get queuedTotal(): number {
    return this.queued[0] + this.queued[1] + this.queued[2];
  }

  /** Oldest live job at `priority`, skipping entries that went stale; does not remove it. */
  peek(priority: number, reduce: boolean): Job | undefined {
    const q = (reduce ? this.reduceQueues : this.queues)[priority]!;
    for (;;) {
      const job = q.peek();
      if (job === undefined) return undefined;
      if (job.state === 'queued' && job.fn === this) return job;
      q.shift();
    }
  }

  /** Remove and return the oldest live job at `priority`. */
  take(priority: number, allowReduce: boolean): Job | undefined {
    const plain = this.peek(priority, false);
    if (!allowReduce) {
      if (plain) this.queues[priority]!.shift();
      return plain;
    }
    const reduce = this.peek(priority, true);
    if (reduce && (!plain || reduce.seq < plain.seq)) {
      this.reduceQueues[priority]!.shift();
      return reduce;
    }
    if (plain) this.queues[priority]!.shift();
    return plain;
  }

  hasRunnable(allowReduce: boolean): boolean {
    for (let p = 0; p < 3; p++) {
      if (this.peek(p, false)) return true;
      if (allowReduce && this.peek(p, true)) return true;
    }
    return false;
  }

  /** Append to the tail of its priority list. */
  enqueue(job: Job): void {
    job.state = 'queued';
    (job.isReduce ? this.reduceQueues : this.queues)[job.priority]!.push(job);
    this.queued[job.priority]++;
  }
}
