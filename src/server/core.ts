import { randomBytes } from 'node:crypto';
import { PacketType, response, type Frame } from '../protocol/index.ts';
import type { Logger } from '../logger.ts';
import type { Connection } from './connection.ts';
import { EpochScheduler } from './epoch-scheduler.ts';
import { FunctionEntry } from './function-entry.ts';
import { Job, type NewJobSpec } from './job.ts';
import type { ResolvedServerOptions } from './options.ts';
import type { WriteBatcher } from './write-batcher.ts';
import type { StoredJob } from './store/types.ts';
import { handleAdminLine } from './admin-commands.ts';
import { handleClientPacket } from './client-packets.ts';
import { handleWorkerPacket } from './worker-packets.ts';
import { TenantRegistry } from './tenants.ts';
import { ResultCache } from './result-cache.ts';
import { HookDispatcher } from './hooks.ts';
import type { HookOutcome } from './hooks-spec.ts';
import { Relay } from './relay.ts';

const NOOP = response(PacketType.NOOP);
const NO_JOB = response(PacketType.NO_JOB);

/** Counters for the monitor and `status` JSON. */
export interface ServerStats {
  submitted: number;
  completed: number;
  failed: number;
  exceptions: number;
  requeued: number;
  connectionsAccepted: number;
  /** Connections turned away: over a limit, plain text on the TLS port, bad or missing certificate. */
  connectionsRefused: number;
  /** Peers cut off because they did not read their replies (maxPendingOutput). */
  connectionsCutOff: number;
}

/**
 * All job-server state and the rules that change it. One instance per JobServer; every packet of
 * every connection is handled here in arrival order, so each SUBMIT gets exactly one JOB_CREATED
 * or ERROR, in order (libgearman matches them by sequence).
 */
export class ServerCore {
  readonly options: ResolvedServerOptions;
  readonly logger: Logger;
  readonly functions = new Map<string, FunctionEntry>();
  readonly jobs = new Map<string, Job>();
  readonly connections = new Set<Connection>();
  readonly stats: ServerStats = { submitted: 0, completed: 0, failed: 0, exceptions: 0, requeued: 0, connectionsAccepted: 0, connectionsRefused: 0, connectionsCutOff: 0 };
  readonly epochs: EpochScheduler;
  /** Tenants by client certificate; null when the server has none. */
  readonly tenants: TenantRegistry | null;
  batcher: WriteBatcher | null = null;
  /** No new assignments: graceful shutdown in progress. */
  draining = false;
  /** Submission sequence; a job's handle is `<prefix>:<seq>`. */
  #seq = 0;
  /** Called when the admin `shutdown` command is accepted. */
  onShutdownRequest: ((graceful: boolean) => void) | null = null;
  /** Called when a job ends with a terminal packet (the HTTP monitor counts map/reduce tasks). */
  onJobEnd: ((job: Job, outcome: 'complete' | 'fail' | 'exception') => void) | null = null;
  /** Random id of this server process: relay hop lists and hook events name it. */
  readonly serverId = randomBytes(4).toString('hex');
  /** `--result-cache`: null when off. */
  readonly resultCache: ResultCache | null;
  /** `--hook`: null when there is none. */
  readonly hooks: HookDispatcher | null;
  /** `--relay`: null when there is no rule. */
  readonly relay: Relay | null;

  constructor(options: ResolvedServerOptions) {
    this.options = options;
    this.logger = options.logger;
    this.epochs = new EpochScheduler((job) => this.#epochDue(job));
    this.tenants = options.tenants ? new TenantRegistry(options.tenants) : null;
    this.resultCache = options.resultCache ? new ResultCache(options.resultCache) : null;
    this.hooks = options.hooks && options.hooks.length > 0 ? new HookDispatcher(options.hooks, this.serverId, this.logger) : null;
    this.relay = options.relay && options.relay.length > 0 ? new Relay(this, options.relay) : null;
  }

  // ---------------------------------------------------------------- dispatch

  onFrame(conn: Connection, frame: Frame): void {
    if (frame.kind === 'admin') {
      handleAdminLine(this, conn, frame.line);
      return;
    }
    conn.packetsIn++;
    if (frame.magic !== 'REQ') {
      conn.send(response(PacketType.ERROR, 'INVALID_MAGIC', 'Request magic expected'));
      return;
    }
    if (handleClientPacket(this, conn, frame)) return;
    if (handleWorkerPacket(this, conn, frame)) return;
    conn.send(response(PacketType.ERROR, 'INVALID_COMMAND', 'Command not expected'));
  }

  // ---------------------------------------------------------------- functions

  fn(name: string): FunctionEntry {
    let entry = this.functions.get(name);
    if (!entry) {
      const owner = this.tenants?.ownerOf(name) ?? null;
      entry = new FunctionEntry(name, owner);
      const max = this.options.maxQueue;
      if (max > 0) entry.maxQueue = [max, max, max];
      owner?.functions.add(entry);
      this.functions.set(name, entry);
    }
    return entry;
  }

  handleFor(seq: number): string {
    return `${this.options.jobHandlePrefix}:${seq}`;
  }

  nextSeq(): number {
    return ++this.#seq;
  }

  /** Continue numbering after `seq` (stored jobs keep their numbers across a restart). */
  bumpSeq(seq: number): void {
    if (seq > this.#seq) this.#seq = seq;
  }

  // ---------------------------------------------------------------- job lifecycle

  createJob(spec: NewJobSpec): Job {
    const seq = this.nextSeq();
    const job = new Job(spec, this.handleFor(seq), seq);
    this.jobs.set(job.handle, job);
    if (job.coalesceKey !== '') spec.fn.byUnique.set(job.coalesceKey, job);
    this.stats.submitted++;
    return job;
  }

  /** Whether a new background job goes to the persistent queue before it is acknowledged. */
  get persistent(): boolean {
    return this.batcher !== null;
  }

  toStored(job: Job): StoredJob {
    return {
      unique: job.storeKey,
      functionName: job.fn.name,
      priority: job.priority as number,
      data: job.data,
      whenToRun: job.whenToRun,
      reducer: job.reducer,
      seq: job.seq,
    };
  }



  /** Put a new or replayed job where it belongs: the epoch scheduler or its run queue. */
  admit(job: Job): void {
    if (job.whenToRun > 0 && job.whenToRun * 1000 > Date.now()) {
      job.state = 'scheduled';
      job.fn.waiting++;
      this.epochs.add(job);
      return;
    }
    this.makeRunnable(job);
  }

  #epochDue(job: Job): void {
    job.fn.waiting--;
    this.makeRunnable(job);
  }

  /** A job whose time has come: relayed (relay.ts), or into its run queue. */
  makeRunnable(job: Job): void {
    if (this.relay?.take(job)) return;
    job.fn.enqueue(job);
    this.wake(job.fn);
  }

  /** Send NOOP to sleeping workers of `fn` that have not had one (all, or `workerWakeup`). */
  wake(fn: FunctionEntry): void {
    if (fn.sleepers.size === 0 || this.draining) return;
    let budget = this.options.workerWakeup || Infinity;
    for (const conn of fn.sleepers) {
      if (budget <= 0) break;
      this.sendNoop(conn);
      budget--;
    }
  }

  sendNoop(conn: Connection): void {
    conn.noopSent = true;
    conn.sleeping = false;
    for (const a of conn.abilities) a.fn.sleepers.delete(conn);
    conn.send(NOOP);
  }

  /** Handle GRAB_JOB / GRAB_JOB_UNIQ / GRAB_JOB_ALL. */
  grab(conn: Connection, kind: PacketType.GRAB_JOB | PacketType.GRAB_JOB_UNIQ | PacketType.GRAB_JOB_ALL): void {
    if (conn.sleeping || conn.noopSent) {
      conn.sleeping = false;
      conn.noopSent = false;
      for (const a of conn.abilities) a.fn.sleepers.delete(conn);
    }
    const job = this.draining ? undefined : this.#take(conn);
    if (!job) {
      conn.send(NO_JOB);
      return;
    }
    this.#assign(conn, job, kind);
  }

  #take(conn: Connection): Job | undefined {
    const abilities = conn.abilities;
    const n = abilities.length;
    if (n === 0) return undefined;
    if (this.options.priorityPerFunction) {
      // gearmand 1.1: newest CAN_DO first, first function with any job, its highest priority.
      for (let i = n - 1; i >= 0; i--) {
        const ability = abilities[i]!;
        for (let p = 0; p < 3; p++) {
          const job = ability.fn.take(p);
          if (job) {
            if (this.options.roundRobin) {
              abilities.splice(i, 1);
              abilities.unshift(ability);
            }
            return job;
          }
        }
      }
      return undefined;
    }
    // Global priority across the worker's functions, round-robin among them at equal priority.
    const start = conn.rrCursor % n;
    for (let p = 0; p < 3; p++) {
      for (let k = 0; k < n; k++) {
        const idx = (start + k) % n;
        const job = abilities[idx]!.fn.take(p);
        if (job) {
          conn.rrCursor = idx + 1;
          return job;
        }
      }
    }
    return undefined;
  }

  #assign(conn: Connection, job: Job, kind: PacketType): void {
    const fn = job.fn;
    fn.queued[job.priority]--;
    fn.running++;
    job.state = 'running';
    job.worker = conn;
    job.startedAt = Date.now();
    conn.workerJobs.add(job);
    // A tenant's worker knows the function by its name without the tenant prefix.
    const name = conn.tenant === null ? fn.name : fn.localName;
    if (kind === PacketType.GRAB_JOB) {
      conn.send(response(PacketType.JOB_ASSIGN, job.handle, name, job.data));
    } else if (kind === PacketType.GRAB_JOB_ALL && job.isReduce) {
      conn.send(response(PacketType.JOB_ASSIGN_ALL, job.handle, name, job.unique, job.reducer!, job.data));
    } else {
      conn.send(response(PacketType.JOB_ASSIGN_UNIQ, job.handle, name, job.unique, job.data));
    }
    const ability = conn.abilities.find((a) => a.fn === fn);
    if (ability && ability.timeoutMs > 0) {
      // One timer per assignment, cleared by the terminal packet (gearmand #301 kept one per connection).
      job.timeoutTimer = setTimeout(() => {
        job.timeoutTimer = null;
        if (job.state === 'running' && job.worker === conn) {
          this.logger.info(`worker timeout reached on job ${job.handle}, requeueing`);
          this.requeue(job);
        }
      }, ability.timeoutMs);
    }
  }

  /** Whether `conn` could take a job now (PRE_SLEEP answers NOOP at once if so). */
  hasWorkFor(conn: Connection): boolean {
    if (this.draining) return false;
    for (const a of conn.abilities) if (a.fn.hasRunnable()) return true;
    return false;
  }

  /**
   * The worker holding `job` is gone (disconnect, CANT_DO, RESET_ABILITIES, timeout): back to the
   * tail of its list with its status reset, or failed once `jobRetries` attempts are used up.
   */
  requeue(job: Job): void {
    const fn = job.fn;
    const worker = job.worker;
    if (worker) worker.workerJobs.delete(job);
    job.worker = null;
    if (job.timeoutTimer) {
      clearTimeout(job.timeoutTimer);
      job.timeoutTimer = null;
    }
    fn.running--;
    job.retries++;
    job.numerator = '0';
    job.denominator = '0';
    this.stats.requeued++;
    if (job.ignore) {
      this.#free(job);
      return;
    }
    if (this.options.jobRetries > 0 && job.retries >= this.options.jobRetries) {
      this.logger.warn(`job ${job.handle} (${fn.name}) dropped after ${job.retries} attempts`);
      const fail = response(PacketType.WORK_FAIL, job.handle);
      for (const c of job.clients) c.send(fail);
      fn.failed++;
      this.stats.failed++;
      this.hooks?.jobEnded(job, 'fail', `dropped after ${job.retries} attempts`);
      this.#free(job);
      return;
    }
    fn.enqueue(job);
    this.wake(fn);
  }

  /** The job ended with a terminal packet (already forwarded to its clients). */
  finish(job: Job, outcome: HookOutcome, reason?: string): void {
    const fn = job.fn;
    this.onJobEnd?.(job, outcome);
    this.hooks?.jobEnded(job, outcome, reason);
    if (job.worker) job.worker.workerJobs.delete(job);
    job.worker = null;
    if (job.timeoutTimer) {
      clearTimeout(job.timeoutTimer);
      job.timeoutTimer = null;
    }
    fn.running--;
    if (outcome === 'complete') {
      fn.completed++;
      this.stats.completed++;
    } else {
      fn.failed++;
      if (outcome === 'exception') this.stats.exceptions++;
      else this.stats.failed++;
    }
    this.#free(job);
  }

  /** Forget a job that is not running: counters, maps, clients, stored row. */
  #free(job: Job): void {
    const fn = job.fn;
    const was = job.state;
    if (was === 'queued') fn.queued[job.priority]--;
    else if (was === 'scheduled' || was === 'storing') fn.waiting--;
    job.state = 'done';
    // Nothing may keep a finished job alive: not the epoch heap until its time, not a run queue
    // that no worker reads.
    if (was === 'scheduled') this.epochs.remove(job);
    else if (was === 'queued') fn.compact(job.priority);
    this.jobs.delete(job.handle);
    if (job.coalesceKey !== '' && fn.byUnique.get(job.coalesceKey) === job) fn.byUnique.delete(job.coalesceKey);
    for (const c of job.clients) c.clientJobs.delete(job);
    job.clients = [];
    if (job.persisted && this.batcher) {
      this.batcher.remove({ functionName: fn.name, unique: job.storeKey });
      job.persisted = false;
    }
  }

  /** Drop a job that is not running (cancel, drop function, abandoned by its clients). */
  dropWaiting(job: Job): void {
    this.#free(job);
  }

  /** A relayed background job the remote server acknowledged (or one cancelled while relayed): forget it, row included. */
  release(job: Job): void {
    job.fn.running--;
    this.#free(job);
  }

  /** Admin `cancel job`: clients get WORK_FAIL; a running job runs on, its result discarded. */
  cancel(job: Job): void {
    // A running job ends later with its worker's packet, which fires the hooks then.
    if (job.state !== 'running') this.hooks?.jobEnded(job, 'fail', 'cancelled');
    const fail = response(PacketType.WORK_FAIL, job.handle);
    for (const c of job.clients) c.send(fail);
    for (const c of job.clients) c.clientJobs.delete(job);
    job.clients = [];
    if (job.state === 'running') {
      job.ignore = true;
      if (job.persisted && this.batcher) {
        this.batcher.remove({ functionName: job.fn.name, unique: job.storeKey });
        job.persisted = false;
      }
      if (job.coalesceKey !== '' && job.fn.byUnique.get(job.coalesceKey) === job) job.fn.byUnique.delete(job.coalesceKey);
    } else {
      this.#free(job);
    }
  }

  // ---------------------------------------------------------------- connections

  connectionClosed(conn: Connection): void {
    if (!this.connections.delete(conn)) return;
    if (conn.tenant) conn.tenant.connections--;
    // Foreground jobs of a departed client: drop them if nobody else waits and they did not start.
    for (const job of conn.clientJobs) {
      job.clients = job.clients.filter((c) => c !== conn);
      if (job.clients.length > 0 || job.background) continue;
      if (job.state === 'running') job.ignore = true;
      else if (job.state !== 'done') this.#free(job);
    }
    conn.clientJobs.clear();
    // Jobs held by a departed worker go back to their queues.
    for (const job of [...conn.workerJobs]) this.requeue(job);
    this.removeAbilities(conn);
  }

  addAbility(conn: Connection, name: string, timeoutMs: number): void {
    const existing = conn.abilities.find((a) => a.fn.name === name);
    if (existing) {
      existing.timeoutMs = timeoutMs;
      existing.registrations++;
      existing.fn.registrations++;
      return;
    }
    const fn = this.fn(name);
    conn.abilities.push({ fn, timeoutMs, registrations: 1 });
    fn.workers.add(conn);
    fn.registrations++;
    if (conn.sleeping && !conn.noopSent) fn.sleepers.add(conn);
  }

  removeAbility(conn: Connection, name: string): void {
    const i = conn.abilities.findIndex((a) => a.fn.name === name);
    if (i === -1) return;
    const fn = conn.abilities[i]!.fn;
    fn.registrations -= conn.abilities[i]!.registrations;
    conn.abilities.splice(i, 1);
    fn.workers.delete(conn);
    fn.sleepers.delete(conn);
    for (const job of [...conn.workerJobs]) if (job.fn === fn) this.requeue(job);
  }

  removeAbilities(conn: Connection): void {
    for (const a of conn.abilities) {
      a.fn.registrations -= a.registrations;
      a.fn.workers.delete(conn);
      a.fn.sleepers.delete(conn);
    }
    conn.abilities.length = 0;
    for (const job of [...conn.workerJobs]) this.requeue(job);
  }

  /** Jobs currently running on workers. */
  get runningCount(): number {
    let n = 0;
    for (const fn of this.functions.values()) n += fn.running;
    return n;
  }

  shutdown(): void {
    this.relay?.close();
    this.hooks?.close();
    this.epochs.clear();
    for (const job of this.jobs.values()) {
      if (job.timeoutTimer) clearTimeout(job.timeoutTimer);
      job.timeoutTimer = null;
    }
  }
}
