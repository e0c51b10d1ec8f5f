import type { Connection } from './connection.ts';
import { Fifo } from './fifo.ts';
import type { Job } from './job.ts';
import type { Tenant } from './tenants.ts';

/**
 * One function name on the server: its run queues (HIGH, NORMAL, LOW), the workers that can do
 * it, and its counters. Reduce jobs share the queues: gearmand hands them to any grab, as
 * JOB_ASSIGN_ALL only to GRAB_JOB_ALL.
 */
export class FunctionEntry {
  readonly name: string;
  /** The tenant whose prefix the name carries (null without tenants, or for unprefixed names). */
  readonly owner: Tenant | null;
  /** The name as its tenant knows it, without the tenant prefix. */
  readonly localName: string;
  readonly queues: [Fifo<Job>, Fifo<Job>, Fifo<Job>] = [new Fifo(), new Fifo(), new Fifo()];
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

  constructor(name: string, owner: Tenant | null = null) {
    this.name = name;
    this.owner = owner;
    this.localName = owner ? name.slice(owner.prefix.length) : name;
  }

  /** gearmand's "total": queued (incl. scheduled) plus running. */
  get total(): number {
    return this.queued[0] + this.queued[1] + this.queued[2] + this.waiting + this.running;
  }

  get queuedTotal(): number {
    return this.queued[0] + this.queued[1] + this.queued[2];
  }

  /** Oldest live job at `priority`, skipping entries that went stale; does not remove it. */
  peek(priority: number): Job | undefined {
    const q = this.queues[priority]!;
    for (;;) {
      const job = q.peek();
      if (job === undefined) return undefined;
      if (job.state === 'queued') return job;
      q.shift();
    }
  }

  /** Remove and return the oldest live job at `priority`. */
  take(priority: number): Job | undefined {
    const job = this.peek(priority);
    if (job) this.queues[priority]!.shift();
    return job;
  }

  hasRunnable(): boolean {
    return this.peek(0) !== undefined || this.peek(1) !== undefined || this.peek(2) !== undefined;
  }

  /**
   * A queued job at `priority` ended without being taken (its client left, it was cancelled):
   * once dead entries outnumber live ones, and there are enough to matter, rebuild that queue
   * without them. Amortised O(1); without it a function nobody serves keeps every abandoned job.
   */
  compact(priority: number): void {
    const q = this.queues[priority]!;
    if (q.length > 1024 && q.length > 2 * this.queued[priority]!) q.retain((job) => job.state === 'queued' && job.priority === priority);
  }

  /** Append to the tail of its priority list. */
  enqueue(job: Job): void {
    job.state = 'queued';
    this.queues[job.priority]!.push(job);
    this.queued[job.priority]++;
  }
}
