/**
 * `Client`: submits jobs to one or more job servers.
 *
 * Server choice: a job with a unique key goes to server `crc32-hash(unique) % n` (the Perl
 * Gearman::Client's hash, so coalescing works across servers and across the two libraries given
 * the same server list); other jobs go round-robin. A server that is down is skipped (failover).
 *
 * A foreground job lives on its connection: when that connection is lost the job is lost too
 * (gearmand drops or discards it). It then fails with ConnectionError, unless the caller asked for
 * `retry: n`, in which case it is submitted again (possibly elsewhere) up to n times; updates
 * already delivered may then be repeated by the new run.
 */
import { createHash, randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { ClosedError, ConnectionError, InvalidArgumentError } from '../errors.ts';
import { request } from '../protocol/encoder.ts';
import { GEARMAN_MAX_FUNCTION_SIZE, GEARMAN_MAX_UNIQUE_SIZE, PacketType } from '../protocol/packet-types.ts';
import { ClientSession, type JobRecord } from './client-session.ts';
import { deadline, quiet, raceSignal } from './deadline.ts';
import { Job, type JobControl, type JobStatus, type Priority, type UniqueJobStatus } from './job.ts';
import { parseClientOptions, type CallOptions, type ClientOptions, type ResolvedClientOptions } from './options.ts';
import { ServerPool } from './server-pool.ts';
import { StatusChannel, type StatusEvent } from './status.ts';

export type Payload = Buffer | Uint8Array | string;

export interface SubmitOptions extends CallOptions {
  /** Unique key: jobs with the same function and key are run once (coalesced). `-` keys on the payload. */
  readonly unique?: string;
  readonly priority?: Priority;
  /** Fire and forget: the call ends when the server has stored the job. */
  readonly background?: boolean;
  /** Run at this time (Date or unix seconds): a background job (SUBMIT_JOB_EPOCH). */
  readonly epoch?: Date | number;
  /** Reducer function for a map/reduce job (SUBMIT_REDUCE_JOB); the worker gets it with the job. */
  readonly reducer?: string;
  /** Resubmit a foreground job up to this many times if its connection is lost (default: client's `retry`). */
  readonly retry?: number;
  /** Keep updates for `for await` (default true); false when only the result matters. */
  readonly updates?: boolean;
}

export interface StatusOptions extends CallOptions {
  /** Ask only this server (`host:port`); by default every connected server is asked. */
  readonly server?: string;
}

const SUBMIT_TYPES: Record<'fg' | 'bg', Record<Priority, PacketType>> = {
  fg: { high: PacketType.SUBMIT_JOB_HIGH, normal: PacketType.SUBMIT_JOB, low: PacketType.SUBMIT_JOB_LOW },
  bg: { high: PacketType.SUBMIT_JOB_HIGH_BG, normal: PacketType.SUBMIT_JOB_BG, low: PacketType.SUBMIT_JOB_LOW_BG },
};

/** Gearman::Task::hash: `(crc32(key) >> 16) & 0x7fff`. */
export function uniqueHash(key: Buffer | string): number {
  return (crc32(key) >>> 16) & 0x7fff;
}

function checkName(value: string, field: string, max: number): void {
  if (value.length === 0) throw new InvalidArgumentError(`${field} must not be empty`, { field });
  if (value.includes('\0')) throw new InvalidArgumentError(`${field} must not contain NUL`, { field });
  if (Buffer.byteLength(value) > max) throw new InvalidArgumentError(`${field} is longer than ${max} bytes`, { field });
}

function toBuffer(payload: Payload | undefined): Buffer {
  if (payload === undefined) return Buffer.alloc(0);
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  throw new InvalidArgumentError('payload must be a Buffer, Uint8Array or string', { field: 'payload' });
}

const NOOP = () => {};

export class Client implements AsyncDisposable {
  readonly options: ResolvedClientOptions;
  readonly #status = new StatusChannel();
  readonly #pool: ServerPool<ClientSession>;
  readonly #active = new Set<JobControl>();
  #roundRobin = 0;
  #started = false;
  #closing: Promise<void> | undefined;
  #idle: (() => void) | undefined;

  constructor(options?: ClientOptions) {
    this.options = parseClientOptions(options);
    const o = this.options;
    const owner = {
      exceptions: o.exceptions,
      clientId: o.clientId,
      logger: o.logger,
      status: this.#status,
      lost: (record: JobRecord, error: Error) => this.#lost(record, error),
    };
    this.#pool = new ServerPool(o.servers, o.connection, o.reconnect, (conn) => new ClientSession(conn, owner), this.#status, o.logger);
  }

  /** Connect to at least one server now (otherwise the first call connects). */
  async connect(opts?: CallOptions): Promise<void> {
    const d = deadline(opts, 'connect', this.options.timeoutMs, this.options.connection.clock);
    try {
      await this.#session(0, d.signal);
    } finally {
      d.dispose();
    }
  }

  /** Submit a job. Never throws for server trouble: the returned Job's promises reject instead. */
  submit(fn: string, payload?: Payload, opts: SubmitOptions = {}): Job {
    this.#checkOpen();
    checkName(fn, 'function', GEARMAN_MAX_FUNCTION_SIZE);
    const data = toBuffer(payload);
    const priority = opts.priority ?? 'normal';
    if (!(priority in SUBMIT_TYPES.fg)) throw new InvalidArgumentError(`priority must be high, normal or low`, { field: 'priority' });
    if (opts.unique !== undefined && opts.unique.length > 0) checkName(opts.unique, 'unique', GEARMAN_MAX_UNIQUE_SIZE);
    if (opts.reducer !== undefined) checkName(opts.reducer, 'reducer', GEARMAN_MAX_FUNCTION_SIZE);
    let background = opts.background ?? false;
    let epoch: number | undefined;
    if (opts.epoch !== undefined) {
      epoch = typeof opts.epoch === 'number' ? Math.floor(opts.epoch) : Math.floor(opts.epoch.getTime() / 1000);
      if (!Number.isFinite(epoch) || epoch < 0) throw new InvalidArgumentError('epoch must be a Date or unix seconds', { field: 'epoch' });
      if (opts.background === false) throw new InvalidArgumentError('epoch jobs are background jobs', { field: 'epoch' });
      if (priority !== 'normal' || opts.reducer !== undefined) {
        throw new InvalidArgumentError('epoch jobs take neither a priority nor a reducer', { field: 'epoch' });
      }
      background = true;
    }
    if (opts.reducer !== undefined && priority !== 'normal') {
      throw new InvalidArgumentError('reduce jobs have no priority', { field: 'priority' });
    }
    const userUnique = opts.unique ?? '';
    // libgearman sends a UUID for background jobs without a key, so stored rows never collide.
    const unique = userUnique.length === 0 && background ? randomUUID() : userUnique;
    let packet: Buffer;
    if (opts.reducer !== undefined) {
      const type = background ? PacketType.SUBMIT_REDUCE_JOB_BACKGROUND : PacketType.SUBMIT_REDUCE_JOB;
      packet = request(type, fn, unique, opts.reducer, '', data);
    } else if (epoch !== undefined) {
      packet = request(PacketType.SUBMIT_JOB_EPOCH, fn, unique, String(epoch), data);
    } else {
      packet = request(SUBMIT_TYPES[background ? 'bg' : 'fg'][priority], fn, unique, data);
    }
    const start =
      userUnique.length > 0
        ? uniqueHash(userUnique === '-' ? data : userUnique) % this.options.servers.length
        : this.#roundRobin++ % this.options.servers.length;
    const key =
      !background && userUnique.length > 0
        ? `${fn}\0${userUnique}${userUnique === '-' ? '\0' + createHash('sha1').update(data).digest('base64') : ''}`
        : undefined;

    let control!: JobControl;
    const job = new Job(
      { function: fn, unique, background, priority, keepUpdates: opts.updates ?? true, getStatus: (j) => this.#jobStatus(j) },
      (c) => (control = c),
    );
    // An AbortSignal costs ~10 µs to create and ~10 µs per listener on Node 20: only when needed.
    if (opts.signal === undefined && (opts.timeoutMs ?? this.options.timeoutMs) === undefined) {
      const record: JobRecord = { control, background, key, packet, start, signal: undefined, retriesLeft: opts.retry ?? this.options.retry };
      this.#track(control, job, NOOP);
      const session = this.#pool.links[start]?.session;
      if (session && !session.conn.blocked) session.submit(record);
      else void this.#dispatch(record);
      return job;
    }
    const d = deadline(opts, `job ${fn}`, this.options.timeoutMs, this.options.connection.clock);
    const record: JobRecord = { control, background, key, packet, start, signal: d.signal, retriesLeft: opts.retry ?? this.options.retry };
    this.#track(control, job, d.dispose);
    const abort = () => {
      control.fail(d.signal.reason as Error);
      for (const s of this.#pool.connected()) s.detach(record);
    };
    if (d.signal.aborted) abort();
    else d.signal.addEventListener('abort', abort, { once: true });
    const unlisten = () => d.signal.removeEventListener('abort', abort);
    (background ? job.created : job.result).then(unlisten, unlisten);
    void this.#dispatch(record);
    return job;
  }

  /** Submit a foreground job and wait for its result. */
  call(fn: string, payload?: Payload, opts: Omit<SubmitOptions, 'background' | 'epoch'> = {}): Promise<Buffer> {
    return this.submit(fn, payload, { ...opts, background: false }).result;
  }

  /** Submit a background job; resolves with its handle once the server has it. */
  submitBackground(fn: string, payload?: Payload, opts: Omit<SubmitOptions, 'background'> = {}): Promise<string> {
    return this.submit(fn, payload, { ...opts, background: true }).created;
  }

  /** GET_STATUS by handle; the first server that knows the job answers. */
  async getStatus(handle: string, opts: StatusOptions = {}): Promise<JobStatus> {
    checkName(handle, 'handle', 64);
    const results = await this.#askServers(opts, 'get status', request(PacketType.GET_STATUS, handle), PacketType.STATUS_RES);
    const parsed = results.map(({ server, args }) => ({
      handle: args[0] ?? handle,
      known: args[1] === '1',
      running: args[2] === '1',
      numerator: Number(args[3]) || 0,
      denominator: Number(args[4]) || 0,
      server,
    }));
    return parsed.find((s) => s.known) ?? parsed[0]!;
  }

  /** GET_STATUS_UNIQUE by unique key; the first server that knows the job answers. */
  async getStatusUnique(unique: string, opts: StatusOptions = {}): Promise<UniqueJobStatus> {
    checkName(unique, 'unique', GEARMAN_MAX_UNIQUE_SIZE);
    const results = await this.#askServers(opts, 'get status', request(PacketType.GET_STATUS_UNIQUE, unique), PacketType.STATUS_RES_UNIQUE);
    const parsed = results.map(({ server, args }) => ({
      unique: args[0] ?? unique,
      known: args[1] === '1',
      running: args[2] === '1',
      numerator: Number(args[3]) || 0,
      denominator: Number(args[4]) || 0,
      clientCount: Number(args[5]) || 0,
      server,
    }));
    return parsed.find((s) => s.known) ?? parsed[0]!;
  }

  /** ECHO round trip to one server (the first reachable). */
  async echo(data: Payload, opts: CallOptions = {}): Promise<Buffer> {
    this.#checkOpen();
    const d = deadline(opts, 'echo', this.options.timeoutMs, this.options.connection.clock);
    try {
      const session = await this.#session(this.#roundRobin++ % this.options.servers.length, d.signal);
      return await raceSignal(session.conn.echo(toBuffer(data)), d.signal);
    } finally {
      d.dispose();
    }
  }

  /** Connection lifecycle events (connected, disconnected, reconnecting, gave-up, server-error, closed). */
  status(): AsyncIterableIterator<StatusEvent> {
    return this.#status.subscribe();
  }

  /** Jobs submitted and not yet ended. */
  get pending(): number {
    return this.#active.size;
  }

  /**
   * Stop taking jobs, wait for the ones in flight, then close the connections. Idempotent.
   * If `signal` aborts or `timeoutMs` passes first, the client is destroyed with that error.
   */
  close(opts: CallOptions = {}): Promise<void> {
    this.#closing ??= (async () => {
      const d = deadline(opts, 'client close', undefined, this.options.connection.clock);
      try {
        if (this.#active.size > 0) await raceSignal(new Promise<void>((resolve) => (this.#idle = resolve)), d.signal);
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

  /** Fail every job in flight with `error` (ClosedError by default) and drop the connections. */
  destroy(error?: Error): void {
    const err = error ?? new ClosedError('client destroyed');
    this.#closing ??= Promise.resolve();
    for (const c of [...this.#active]) c.fail(err);
    this.#pool.destroy(err);
    this.#status.close(error);
  }

  /** Resolves when the client is closed: undefined after close(), the error after destroy(err). */
  closed(): Promise<Error | undefined> {
    return this.#status.closed();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #checkOpen(): void {
    if (this.#closing) throw new ClosedError('client is closed');
  }

  #track(control: JobControl, job: Job, dispose: () => void): void {
    this.#active.add(control);
    const done = () => {
      dispose();
      this.#active.delete(control);
      if (this.#active.size === 0) this.#idle?.();
    };
    quiet<unknown>(job.background ? job.created : job.result).then(done, done);
  }

  async #session(start: number, signal: AbortSignal | undefined): Promise<ClientSession> {
    if (!this.#started) {
      this.#started = true;
      this.#pool.keepAll();
    }
    return this.#pool.acquire(start, signal);
  }

  async #dispatch(record: JobRecord): Promise<void> {
    try {
      const session = await this.#session(record.start, record.signal);
      await raceSignal(session.conn.writable(), record.signal);
      if (record.control.settled) return;
      session.submit(record);
    } catch (err) {
      record.control.fail(err as Error);
    }
  }

  #lost(record: JobRecord, error: Error): void {
    if (record.control.settled) return;
    if (record.retriesLeft > 0 && !this.#closing) {
      record.retriesLeft--;
      void this.#dispatch(record);
      return;
    }
    record.control.fail(error instanceof ConnectionError ? error : new ConnectionError(error.message, { cause: error }));
  }

  async #jobStatus(job: Job): Promise<JobStatus> {
    const handle = job.handle ?? (await job.created);
    return this.getStatus(handle, { server: job.server });
  }

  async #askServers(opts: StatusOptions, what: string, packet: Buffer, expect: PacketType): Promise<{ server: string; args: string[] }[]> {
    this.#checkOpen();
    const d = deadline(opts, what, this.options.timeoutMs, this.options.connection.clock);
    try {
      let sessions: ClientSession[];
      if (opts.server !== undefined) {
        const idx = this.#pool.links.findIndex((l) => l.server.id === opts.server);
        if (idx === -1) throw new InvalidArgumentError(`server ${opts.server} is not in this client's list`, { field: 'server' });
        sessions = [await raceSignal(this.#pool.links[idx]!.acquire(), d.signal)];
      } else {
        await this.#session(0, d.signal);
        sessions = this.#pool.connected();
      }
      return await raceSignal(
        Promise.all(
          sessions.map(async (s) => {
            const frame = await s.request(packet, expect);
            return { server: s.conn.server.id, args: frame.args.map((a) => a.toString('utf8')) };
          }),
        ),
        d.signal,
      );
    } finally {
      d.dispose();
    }
  }
}
