/**
 * gearmand's HTTP job submission (its `-r http` plugin, gearmand-notes §2): `POST /FUNC` (or PUT)
 * with the workload as the body, `X-Gearman-Unique`, `X-Gearman-Background: true` and
 * `X-Gearman-Priority: high|low`. The reply carries `X-Gearman-Job-Handle` and
 * `X-Gearman-Command` (JOB_CREATED for a background job, else the terminal packet's name) and, for
 * a foreground job, the worker's WORK_DATA chunks followed by its result as the body.
 *
 * Jobs go through an ordinary `Client` whose connection is an in-process stream into this
 * server's own packet handlers, so priority, unique keys, coalescing and background jobs behave
 * exactly as for a TCP client.
 *
 * Where geartrain departs from gearmand's plugin on purpose:
 * - no X-Gearman-Unique means no unique key (gearmand uses `-`, which coalesces equal bodies);
 * - WORK_FAIL / WORK_EXCEPTION answer 500 (gearmand: 200 with X-Gearman-Command), a job the
 *   server refuses answers 503, a bad request 400, so `curl --fail` notices;
 * - GET does not submit: GET paths belong to the monitor;
 * - a request whose Origin header names another site is refused (403, in http-server.ts), so a
 *   web page cannot submit jobs through the browser of someone on this machine;
 * - when the job port requires TLS, submission is off (403): the HTTP port has no TLS and its
 *   in-process connection would skip the certificate checks.
 */
import type http from 'node:http';
import type net from 'node:net';
import { Client } from '../../client/client.ts';
import { raceSignal } from '../../client/deadline.ts';
import { AbortError, GeartrainError, InvalidArgumentError, JobExceptionError, JobFailedError, ServerError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import { GEARMAN_MAX_UNIQUE_SIZE } from '../../protocol/packet-types.ts';

/** SUBMIT_JOB's 12-byte header and the two NULs between its three arguments. */
const SUBMIT_OVERHEAD = 14;

export interface SubmitRequest {
  readonly fn: string;
  readonly unique: string;
  readonly background: boolean;
  readonly priority: 'high' | 'normal' | 'low';
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The submission a request asks for; the function name is the path without its leading slashes. */
export function parseSubmitRequest(req: http.IncomingMessage, pathname: string): SubmitRequest {
  let fn: string;
  try {
    fn = decodeURIComponent(pathname.replace(/^\/+/, ''));
  } catch {
    throw new InvalidArgumentError(`bad percent-encoding in function name ${JSON.stringify(pathname)}`, { field: 'function' });
  }
  if (fn.length === 0) throw new InvalidArgumentError('give the function name as the path: POST /FUNCTION', { field: 'function' });
  const priorityHeader = (header(req, 'x-gearman-priority') ?? '').trim().toLowerCase();
  return {
    fn,
    unique: header(req, 'x-gearman-unique') ?? '',
    background: (header(req, 'x-gearman-background') ?? '').trim().toLowerCase() === 'true',
    priority: priorityHeader === 'high' ? 'high' : priorityHeader === 'low' ? 'low' : 'normal',
  };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new BodyTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

class BodyTooLargeError extends InvalidArgumentError {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes (the server's max packet size)`, { field: 'body' });
  }
}

function reply(res: http.ServerResponse, status: number, headers: Record<string, string>, body: Buffer | string = ''): void {
  if (res.headersSent || res.destroyed) return;
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'Content-Length': String(buf.length) });
  res.end(buf);
}

export interface HttpSubmitterOptions {
  /** Opens a stream that the job server serves as a new connection. */
  readonly openStream: () => net.Socket;
  /** `host:port` shown as the client's server (only a label: the stream is in-process). */
  readonly serverId: string;
  readonly maxPacketSize: number;
  readonly logger: Logger;
}

export class HttpSubmitter {
  readonly #options: HttpSubmitterOptions;
  #client: Client | null = null;
  #closed = false;
  /** Foreground submissions not answered yet: their job (handle known once created) → their answer's end. */
  readonly #waiting = new Map<{ readonly handle: string | undefined }, Promise<void>>();
  /** Jobs accepted through HTTP. */
  submitted = 0;

  constructor(options: HttpSubmitterOptions) {
    this.#options = options;
  }

  #getClient(): Client {
    this.#client ??= new Client({
      servers: this.#options.serverId,
      connect: () => this.#options.openStream(),
      clientId: 'geartrain-http',
      exceptions: true,
      // The stream cannot go quiet or half-dead: no heartbeat, no keepalive.
      heartbeatIntervalMs: 0,
      keepAliveMs: 0,
      maxPacketSize: this.#options.maxPacketSize,
      reconnectDelayMs: 10,
      maxReconnectDelayMs: 200,
      connectAttempts: 1,
    });
    return this.#client;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, pathname: string): Promise<void> {
    if (this.#closed) {
      reply(res, 503, { 'Content-Type': 'text/plain; charset=utf-8' }, 'server is shutting down\n');
      return;
    }
    const ac = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) ac.abort(new AbortError('HTTP client went away'));
    };
    res.on('close', onClose);
    let foreground: { readonly handle: string | undefined } | undefined;
    let answered = () => {};
    try {
      const sub = parseSubmitRequest(req, pathname);
      // The unique key takes at most GEARMAN_MAX_UNIQUE_SIZE bytes (a generated one included).
      const room = this.#options.maxPacketSize - SUBMIT_OVERHEAD - Buffer.byteLength(sub.fn) - GEARMAN_MAX_UNIQUE_SIZE;
      const body = await readBody(req, Math.max(0, room));
      const job = this.#getClient().submit(sub.fn, body, {
        ...(sub.unique !== '' ? { unique: sub.unique } : {}),
        priority: sub.priority,
        background: sub.background,
        signal: ac.signal,
        updates: !sub.background,
      });
      if (sub.background) {
        const handle = await job.created;
        this.submitted++;
        reply(res, 200, { 'X-Gearman-Job-Handle': handle, 'X-Gearman-Command': 'JOB_CREATED' });
        return;
      }
      void job.created.then(() => this.submitted++, () => {});
      const chunks: Buffer[] = [];
      foreground = job;
      this.#waiting.set(job, new Promise<void>((resolve) => (answered = resolve)));
      try {
        for await (const u of job) if (u.type === 'data') chunks.push(u.data);
        chunks.push(await job.result);
      } catch (err) {
        const handle = job.handle;
        const h: Record<string, string> = handle ? { 'X-Gearman-Job-Handle': handle } : {};
        if (err instanceof JobExceptionError) {
          reply(res, 500, { ...h, 'X-Gearman-Command': 'WORK_EXCEPTION', 'Content-Type': 'application/octet-stream' }, err.payload);
          return;
        }
        if (err instanceof JobFailedError) {
          reply(res, 500, { ...h, 'X-Gearman-Command': 'WORK_FAIL' });
          return;
        }
        throw err;
      }
      reply(
        res,
        200,
        { 'X-Gearman-Job-Handle': job.handle ?? '', 'X-Gearman-Command': 'WORK_COMPLETE', 'Content-Type': 'application/octet-stream' },
        Buffer.concat(chunks),
      );
    } catch (err) {
      if (ac.signal.aborted) return;
      const text = { 'Content-Type': 'text/plain; charset=utf-8' };
      if (err instanceof BodyTooLargeError) {
        reply(res, 413, { ...text, Connection: 'close' }, err.message + '\n');
      } else if (err instanceof InvalidArgumentError) {
        reply(res, 400, text, err.message + '\n');
      } else if (err instanceof ServerError) {
        reply(res, 503, { ...text, 'X-Gearman-Error': err.serverCode }, err.message + '\n');
      } else {
        if (!(err instanceof GeartrainError)) this.#options.logger.warn(`http submit: ${(err as Error).message}`);
        reply(res, 503, text, `${(err as Error).message}\n`);
      }
    } finally {
      res.off('close', onClose);
      if (foreground) this.#waiting.delete(foreground);
      answered();
    }
  }

  /**
   * Resolves once the foreground submissions whose job the server no longer holds (it ended) have
   * been answered: their result was on its way through the in-process stream. A graceful close
   * waits for these, once no job runs, before it fails what is left. Rejects when `signal` fires.
   */
  whenAnswered(serverHolds: (handle: string) => boolean, signal?: AbortSignal): Promise<void> {
    const onTheWay: Promise<void>[] = [];
    for (const [job, answer] of this.#waiting) if (job.handle !== undefined && !serverHolds(job.handle)) onTheWay.push(answer);
    return raceSignal(Promise.all(onTheWay).then(() => {}), signal);
  }

  /** Fail what is in flight and drop the in-process connection. */
  close(): void {
    this.#closed = true;
    this.#client?.destroy();
    this.#client = null;
  }
}
