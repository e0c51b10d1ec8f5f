/**
 * The job server's optional HTTP port (`--http-port`): the live monitor page at `/`, `/status`
 * as JSON, `/metrics` for Prometheus, and gearmand-style job submission with `POST /FUNC`.
 * Started and stopped by JobServer; everything it shows is read from the same ServerCore.
 *
 * Guards: a request must name this server in its Host header (its listen address, an IP address,
 * `localhost`, or a name given with --http-host), so a web page whose name was rebound to this
 * machine (DNS rebinding) gets nothing; its connections count against the job server's
 * `maxConnections`; slow headers and bodies are cut after a few seconds.
 */
import http from 'node:http';
import net from 'node:net';
import type { Logger } from '../../logger.ts';
import type { ServerCore } from '../core.ts';
import { GcWatcher } from './gc-watcher.ts';
import { renderMetrics } from './metrics.ts';
import { monitorPage } from './monitor-page.ts';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.ts';
import { RunTracker } from './runs.ts';
import { buildStatus, type StatusJson } from './status.ts';
import { HttpSubmitter } from './submit.ts';
import { ThroughputSampler } from './throughput.ts';

export interface HttpAddress {
  host: string;
  port: number;
}

export interface MonitorServerOptions {
  readonly host: string;
  /** 0 = any free port. */
  readonly port: number;
  readonly core: ServerCore;
  /** The Gearman port's address, shown on the page. */
  readonly jobAddress: () => HttpAddress | null;
  /** Opens an in-process connection to the job server (for HTTP job submission). */
  readonly openStream: () => net.Socket;
  readonly maxPacketSize: number;
  /**
   * Accept POST /FUNC. Off when the job port needs TLS: the HTTP port has none, and its in-process
   * connection would skip the certificate checks.
   */
  readonly allowSubmit: boolean;
  /** Host names accepted besides IP addresses, `localhost` and the listen address (--http-host). */
  readonly allowedHosts?: readonly string[];
  /** Whether one more connection fits under the server's limit (both ports count). */
  readonly hasRoom?: () => boolean;
  /** A request's headers must arrive within this (default 5 s), the whole request within requestTimeoutMs. */
  readonly headersTimeoutMs?: number;
  /** Default 10 s. The job's answer may take as long as the job: only the request is timed. */
  readonly requestTimeoutMs?: number;
  readonly logger: Logger;
}

export const DEFAULT_HTTP_HEADERS_TIMEOUT_MS = 5_000;
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 10_000;

const SAMPLE_INTERVAL_MS = 1000;
const MONITOR_PATHS = new Set(['/', '/status', '/metrics']);

export class MonitorServer {
  readonly #o: MonitorServerOptions;
  readonly #http: http.Server;
  readonly #throughput: ThroughputSampler;
  readonly #runs = new RunTracker();
  readonly #gc = new GcWatcher();
  readonly #submitter: HttpSubmitter;
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | null = null;
  #address: HttpAddress | null = null;
  #closed = false;
  /** Removes the job-end listener of the run tracker. */
  #offJobEnd: (() => void) | null = null;
  readonly #sockets = new Set<net.Socket>();
  readonly #hosts: Set<string>;

  constructor(options: MonitorServerOptions) {
    this.#o = options;
    this.#throughput = new ThroughputSampler(options.core);
    this.#submitter = new HttpSubmitter({
      openStream: options.openStream,
      serverId: (() => {
        const a = options.jobAddress();
        return a ? `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}` : '127.0.0.1:4730';
      })(),
      maxPacketSize: options.maxPacketSize,
      logger: options.logger,
    });
    const headersTimeout = options.headersTimeoutMs ?? DEFAULT_HTTP_HEADERS_TIMEOUT_MS;
    this.#http = http.createServer(
      {
        headersTimeout,
        requestTimeout: Math.max(headersTimeout, options.requestTimeoutMs ?? DEFAULT_HTTP_REQUEST_TIMEOUT_MS),
        // How often Node checks those two (default 30 s, which would let a slow peer stay that long).
        connectionsCheckingInterval: Math.min(1000, headersTimeout),
      },
      (req, res) => this.#route(req, res),
    );
    this.#http.on('connection', (socket: net.Socket) => this.#onConnection(socket));
    this.#hosts = new Set(['localhost', ...(options.allowedHosts ?? []), options.host].map(normalizeHost));
  }

  /** Open HTTP connections (they count against the job server's connection limit). */
  get openConnections(): number {
    return this.#sockets.size;
  }

  #onConnection(socket: net.Socket): void {
    if (this.#o.hasRoom && !this.#o.hasRoom()) {
      socket.on('error', () => {});
      const body = 'the server is at its connection limit\n';
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  /** Whether the request's Host names this server (see the module comment). */
  #hostAllowed(req: http.IncomingMessage): boolean {
    const host = req.headers.host;
    if (host === undefined) return req.httpVersionMajor === 1 && req.httpVersionMinor === 0;
    const name = normalizeHost(hostName(host));
    return net.isIP(name) !== 0 || this.#hosts.has(name);
  }

  async listen(): Promise<HttpAddress> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#http.once('error', onError);
      this.#http.listen(this.#o.port, this.#o.host, () => {
        this.#http.off('error', onError);
        resolve();
      });
    });
    this.#http.on('error', (err) => this.#o.logger.warn(`http: ${err.message}`));
    const a = this.#http.address() as net.AddressInfo;
    this.#address = { host: a.address, port: a.port };
    this.#offJobEnd = this.#o.core.onJobEnd((job, outcome) => this.#runs.taskEnded(job, outcome));
    this.#timer = setInterval(() => this.#throughput.tick(), SAMPLE_INTERVAL_MS);
    this.#timer.unref();
    return { ...this.#address };
  }

  address(): HttpAddress | null {
    return this.#address ? { ...this.#address } : null;
  }

  /** The `/status` document now. */
  status(): StatusJson {
    const core = this.#o.core;
    return buildStatus({
      core,
      address: this.#o.jobAddress(),
      startedAt: this.#startedAt,
      throughput: this.#throughput.series(),
      functionLastMinute: (name) => this.#throughput.functionLastMinute(name),
      runs: this.#runs.runs(core),
      gc: this.#gc.info(),
      httpSubmitted: this.#submitter.submitted,
    });
  }

  #route(req: http.IncomingMessage, res: http.ServerResponse): void {
    // Split by hand: `new URL()` would read `//x` as a host, and throws on some request targets.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);
    const method = req.method ?? 'GET';
    if (!this.#hostAllowed(req)) {
      const hint = `Host ${JSON.stringify(req.headers.host ?? '')} is not a name of this server: it answers to its address, localhost and the names given with --http-host\n`;
      send(res, 421, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }, hint, method === 'HEAD');
      return;
    }
    if (method === 'POST' || method === 'PUT') {
      if (!this.#o.allowSubmit) {
        send(res, 403, { 'Content-Type': 'text/plain; charset=utf-8' }, 'HTTP job submission is off: the job port requires TLS\n');
        return;
      }
      if (!sameOrigin(req)) {
        // A web page from elsewhere must not submit jobs through a browser on this machine.
        send(res, 403, { 'Content-Type': 'text/plain; charset=utf-8' }, 'cross-origin job submission refused\n');
        return;
      }
      void this.#submitter.handle(req, res, path);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      send(res, 405, { Allow: 'GET, HEAD, POST, PUT', 'Content-Type': 'text/plain; charset=utf-8' }, 'method not allowed\n');
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (!MONITOR_PATHS.has(path)) {
      const hint = 'not found: the monitor is at /, /status and /metrics; submit jobs with POST /FUNCTION\n';
      send(res, 404, { 'Content-Type': 'text/plain; charset=utf-8' }, hint, method === 'HEAD');
      return;
    }
    try {
      if (path === '/') {
        send(res, 200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, monitorPage(), method === 'HEAD');
      } else if (path === '/status') {
        send(res, 200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }, JSON.stringify(this.status()), method === 'HEAD');
      } else {
        send(res, 200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Cache-Control': 'no-store' }, renderMetrics(this.status()), method === 'HEAD');
      }
    } catch (err) {
      this.#o.logger.error(`http ${path}: ${(err as Error).message}`);
      send(res, 500, { 'Content-Type': 'text/plain; charset=utf-8' }, 'internal error\n');
    }
  }

  /** Accept no new HTTP connection; requests in flight go on. */
  stopAccepting(): void {
    if (this.#address) this.#http.close();
  }

  /** Resolves once the foreground HTTP submissions whose job ended have their answers (see HttpSubmitter). */
  whenAnswered(signal?: AbortSignal): Promise<void> {
    const jobs = this.#o.core.jobs;
    return this.#submitter.whenAnswered((handle) => jobs.has(handle), signal);
  }

  /** Stop: fail submissions in flight, drop every HTTP connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#offJobEnd?.();
    this.#gc.close();
    this.#submitter.close();
    if (!this.#address) return;
    const closed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    // One turn for the 503s of the failed submissions to be written before the sockets go.
    await new Promise((resolve) => setImmediate(resolve));
    this.#http.closeAllConnections();
    await closed;
  }

  destroy(): void {
    void this.close();
  }
}

/** The host part of a Host header value (`[::1]:8080` → `::1`, `example.net:80` → `example.net`). */
function hostName(value: string): string {
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    return close > 0 ? value.slice(1, close) : value;
  }
  const colon = value.lastIndexOf(':');
  return colon >= 0 && value.indexOf(':') === colon ? value.slice(0, colon) : value;
}

function normalizeHost(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Browsers send Origin on cross-origin POSTs; tools such as curl send none. */
function sameOrigin(req: http.IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

function send(res: http.ServerResponse, status: number, headers: Record<string, string>, body: string, headOnly = false): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { ...headers, 'Content-Length': String(buf.length) });
  res.end(headOnly ? undefined : buf);
}
