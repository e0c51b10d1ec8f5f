import type { Connection } from './connection.ts';
import type { Tenant } from './tenants.ts';

/**
 * One run queue of a function: job-table slots in FIFO order, linked through the table's
 * columns (job-table.ts), so a queued job costs no node, and one that leaves early (cancelled,
 * its client gone) is unlinked at once.
 */
export interface RunQueue {
  head: number;
  tail: number;
  length: number;
}

let functionsMade = 0;

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
  /** Mixed into the hash of its jobs' unique keys (the job table has one coalescing index for all functions). */
  readonly hashSeed = Math.imul(++functionsMade, 0x9e3779b1);
  readonly queues: [RunQueue, RunQueue, RunQueue] = [
    { head: -1, tail: -1, length: 0 },
    { head: -1, tail: -1, length: 0 },
    { head: -1, tail: -1, length: 0 },
  ];
  /** Connections that registered this function. */
  readonly workers = new Set<Connection>();
  /** CAN_DO registrations, repeats included: the WORKERS column of `status`. */
  registrations = 0;
  /** Workers asleep (PRE_SLEEP) that have not been sent a NOOP yet. */
  readonly sleepers = new Set<Connection>();
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

  /** Runnable jobs per priority. */
  get queued(): [number, number, number] {
    return [this.queues[0].length, this.queues[1].length, this.queues[2].length];
  }

  /** gearmand's "total": queued (incl. scheduled) plus running. */
  get total(): number {
    return this.queuedTotal + this.waiting + this.running;
  }

  get queuedTotal(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }

  hasRunnable(): boolean {
    return this.queuedTotal > 0;
  }
}
