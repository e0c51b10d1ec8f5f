/**
 * A TCP proxy between a Gearman peer and a job server that decodes what the peer sends, so tests
 * can count packets (e.g. terminal packets per job handle), and can freeze or cut the line to
 * simulate a silent or dead server without stopping it.
 */
import net from 'node:net';
import { Decoder, type BinaryFrame } from '../../../src/protocol/decoder.ts';
import { packetName } from '../../../src/protocol/packet-types.ts';

export interface TappedPacket {
  readonly name: string;
  readonly args: string[];
}

export class Tap {
  readonly server: net.Server;
  /** Packets the peers sent towards the server, in order, over all connections. */
  readonly sent: TappedPacket[] = [];
  /** Packets the server sent back, in order, over all connections. */
  readonly received: TappedPacket[] = [];
  readonly #pairs = new Set<{ a: net.Socket; b: net.Socket; frozen: boolean; held: Buffer[] | undefined }>();
  #holding = false;

  private constructor(server: net.Server) {
    this.server = server;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<Tap> {
    const server = net.createServer();
    const tap = new Tap(server);
    server.on('connection', (a) => tap.#accept(a, targetPort, targetHost));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return tap;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Stop forwarding on the connections open now, both ways, without closing them. */
  freeze(): void {
    for (const p of this.#pairs) p.frozen = true;
  }

  /** Keep what the server sends from now on (all connections) until `releaseReplies()`. */
  holdReplies(): void {
    this.#holding = true;
    for (const p of this.#pairs) p.held ??= [];
  }

  /** Deliver everything held, per connection as one chunk, and stop holding. */
  releaseReplies(): void {
    this.#holding = false;
    for (const p of this.#pairs) {
      if (p.held && p.held.length > 0) p.a.write(Buffer.concat(p.held));
      p.held = undefined;
    }
  }

  /** Cut every connection open now. */
  cut(): void {
    for (const p of this.#pairs) {
      p.a.destroy();
      p.b.destroy();
    }
  }

  /** Write bytes towards the server on every connection open now, as if the peer sent them. */
  inject(bytes: Buffer): void {
    for (const p of this.#pairs) p.b.write(bytes);
  }

  /** Connections open now. */
  get connections(): number {
    return this.#pairs.size;
  }

  count(name: string): number {
    return this.sent.filter((p) => p.name === name).length;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #accept(a: net.Socket, port: number, host: string): void {
    const b = net.connect(port, host);
    const pair = { a, b, frozen: false, held: this.#holding ? ([] as Buffer[]) : undefined };
    this.#pairs.add(pair);
    const decoder = new Decoder((f) => {
      const frame = f as BinaryFrame;
      this.sent.push({ name: packetName(frame.type), args: frame.args.map((x) => x.toString('latin1')), at: Date.now() - ((globalThis as any).T0 ?? 0) } as TappedPacket);
    });
    a.on('data', (chunk: Buffer) => {
      if (pair.frozen) return;
      try {
        decoder.push(chunk);
      } catch {
        // not ours to judge; forward anyway
      }
      b.write(chunk);
    });
    const back = new Decoder((f) => {
      const frame = f as BinaryFrame;
      this.received.push({ name: packetName(frame.type), args: frame.args.map((x) => x.toString('latin1')), at: Date.now() - ((globalThis as any).T0 ?? 0) } as TappedPacket);
    }, { allowAdmin: true });
    b.on('data', (chunk: Buffer) => {
      if (pair.frozen) return;
      try {
        back.push(chunk);
      } catch {
        // forward anyway
      }
      if (pair.held) pair.held.push(chunk);
      else a.write(chunk);
    });
    const end = () => {
      this.#pairs.delete(pair);
      a.destroy();
      b.destroy();
    };
    a.on('close', end);
    b.on('close', end);
    a.on('error', () => {});
    b.on('error', () => {});
  }
}
