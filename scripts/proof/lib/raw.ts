/**
 * A minimal Gearman peer over a raw socket, with frames parsed by hand (not with the project's
 * decoder): admin lines and listings, binary requests and their replies. Used to probe the server
 * (ECHO) and to clean up after a fuzz run the way an operator would (drain, cancel, drop).
 */
import net from 'node:net';

export interface RawPacket {
  readonly magic: string;
  readonly type: number;
  readonly payload: Buffer;
}

export function request(type: number, ...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [];
  args.forEach((a, i) => {
    parts.push(typeof a === 'string' ? Buffer.from(a, 'utf8') : a);
    if (i < args.length - 1) parts.push(Buffer.from([0]));
  });
  const payload = Buffer.concat(parts);
  const head = Buffer.alloc(12);
  head.write('\0REQ', 0, 'latin1');
  head.writeUInt32BE(type, 4);
  head.writeUInt32BE(payload.length, 8);
  return Buffer.concat([head, payload]);
}

/** Split a payload at its first `n - 1` NULs. */
export function args(payload: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  for (let i = 0; i < n - 1; i++) {
    const nul = payload.indexOf(0, pos);
    if (nul === -1) break;
    out.push(payload.subarray(pos, nul));
    pos = nul + 1;
  }
  out.push(payload.subarray(pos));
  return out;
}

type Item = { kind: 'packet'; packet: RawPacket } | { kind: 'line'; line: string };

export class RawPeer {
  readonly socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  readonly #items: Item[] = [];
  #waiter: (() => void) | null = null;
  #closed = false;

  /** Text only: every byte is part of an admin line (listings may hold NULs from odd names). */
  readonly #text: boolean;

  private constructor(socket: net.Socket, text: boolean) {
    this.socket = socket;
    this.#text = text;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.#buf = this.#buf.length === 0 ? d : Buffer.concat([this.#buf, d]);
      this.#parse();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  static connect(port: number, opts: { host?: string; timeoutMs?: number; text?: boolean } = {}): Promise<RawPeer> {
    const host = opts.host ?? '127.0.0.1';
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(new RawPeer(s, opts.text ?? false));
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  #parse(): void {
    let buf = this.#buf;
    for (;;) {
      if (buf.length === 0) break;
      if (buf[0] === 0 && !this.#text) {
        if (buf.length < 12) break;
        const size = buf.readUInt32BE(8);
        if (buf.length < 12 + size) break;
        this.#items.push({ kind: 'packet', packet: { magic: buf.toString('latin1', 0, 4), type: buf.readUInt32BE(4), payload: Buffer.from(buf.subarray(12, 12 + size)) } });
        buf = buf.subarray(12 + size);
      } else {
        const nl = buf.indexOf(10);
        if (nl === -1) break;
        this.#items.push({ kind: 'line', line: buf.toString('latin1', 0, nl + 1) });
        buf = buf.subarray(nl + 1);
      }
    }
    this.#buf = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    if (this.#items.length > 0) this.#wake();
  }

  async #next(kind: Item['kind'], timeoutMs: number): Promise<Item> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.#items.findIndex((it) => it.kind === kind);
      if (i !== -1) return this.#items.splice(i, 1)[0]!;
      if (this.#closed) throw new Error('connection closed by the server');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${kind} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async packet(timeoutMs = 10_000): Promise<RawPacket> {
    return ((await this.#next('packet', timeoutMs)) as { packet: RawPacket }).packet;
  }

  /**
   * One admin command; a listing (`status`, `workers`, `show …`, `prioritystatus`) is read up to
   * its `.` line. Lines are latin1 strings, so names keep their exact bytes both ways.
   */
  async admin(line: string, timeoutMs = 10_000): Promise<string[]> {
    this.socket.write(Buffer.from(line + '\n', 'latin1'));
    const listing = /^(status|workers|prioritystatus|show)\b/i.test(line);
    const out: string[] = [];
    for (;;) {
      const l = ((await this.#next('line', timeoutMs)) as { line: string }).line.replace(/\r?\n$/, '');
      if (!listing) return [l];
      if (l === '.') return out;
      out.push(l);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
