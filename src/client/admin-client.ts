/**
 * `AdminClient`: the text admin protocol of one job server (gearmand `text.cc`), with typed
 * results. Commands are pipelined on one connection and answered in order; a listing ends with a
 * `.` line, any other reply is one `OK …` or `ERR …` line. `ERR` rejects with AdminError.
 */
import net from 'node:net';
import tls from 'node:tls';
import { AdminError, ClosedError, ConnectionError, InvalidArgumentError, ProtocolError } from '../errors.ts';
import {
  listingLines,
  parsePriorityStatus,
  parseShowJobs,
  parseShowUniqueJobs,
  parseStatus,
  parseWorkers,
  replyShape,
  type FunctionStatus,
  type JobInfo,
  type PriorityStatus,
  type WorkerInfo,
} from '../protocol/admin.ts';
import { deadline, raceSignal } from './deadline.ts';
import { parseAdminOptions, type AdminClientOptions, type CallOptions, type ResolvedAdminOptions } from './options.ts';
import { refusalError, REFUSAL_CODES, TLS_HINT, tlsAnswerError, tlsConnectError, tlsTimeoutError } from './tls-errors.ts';

/** Longest reply line accepted (a `workers` line lists every function of a connection). */
const MAX_LINE = 1024 * 1024;

interface Pending {
  readonly shape: 'listing' | 'line';
  readonly lines: string[];
  readonly resolve: (text: string) => void;
  readonly reject: (err: Error) => void;
}

export type { FunctionStatus, JobInfo, PriorityStatus, WorkerInfo };

/** One entry of geartrain's result cache (admin `cache`). */
export interface CacheEntryInfo {
  readonly function: string;
  readonly unique: string;
  /** Bytes it takes in the cache (result, replayed data, key). */
  readonly bytes: number;
  readonly ageSeconds: number;
  readonly hits: number;
}

export class AdminClient implements AsyncDisposable {
  readonly options: ResolvedAdminOptions;
  #socket: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #buffer = '';
  #pending: Pending[] = [];
  #closed = false;

  constructor(options?: AdminClientOptions) {
    this.options = parseAdminOptions(options);
  }

  /** `host:port` of the server. */
  get server(): string {
    return this.options.server.id;
  }

  /**
   * Send one command line and return the raw reply: the listing text including its `.` line, or
   * the single `OK …` line. `ERR …` rejects with AdminError (its `reply` holds the text after ERR).
   */
  async command(line: string, opts: CallOptions = {}): Promise<string> {
    if (this.#closed) throw new ClosedError('admin client is closed');
    if (/[\r\n]/.test(line)) throw new InvalidArgumentError('admin command must be a single line', { field: 'command' });
    const d = deadline(opts, `admin '${line}'`, this.options.timeoutMs);
    try {
      const socket = await raceSignal(this.#connect(), d.signal);
      const reply = new Promise<string>((resolve, reject) => this.#pending.push({ shape: replyShape(line), lines: [], resolve, reject }));
      // CRLF: gearmand's `create function` trims two bytes from its argument (gearmand-notes §2).
      socket.write(line + '\r\n');
      const text = await raceSignal(reply, d.signal);
      if (text.startsWith('ERR')) throw new AdminError(text.replace(/^ERR ?/, '').replace(/\r?\n$/, ''));
      return text;
    } catch (err) {
      // A reply that will never be read would shift every later reply by one: drop the connection.
      if (d.signal.aborted) this.#drop(d.signal.reason as Error);
      throw err;
    } finally {
      d.dispose();
    }
  }

  async status(opts?: CallOptions): Promise<FunctionStatus[]> {
    return parseStatus(await this.command('status', opts));
  }

  async workers(opts?: CallOptions): Promise<WorkerInfo[]> {
    return parseWorkers(await this.command('workers', opts));
  }

  async priorityStatus(opts?: CallOptions): Promise<PriorityStatus[]> {
    return parsePriorityStatus(await this.command('prioritystatus', opts));
  }

  async showJobs(opts?: CallOptions): Promise<JobInfo[]> {
    return parseShowJobs(await this.command('show jobs', opts));
  }

  async showUniqueJobs(opts?: CallOptions): Promise<string[]> {
    return parseShowUniqueJobs(await this.command('show unique jobs', opts));
  }

  /** The server's version text (`1.1.20+ds` from Debian's gearmand). */
  /** geartrain `cache`: the result cache's entries, least recently used first (AdminError when it is off). */
  async cacheEntries(opts?: CallOptions): Promise<CacheEntryInfo[]> {
    return listingLines(await this.command('cache', opts))
      .filter((l) => l.length > 0)
      .map((line) => {
        const [fn = '', unique = '', bytes = '0', age = '0', hits = '0'] = line.split('\t');
        const text = unique.replace(/\\([\\tnr])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : '\\'));
        return { function: fn, unique: text, bytes: Number(bytes), ageSeconds: Number(age), hits: Number(hits) };
      });
  }

  /** geartrain `cache flush [FUNC]` (FUNC may be a glob): resolves with the number of entries dropped. */
  async flushCache(fn?: string, opts?: CallOptions): Promise<number> {
    return Number(okValue(await this.command(fn === undefined ? 'cache flush' : `cache flush ${checkToken(fn)}`, opts)));
  }

  async version(opts?: CallOptions): Promise<string> {
    return okValue(await this.command('version', opts));
  }

  async getPid(opts?: CallOptions): Promise<number> {
    const v = okValue(await this.command('getpid', opts));
    const pid = Number(v);
    if (!Number.isInteger(pid)) throw new ProtocolError(`getpid answered ${JSON.stringify(v)}`);
    return pid;
  }

  /** The server's log level name (read-only in gearmand). */
  async verbose(opts?: CallOptions): Promise<string> {
    return okValue(await this.command('verbose', opts));
  }

  /** Remove a queued job; waiting clients get WORK_FAIL. Unknown handle: AdminError `UNKNOWN_JOB`. */
  async cancelJob(handle: string, opts?: CallOptions): Promise<void> {
    await this.command(`cancel job ${checkToken(handle)}`, opts);
  }

  async createFunction(name: string, opts?: CallOptions): Promise<void> {
    await this.command(`create function ${checkToken(name)}`, opts);
  }

  /** Only a function with no workers and no running jobs can be dropped. */
  async dropFunction(name: string, opts?: CallOptions): Promise<void> {
    await this.command(`drop function ${checkToken(name)}`, opts);
  }

  /** Cap a function's queue: one number for every priority, or one per priority (≤0: no cap). */
  async maxQueue(name: string, max: number | { high: number; normal: number; low: number }, opts?: CallOptions): Promise<void> {
    const values = typeof max === 'number' ? [max] : [max.high, max.normal, max.low];
    if (!values.every(Number.isInteger)) throw new InvalidArgumentError('maxqueue values must be integers', { field: 'max' });
    await this.command(`maxqueue ${checkToken(name)} ${values.join(' ')}`, opts);
  }

  /** Ask the server to shut down (gearmand 1.1.15+ has no such command and answers AdminError). */
  async shutdown(opts: CallOptions & { graceful?: boolean } = {}): Promise<void> {
    await this.command(opts.graceful ? 'shutdown graceful' : 'shutdown', opts);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const socket = this.#socket;
    this.#fail(new ClosedError('admin client is closed'));
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        setTimeout(() => socket.destroy(), 1000).unref();
      });
    }
  }

  destroy(error?: Error): void {
    this.#closed = true;
    this.#drop(error ?? new ClosedError('admin client destroyed'));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #connect(): Promise<net.Socket> {
    if (this.#socket && !this.#socket.destroyed) return Promise.resolve(this.#socket);
    this.#connecting ??= this.#dial().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  /** Connect, then send `auth TOKEN` first when the client has an admin token. */
  async #dial(): Promise<net.Socket> {
    const socket = await this.#open();
    const token = this.options.adminToken;
    if (token !== undefined) {
      const reply = new Promise<string>((resolve, reject) => this.#pending.push({ shape: 'line', lines: [], resolve, reject }));
      socket.write(`auth ${token}\r\n`);
      const text = await reply;
      if (text.startsWith('ERR')) {
        socket.destroy();
        throw new AdminError(text.replace(/^ERR ?/, '').replace(/\r?\n$/, ''));
      }
    }
    return socket;
  }

  #open(): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const { server, connection: c } = this.options;
      const servername = c.tls && !net.isIP(server.host) ? { servername: server.host } : {};
      const socket = c.connect ? c.connect(server) : c.tls ? tls.connect({ ...servername, ...c.tls, host: server.host, port: server.port }) : net.connect(server.port, server.host);
      const usesTls = c.tls !== undefined && !c.connect;
      const readyEvent = usesTls ? 'secureConnect' : 'connect';
      let tcpConnected = false;
      if (usesTls) socket.once('connect', () => (tcpConnected = true));
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          usesTls && tcpConnected
            ? tlsTimeoutError(server, c.connectTimeoutMs)
            : new ConnectionError(`cannot connect to ${server.id}: timed out after ${c.connectTimeoutMs} ms`, { server: server.id }),
        );
      }, c.connectTimeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          usesTls
            ? tlsConnectError(server, err, tcpConnected)
            : new ConnectionError(`cannot connect to ${server.id}: ${err.code ?? err.message}`, { cause: err, server: server.id }),
        );
      });
      socket.once(readyEvent, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        this.#attach(socket);
        resolve(socket);
      });
    });
  }

  #attach(socket: net.Socket): void {
    this.#socket = socket;
    this.#buffer = '';
    socket.setEncoding('latin1');
    let lastError: Error | undefined;
    const openedAt = Date.now();
    let bytesIn = 0;
    const plain = this.options.connection.tls === undefined;
    socket.on('data', (chunk: string) => {
      // A TLS record (0x16/0x15 0x03) where text was expected: this is a TLS port.
      if (bytesIn === 0 && plain && chunk.length >= 2 && (chunk.charCodeAt(0) === 0x16 || chunk.charCodeAt(0) === 0x15) && chunk.charCodeAt(1) === 3) {
        this.#drop(tlsAnswerError(this.options.server));
        return;
      }
      bytesIn += chunk.length;
      this.#onData(chunk);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (lastError = err));
    socket.on('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
      const id = this.options.server.id;
      // A TLS server drops a plain-text peer at once, without a word.
      const early = plain && bytesIn === 0 && Date.now() - openedAt < this.options.connection.connectTimeoutMs;
      const how = lastError ? `failed: ${(lastError as NodeJS.ErrnoException).code ?? lastError.message}` : `closed by the server${early ? ` before any reply (${TLS_HINT})` : ''}`;
      this.#fail(new ConnectionError(`connection to ${id} ${how}`, { cause: lastError, server: id }));
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    for (;;) {
      const nl = this.#buffer.indexOf('\n');
      if (nl === -1) break;
      const line = this.#buffer.slice(0, nl + 1);
      this.#buffer = this.#buffer.slice(nl + 1);
      // geartrain's server explains a refusal with one ERR line, then closes.
      const refusal = /^ERR (\S+) ?(.*?)\r?\n$/.exec(line);
      if (refusal && REFUSAL_CODES.has(refusal[1]!)) {
        this.#drop(refusalError(this.options.server, refusal[1]!, refusal[2]!));
        return;
      }
      const p = this.#pending[0];
      if (!p) continue;
      p.lines.push(line);
      const bare = line.replace(/\r?\n$/, '');
      const complete = p.shape === 'line' || bare === '.' || (p.lines.length === 1 && bare.startsWith('ERR'));
      if (complete) {
        this.#pending.shift();
        p.resolve(p.lines.join(''));
      }
    }
    if (this.#buffer.length > MAX_LINE) this.#drop(new ProtocolError(`admin reply line longer than ${MAX_LINE} bytes`));
  }

  #drop(error: Error): void {
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#fail(error);
  }

  #fail(error: Error): void {
    for (const p of this.#pending.splice(0)) p.reject(error);
  }
}

/** `OK value\n` → `value`; `OK\r\n` → ''. Anything else is returned as it came, without its EOL. */
function okValue(reply: string): string {
  const line = reply.replace(/\r?\n$/, '');
  if (line === 'OK') return '';
  return line.startsWith('OK ') ? line.slice(3) : line;
}

function checkToken(value: string): string {
  if (value.length === 0 || /[\s]/.test(value)) throw new InvalidArgumentError(`admin argument ${JSON.stringify(value)} must be one word`, { field: 'argument' });
  return value;
}
