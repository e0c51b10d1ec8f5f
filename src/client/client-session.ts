/**
 * The client side of one connection. Every request that the server answers (SUBMIT_*, GET_STATUS,
 * GET_STATUS_UNIQUE, OPTION_REQ) is answered in order with exactly one packet or an ERROR
 * (gearmand handles a connection's packets in order: gearmand-notes §3), so replies are matched
 * through one FIFO. After JOB_CREATED, work packets are routed by handle through a Map.
 */
import { JobExceptionError, JobFailedError, ProtocolError, ServerError } from '../errors.ts';
import type { BinaryFrame } from '../protocol/decoder.ts';
import { request } from '../protocol/encoder.ts';
import { PacketType, packetName } from '../protocol/packet-types.ts';
import type { Connection } from './connection.ts';
import type { JobControl, JobUpdate } from './job.ts';
import type { Logger } from './options.ts';
import type { LinkSession } from './server-pool.ts';
import type { StatusChannel } from './status.ts';

interface ReplyWaiter {
  readonly expect: PacketType;
  readonly resolve: (frame: BinaryFrame) => void;
  readonly reject: (err: Error) => void;
}

/** One job as the client tracks it across (re)submissions. */
export interface JobRecord {
  readonly control: JobControl;
  readonly background: boolean;
  /** Local coalescing key (function + unique), for foreground jobs with a unique key. */
  readonly key: string | undefined;
  /** The encoded SUBMIT_* packet. */
  readonly packet: Buffer;
  /** Index of the server to try first (unique-key hash or round-robin). */
  readonly start: number;
  /** The job's deadline: aborts waiting for a server and the job itself. */
  readonly signal: AbortSignal | undefined;
  retriesLeft: number;
}

/** What the session shares between the jobs that one SUBMIT stands for. */
interface Submission {
  readonly key: string | undefined;
  readonly records: Set<JobRecord>;
  handle: string | undefined;
}

export interface ClientSessionOwner {
  readonly exceptions: boolean;
  readonly clientId: string | undefined;
  readonly logger: Logger | undefined;
  readonly status: StatusChannel;
  /** A job's connection went away before its end: retry it or fail it. */
  lost(record: JobRecord, error: Error): void;
}

const text = (b: Buffer | undefined) => (b ? b.toString('utf8') : '');
/**
 * A handle as the routing key. gearmand 1.1 turns WORK_EXCEPTION into WORK_FAIL for clients
 * without OPTION `exceptions` by copying the handle argument with its NUL terminator
 * (server.cc `_server_queue_work_data`), so that WORK_FAIL's handle ends in `\0`.
 */
const handleOf = (b: Buffer | undefined) => {
  const h = text(b);
  return h.endsWith('\0') ? h.slice(0, -1) : h;
};
const copy = (b: Buffer | undefined) => (b ? Buffer.from(b) : Buffer.alloc(0));

export class ClientSession implements LinkSession {
  readonly conn: Connection;
  readonly #owner: ClientSessionOwner;
  readonly #fifo: ReplyWaiter[] = [];
  readonly #byHandle = new Map<string, Submission>();
  readonly #byKey = new Map<string, Submission>();
  #closed = false;

  constructor(conn: Connection, owner: ClientSessionOwner) {
    this.conn = conn;
    this.#owner = owner;
    if (owner.clientId) conn.send(request(PacketType.SET_CLIENT_ID, owner.clientId));
    if (owner.exceptions) {
      this.request(request(PacketType.OPTION_REQ, 'exceptions'), PacketType.OPTION_RES).catch((err: Error) =>
        owner.logger?.warn?.('server refused OPTION_REQ exceptions; exceptions will arrive as failures', { server: conn.server.id, error: err.message }),
      );
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Send a packet that the server answers with `expect` (or ERROR); resolves with the reply. */
  request(packet: Buffer, expect: PacketType): Promise<BinaryFrame> {
    return new Promise((resolve, reject) => this.#send(packet, { expect, resolve, reject }));
  }

  /**
   * Like `request`, but the callbacks run synchronously while the reply is decoded, so state they
   * set up (a handle's route) is in place before the next packet of the same chunk is handled.
   */
  #send(packet: Buffer, waiter: ReplyWaiter): void {
    try {
      this.conn.send(packet);
    } catch (err) {
      waiter.reject(err as Error);
      return;
    }
    this.#fifo.push(waiter);
  }

  /** Submit a job, or attach it to a foreground job with the same key already in flight here. */
  submit(record: JobRecord): void {
    if (record.key !== undefined) {
      const existing = this.#byKey.get(record.key);
      if (existing) {
        existing.records.add(record);
        if (existing.handle !== undefined) record.control.created(existing.handle, this.conn.server.id);
        return;
      }
    }
    const sub: Submission = { key: record.key, records: new Set([record]), handle: undefined };
    if (sub.key !== undefined) this.#byKey.set(sub.key, sub);
    this.#send(record.packet, {
      expect: PacketType.JOB_CREATED,
      resolve: (frame) => this.#created(sub, text(frame.args[0])),
      reject: (err) => this.#endSubmission(sub, (r) => (this.#closed ? this.#owner.lost(r, err) : r.control.fail(err))),
    });
  }

  /** Stop delivering to `record` (its caller gave up); the server job is left to finish. */
  detach(record: JobRecord): void {
    for (const sub of this.#byHandle.values()) sub.records.delete(record);
    for (const sub of this.#byKey.values()) sub.records.delete(record);
  }

  /** Jobs still waiting for an answer on this connection. */
  get pending(): number {
    return this.#fifo.length + this.#byHandle.size;
  }

  onPacket(frame: BinaryFrame): void {
    switch (frame.type) {
      case PacketType.JOB_CREATED:
      case PacketType.STATUS_RES:
      case PacketType.STATUS_RES_UNIQUE:
      case PacketType.OPTION_RES:
      case PacketType.ERROR:
        return this.#reply(frame);
      case PacketType.WORK_DATA:
        return this.#route(frame, (c) => c.update({ type: 'data', data: copy(frame.args[1]) }));
      case PacketType.WORK_WARNING:
        return this.#route(frame, (c) => c.update({ type: 'warning', data: copy(frame.args[1]) }));
      case PacketType.WORK_STATUS: {
        const u: JobUpdate = { type: 'status', numerator: Number(text(frame.args[1])) || 0, denominator: Number(text(frame.args[2])) || 0 };
        return this.#route(frame, (c) => c.update(u));
      }
      case PacketType.WORK_COMPLETE:
        return this.#terminal(frame, (c) => c.complete(copy(frame.args[1])));
      case PacketType.WORK_FAIL: {
        const handle = handleOf(frame.args[0]);
        return this.#terminal(frame, (c) => c.fail(new JobFailedError(`job ${handle} failed`, { handle })));
      }
      case PacketType.WORK_EXCEPTION: {
        const handle = handleOf(frame.args[0]);
        const payload = copy(frame.args[1]);
        return this.#terminal(frame, (c) => c.fail(new JobExceptionError(payload, { handle })));
      }
      default:
        this.#owner.logger?.debug?.('ignored packet', { server: this.conn.server.id, type: packetName(frame.type) });
    }
  }

  onClose(error: Error): void {
    this.#closed = true;
    for (const w of this.#fifo.splice(0)) w.reject(error);
    for (const sub of [...this.#byHandle.values()]) this.#endSubmission(sub, (r) => this.#owner.lost(r, error));
    this.#byKey.clear();
  }

  #reply(frame: BinaryFrame): void {
    const waiter = this.#fifo.shift();
    if (frame.type === PacketType.ERROR) {
      const err = new ServerError(text(frame.args[0]), text(frame.args[1]));
      if (waiter) return waiter.reject(err);
      this.#owner.status.push({ type: 'server-error', server: this.conn.server.id, code: err.serverCode, text: text(frame.args[1]) });
      return;
    }
    if (!waiter || waiter.expect !== frame.type) {
      const wanted = waiter ? packetName(waiter.expect) : 'nothing';
      this.conn.destroy(new ProtocolError(`${this.conn.server.id} sent ${packetName(frame.type)} while ${wanted} was expected`));
      return;
    }
    waiter.resolve(frame);
  }

  #created(sub: Submission, handle: string): void {
    const background = [...sub.records].some((r) => r.background);
    if (background) {
      for (const r of sub.records) r.control.created(handle, this.conn.server.id);
      return;
    }
    const same = this.#byHandle.get(handle);
    if (same && same !== sub) {
      // The server coalesced two of our submissions: keep one route, deliver to both.
      for (const r of sub.records) same.records.add(r);
      if (sub.key !== undefined && this.#byKey.get(sub.key) === sub) this.#byKey.set(sub.key, same);
      sub.records.clear();
      for (const r of same.records) r.control.created(handle, this.conn.server.id);
      return;
    }
    sub.handle = handle;
    this.#byHandle.set(handle, sub);
    for (const r of sub.records) r.control.created(handle, this.conn.server.id);
  }

  #route(frame: BinaryFrame, deliver: (c: JobControl) => void): void {
    const sub = this.#byHandle.get(handleOf(frame.args[0]));
    if (!sub) return;
    for (const r of sub.records) deliver(r.control);
  }

  #terminal(frame: BinaryFrame, deliver: (c: JobControl) => void): void {
    const sub = this.#byHandle.get(handleOf(frame.args[0]));
    if (!sub) return;
    this.#endSubmission(sub, (r) => deliver(r.control));
  }

  #endSubmission(sub: Submission, each: (r: JobRecord) => void): void {
    if (sub.handle !== undefined && this.#byHandle.get(sub.handle) === sub) this.#byHandle.delete(sub.handle);
    if (sub.key !== undefined && this.#byKey.get(sub.key) === sub) this.#byKey.delete(sub.key);
    const records = [...sub.records];
    sub.records.clear();
    for (const r of records) each(r);
  }
}
