/**
 * `Worker`: serves registered functions on every job server of its list at once, running at most
 * `concurrency` jobs in all. Reconnects with backoff after a loss and registers again (client id,
 * OPTION_REQ exceptions, CAN_DO / CAN_DO_TIMEOUT). `close()` stops taking jobs and lets running
 * ones finish; `destroy()` aborts them (the server gives them to another worker).
 */
import { ClosedError, ConnectionError, InvalidArgumentError } from '../errors.ts';
import { GEARMAN_MAX_FUNCTION_SIZE } from '../protocol/packet-types.ts';
import { deadline, raceSignal } from './deadline.ts';
import { parseWorkerOptions, type CallOptions, type ResolvedWorkerOptions, type WorkerOptions } from './options.ts';
import { ServerPool } from './server-pool.ts';
import { StatusChannel, type StatusEvent } from './status.ts';
import { runJob, type Handler, type JobOutcome, type Taken, type WorkerJob } from './worker-job.ts';
import { WorkerSession } from './worker-session.ts';

export interface RegisterOptions {
  /**
   * CAN_DO_TIMEOUT in ms: the server takes the job back (and requeues it) after this long; the
   * handler's `ctx.signal` aborts with TimeoutError shortly after (TIMEOUT_GRACE_MS). gearmand
   * raises values below 1000 to 1000.
   */
  readonly timeoutMs?: number;
}

interface Registration {
  readonly handler: Handler;
  readonly timeoutMs: number | undefined;
}

interface Running {
  readonly session: WorkerSession;
  readonly handle: string;
  readonly taken: Taken;
  stale: boolean;
  ended: boolean;
}

function take(r: Running, reason: unknown): void {
  if (r.taken.aborted) return;
  r.taken.aborted = true;
  r.taken.reason = reason;
  r.taken.listener?.(reason);
}

/** A finished job, reported through `onJobDone` (for counters and tests). */
export interface JobDone {
  readonly job: WorkerJob;
  readonly outcome: JobOutcome;
}

export class Worker implements AsyncDisposable {
  readonly options: ResolvedWorkerOptions;
  readonly #status = new StatusChannel();
  readonly #pool: ServerPool<WorkerSession>;
  readonly #functions = new Map<string, Registration>();
  readonly #running = new Set<Running>();
  #reserved = 0;
  #pumpFrom = 0;
  #started = false;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;
  readonly #doneListeners = new Set<(d: JobDone) => void>();

  constructor(options?: WorkerOptions) {
    this.options = parseWorkerOptions(options);
    const o = this.options;
    const owner = {
      clientId: o.clientId,
      logger: o.logger,
      status: this.#status,
      functions: () => [...this.#functions].map(([fn, r]) => [fn, r.timeoutMs] as [string, number | undefined]),
      release: () => this.#release(),
      assigned: (s: WorkerSession, job: WorkerJob) => this.#assigned(s, job),
      pump: () => this.#pump(),
      lost: (s: WorkerSession, error: Error) => this.#lost(s, error),
    };
    this.#pool = new ServerPool(o.servers, o.connection, o.reconnect, (conn) => new WorkerSession(conn, owner), this.#status, o.logger);
  }

  /** Serve `fn` with `handler`; may be called before or after `start()`. Replaces an earlier handler. */
  register(fn: string, handler: Handler, opts: RegisterOptions = {}): this {
    if (typeof fn !== 'string' || fn.length === 0 || fn.includes('\0') || Buffer.byteLength(fn) > GEARMAN_MAX_FUNCTION_SIZE) {
      throw new InvalidArgumentError(`function name must be 1-${GEARMAN_MAX_FUNCTION_SIZE} bytes without NUL`, { field: 'function' });
    }
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function', { field: 'handler' });
    const t = opts.timeoutMs;
    if (t !== undefined && (!Number.isInteger(t) || t < 1)) throw new InvalidArgumentError('timeoutMs must be a positive integer', { field: 'timeoutMs' });
    if (this.#closing) throw new ClosedError('worker is closed');
    const before = this.#functions.get(fn);
    this.#functions.set(fn, { handler, timeoutMs: t });
    if (!before || before.timeoutMs !== t) {
      for (const s of this.#pool.connected()) s.canDo(fn, t);
      this.#pump();
    }
    return this;
  }

  /** Stop serving `fn` (CANT_DO); jobs of it already running finish. */
  unregister(fn: string): void {
    if (!this.#functions.delete(fn)) return;
    for (const s of this.#pool.connected()) s.cantDo(fn);
  }

  /** Function names served. */
  get functions(): string[] {
    return [...this.#functions.keys()];
  }

  /** Jobs running now (including ones taken back whose handler has not returned yet). */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Connect to every server; resolves once one is connected and registered (the others keep
   * trying in the background). Rejects with NoServersError when none can be reached after
   * `connectAttempts` rounds; the worker is then closed.
   */
  async start(opts: CallOptions = {}): Promise<void> {
    if (this.#closing) throw new ClosedError('worker is closed');
    if (!this.#started) {
      this.#started = true;
      this.#pool.keepAll();
    }
    const d = deadline(opts, 'worker start', undefined, this.options.connection.clock);
    try {
      await this.#pool.acquire(0, d.signal);
    } catch (err) {
      this.destroy(err as Error);
      throw err;
    } finally {
      d.dispose();
    }
  }

  /** Called after every job with its outcome; returns a function that removes the listener. */
  onJobDone(listener: (done: JobDone) => void): () => void {
    this.#doneListeners.add(listener);
    return () => this.#doneListeners.delete(listener);
  }

  status(): AsyncIterableIterator<StatusEvent> {
    return this.#status.subscribe();
  }

  /**
   * Stop grabbing, let running jobs finish and send their results, then disconnect. Idempotent.
   * If `signal` aborts or `timeoutMs` passes first, the worker is destroyed.
   */
  close(opts: CallOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      const d = deadline(opts, 'worker close', undefined, this.options.connection.clock);
      try {
        if (this.#running.size + this.#reserved > 0) {
          await raceSignal(new Promise<void>((resolve) => (this.#idle = resolve)), d.signal);
        }
        await this.#pool.close();
        this.#status.close(undefined);
      } catch (err) {
        this.destroy(err as Error);
      } finally {
        d.dispose();
      }
    })();
    return this.#closing;
  }

  /** Abort running jobs (their `ctx.signal`) and drop every connection; the servers requeue the jobs. */
  destroy(error?: Error): void {
    this.#closing ??= Promise.resolve();
    const err = error ?? new ClosedError('worker destroyed');
    for (const r of this.#running) take(r, err);
    this.#pool.destroy(err);
    this.#status.close(error);
    this.#idle?.();
  }

  /** Resolves when the worker is closed: undefined after close(), the error after destroy(err). */
  closed(): Promise<Error | undefined> {
    return this.#status.closed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #free(): number {
    return this.options.concurrency - this.#running.size - this.#reserved;
  }

  /** Hand free slots to idle connections, starting after the last one served (no server starves). */
  #pump(): void {
    if (this.#closing || this.#functions.size === 0) return;
    const sessions = this.#pool.connected();
    const n = sessions.length;
    for (let i = 0; i < n && this.#free() > 0; i++) {
      const idx = (this.#pumpFrom + i) % n;
      if (sessions[idx]!.grab()) {
        this.#reserved++;
        this.#pumpFrom = idx + 1;
      }
    }
  }

  #release(): void {
    this.#reserved--;
    this.#settleIdle();
    this.#pump();
  }

  #assigned(session: WorkerSession, job: WorkerJob): void {
    this.#reserved--;
    // The server took this job back (CAN_DO_TIMEOUT) and gave it to us again: the older run is stale.
    for (const r of this.#running) if (r.session === session && r.handle === job.handle) r.stale = true;
    const reg = this.#functions.get(job.function);
    const running: Running = { session, handle: job.handle, taken: { aborted: false, reason: undefined, listener: undefined }, stale: false, ended: false };
    this.#running.add(running);
    const handler: Handler = reg?.handler ?? (() => Promise.reject(new InvalidArgumentError(`no handler for ${job.function}`, { field: 'function' })));
    const opts = {
      timeoutMs: reg?.timeoutMs,
      clock: this.options.connection.clock,
      onError: reg ? this.options.onError : ('fail' as const),
      logger: this.options.logger,
      stale: () => running.stale,
      onTerminal: (outcome: JobOutcome) => this.#jobEnded(running, job, outcome),
    };
    void runJob(job, handler, session, running.taken, opts).then(
      (outcome) => this.#jobEnded(running, job, outcome),
      () => this.#jobEnded(running, job, 'abandoned'),
    );
  }

  #jobEnded(running: Running, job: WorkerJob, outcome: JobOutcome): void {
    if (running.ended) return;
    running.ended = true;
    this.#running.delete(running);
    for (const l of this.#doneListeners) {
      try {
        l({ job, outcome });
      } catch (err) {
        this.options.logger?.error?.('onJobDone listener threw', { error: String(err) });
      }
    }
    this.#settleIdle();
    this.#pump();
  }

  #lost(session: WorkerSession, error: Error): void {
    const err = error instanceof ConnectionError ? error : new ConnectionError(error.message, { cause: error, server: session.conn.server.id });
    for (const r of this.#running) if (r.session === session) take(r, err);
  }

  #settleIdle(): void {
    if (this.#running.size + this.#reserved === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }
}
