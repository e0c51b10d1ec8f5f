/**
 * Job relay between servers (`geartrain server --relay FUNC=host:port[,host:port]`): a job whose
 * function matches a rule and that no local worker can do (none registered when the job becomes
 * runnable) is submitted to the rule's servers through the client library, as a client.
 *
 * Foreground jobs: the remote job's WORK_DATA, WORK_WARNING and WORK_STATUS reach the original
 * clients under this server's handle as they come, then its WORK_COMPLETE, WORK_FAIL or
 * WORK_EXCEPTION (shown as WORK_FAIL to clients that did not ask for exceptions, as gearmand).
 * When the relay itself fails (no server reachable, the connection lost while the job ran there,
 * the remote refused it, a loop), the job fails: clients that asked for exceptions get
 * WORK_EXCEPTION with the reason, the others WORK_FAIL. A job lost with its remote server is not
 * run again: that is what its client would have seen connected to that server directly, and the
 * remote may have done part of its work.
 *
 * Background jobs: stored here first (with a persistent queue) and acknowledged as usual; when
 * runnable they are submitted to a remote server, and the local row is removed once that server
 * acknowledged the job (JOB_CREATED): from then on the remote server owns it (relay only to
 * servers with a persistent queue). Until then, failed attempts are retried with backoff, the job
 * waiting in between (a local worker that registers meanwhile gets it). A kill -9 before the
 * acknowledgement replays the row and relays it again; one between the acknowledgement and the
 * row's removal relays it a second time under the same unique key, which the remote coalesces
 * while it still holds the job (at least once).
 *
 * Loops: the relay connection identifies itself with SET_CLIENT_ID `geartrain-relay:<ids>`, the
 * ids of the servers the job passed through. A server that finds its own id there refuses the
 * submission with ERROR RELAY_LOOP; a relayed background job refused so stays in its local queue.
 */
import { Client, type Logger as ClientLogger, type Job as RemoteJob, type JobUpdate, type Priority as ClientPriority } from '../client/index.ts';
import { JobExceptionError, JobFailedError, ServerError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { PacketType, response } from '../protocol/index.ts';
import type { Connection } from './connection.ts';
import type { JobRelay, ServerCore } from './core.ts';
import { functionMatcher } from './function-pattern.ts';
import { Priority, type Job } from './job.ts';
import { hopsOf, MAX_RELAY_HOPS, relayClientId, type RelayRule, type RelayStats } from './relay-spec.ts';

/** Backoff between attempts to hand a background job over: 0.5 s doubling to 30 s. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

const PRIORITY_NAMES: Record<Priority, ClientPriority> = { [Priority.HIGH]: 'high', [Priority.NORMAL]: 'normal', [Priority.LOW]: 'low' };

interface CompiledRule {
  readonly rule: RelayRule;
  readonly matches: (fn: Job['fn']) => boolean;
  /** One client per hop path (the path rides in the connection's client id). */
  readonly clients: Map<string, Client>;
}

export class Relay implements JobRelay {
  readonly stats: RelayStats = { relayed: 0, completed: 0, failed: 0, handedOver: 0, retries: 0, loopsRefused: 0 };
  readonly #core: ServerCore;
  readonly #rules: CompiledRule[];
  readonly #logger: Logger;
  /** Servers a job passed through before it reached this one (relayed submissions only). */
  readonly #origins = new WeakMap<Job, readonly string[]>();
  /** Background jobs a loop refusal sent to the local queue: never relayed again. */
  readonly #local = new WeakSet<Job>();
  readonly #attempts = new WeakMap<Job, number>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(core: ServerCore, rules: readonly RelayRule[]) {
    this.#core = core;
    this.#logger = core.logger;
    this.#rules = rules.map((rule) => ({ rule, matches: functionMatcher(rule.functions), clients: new Map() }));
  }

  get serverId(): string {
    return this.#core.serverId;
  }

  /**
   * For a submission on `conn`: the reason to refuse it when it is a relayed job that already
   * passed through this server, else null. Checked before coalescing: the looped job would
   * otherwise join the very job it is relaying, and wait for itself.
   */
  loopRefusal(conn: Connection): string | null {
    const hops = hopsOf(conn.clientId);
    if (hops === null || !hops.includes(this.serverId)) return null;
    this.stats.loopsRefused++;
    return `job relayed in a loop: server ${this.serverId} already relayed it (path ${[...hops, this.serverId].join(' > ')})`;
  }

  /** Remember where a job submitted on `conn` came from (for the hop list of a further relay). */
  noteOrigin(job: Job, conn: Connection): void {
    const hops = hopsOf(conn.clientId);
    if (hops !== null) this.#origins.set(job, hops);
  }

  /** Take a job that became runnable, if a rule relays it and no local worker can do it. */
  take(job: Job): boolean {
    const fn = job.fn;
    if (this.#closed || this.#core.draining || fn.workers.size > 0 || this.#local.has(job)) return false;
    const rule = this.#rules.find((r) => r.matches(fn));
    if (!rule) return false;
    const hops = [...(this.#origins.get(job) ?? []), this.serverId];
    if (hops.length > MAX_RELAY_HOPS) return false;
    const client = this.#client(rule, hops);
    this.#core.relayStarted(job);
    this.stats.relayed++;
    const opts = {
      priority: PRIORITY_NAMES[job.priority],
      ...(job.isReduce ? { reducer: job.reducer! } : {}),
    };
    if (job.background) {
      // A generated key is sent as is, so a second hand-over after a crash coalesces remotely.
      void this.#handOver(job, client, { ...opts, unique: job.unique !== '' ? job.unique : job.storeKey });
    } else {
      void this.#runForeground(job, client, { ...opts, ...(job.unique !== '' ? { unique: job.unique } : {}) });
    }
    return true;
  }

  /** Stop: pending retries are dropped (their rows stay stored), connections close. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const r of this.#rules) {
      for (const c of r.clients.values()) c.destroy();
      r.clients.clear();
    }
  }

  #client(rule: CompiledRule, hops: readonly string[]): Client {
    const key = hops.join(',');
    let client = rule.clients.get(key);
    if (!client) {
      const tls = this.#core.options.relayTls;
      client = new Client({
        servers: [...rule.rule.servers],
        clientId: relayClientId(hops),
        exceptions: true,
        logger: clientLogger(this.#logger),
        ...(tls ? { tls } : {}),
      });
      rule.clients.set(key, client);
    }
    return client;
  }

  async #runForeground(job: Job, client: Client, opts: { priority: ClientPriority; unique?: string; reducer?: string }): Promise<void> {
    let remote: RemoteJob;
    try {
      remote = client.submit(job.fn.name, job.data, opts);
    } catch (err) {
      this.#relayFailed(job, this.#reason(client, err));
      return;
    }
    try {
      for await (const u of remote) this.#update(job, u);
      const result = await remote.result;
      if (this.#closed) return;
      this.stats.completed++;
      this.#broadcast(job, response(PacketType.WORK_COMPLETE, job.handle, result));
      this.#core.resultCache?.store(job, result);
      this.#core.finish(job, 'complete');
    } catch (err) {
      if (this.#closed) return;
      if (err instanceof JobFailedError) {
        this.stats.failed++;
        this.#broadcast(job, response(PacketType.WORK_FAIL, job.handle));
        this.#core.finish(job, 'fail');
      } else if (err instanceof JobExceptionError) {
        this.stats.failed++;
        this.#exception(job, err.payload);
        this.#core.finish(job, 'exception');
      } else {
        this.#relayFailed(job, this.#reason(client, err));
      }
    }
  }

  #update(job: Job, u: JobUpdate): void {
    if (this.#closed || job.state !== 'running') return;
    switch (u.type) {
      case 'data':
        this.#core.resultCache?.record(job, PacketType.WORK_DATA, u.data);
        this.#broadcast(job, response(PacketType.WORK_DATA, job.handle, u.data));
        return;
      case 'warning':
        this.#core.resultCache?.record(job, PacketType.WORK_WARNING, u.data);
        this.#broadcast(job, response(PacketType.WORK_WARNING, job.handle, u.data));
        return;
      case 'status':
        job.numerator = String(u.numerator);
        job.denominator = String(u.denominator);
        this.#broadcast(job, response(PacketType.WORK_STATUS, job.handle, job.numerator, job.denominator));
        return;
    }
  }

  /** WORK_EXCEPTION to clients that asked for exceptions, WORK_FAIL to the others (gearmand). */
  #exception(job: Job, payload: Buffer): void {
    const everyone = this.#core.options.exceptions;
    let exception: Buffer | null = null;
    let fail: Buffer | null = null;
    for (const c of job.clients) {
      if (everyone || c.exceptions) c.send((exception ??= response(PacketType.WORK_EXCEPTION, job.handle, payload)));
      else c.send((fail ??= response(PacketType.WORK_FAIL, job.handle)));
    }
  }

  /** The relay could not run a foreground job: it fails, with the reason for those who can read one. */
  #relayFailed(job: Job, reason: string): void {
    if (this.#closed) return;
    this.stats.failed++;
    this.#logger.warn(`job ${job.handle} (${job.fn.name}): ${reason}`);
    this.#exception(job, Buffer.from(reason));
    this.#core.finish(job, 'fail', reason);
  }

  async #handOver(job: Job, client: Client, opts: { priority: ClientPriority; unique: string; reducer?: string }): Promise<void> {
    const fn = job.fn;
    try {
      await client.submitBackground(fn.name, job.data, opts);
      if (this.#closed) return;
      this.stats.handedOver++;
      this.#attempts.delete(job);
      this.#core.release(job);
    } catch (err) {
      if (this.#closed) return;
      if (job.ignore) {
        this.#core.release(job);
        return;
      }
      this.#core.relayReturned(job);
      const reason = this.#reason(client, err);
      if (err instanceof ServerError && err.serverCode === 'RELAY_LOOP') {
        this.#logger.warn(`background job ${job.handle} (${fn.name}) stays in the local queue: ${reason}`);
        this.#local.add(job);
        this.#core.makeRunnable(job);
        return;
      }
      // Wait like a scheduled job (counted, not runnable), then try again.
      const attempt = (this.#attempts.get(job) ?? 0) + 1;
      this.#attempts.set(job, attempt);
      this.stats.retries++;
      job.state = 'scheduled';
      fn.waiting++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (attempt - 1));
      this.#logger.info(`background job ${job.handle} (${fn.name}) not handed over (${reason}); next attempt in ${delay} ms`);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        // Cancelled meanwhile ('done'), or the server is stopping: its row replays on restart.
        if (job.state !== 'scheduled' || this.#core.draining) return;
        fn.waiting--;
        this.#core.makeRunnable(job);
      }, delay);
      this.#timers.add(timer);
    }
  }

  #broadcast(job: Job, buf: Buffer): void {
    for (const c of job.clients) c.send(buf);
  }

  #reason(client: Client, err: unknown): string {
    const servers = client.options.servers.map((s) => s.id).join(',');
    if (err instanceof ServerError && err.serverCode === 'RELAY_LOOP') return `relay to ${servers} refused: ${err.message}`;
    return `relay to ${servers} failed: ${(err as Error).message}`;
  }
}

/** The client library's logger (message, meta) on top of the server's (message). */
function clientLogger(logger: Logger): ClientLogger {
  const line = (message: string, meta?: Record<string, unknown>) => `relay client: ${message}${meta ? ` ${JSON.stringify(meta)}` : ''}`;
  return {
    debug: (m, meta) => logger.debug(line(m, meta)),
    info: (m, meta) => logger.info(line(m, meta)),
    warn: (m, meta) => logger.warn(line(m, meta)),
    error: (m, meta) => logger.error(line(m, meta)),
  };
}
