/**
 * Running one assigned job: calls the handler with the job and a context, turns what it returns
 * into WORK_DATA/WORK_COMPLETE, and what it throws into WORK_EXCEPTION or WORK_FAIL. Exactly one
 * terminal packet is sent per job (gearmand frees the job on the first one: peers.md §2.4), and
 * none once the job is lost (connection gone, worker destroyed, the server re-assigned it).
 */
import type { Clock, ClockTimer } from '../clock.ts';
import { ClosedError, JobExceptionError, JobFailedError, TimeoutError } from '../errors.ts';
import { request } from '../protocol/encoder.ts';
import { PacketType } from '../protocol/packet-types.ts';
import type { Logger } from './options.ts';

export type Payload = Buffer | Uint8Array | string;

/** A job as the handler sees it. */
export interface WorkerJob {
  readonly handle: string;
  readonly function: string;
  /** The client's unique key ('' when the server did not send one). */
  readonly unique: string;
  /** The reducer function of a map/reduce job (JOB_ASSIGN_ALL), else undefined. */
  readonly reducer: string | undefined;
  readonly payload: Buffer;
  /** `host:port` of the server that assigned the job. */
  readonly server: string;
}

/** What a handler can do while it runs. Each send resolves when the socket can take more. */
export interface JobContext {
  /**
   * Aborted when the job is taken back: connection lost or worker destroyed (the result can no
   * longer be sent), or CAN_DO_TIMEOUT passed (reason TimeoutError; a result is still sent).
   */
  readonly signal: AbortSignal;
  sendData(data: Payload): Promise<void>;
  sendWarning(data: Payload): Promise<void>;
  sendStatus(numerator: number, denominator: number): Promise<void>;
}

/**
 * What a handler returns: a Buffer/Uint8Array/string (the result), nothing (empty result), an
 * async iterable or Readable stream (each chunk goes out as WORK_DATA, then an empty
 * WORK_COMPLETE), or any other value (sent as JSON). Throw JobFailedError for WORK_FAIL;
 * any other error becomes WORK_EXCEPTION with its message (or WORK_FAIL with `onError: 'fail'`).
 */
export type HandlerResult = Payload | null | undefined | void | AsyncIterable<Payload> | object | number | boolean;
export type Handler = (job: WorkerJob, ctx: JobContext) => HandlerResult | Promise<HandlerResult>;

/** The connection a job was assigned on. */
export interface JobChannel {
  send(packet: Buffer): void;
  writable(): Promise<void>;
  readonly closed: boolean;
}

export type JobOutcome = 'complete' | 'fail' | 'exception' | 'abandoned';

/**
 * The handler's signal aborts this long after CAN_DO_TIMEOUT, so the server has taken the job
 * back first. The terminal packet is still sent afterwards: a server that did not take the job
 * back (gearmand 1.1 cancels the timer when the connection sends PRE_SLEEP, gearmand-notes §3)
 * would otherwise keep the job forever; one that did answers JOB_NOT_FOUND, which is harmless.
 */
export const TIMEOUT_GRACE_MS = 200;

/** How the worker tells a running job that it lost it; no AbortSignal unless the handler asks. */
export interface Taken {
  aborted: boolean;
  reason: unknown;
  listener: ((reason: unknown) => void) | undefined;
}

export interface RunOptions {
  /** Called synchronously right after the terminal packet is queued (same write as the next GRAB). */
  readonly onTerminal?: (outcome: JobOutcome) => void;
  readonly timeoutMs: number | undefined;
  /** The clock the timeout runs on. */
  readonly clock: Clock;
  readonly onError: 'exception' | 'fail';
  readonly logger: Logger | undefined;
  /** True once the server assigned the same handle again on this connection (this run is stale). */
  readonly stale: () => boolean;
}

function toBuffer(v: Payload): Buffer {
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function isPayload(v: unknown): v is Payload {
  return typeof v === 'string' || v instanceof Uint8Array;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/**
 * Run `handler` for `job`. `taken` aborts when the worker loses the job (connection lost,
 * destroy); the handler's `ctx.signal` also aborts on timeout.
 */
export async function runJob(job: WorkerJob, handler: Handler, channel: JobChannel, taken: Taken, opts: RunOptions): Promise<JobOutcome> {
  let done = false;
  // The handler's AbortSignal is made only if it reads ctx.signal (an AbortSignal costs ~10 µs on Node 20).
  let abort: AbortController | undefined;
  let aborted = false;
  let abortReason: unknown;
  const fire = (reason: unknown) => {
    if (aborted) return;
    aborted = true;
    abortReason = reason;
    abort?.abort(reason);
  };
  if (taken.aborted) fire(taken.reason);
  else taken.listener = fire;
  let timer: ClockTimer | undefined;
  if (opts.timeoutMs !== undefined) {
    const ms = opts.timeoutMs;
    timer = opts.clock.setTimeout(() => fire(new TimeoutError(`job ${job.handle} passed its ${ms} ms timeout; the server takes it back`)), ms + TIMEOUT_GRACE_MS);
  }
  const gone = () => done || channel.closed || taken.aborted || opts.stale();
  const send = async (packet: Buffer) => {
    if (gone()) throw taken.aborted ? taken.reason : new ClosedError(`job ${job.handle} has ended`);
    channel.send(packet);
    await channel.writable();
  };
  const terminal = (packet: Buffer, outcome: JobOutcome): JobOutcome => {
    if (gone()) return 'abandoned';
    done = true;
    channel.send(packet);
    opts.onTerminal?.(outcome);
    return outcome;
  };
  const ctx: JobContext = {
    get signal() {
      if (!abort) {
        abort = new AbortController();
        if (aborted) abort.abort(abortReason);
      }
      return abort.signal;
    },
    sendData: (data) => send(request(PacketType.WORK_DATA, job.handle, toBuffer(data))),
    sendWarning: (data) => send(request(PacketType.WORK_WARNING, job.handle, toBuffer(data))),
    sendStatus: (numerator, denominator) =>
      send(request(PacketType.WORK_STATUS, job.handle, String(Math.max(0, Math.trunc(numerator))), String(Math.max(0, Math.trunc(denominator))))),
  };
  try {
    let result = await handler(job, ctx);
    if (isAsyncIterable(result) && !isPayload(result)) {
      for await (const chunk of result) {
        if (gone()) break;
        await ctx.sendData(isPayload(chunk) ? chunk : JSON.stringify(chunk));
      }
      result = undefined;
    }
    const data = result === undefined || result === null ? Buffer.alloc(0) : isPayload(result) ? toBuffer(result) : Buffer.from(JSON.stringify(result));
    return terminal(request(PacketType.WORK_COMPLETE, job.handle, data), 'complete');
  } catch (err) {
    if (gone()) return 'abandoned';
    opts.logger?.debug?.('job handler threw', { handle: job.handle, function: job.function, error: String(err) });
    if (err instanceof JobFailedError || opts.onError === 'fail') {
      return terminal(request(PacketType.WORK_FAIL, job.handle), 'fail');
    }
    const payload = err instanceof JobExceptionError ? err.payload : Buffer.from(err instanceof Error ? err.message : String(err));
    return terminal(request(PacketType.WORK_EXCEPTION, job.handle, payload), 'exception');
  } finally {
    done = true;
    opts.clock.clearTimeout(timer);
    taken.listener = undefined;
  }
}
