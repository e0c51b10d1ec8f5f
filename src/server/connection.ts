import type net from 'node:net';
import { OutputLimitError } from '../errors.ts';
import { Decoder, type Frame } from '../protocol/index.ts';
import type { FunctionEntry } from './function-entry.ts';
import type { Job } from './job.ts';
import type { Tenant } from './tenants.ts';

/** A reply whose bytes are not known yet (JOB_CREATED waiting for the store's commit). */
export interface OutputSlot {
  buf: Buffer | null;
}

export interface Ability {
  readonly fn: FunctionEntry;
  /** CAN_DO_TIMEOUT in ms; 0 = none. */
  timeoutMs: number;
  /** gearmand counts a repeated CAN_DO as another registration in `status`. */
  registrations: number;
}

export interface ConnectionLimits {
  maxPacketSize: number;
  /** Pause reading from a peer whose unsent output exceeds this many bytes. */
  outputHighWater: number;
  /** Cut off a peer whose unsent output exceeds this many bytes (it never reads). */
  maxPendingOutput: number;
}

export type ConnectionEvents = {
  frame(conn: Connection, frame: Frame): void;
  error(conn: Connection, err: Error): void;
  close(conn: Connection): void;
};

/**
 * One peer of the job server: a client, a worker, an admin tool, or all at once. Owns the socket,
 * the decoder and the ordered output queue; the server core owns the semantics.
 */
export class Connection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly connectedAt = Date.now();
  readonly #decoder: Decoder;
  readonly #limits: ConnectionLimits;
  readonly #events: ConnectionEvents;

  #out: (Buffer | OutputSlot)[] = [];
  #flushScheduled = false;
  #pausedForOutput = false;
  #closed = false;

  // Client side
  clientId = '-';
  /** The peer sent OPTION_REQ `exceptions`. */
  exceptions = false;
  /** Foreground jobs this connection is waiting on. */
  readonly clientJobs = new Set<Job>();

  // Worker side
  readonly abilities: Ability[] = [];
  /** Round-robin cursor into `abilities`. */
  rrCursor = 0;
  sleeping = false;
  noopSent = false;
  readonly workerJobs = new Set<Job>();
  /** Handle of the last job this worker ended with WORK_EXCEPTION (see worker-packets.ts). */
  lastExceptionHandle: string | null = null;

  packetsIn = 0;

  // Security
  /** The tenant whose functions this connection sees; null = unscoped (no tenants, or an operator). */
  tenant: Tenant | null = null;
  /** Authenticated by a client certificate the tenants file names (tenant or operator). */
  certificateAuthenticated = false;
  /** Sent a correct `auth TOKEN` admin line. */
  adminAuthorized = false;

  constructor(id: number, socket: net.Socket, limits: ConnectionLimits, events: ConnectionEvents) {
    this.id = id;
    this.socket = socket;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.#limits = limits;
    this.#events = events;
    this.#decoder = new Decoder((frame) => this.#events.frame(this, frame), {
      allowAdmin: true,
      maxPacketSize: limits.maxPacketSize,
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#events.error(this, err));
    socket.on('close', () => {
      this.#closed = true;
      this.#events.close(this);
    });
    socket.on('drain', () => {
      if (this.#pausedForOutput && this.socket.writableLength < this.#limits.outputHighWater) {
        this.#pausedForOutput = false;
        this.socket.resume();
      }
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** File descriptor for the `workers` listing (gearmand prints fds), or our id when unknown. */
  get fd(): number {
    const handle = (this.socket as unknown as { _handle?: { fd?: number } })._handle;
    return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : this.id;
  }

  get isWorker(): boolean {
    return this.abilities.length > 0;
  }

  #onData(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.#events.error(this, err as Error);
      this.destroy();
    }
  }

  /** Queue bytes for the peer; written together at the end of the current turn. */
  send(buf: Buffer): void {
    if (this.#closed) return;
    this.#out.push(buf);
    this.#scheduleFlush();
  }

  /** Reserve a place in the output order for a reply that is not ready yet. */
  reserve(): OutputSlot {
    const slot: OutputSlot = { buf: null };
    this.#out.push(slot);
    return slot;
  }

  /** Fill a reserved slot; everything queued behind it can now go out. */
  fill(slot: OutputSlot, buf: Buffer): void {
    slot.buf = buf;
    if (!this.#closed) this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    scheduleFlush(this);
  }

  /** Write everything that is ready (called once per event-loop turn for a dirty connection). */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) {
      this.#out = [];
      return;
    }
    const out = this.#out;
    let n = 0;
    while (n < out.length) {
      const item = out[n]!;
      if (bytesOf(item) === null) break;
      n++;
    }
    if (n === 0) return;
    let chunk: Buffer;
    if (n === 1) {
      const item = out[0]!;
      chunk = bytesOf(item)!;
    } else {
      const parts: Buffer[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const item = out[i]!;
        parts[i] = bytesOf(item)!;
      }
      chunk = Buffer.concat(parts);
    }
    this.#out = n === out.length ? [] : out.slice(n);
    this.socket.write(chunk);
    const pending = this.socket.writableLength;
    if (pending > this.#limits.maxPendingOutput) {
      this.#events.error(this, new OutputLimitError(pending));
      this.destroy();
    } else if (pending > this.#limits.outputHighWater && !this.#pausedForOutput) {
      // Stop reading requests from a peer that does not read its replies.
      this.#pausedForOutput = true;
      this.socket.pause();
    }
  }

  /** Send what is queued, then close. */
  end(): void {
    if (this.#closed) return;
    this.flush();
    this.socket.end();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.socket.destroy();
  }
}

function bytesOf(item: Buffer | OutputSlot): Buffer | null {
  return Buffer.isBuffer(item) ? item : (item as OutputSlot).buf;
}

/**
 * Output is written once per event-loop turn, after every readable socket of that turn has been
 * handled: replies caused by several peers' packets leave in one write per connection. Writes
 * are the server's main cost (a syscall each, and a wakeup of the peer), so batching them is
 * worth a little latency.
 *
 * Workers are written to at the end of the turn: a worker waiting for JOB_ASSIGN or NOOP is idle
 * capacity. Clients and admin connections wait one turn more, so that results finished by
 * several workers in consecutive turns leave in one write (about a quarter fewer writes under
 * load; on an idle server the extra turn costs microseconds).
 */
let dirty: Connection[] = [];
let late: Connection[] = [];
let flushQueued = false;

function scheduleFlush(conn: Connection): void {
  dirty.push(conn);
  if (!flushQueued) {
    flushQueued = true;
    setImmediate(flushDirty);
  }
}

function flushDirty(): void {
  flushQueued = false;
  const due = late;
  late = [];
  for (let i = 0; i < due.length; i++) due[i]!.flush();
  const list = dirty;
  dirty = [];
  for (let i = 0; i < list.length; i++) {
    const conn = list[i]!;
    if (conn.isWorker) conn.flush();
    else late.push(conn);
  }
  if (late.length > 0 && !flushQueued) {
    flushQueued = true;
    setImmediate(flushDirty);
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, as gearmand prints IPv4 peers. */
function normalizeAddress(addr: string): string {
  return addr.startsWith('::ffff:') ? addr.slice(7) : addr;
}
