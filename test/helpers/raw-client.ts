/**
 * A raw-socket Gearman test client for the conformance suite: it sends hand-chosen packets and
 * admin lines and hands back exactly what the server wrote, with no session logic in between.
 *
 * The byte stream from a server interleaves binary packets (first byte NUL) and text admin reply
 * lines. This client splits the two at frame boundaries itself, so admin replies keep their exact
 * bytes (gearmand mixes `\n` and `\r\n`); binary frames go through the project's `Decoder`.
 */
import net from 'node:net';
import { Decoder, type BinaryFrame } from '../../src/protocol/decoder.ts';
import { request, type Arg } from '../../src/protocol/encoder.ts';
import { replyShape } from '../../src/protocol/admin.ts';
import { HEADER_SIZE, packetName, type PacketType } from '../../src/protocol/packet-types.ts';

/** Default time to wait for an expected packet or reply. */
export const DEFAULT_WAIT_MS = 5000;
/** The longest an absence check may wait (a bounded wait is only acceptable to assert absence). */
export const MAX_NOTHING_MS = 200;

export interface Packet {
  readonly magic: 'REQ' | 'RES';
  readonly type: PacketType;
  /** Packet name from the table, for messages. */
  readonly name: string;
  readonly args: Buffer[];
  /** The arguments decoded as latin1 text, for comparisons. */
  readonly text: string[];
  /** The whole frame, header included, exactly as received. */
  readonly raw: Buffer;
}

type Waiter<T> = { resolve: (v: T) => void; reject: (e: Error) => void };

export function describePacket(p: Packet): string {
  return `${p.name}(${p.text.map((a) => JSON.stringify(a)).join(', ')})`;
}

export class RawClient {
  readonly socket: net.Socket;
  readonly #decoder: Decoder;
  /** Received bytes not yet split into frames and lines. */
  #chunks: Buffer[] = [];
  #chunkBytes = 0;
  /** Bytes needed before the frame in progress can be complete (0 = unknown, try on each chunk). */
  #need = 0;
  readonly #packets: Packet[] = [];
  readonly #lines: Buffer[] = [];
  #packetWaiter: Waiter<Packet> | null = null;
  #lineWaiter: Waiter<Buffer> | null = null;
  #closed = false;
  #closeError: Error | null = null;
  readonly #closedPromise: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.#decoder = new Decoder((frame) => {
      // Only binary frames reach the decoder (text lines are split off before it).
      const f = frame as BinaryFrame;
      const p: Packet = {
        magic: f.magic,
        type: f.type,
        name: packetName(f.type),
        args: f.args.map((a) => Buffer.from(a)),
        text: f.args.map((a) => a.toString('latin1')),
        raw: Buffer.from(f.raw),
      };
      this.#deliverPacket(p);
    });
    this.#closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.#closed = true;
        const err = this.#closeError ?? new Error('connection closed by the server');
        this.#packetWaiter?.reject(err);
        this.#lineWaiter?.reject(err);
        this.#packetWaiter = null;
        this.#lineWaiter = null;
        resolve();
      });
    });
    socket.on('error', (err) => {
      this.#closeError = err;
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = net.connect(port, host);
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Packets received and not yet taken with `next()`. */
  get queued(): number {
    return this.#packets.length;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Send a `\0REQ` packet built with the project's encoder. */
  send(type: PacketType, ...args: Arg[]): void {
    this.socket.write(request(type, ...args));
  }

  /** Send a packet with a payload given as is (for fewer or more NULs than the table says). */
  sendPayload(type: number, payload: Buffer | string, magic: 'REQ' | 'RES' = 'REQ'): void {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
    const head = Buffer.alloc(HEADER_SIZE);
    head.write(magic === 'REQ' ? '\0REQ' : '\0RES', 0, 'latin1');
    head.writeUInt32BE(type, 4);
    head.writeUInt32BE(body.length, 8);
    this.socket.write(Buffer.concat([head, body]));
  }

  /** Send bytes exactly as given (hand-built frames, bad magic, text). */
  sendRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /**
   * The next binary packet. With `type`, fails (naming what came instead) when the next packet is
   * of another type.
   */
  async next(type?: PacketType, timeoutMs = DEFAULT_WAIT_MS): Promise<Packet> {
    const p = await this.#take(this.#packets, 'packet', timeoutMs, type === undefined ? 'a packet' : packetName(type));
    if (type !== undefined && p.type !== type) {
      throw new Error(`expected ${packetName(type)}, got ${describePacket(p)}`);
    }
    return p;
  }

  /** The next `n` binary packets, in order. */
  async nextN(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Packet[]> {
    const out: Packet[] = [];
    for (let i = 0; i < n; i++) out.push(await this.next(undefined, timeoutMs));
    return out;
  }

  /**
   * Resolve when nothing (no packet, no text) arrives for `ms`; reject naming what did arrive.
   * The one place the suite waits a fixed time: absence can only be shown by waiting.
   */
  async expectNothing(ms = 150): Promise<void> {
    if (ms > MAX_NOTHING_MS) throw new Error(`expectNothing(${ms}) is longer than ${MAX_NOTHING_MS} ms`);
    const unexpected = () => {
      if (this.#packets.length > 0) return new Error(`unexpected ${describePacket(this.#packets[0]!)}`);
      if (this.#lines.length > 0) return new Error(`unexpected text ${JSON.stringify(this.#lines[0]!.toString('latin1'))}`);
      return null;
    };
    const early = unexpected();
    if (early) throw early;
    await new Promise((r) => setTimeout(r, ms));
    const late = unexpected();
    if (late) throw late;
  }

  /**
   * Send one admin command line (terminated by `eol`) and return the reply's exact text: one line,
   * or a listing up to and including its `.` line.
   */
  async admin(line: string, { eol = '\n', timeoutMs = DEFAULT_WAIT_MS } = {}): Promise<string> {
    this.socket.write(line + eol);
    return this.readAdminReply(replyShape(line), timeoutMs);
  }

  /** Read one admin reply: a single line, or lines up to a `.` line. */
  async readAdminReply(shape: 'listing' | 'line', timeoutMs = DEFAULT_WAIT_MS): Promise<string> {
    let text = '';
    for (;;) {
      const raw = await this.#take(this.#lines, 'line', timeoutMs, 'an admin reply line');
      const line = raw.toString('latin1');
      text += line;
      if (shape === 'line') return text;
      if (line === '.\n' || line === '.\r\n') return text;
    }
  }

  /** Resolves when the server has closed the connection; rejects after `timeoutMs`. */
  async closedByServer(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    if (this.#closed) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#closedPromise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Close our end and wait until the socket is gone. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.socket.destroy();
    await this.#closedPromise;
  }

  #onData(chunk: Buffer): void {
    // Collect chunks without copying until the frame in progress can be complete (a 16 MiB frame
    // arrives in hundreds of chunks; concatenating on each one would be quadratic).
    this.#chunks.push(chunk);
    this.#chunkBytes += chunk.length;
    if (this.#chunkBytes < this.#need) return;
    let buf = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#chunkBytes);
    this.#need = 0;
    for (;;) {
      if (buf.length === 0) break;
      if (buf[0] !== 0) {
        const nl = buf.indexOf(10);
        if (nl === -1) break;
        this.#deliverLine(Buffer.from(buf.subarray(0, nl + 1)));
        buf = buf.subarray(nl + 1);
        continue;
      }
      if (buf.length < HEADER_SIZE) break;
      const frameLength = HEADER_SIZE + buf.readUInt32BE(8);
      if (buf.length < frameLength) {
        this.#need = frameLength;
        break;
      }
      const frame = Buffer.from(buf.subarray(0, frameLength));
      try {
        this.#decoder.push(frame);
      } catch (err) {
        // Bytes that are not Gearman: make every waiter fail with the decoder's error.
        this.#closeError = err as Error;
        this.socket.destroy();
        return;
      }
      buf = buf.subarray(frameLength);
    }
    this.#chunks = buf.length > 0 ? [buf] : [];
    this.#chunkBytes = buf.length;
  }

  #deliverPacket(p: Packet): void {
    if (this.#packetWaiter) {
      const w = this.#packetWaiter;
      this.#packetWaiter = null;
      w.resolve(p);
    } else {
      this.#packets.push(p);
    }
  }

  #deliverLine(line: Buffer): void {
    if (this.#lineWaiter) {
      const w = this.#lineWaiter;
      this.#lineWaiter = null;
      w.resolve(line);
    } else {
      this.#lines.push(line);
    }
  }

  #take<T>(queue: T[], kind: 'packet' | 'line', timeoutMs: number, what: string): Promise<T> {
    if (queue.length > 0) return Promise.resolve(queue.shift()!);
    if (this.#closed) return Promise.reject(this.#closeError ?? new Error(`connection closed while waiting for ${what}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (kind === 'packet') this.#packetWaiter = null;
        else this.#lineWaiter = null;
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        resolve: (v: T) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (kind === 'packet') this.#packetWaiter = waiter as unknown as Waiter<Packet>;
      else this.#lineWaiter = waiter as unknown as Waiter<Buffer>;
    });
  }
}

/**
 * Open raw clients against `port` and close them all in teardown. Use as
 * `const connect = rawClients(t, server.port); const w = await connect();`.
 */
export function rawClients(t: { teardown(fn: () => unknown): void }, port: number): () => Promise<RawClient> {
  const open: RawClient[] = [];
  t.teardown(async () => {
    await Promise.all(open.map((c) => c.close()));
  });
  return async () => {
    const c = await RawClient.connect(port);
    open.push(c);
    return c;
  };
}
