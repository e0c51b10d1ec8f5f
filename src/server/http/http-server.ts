/**
 * The job server's optional HTTP port (`--http-port`): the live monitor page at `/`, `/status`
 * as JSON, `/metrics` for Prometheus, and gearmand-style job submission with `POST /FUNC`.
 * Started and stopped by JobServer; everything it shows is read from the same ServerCore.
 */
import http from 'node:http';
import type net from 'node:net';
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
  readonly logger: Logger;
}

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
    this.#http = http.createServer((req, res) => this.#route(req, res));
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
