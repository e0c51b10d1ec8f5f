/**
 * The worker side of one connection: registration and the grab loop.
 *
 *   idle --GRAB_JOB_ALL--> grabbing --NO_JOB / PRE_SLEEP--> sleeping --NOOP--> idle
 *                            └--JOB_ASSIGN(_UNIQ/_ALL)--> idle (job runs; grab again if a slot is free)
 *
 * A grab is only sent while the Worker has a free slot, and the slot is reserved until the reply,
 * so the worker never holds more jobs than its concurrency over all servers. After NO_JOB the
 * session sleeps until NOOP instead of polling (no GRAB/NO_JOB churn: gearmand #232).
 * GRAB_JOB_ALL is answered with JOB_ASSIGN_UNIQ for ordinary jobs and JOB_ASSIGN_ALL for reduce
 * jobs (gearmand-notes §1); plain JOB_ASSIGN is accepted too. ERROR packets are reported, never fatal.
 */
import type { BinaryFrame } from '../protocol/decoder.ts';
import { request } from '../protocol/encoder.ts';
import { PacketType, packetName } from '../protocol/packet-types.ts';
import type { Connection } from './connection.ts';
import type { LinkSession } from './server-pool.ts';
import type { StatusChannel } from './status.ts';
import type { JobChannel, WorkerJob } from './worker-job.ts';
import type { Logger } from './options.ts';

export type GrabState = 'idle' | 'grabbing' | 'sleeping' | 'closed';

export interface WorkerSessionOwner {
  readonly clientId: string | undefined;
  readonly logger: Logger | undefined;
  readonly status: StatusChannel;
  /** Registered functions and their CAN_DO_TIMEOUT (ms), if any. */
  functions(): Iterable<[string, number | undefined]>;
  /** A grab came back empty: give its reserved slot back. */
  release(): void;
  /** A grab brought a job: run it in the reserved slot. */
  assigned(session: WorkerSession, job: WorkerJob): void;
  /** This session may grab again (after NOOP, or after an assignment). */
  pump(): void;
  /** The connection is gone: its running jobs must be taken back. */
  lost(session: WorkerSession, error: Error): void;
}

const text = (b: Buffer | undefined) => (b ? b.toString('utf8') : '');

export class WorkerSession implements LinkSession, JobChannel {
  readonly conn: Connection;
  readonly #owner: WorkerSessionOwner;
  #state: GrabState = 'idle';

  constructor(conn: Connection, owner: WorkerSessionOwner) {
    this.conn = conn;
    this.#owner = owner;
    if (owner.clientId) conn.send(request(PacketType.SET_CLIENT_ID, owner.clientId));
    // libgearman workers send this too; it matters for the jobs this connection submits, if any.
    conn.send(request(PacketType.OPTION_REQ, 'exceptions'));
    for (const [fn, timeoutMs] of owner.functions()) this.canDo(fn, timeoutMs);
  }

  onReady(): void {
    this.#owner.pump();
  }

  get state(): GrabState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  send(packet: Buffer): void {
    this.conn.send(packet);
  }

  writable(): Promise<void> {
    return this.conn.writable();
  }

  canDo(fn: string, timeoutMs: number | undefined): void {
    if (this.closed) return;
    if (timeoutMs === undefined) this.conn.send(request(PacketType.CAN_DO, fn));
    else this.conn.send(request(PacketType.CAN_DO_TIMEOUT, fn, String(timeoutMs)));
    // A sleeping connection is woken by the server only for jobs queued from now on; ask again.
    if (this.#state === 'sleeping') this.#state = 'idle';
  }

  cantDo(fn: string): void {
    if (!this.closed) this.conn.send(request(PacketType.CANT_DO, fn));
  }

  /** Send GRAB_JOB_ALL if idle; the caller has reserved a slot. Returns false when not idle. */
  grab(): boolean {
    if (this.#state !== 'idle') return false;
    this.#state = 'grabbing';
    this.conn.send(request(PacketType.GRAB_JOB_ALL));
    return true;
  }

  onPacket(frame: BinaryFrame): void {
    switch (frame.type) {
      case PacketType.NO_JOB:
        if (this.#state !== 'grabbing') return this.#unexpected(frame);
        this.#state = 'sleeping';
        this.conn.send(request(PacketType.PRE_SLEEP));
        this.#owner.release();
        return;
      case PacketType.JOB_ASSIGN:
      case PacketType.JOB_ASSIGN_UNIQ:
      case PacketType.JOB_ASSIGN_ALL: {
        if (this.#state !== 'grabbing') return this.#unexpected(frame);
        this.#state = 'idle';
        this.#owner.assigned(this, this.#job(frame));
        this.#owner.pump();
        return;
      }
      case PacketType.NOOP:
        if (this.#state === 'sleeping') {
          this.#state = 'idle';
          this.#owner.pump();
        }
        return;
      case PacketType.ERROR: {
        const code = text(frame.args[0]);
        const message = text(frame.args[1]);
        this.#owner.logger?.warn?.('server error packet', { server: this.conn.server.id, code, text: message });
        this.#owner.status.push({ type: 'server-error', server: this.conn.server.id, code, text: message });
        return;
      }
      case PacketType.OPTION_RES:
        return;
      default:
        return this.#unexpected(frame);
    }
  }

  onClose(error: Error): void {
    const wasGrabbing = this.#state === 'grabbing';
    this.#state = 'closed';
    if (wasGrabbing) this.#owner.release();
    this.#owner.lost(this, error);
  }

  #job(frame: BinaryFrame): WorkerJob {
    const a = frame.args;
    const handle = text(a[0]);
    const fn = text(a[1]);
    const server = this.conn.server.id;
    if (frame.type === PacketType.JOB_ASSIGN) {
      return { handle, function: fn, unique: '', reducer: undefined, payload: Buffer.from(a[2] ?? Buffer.alloc(0)), server };
    }
    if (frame.type === PacketType.JOB_ASSIGN_UNIQ) {
      return { handle, function: fn, unique: text(a[2]), reducer: undefined, payload: Buffer.from(a[3] ?? Buffer.alloc(0)), server };
    }
    const reducer = text(a[3]);
    return { handle, function: fn, unique: text(a[2]), reducer: reducer.length > 0 ? reducer : undefined, payload: Buffer.from(a[4] ?? Buffer.alloc(0)), server };
  }

  #unexpected(frame: BinaryFrame): void {
    this.#owner.logger?.debug?.('ignored packet', { server: this.conn.server.id, type: packetName(frame.type), state: this.#state });
  }
}
