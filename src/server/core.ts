import { randomBytes } from 'node:crypto';
import { AbortError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { PacketType, response } from '../protocol/index.ts';
import type { Connection } from './connection.ts';
import { EpochScheduler } from './epoch-scheduler.ts';
import { FunctionEntry } from './function-entry.ts';
import type { HookOutcome } from './hooks-spec.ts';
import { HookDispatcher } from './hooks.ts';
import { takeJobFor } from './job-picker.ts';
import { specOfStoredRow, storedRowOf, type Job, type NewJobSpec } from './job.ts';
import { JobTable, type JobsView } from './job-table.ts';
import type { ResolvedServerOptions } from './options.ts';
import type { RelayStats } from './relay-spec.ts';
import { ResultCache } from './result-cache.ts';
import type { StoredJob } from './store/types.ts';
import { TenantRegistry } from './tenants.ts';
import type { WriteBatcher } from './write-batcher.ts';

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
 * What the core asks of the job relay (relay.ts): JobServer builds it when `--relay` has rules
 * and hands it in through ServerCoreParts, so the core does not depend on the client library.
 */
export interface JobRelay {
  readonly stats: Readonly<RelayStats>;
  /** The reason to refuse a submission on `conn` that already passed through this server, else null. */
  loopRefusal(conn: Connection): string | null;
  /** Remember where a job submitted on `conn` came from. */
  noteOrigin(job: Job, conn: Connection): void;
  /** Take a job that became runnable (true) if a rule relays it and no local worker can do it. */
  take(job: Job): boolean;
  close(): void;
}

/** Parts JobServer plugs into the core. */
export interface ServerCoreParts {
  /** Builds the relay for this core (it calls back into the core when relayed jobs end). */
  readonly relay?: (core: ServerCore) => JobRelay;
  /** The admin `shutdown [graceful]` command was accepted. */
  readonly onShutdownRequest?: (graceful: boolean) => void;
}

/** Called when a job ends with a terminal packet (the HTTP monitor counts map/reduce tasks). */
export type JobEndListener = (job: Job, outcome: HookOutcome) => void;

/**
 * All job-server state and the rules that change it. One instance per JobServer; every packet of
 * every connection is handled in arrival order (packet-dispatch.ts and the handlers it calls), so
 * each SUBMIT gets exactly one JOB_CREATED or ERROR, in order (libgearman matches them by
 * sequence). The core imports none of its handlers; they change its state through its methods,
 * and read it through read-only views.
 */
export class ServerCore {
  readonly options: ResolvedServerOptions;
  readonly logger: Logger;
  /** Random id of this server process: relay hop lists and hook events name it. */
  readonly serverId = randomBytes(4).toString('hex');
  /** Tenants by client certificate; null when the server has none. */
  readonly tenants: TenantRegistry | null;
  /** `--result-cache`: null when off. */
  readonly resultCache: ResultCache | null;
  /** `--hook`: null when there is none. */
  readonly hooks: HookDispatcher | null;
  /** `--relay`: null when there is no rule. */
  readonly relay: JobRelay | null;

  readonly #functions = new Map<string, FunctionEntry>();
  readonly #jobs: JobTable;
  readonly #connections = new Set<Connection>();
  readonly #stats: ServerStats = { submitted: 0, completed: 0, failed: 0, exceptions: 0, requeued: 0, connectionsAccepted: 0, connectionsRefused: 0, connectionsCutOff: 0 };
  readonly #epochs: EpochScheduler;
  /** The persistent queue's group commit; null for the memory queue. */
  #queue: WriteBatcher | null = null;
  /** No new assignments: graceful shutdown in progress. */
  #draining = false;
  /** Submission sequence; a job's handle is `<prefix>:<seq>`. */
  #seq = 0;
  readonly #onShutdownRequest: ((graceful: boolean) => void) | undefined;
  readonly #jobEndListeners = new Set<JobEndListener>();
  /** whenIdle() callers, woken when the last running job ends. */
  #idleWaiters: (() => void)[] = [];

  constructor(options: ResolvedServerOptions, parts: ServerCoreParts = {}) {
    this.options = options;
    this.logger = options.logger;
    this.#jobs = new JobTable(options.jobHandlePrefix);
    this.#epochs = new EpochScheduler((job) => this.#epochDue(job), options.clock);
    this.tenants = options.tenants ? new TenantRegistry(options.tenants) : null;
    this.resultCache = options.resultCache ? new ResultCache(options.resultCache) : null;
    this.hooks = options.hooks && options.hooks.length > 0 ? new HookDispatcher(options.hooks, this.serverId, this.logger) : null;
    this.#onShutdownRequest = parts.onShutdownRequest;
    this.relay = parts.relay ? parts.relay(this) : null;
  }

  // ---------------------------------------------------------------- read-only views

  /** Function entries by name (tenant prefix included). */
  get functions(): ReadonlyMap<string, FunctionEntry> {
    return this.#functions;
  }

  /** Live jobs by handle, their coalescing keys and run queues (read-only views). */
  get jobs(): JobsView {
    return this.#jobs;
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  get stats(): Readonly<ServerStats> {
    return this.#stats;
  }

  /** Epoch jobs whose time has not come. */
  get scheduledCount(): number {
    return this.#epochs.size;
  }

  /** No job is handed out any more: a graceful shutdown is under way. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Whether a new background job goes to the persistent queue before it is acknowledged. */
  get persistent(): boolean {
    return this.#queue !== null;
  }

  /** Jobs currently running on workers (or relayed). */
  get runningCount(): number {
    let n = 0;
    for (const fn of this.#functions.values()) n += fn.running;
    return n;
  }

  // ---------------------------------------------------------------- functions

  /** The function entry of `name`, created on first use. */
  fn(name: string): FunctionEntry {
    let entry = this.#functions.get(name);
    if (!entry) {
      const owner = this.tenants?.ownerOf(name) ?? null;
      entry = new FunctionEntry(name, owner);
      const max = this.options.maxQueue;
      if (max > 0) entry.maxQueue = [max, max, max];
      owner?.functions.add(entry);
      this.#functions.set(name, entry);
    }
    return entry;
  }

  /** Admin `drop function`: its waiting jobs fail (gearmand leaks them), then the name goes. */
  dropFunction(fn: FunctionEntry): void {
    for (const slot of this.#jobs.slotsOf(fn)) this.cancel(this.#jobs.view(slot));
    this.#functions.delete(fn.name);
    fn.owner?.functions.delete(fn);
  }

  /** A fresh handle that names no job (a result answered from the cache). */
  newHandle(): string {
    return `${this.options.jobHandlePrefix}:${++this.#seq}`;
  }

  // ---------------------------------------------------------------- job lifecycle

  createJob(spec: NewJobSpec): Job {
    const seq = ++this.#seq;
    this.#stats.submitted++;
    return this.#jobs.materialize(this.#jobs.add(spec, seq, Date.now()), spec.whenToRun, spec.reducer);
  }

  /** A foreground client joins `job` (coalescing). */
  addClient(job: Job, conn: Connection): void {
    const kept = this.#jobs.materialize(job.slot);
    if (kept.clients.includes(conn)) return;
    kept.clients.push(conn);
    conn.clientJobs.add(kept);
    kept.ignore = false;
  }

  /** From now on, background jobs are stored through `queue` before they are acknowledged. */
  persistTo(queue: WriteBatcher): void {
    this.#queue = queue;
  }

  /** Store a new background job's row; resolves once it is committed. */
  persist(job: Job): Promise<void> {
    return this.#queue ? this.#queue.add(storedRowOf(job)) : Promise.resolve();
  }

  /**
   * The rows of the persistent queue after a restart, back as background jobs. Handles are
   * `<prefix>:<seq>`: a replayed job keeps its number, and numbering restarts above both the
   * stored jobs and the clock, so a handle from before the restart never names another job after
   * it. Rows written by gearmand have no seq: they get new numbers, in replay order.
   */
  restore(rows: readonly StoredJob[]): void {
    let top = this.options.clock.now() * 100;
    for (const row of rows) if (row.seq > top) top = row.seq;
    if (top > this.#seq) this.#seq = top;
    for (const row of rows) {
      const fn = this.fn(row.functionName);
      const seq = row.seq > 0 ? row.seq : ++this.#seq;
      const spec = specOfStoredRow(row, fn);
      const job = this.#jobs.materialize(this.#jobs.add(spec, seq, Date.now()), spec.whenToRun, spec.reducer);
      job.persisted = true;
      this.admit(job);
    }
  }

  /** Put a new or replayed job where it belongs: the epoch scheduler or its run queue. */
  admit(job: Job): void {
    if (job.whenToRun > 0 && job.whenToRun * 1000 > this.options.clock.now()) {
      job.state = 'scheduled';
      job.fn.waiting++;
      this.#epochs.add(job);
      return;
    }
    this.makeRunnable(job);
  }

  #epochDue(job: Job): void {
    job.fn.waiting--;
    this.makeRunnable(job);
  }

  /**
   * A job whose time has come: relayed (relay.ts), or into its run queue. A background job that
   * nobody waits for and that never ran is kept there as its table record only (job-table.ts).
   */
  makeRunnable(job: Job): void {
    if (this.relay?.take(job)) return;
    this.#jobs.enqueue(job.slot);
    if (job.background && job.clients.length === 0 && job.startedAt === 0 && job.whenToRun === 0 && job.reducer === null) this.#jobs.release(job);
    this.#wake(job.fn);
  }

  /** A relay took the job: it counts as running until it ends or comes back. */
  relayStarted(job: Job): void {
    job.state = 'running';
    job.startedAt = this.options.clock.now();
    job.fn.running++;
  }

  /** A relayed background job was not handed over: it no longer runs (the relay decides what next). */
  relayReturned(job: Job): void {
    job.fn.running--;
    this.#checkIdle();
  }

  /** Send NOOP to sleeping workers of `fn` that have not had one (all, or `workerWakeup`). */
  #wake(fn: FunctionEntry): void {
    if (fn.sleepers.size === 0 || this.#draining) return;
    let budget = this.options.workerWakeup || Infinity;
    for (const conn of fn.sleepers) {
      if (budget <= 0) break;
      this.#sendNoop(conn);
      budget--;
    }
  }

  /** PRE_SLEEP: a NOOP at once if the worker could take a job, else it sleeps until one comes. */
  preSleep(conn: Connection): void {
    if (this.#hasWorkFor(conn)) {
      this.#sendNoop(conn);
      return;
    }
    conn.sleeping = true;
    conn.noopSent = false;
    for (const a of conn.abilities) a.fn.sleepers.add(conn);
  }

  #sendNoop(conn: Connection): void {
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
    const slot = this.#draining ? -1 : takeJobFor(conn, this.options, this.#jobs);
    if (slot < 0) {
      conn.send(NO_JOB);
      return;
    }
    this.#assign(conn, this.#jobs.materialize(slot), kind);
  }

  #assign(conn: Connection, job: Job, kind: PacketType): void {
    const fn = job.fn;
    fn.running++;
    job.state = 'running';
    job.worker = conn;
    job.startedAt = this.options.clock.now();
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
      job.timeoutTimer = this.options.clock.setTimeout(() => {
        job.timeoutTimer = null;
        if (job.state === 'running' && job.worker === conn) {
          this.logger.info(`worker timeout reached on job ${job.handle}, requeueing`);
          this.#requeue(job);
        }
      }, ability.timeoutMs);
    }
  }

  /** Whether `conn` could take a job now. */
  #hasWorkFor(conn: Connection): boolean {
    if (this.#draining) return false;
    for (const a of conn.abilities) if (a.fn.hasRunnable()) return true;
    return false;
  }

  /**
   * The worker holding `job` is gone (disconnect, CANT_DO, RESET_ABILITIES, timeout): back to the
   * tail of its list with its status reset, or failed once `jobRetries` attempts are used up.
   */
  #requeue(job: Job): void {
    const fn = job.fn;
    const worker = job.worker;
    if (worker) worker.workerJobs.delete(job);
    job.worker = null;
    if (job.timeoutTimer) {
      this.options.clock.clearTimeout(job.timeoutTimer);
      job.timeoutTimer = null;
    }
    fn.running--;
    job.retries++;
    job.numerator = '0';
    job.denominator = '0';
    this.#stats.requeued++;
    if (job.ignore) {
      this.#free(job);
      this.#checkIdle();
      return;
    }
    if (this.options.jobRetries > 0 && job.retries >= this.options.jobRetries) {
      this.logger.warn(`job ${job.handle} (${fn.name}) dropped after ${job.retries} attempts`);
      const fail = response(PacketType.WORK_FAIL, job.handle);
      for (const c of job.clients) c.send(fail);
      fn.failed++;
      this.#stats.failed++;
      this.hooks?.jobEnded(job, 'fail', `dropped after ${job.retries} attempts`);
      this.#free(job);
      this.#checkIdle();
      return;
    }
    this.#jobs.enqueue(job.slot);
    this.#wake(fn);
    this.#checkIdle();
  }

  /** The job ended with a terminal packet (already forwarded to its clients). */
  finish(job: Job, outcome: HookOutcome, reason?: string): void {
    const fn = job.fn;
    for (const listener of this.#jobEndListeners) listener(job, outcome);
    this.hooks?.jobEnded(job, outcome, reason);
    if (job.worker) job.worker.workerJobs.delete(job);
    job.worker = null;
    if (job.timeoutTimer) {
      this.options.clock.clearTimeout(job.timeoutTimer);
      job.timeoutTimer = null;
    }
    fn.running--;
    if (outcome === 'complete') {
      fn.completed++;
      this.#stats.completed++;
    } else {
      fn.failed++;
      if (outcome === 'exception') this.#stats.exceptions++;
      else this.#stats.failed++;
    }
    this.#free(job);
    this.#checkIdle();
  }

  /** Call `listener` whenever a job ends with a terminal packet; returns its removal. */
  onJobEnd(listener: JobEndListener): () => void {
    this.#jobEndListeners.add(listener);
    return () => this.#jobEndListeners.delete(listener);
  }

  /** Forget a job that is not running: counters, maps, clients, stored row. */
  #free(job: Job): void {
    const fn = job.fn;
    const was = job.state;
    if (was === 'done') return;
    if (was === 'scheduled' || was === 'storing') fn.waiting--;
    // Nothing may keep a finished job alive: not the epoch heap until its time (the table takes
    // it out of its run queue).
    if (was === 'scheduled') this.#epochs.remove(job);
    for (const c of job.clients) c.clientJobs.delete(job);
    job.clients = [];
    if (job.persisted && this.#queue) {
      this.#queue.remove({ functionName: fn.name, unique: job.storeKey });
      job.persisted = false;
    }
    this.#jobs.free(job.slot);
  }

  /** Drop a job that is not running (cancel, drop function, abandoned by its clients). */
  dropWaiting(job: Job): void {
    this.#free(job);
  }

  /** A relayed background job the remote server acknowledged (or one cancelled while relayed): forget it, row included. */
  release(job: Job): void {
    job.fn.running--;
    this.#free(job);
    this.#checkIdle();
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
      if (job.persisted && this.#queue) {
        this.#queue.remove({ functionName: job.fn.name, unique: job.storeKey });
        job.persisted = false;
      }
      this.#jobs.unindexKey(job.slot);
    } else {
      this.#free(job);
    }
  }

  // ---------------------------------------------------------------- connections

  /** A new peer; counted as accepted. */
  connectionOpened(conn: Connection): void {
    this.#connections.add(conn);
    this.#stats.connectionsAccepted++;
  }

  /** A peer turned away before it became a connection (a limit, TLS, its certificate). */
  connectionRefused(): void {
    this.#stats.connectionsRefused++;
  }

  /** A peer cut off because it did not read its replies (maxPendingOutput). */
  connectionCutOff(): void {
    this.#stats.connectionsCutOff++;
  }

  connectionClosed(conn: Connection): void {
    if (!this.#connections.delete(conn)) return;
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
    for (const job of [...conn.workerJobs]) this.#requeue(job);
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
    for (const job of [...conn.workerJobs]) if (job.fn === fn) this.#requeue(job);
  }

  removeAbilities(conn: Connection): void {
    for (const a of conn.abilities) {
      a.fn.registrations -= a.registrations;
      a.fn.workers.delete(conn);
      a.fn.sleepers.delete(conn);
    }
    conn.abilities.length = 0;
    for (const job of [...conn.workerJobs]) this.#requeue(job);
  }

  // ---------------------------------------------------------------- shutdown

  /** Admin `shutdown [graceful]` was accepted. */
  requestShutdown(graceful: boolean): void {
    this.#onShutdownRequest?.(graceful);
  }

  /** Graceful shutdown: hand out no more jobs (running ones finish). */
  beginDraining(): void {
    this.#draining = true;
  }

  /**
   * Resolves once no job runs (at once if none does); rejects with AbortError when `signal`
   * fires first. With beginDraining() the core then stays idle.
   */
  whenIdle(signal?: AbortSignal): Promise<void> {
    if (this.runningCount === 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(new AbortError('whenIdle aborted', { cause: signal.reason }));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== wake);
        reject(new AbortError('whenIdle aborted', { cause: signal?.reason }));
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#idleWaiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wake whenIdle() callers if the last running job just ended. */
  #checkIdle(): void {
    if (this.#idleWaiters.length === 0 || this.runningCount > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const wake of waiters) wake();
  }

  shutdown(): void {
    this.relay?.close();
    this.hooks?.close();
    this.#epochs.clear();
    for (const job of this.#jobs.materialized()) {
      this.options.clock.clearTimeout(job.timeoutTimer);
      job.timeoutTimer = null;
    }
  }
}
