/**
 * `Shipper`: the engine of `geartrain ship`. Takes log lines as they come (from Apache's piped
 * log, `tail -f`, …), cuts them into batches (`batchLines` lines, `batchBytes` bytes or
 * `batchMs` after a batch's first line, whichever comes first) and submits each as a background
 * job with a unique key of its own, one after the other, so lines arrive in order.
 *
 * It never makes the writer wait: `write()` only queues. When no job server takes a batch, or more
 * than `memoryBytes` wait to be sent, batches go to the spool on disk, and are sent from there, in
 * order and with their unique keys, once a server answers again. A batch whose submission is in
 * doubt (the connection died before the server said it had it) is sent again with the same unique:
 * the server coalesces it with the stored one, or the node recognises it.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '../client/client.ts';
import type { Logger } from '../client/options.ts';
import { InvalidArgumentError } from '../errors.ts';
import { Spool, type SpooledBatch } from './ship-spool.ts';

export const DEFAULT_BATCH_LINES = 500;
export const DEFAULT_BATCH_BYTES = 512 * 1024;
export const DEFAULT_BATCH_MS = 200;
export const DEFAULT_MEMORY_BYTES = 8 * 1024 * 1024;
export const DEFAULT_SUBMIT_TIMEOUT_MS = 5000;

export interface ShipperOptions {
  readonly client: Client;
  /** Function to submit to. Default `logger`. */
  readonly function?: string;
  readonly spoolDir: string;
  readonly batchLines?: number;
  readonly batchBytes?: number;
  readonly batchMs?: number;
  /** Unsent bytes kept in memory before batches go to the spool. */
  readonly memoryBytes?: number;
  readonly submitTimeoutMs?: number;
  /** Backoff between attempts while no server answers: from min to max, doubling. */
  readonly retryDelayMs?: { readonly min: number; readonly max: number };
  readonly logger?: Logger;
  /** Signs each batch as it is sent (the ingest secret; mapreduce/task-auth.ts ingestSealer). */
  readonly seal?: (fn: string, body: Buffer) => Buffer | string;
}

export interface ShipResult {
  readonly sentLines: number;
  readonly sentBatches: number;
  /** Lines left in the spool (no server answered before the flush deadline). */
  readonly spooledLines: number;
  readonly spooledBatches: number;
  readonly spoolDir: string;
}

function positive(value: number | undefined, fallback: number, field: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError(`${field} must be a positive integer`, { field });
  return v;
}

export class Shipper {
  readonly #client: Client;
  readonly #fn: string;
  readonly #batchLines: number;
  readonly #batchBytes: number;
  readonly #batchMs: number;
  readonly #memoryBytes: number;
  readonly #timeoutMs: number;
  readonly #retry: { min: number; max: number };
  readonly #logger: Logger | undefined;
  readonly #sign: ((fn: string, body: Buffer) => Buffer | string) | undefined;
  readonly #spool: Spool;
  readonly #id = 's' + randomBytes(8).toString('hex');
  #seq = 0;
  // The batch being filled.
  #parts: Buffer[] = [];
  #partBytes = 0;
  #partLines = 0;
  #tail: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  // Sealed batches kept in memory (when the spool is empty).
  #memory: SpooledBatch[] = [];
  #memoryUsed = 0;
  #wake: (() => void) | undefined;
  #loop: Promise<void>;
  #ending = false;
  #stop = false;
  readonly #abort = new AbortController();
  #delay: number;
  #lastError: string | undefined;
  sentLines = 0;
  sentBatches = 0;

  constructor(opts: ShipperOptions) {
    this.#client = opts.client;
    this.#fn = opts.function ?? 'logger';
    this.#batchLines = positive(opts.batchLines, DEFAULT_BATCH_LINES, 'batchLines');
    this.#batchBytes = positive(opts.batchBytes, DEFAULT_BATCH_BYTES, 'batchBytes');
    this.#batchMs = positive(opts.batchMs, DEFAULT_BATCH_MS, 'batchMs');
    this.#memoryBytes = positive(opts.memoryBytes, DEFAULT_MEMORY_BYTES, 'memoryBytes');
    this.#timeoutMs = positive(opts.submitTimeoutMs, DEFAULT_SUBMIT_TIMEOUT_MS, 'submitTimeoutMs');
    this.#retry = opts.retryDelayMs ?? { min: 100, max: 2000 };
    this.#delay = this.#retry.min;
    this.#logger = opts.logger;
    this.#sign = opts.seal;
    this.#spool = new Spool(opts.spoolDir, this.#id);
    const adopted = this.#spool.adoptOrphans();
    if (adopted > 0) this.#logger?.info?.(`sending ${adopted} batches left in ${this.#spool.dir} by an earlier ship`);
    this.#loop = this.#sendLoop();
  }

  /** Lines waiting to be sent (in memory and in the spool). */
  get pendingLines(): number {
    return this.#partLines + this.#memory.reduce((n, b) => n + b.lines, 0) + this.#spool.lines;
  }

  /** Queues bytes of log lines; returns at once. */
  write(chunk: Buffer): void {
    if (this.#ending) throw new InvalidArgumentError('write after end', { field: 'chunk' });
    let buf = this.#tail ? Buffer.concat([this.#tail, chunk]) : chunk;
    this.#tail = undefined;
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0) break;
      this.#addLine(buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    if (buf.length > 0) this.#tail = Buffer.from(buf);
  }

  /**
   * No more input: seals the last batch (a last line without newline gets one) and sends what is
   * left, waiting up to `flushTimeoutMs`; whatever is not sent by then stays in the spool.
   */
  async end(opts: { flushTimeoutMs?: number } = {}): Promise<ShipResult> {
    if (this.#tail) {
      this.#addLine(Buffer.concat([this.#tail, Buffer.from('\n')]));
      this.#tail = undefined;
    }
    this.#ending = true;
    this.#seal();
    this.#kick();
    const deadline = setTimeout(() => {
      this.#stop = true;
      this.#abort.abort();
      this.#kick();
    }, opts.flushTimeoutMs ?? 10_000);
    try {
      await this.#loop;
    } finally {
      clearTimeout(deadline);
    }
    // Not sent in time: keep it on disk, in order, for the next ship.
    for (const b of this.#memory.splice(0)) this.#spool.append(b);
    this.#memoryUsed = 0;
    const result: ShipResult = {
      sentLines: this.sentLines,
      sentBatches: this.sentBatches,
      spooledLines: this.#spool.lines,
      spooledBatches: this.#spool.batches,
      spoolDir: this.#spool.dir,
    };
    this.#spool.close();
    return result;
  }

  /** Why the last attempt failed, while batches wait for a server. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  #addLine(line: Buffer): void {
    this.#parts.push(line);
    this.#partBytes += line.length;
    this.#partLines++;
    if (this.#partLines >= this.#batchLines || this.#partBytes >= this.#batchBytes) this.#seal();
    else this.#timer ??= setTimeout(() => this.#seal(), this.#batchMs);
  }

  #seal(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#partLines === 0) return;
    const batch: SpooledBatch = { unique: `${this.#id}:${this.#seq++}`, lines: this.#partLines, data: Buffer.concat(this.#parts, this.#partBytes) };
    this.#parts = [];
    this.#partBytes = 0;
    this.#partLines = 0;
    if (!this.#spool.empty || this.#memoryUsed + batch.data.length > this.#memoryBytes) {
      this.#toSpool();
      this.#spool.append(batch);
    } else {
      this.#memory.push(batch);
      this.#memoryUsed += batch.data.length;
    }
    this.#kick();
  }

  /** Moves the batches held in memory to the spool, keeping their order. */
  #toSpool(): void {
    for (const b of this.#memory.splice(0)) this.#spool.append(b);
    this.#memoryUsed = 0;
  }

  #kick(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async #sendLoop(): Promise<void> {
    for (;;) {
      if (this.#stop) return;
      const fromSpool = this.#spool.peek();
      const batch = fromSpool ?? this.#memory[0];
      if (!batch) {
        if (this.#ending) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        continue;
      }
      if (await this.#submit(batch)) {
        if (fromSpool) this.#spool.shift();
        else if (this.#memory[0] === batch) {
          this.#memory.shift();
          this.#memoryUsed -= batch.data.length;
        } else if (this.#spool.peek()?.unique === batch.unique) {
          // Moved to the spool (memory ran over) while it was being sent: it heads the spool.
          this.#spool.shift();
        }
        this.sentLines += batch.lines;
        this.sentBatches++;
        this.#delay = this.#retry.min;
        continue;
      }
      // No server took it: from now on batches wait on disk, in order, until one does.
      if (!fromSpool) this.#toSpool();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.#delay);
        this.#wake = () => {
          if (this.#stop) {
            clearTimeout(t);
            resolve();
          }
        };
      });
      this.#wake = undefined;
      this.#delay = Math.min(this.#retry.max, this.#delay * 2);
    }
  }

  async #submit(batch: SpooledBatch): Promise<boolean> {
    try {
      const payload = this.#sign ? this.#sign(this.#fn, batch.data) : batch.data;
      await this.#client.submitBackground(this.#fn, payload, { unique: batch.unique, timeoutMs: this.#timeoutMs, signal: this.#abort.signal });
      if (this.#lastError !== undefined) this.#logger?.info?.(`job server answers again; sending the spooled lines`);
      this.#lastError = undefined;
      return true;
    } catch (err) {
      const message = (err as Error).message;
      if (this.#lastError === undefined) this.#logger?.warn?.(`cannot submit ${this.#fn} (${message}); spooling to ${this.#spool.dir}`);
      this.#lastError = message;
      return false;
    }
  }
}
