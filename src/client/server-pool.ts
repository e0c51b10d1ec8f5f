/**
 * Keeps connections to a list of job servers: one ServerLink per server dials, re-dials with
 * exponential backoff and jitter after a loss, and hands each fresh connection to a session
 * factory (so the owner re-sends its setup: CAN_DO, OPTION_REQ, SET_CLIENT_ID). The pool picks a
 * connected server for a call, in an order the caller chooses, and fails over to the next one.
 */
import type { ClockTimer } from '../clock.ts';
import { ClosedError, NoServersError } from '../errors.ts';
import type { BinaryFrame } from '../protocol/decoder.ts';
import { Connection } from './connection.ts';
import { raceSignal } from './deadline.ts';
import type { ConnectionSettings, Logger, ReconnectSettings } from './options.ts';
import type { ServerAddress } from './server-address.ts';
import type { StatusChannel } from './status.ts';
import { isRefusal } from './tls-errors.ts';

/** What the owner attaches to each fresh connection. */
export interface LinkSession {
  onPacket(frame: BinaryFrame): void;
  onClose(error: Error): void;
  /** Called once the link counts the session as connected (it can now be picked). */
  onReady?(): void;
}

export type SessionFactory<S extends LinkSession> = (conn: Connection, reconnect: boolean) => S;

export type LinkState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'closed';

/** Backoff delay before dial number `attempt + 1` after `attempt` consecutive failures. */
export function backoffDelay(attempt: number, r: ReconnectSettings, random: () => number = Math.random): number {
  const base = Math.min(r.maxReconnectDelayMs, r.reconnectDelayMs * 2 ** Math.min(attempt, 30));
  return Math.max(0, Math.round(base * (1 + r.reconnectJitter * (2 * random() - 1))));
}

type Outcome = { resolve: (c: Connection) => void; reject: (e: Error) => void };

export class ServerLink<S extends LinkSession> {
  readonly server: ServerAddress;
  #state: LinkState = 'idle';
  #conn: Connection | undefined;
  #session: S | undefined;
  #dial: Promise<Connection> | undefined;
  #failures = 0;
  /** Consecutive failures before the current connection: a refused connection adds to them. */
  #failuresAtConnect = 0;
  #everConnected = false;
  #kept = false;
  #retryTimer: ClockTimer | undefined;
  #lastError: Error | undefined;
  #outcomes: Outcome[] = [];
  readonly #abort = new AbortController();
  readonly #settings: ConnectionSettings;
  readonly #reconnect: ReconnectSettings;
  readonly #factory: SessionFactory<S>;
  readonly #status: StatusChannel;
  readonly #logger: Logger | undefined;

  constructor(server: ServerAddress, settings: ConnectionSettings, reconnect: ReconnectSettings, factory: SessionFactory<S>, status: StatusChannel, logger?: Logger) {
    this.server = server;
    this.#settings = settings;
    this.#reconnect = reconnect;
    this.#factory = factory;
    this.#status = status;
    this.#logger = logger;
  }

  get state(): LinkState {
    return this.#state;
  }

  /** The live session, when connected. */
  get session(): S | undefined {
    return this.#state === 'connected' ? this.#session : undefined;
  }

  get lastError(): Error | undefined {
    return this.#lastError;
  }

  /** Stay connected from now on: dial now if idle, re-dial after every loss. */
  keep(): void {
    if (this.#state === 'closed') return;
    this.#kept = true;
    if (this.#state === 'idle') void this.#startDial().catch(() => {});
  }

  /**
   * The connected session; dials when idle and waits for a dial in flight. A server in backoff
   * rejects at once with its last error, so the caller can fail over without waiting.
   */
  acquire(): Promise<S> {
    switch (this.#state) {
      case 'connected':
        return Promise.resolve(this.#session!);
      case 'connecting':
        return this.#dial!.then(() => this.#session!);
      case 'idle':
        return this.#startDial().then(() => this.#session!);
      case 'waiting':
        return Promise.reject(this.#lastError!);
      case 'closed':
        return Promise.reject(new ClosedError(`link to ${this.server.id} is closed`));
    }
  }

  /** Settles with the next dial's result (dialling now if idle); resolves at once when connected. */
  nextOutcome(): Promise<S> {
    if (this.#state === 'connected') return Promise.resolve(this.#session!);
    if (this.#state === 'closed') return Promise.reject(new ClosedError(`link to ${this.server.id} is closed`));
    if (this.#state === 'idle') return this.#startDial().then(() => this.#session!);
    return new Promise<Connection>((resolve, reject) => this.#outcomes.push({ resolve, reject })).then(() => this.#session!);
  }

  /** Stop re-dialling and end the connection after its queued writes. */
  async close(): Promise<void> {
    const conn = this.#stop();
    if (conn) await conn.close();
  }

  destroy(error?: Error): void {
    this.#stop()?.destroy(error);
  }

  #stop(): Connection | undefined {
    if (this.#state === 'closed') return undefined;
    this.#state = 'closed';
    this.#kept = false;
    this.#settings.clock.clearTimeout(this.#retryTimer);
    const err = new ClosedError(`link to ${this.server.id} is closed`);
    this.#abort.abort(err);
    this.#settle(undefined, err);
    return this.#conn;
  }

  #startDial(): Promise<Connection> {
    this.#settings.clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#state = 'connecting';
    const dial = Connection.open(this.server, this.#settings, this.#abort.signal).then(
      (conn) => this.#onConnected(conn),
      (err: Error) => this.#onDialFailed(err),
    );
    this.#dial = dial;
    return dial;
  }

  #onConnected(conn: Connection): Connection {
    if (this.#state === 'closed') {
      conn.destroy();
      throw new ClosedError(`link to ${this.server.id} is closed`);
    }
    const reconnect = this.#everConnected;
    const session = this.#factory(conn, reconnect);
    conn.attach({ onPacket: (f) => session.onPacket(f), onClose: (e) => this.#onLost(conn, session, e) });
    this.#conn = conn;
    this.#session = session;
    this.#state = 'connected';
    this.#failuresAtConnect = this.#failures;
    this.#failures = 0;
    this.#everConnected = true;
    this.#dial = undefined;
    this.#logger?.info?.('connected', { server: this.server.id, reconnect });
    this.#status.push({ type: 'connected', server: this.server.id, reconnect });
    session.onReady?.();
    this.#settle(conn, undefined);
    return conn;
  }

  #onDialFailed(err: Error): never {
    this.#dial = undefined;
    if (this.#state === 'closed') throw err;
    this.#failures++;
    this.#lastError = err;
    const max = this.#reconnect.maxReconnectAttempts;
    if (this.#kept && (max < 0 || this.#failures < max)) {
      this.#scheduleRetry(backoffDelay(this.#failures - 1, this.#reconnect), err);
    } else {
      this.#state = 'idle';
      if (this.#kept) this.#status.push({ type: 'gave-up', server: this.server.id, attempts: this.#failures, error: err });
    }
    this.#settle(undefined, err);
    throw err;
  }

  #onLost(conn: Connection, session: S, error: Error): void {
    if (this.#conn === conn) {
      this.#conn = undefined;
      this.#session = undefined;
    }
    if (this.#state !== 'closed') {
      this.#lastError = error;
      this.#logger?.warn?.('disconnected', { server: this.server.id, error: error.message });
      this.#status.push({ type: 'disconnected', server: this.server.id, error });
      // The state changes before the session hears of the loss, so work it fails over in
      // onClose (a client's retry) does not pick this link again.
      if (isRefusal(error)) {
        // The server turned us away (TLS, certificate, limits): as good as a failed dial, so
        // the backoff grows and maxReconnectAttempts applies instead of a redial every 100 ms.
        this.#failures = this.#failuresAtConnect + 1;
        const max = this.#reconnect.maxReconnectAttempts;
        if (this.#kept && (max < 0 || this.#failures < max)) this.#scheduleRetry(backoffDelay(this.#failures - 1, this.#reconnect), error);
        else {
          this.#state = 'idle';
          if (this.#kept) this.#status.push({ type: 'gave-up', server: this.server.id, attempts: this.#failures, error });
        }
      } else if (this.#kept) this.#scheduleRetry(backoffDelay(0, this.#reconnect), error);
      else this.#state = 'idle';
    }
    session.onClose(error);
  }

  #scheduleRetry(delayMs: number, error: Error): void {
    this.#state = 'waiting';
    this.#status.push({ type: 'reconnecting', server: this.server.id, attempt: this.#failures + 1, delayMs, error });
    this.#retryTimer = this.#settings.clock.setTimeout(() => void this.#startDial().catch(() => {}), delayMs);
  }

  #settle(conn: Connection | undefined, err: Error | undefined): void {
    const outcomes = this.#outcomes;
    this.#outcomes = [];
    for (const o of outcomes) {
      if (conn) o.resolve(conn);
      else o.reject(err!);
    }
  }
}

export class ServerPool<S extends LinkSession> {
  readonly links: readonly ServerLink<S>[];
  readonly #reconnect: ReconnectSettings;

  constructor(
    servers: readonly ServerAddress[],
    settings: ConnectionSettings,
    reconnect: ReconnectSettings,
    factory: SessionFactory<S>,
    status: StatusChannel,
    logger?: Logger,
  ) {
    this.#reconnect = reconnect;
    this.links = servers.map((s) => new ServerLink(s, settings, reconnect, factory, status, logger));
  }

  get ids(): string[] {
    return this.links.map((l) => l.server.id);
  }

  /** Keep every server connected (workers, and clients once used). */
  keepAll(): void {
    for (const link of this.links) link.keep();
  }

  /** Live sessions, in server-list order. */
  connected(): S[] {
    const out: S[] = [];
    for (const l of this.links) {
      const s = l.session;
      if (s) out.push(s);
    }
    return out;
  }

  /**
   * A connected session, trying servers from index `start` on (wrapping round) so that a given
   * unique key keeps landing on the same server while it is up. Servers in backoff are skipped
   * at first; when none answers, waits for the next dial results, `connectAttempts` rounds in all,
   * then rejects with NoServersError naming every server.
   */
  async acquire(start: number, signal?: AbortSignal): Promise<S> {
    const n = this.links.length;
    let lastError: Error | undefined;
    for (let i = 0; i < n; i++) {
      const link = this.links[(start + i) % n]!;
      try {
        return await raceSignal(link.acquire(), signal);
      } catch (err) {
        if (signal?.aborted || err instanceof ClosedError) throw err;
        lastError = err as Error;
      }
    }
    for (let round = 1; round < this.#reconnect.connectAttempts; round++) {
      try {
        return await raceSignal(
          Promise.any(this.links.map((l) => l.nextOutcome())),
          signal,
        );
      } catch (err) {
        if (signal?.aborted) throw err;
        if (err instanceof AggregateError) {
          const errors = err.errors as Error[];
          if (errors.every((e) => e instanceof ClosedError)) throw errors[0];
          lastError = errors.find((e) => !(e instanceof ClosedError)) ?? lastError;
        } else lastError = err as Error;
      }
    }
    throw new NoServersError(this.ids, { cause: lastError });
  }

  async close(): Promise<void> {
    await Promise.all(this.links.map((l) => l.close()));
  }

  destroy(error?: Error): void {
    for (const l of this.links) l.destroy(error);
  }
}
