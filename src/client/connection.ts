/**
 * One TCP (or TLS) connection to one job server, speaking binary Gearman. It frames packets
 * (Decoder), batches writes per microtask, honours socket back-pressure, answers its own ECHO
 * requests (heartbeat and user echoes) and notices a dead peer through TCP keepalive plus an ECHO
 * heartbeat when the line has been quiet. It does not reconnect: ServerLink does.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ClockTimer } from '../clock.ts';
import { ConnectionError, ProtocolError, TimeoutError } from '../errors.ts';
import { Decoder, type BinaryFrame } from '../protocol/decoder.ts';
import { request } from '../protocol/encoder.ts';
import { PacketType } from '../protocol/packet-types.ts';
import type { ConnectionSettings } from './options.ts';
import type { ServerAddress } from './server-address.ts';
import { ReadSlab } from './read-slab.ts';
import { looksLikeTls, refusalError, REFUSAL_CODES, TLS_HINT, tlsAnswerError, tlsConnectError, tlsTimeoutError } from './tls-errors.ts';

export interface ConnectionHandlers {
  /** Every binary packet except ECHO_RES, in arrival order. */
  onPacket(frame: BinaryFrame): void;
  /** Called once, when the connection is gone for any reason. */
  onClose(error: Error): void;
}

interface EchoWaiter {
  readonly resolve: (data: Buffer) => void;
  readonly reject: (err: Error) => void;
}

const HEARTBEAT_PAYLOAD = Buffer.from('geartrain-heartbeat');

/** A plain TCP connection whose reads land in a ReadSlab and go to `deliver` (no 'data' events). */
function connectPlain(server: ServerAddress, deliver: (chunk: Buffer) => void): net.Socket {
  const slab = new ReadSlab();
  return net.connect({
    host: server.host,
    port: server.port,
    onread: {
      buffer: () => slab.next(),
      callback: (n, region) => {
        deliver(slab.take(region as Buffer, n));
        return true;
      },
    },
  });
}

export class Connection {
  readonly server: ServerAddress;
  readonly #socket: net.Socket;
  readonly #settings: ConnectionSettings;
  #handlers: ConnectionHandlers | undefined;
  readonly #decoder: Decoder;
  #out: Buffer[] = [];
  #flushScheduled = false;
  #blocked = false;
  #drainWaiters: (() => void)[] = [];
  readonly #echoes: EchoWaiter[] = [];
  #lastHeard: number;
  #heartbeatSentAt = 0;
  #heartbeatTimer: ClockTimer | undefined;
  #closed = false;
  #closeError: Error | undefined;
  readonly #openedAt: number;
  #bytesIn = 0;
  /** Read before attach(): plain TCP reads (onread) start as soon as the socket connects. */
  #early: Buffer[] = [];

  private constructor(server: ServerAddress, socket: net.Socket, settings: ConnectionSettings) {
    this.server = server;
    this.#socket = socket;
    this.#settings = settings;
    this.#openedAt = this.#lastHeard = settings.clock.now();
    this.#decoder = new Decoder((frame) => this.#onFrame(frame as BinaryFrame), { maxPacketSize: settings.maxPacketSize });
  }

  /** Connect; rejects with ConnectionError naming `host:port`, or the signal's reason. */
  static open(server: ServerAddress, settings: ConnectionSettings, signal?: AbortSignal): Promise<Connection> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      // No read happens before 'connect', so `conn` exists by the time connectPlain delivers one.
      let conn: Connection | undefined;
      const socket = settings.connect
        ? settings.connect(server)
        : settings.tls
          ? tls.connect({ servername: net.isIP(server.host) ? undefined : server.host, ...settings.tls, host: server.host, port: server.port })
          : connectPlain(server, (chunk) => conn!.#onChunk(chunk));
      const usesTls = settings.tls !== undefined && !settings.connect;
      const readyEvent = usesTls ? 'secureConnect' : 'connect';
      // For TLS, 'connect' is the TCP part: failures after it are the handshake's.
      let tcpConnected = false;
      if (usesTls) socket.once('connect', () => (tcpConnected = true));
      const fail = (err: Error) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const onError = (err: NodeJS.ErrnoException) =>
        fail(
          usesTls
            ? tlsConnectError(server, err, tcpConnected)
            : new ConnectionError(`cannot connect to ${server.id}: ${err.code ?? err.message}`, { cause: err, server: server.id }),
        );
      const onAbort = () => fail(signal!.reason as Error);
      const timer = settings.clock.setTimeout(
        () =>
          fail(
            usesTls && tcpConnected
              ? tlsTimeoutError(server, settings.connectTimeoutMs)
              : new ConnectionError(`cannot connect to ${server.id}: timed out after ${settings.connectTimeoutMs} ms`, { server: server.id, cause: new TimeoutError() }),
          ),
        settings.connectTimeoutMs,
      );
      const onReady = () => {
        cleanup();
        socket.setNoDelay(true);
        if (settings.keepAliveMs > 0) socket.setKeepAlive(true, settings.keepAliveMs);
        conn = new Connection(server, socket, settings);
        resolve(conn);
      };
      const cleanup = () => {
        settings.clock.clearTimeout(timer);
        socket.off('error', onError);
        socket.off(readyEvent, onReady);
        signal?.removeEventListener('abort', onAbort);
      };
      socket.once('error', onError);
      socket.once(readyEvent, onReady);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Start reading; packets go to `handlers`. Separate from `open` so the owner is set up first. */
  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    const socket = this.#socket;
    socket.on('data', (chunk: Buffer) => this.#onChunk(chunk));
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) this.#onChunk(chunk);
    socket.on('drain', () => this.#onDrain());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.#closeError ??= new ConnectionError(`connection to ${this.server.id} failed: ${err.code ?? err.message}`, { cause: err, server: this.server.id });
    });
    socket.on('close', () => this.#finish(this.#closeError ?? this.#closedByServer()));
    if (this.#settings.heartbeatIntervalMs > 0) {
      const tick = Math.max(50, Math.min(this.#settings.heartbeatIntervalMs, this.#settings.heartbeatTimeoutMs) / 2);
      this.#heartbeatTimer = this.#settings.clock.setInterval(() => this.#heartbeat(), tick).unref();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  #onChunk(chunk: Buffer): void {
    if (this.#closed) return;
    if (!this.#handlers) {
      this.#early.push(chunk);
      return;
    }
    this.#lastHeard = this.#settings.clock.now();
    if (this.#bytesIn === 0 && !this.#settings.tls && looksLikeTls(chunk)) {
      this.destroy(tlsAnswerError(this.server));
      return;
    }
    this.#bytesIn += chunk.length;
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.destroy(err as Error);
    }
  }

  /** True while the socket is over its high-water mark; wait with `writable()`. */
  get blocked(): boolean {
    return this.#blocked;
  }

  /** Queue one encoded packet; queued packets go out together at the end of this microtask. */
  send(packet: Buffer): void {
    if (this.#closed) throw this.#closeError ?? new ConnectionError(`connection to ${this.server.id} is closed`, { server: this.server.id });
    this.#out.push(packet);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
  }

  /** Resolves when the socket accepts more data (at once unless back-pressure is on). */
  writable(): Promise<void> {
    if (!this.#blocked || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** ECHO_REQ round trip; the server's reply is byte-identical. */
  echo(data: Buffer | string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      try {
        this.send(request(PacketType.ECHO_REQ, data));
      } catch (err) {
        reject(err);
        return;
      }
      this.#echoes.push({ resolve, reject });
    });
  }

  /** Flush what is queued, then end the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    const gone = new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
    this.#closeError ??= new ConnectionError(`connection to ${this.server.id} closed`, { server: this.server.id });
    this.#socket.end();
    const t = this.#settings.clock.setTimeout(() => this.#socket.destroy(), 2000).unref();
    await gone;
    this.#settings.clock.clearTimeout(t);
  }

  destroy(error?: Error): void {
    if (this.#closed) return;
    this.#closeError ??= error ?? new ConnectionError(`connection to ${this.server.id} closed`, { server: this.server.id });
    this.#socket.destroy();
    // 'close' follows asynchronously; finish now so callers see a consistent state at once.
    this.#finish(this.#closeError);
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed || this.#blocked || this.#out.length === 0) return;
    const data = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out);
    this.#out = [];
    if (!this.#socket.write(data)) this.#blocked = true;
  }

  #onDrain(): void {
    this.#blocked = false;
    this.#flush();
    if (this.#blocked) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * A TLS server drops a plain-text peer at once and without a word: a plain connection closed
   * before any byte arrived, soon after it opened, most likely met a TLS port.
   */
  #closedByServer(): ConnectionError {
    const early = this.#bytesIn === 0 && !this.#settings.tls && this.#settings.clock.now() - this.#openedAt < this.#settings.connectTimeoutMs;
    const hint = early ? ` before any reply (${TLS_HINT})` : '';
    return new ConnectionError(`connection to ${this.server.id} closed by the server${hint}`, { server: this.server.id });
  }

  #onFrame(frame: BinaryFrame): void {
    if (this.#closed) return;
    if (frame.magic !== 'RES') {
      throw new ProtocolError(`server sent a request packet (type ${frame.type})`);
    }
    if (frame.type === PacketType.ERROR) {
      const code = frame.args[0]?.toString('latin1') ?? '';
      if (REFUSAL_CODES.has(code)) {
        this.destroy(refusalError(this.server, code, frame.args[1]?.toString('utf8') ?? ''));
        return;
      }
    }
    if (frame.type === PacketType.ECHO_RES) {
      const waiter = this.#echoes.shift();
      if (waiter) waiter.resolve(Buffer.from(frame.args[0] ?? Buffer.alloc(0)));
      else this.#heartbeatSentAt = 0;
      return;
    }
    this.#handlers?.onPacket(frame);
  }

  #heartbeat(): void {
    if (this.#closed) return;
    const now = this.#settings.clock.now();
    if (this.#heartbeatSentAt > 0) {
      if (now - this.#heartbeatSentAt >= this.#settings.heartbeatTimeoutMs && this.#lastHeard < this.#heartbeatSentAt) {
        this.destroy(new ConnectionError(`${this.server.id} did not answer a heartbeat within ${this.#settings.heartbeatTimeoutMs} ms`, { server: this.server.id }));
      } else if (this.#lastHeard >= this.#heartbeatSentAt) {
        this.#heartbeatSentAt = 0;
      }
      return;
    }
    if (now - this.#lastHeard >= this.#settings.heartbeatIntervalMs) {
      this.#heartbeatSentAt = now;
      // Heartbeat echoes are answered in order with user echoes; a reply to either proves liveness.
      this.echo(HEARTBEAT_PAYLOAD).then(
        () => (this.#heartbeatSentAt = 0),
        () => {},
      );
    }
  }

  #finish(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#out = [];
    this.#settings.clock.clearInterval(this.#heartbeatTimer);
    for (const w of this.#echoes.splice(0)) w.reject(error);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
    this.#handlers?.onClose(error);
  }
}
