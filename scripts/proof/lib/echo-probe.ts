/**
 * A well-formed peer that keeps asking the server for ECHO on its own connection while others
 * misbehave: one request in flight, the next `intervalMs` after each reply. Every reply must come
 * back byte-identical within `deadlineMs`; replies that come later, or never, are counted.
 */
import { RawPeer, request } from './raw.ts';
import { Samples } from './stats.ts';

const ECHO_REQ = 16;
const ECHO_RES = 17;

export interface ProbeResult {
  readonly sent: number;
  readonly answered: number;
  /** Requests not answered within the deadline (answered late, or never). */
  readonly late: number;
  /** Replies whose bytes differ from the request's. */
  readonly mismatched: number;
  /** The probe's connection was closed by the server. */
  readonly disconnected: boolean;
  readonly latency: Samples;
}

export class EchoProbe {
  readonly #port: number;
  readonly #intervalMs: number;
  readonly #deadlineMs: number;
  readonly latency = new Samples();
  #peer: RawPeer | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #sent = 0;
  #answered = 0;
  #late = 0;
  #mismatched = 0;
  #disconnected = false;

  constructor(port: number, opts: { intervalMs?: number; deadlineMs?: number } = {}) {
    this.#port = port;
    this.#intervalMs = opts.intervalMs ?? 20;
    this.#deadlineMs = opts.deadlineMs ?? 1000;
  }

  async start(): Promise<void> {
    this.#peer = await RawPeer.connect(this.#port);
    this.#running = true;
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const peer = this.#peer!;
    while (this.#running) {
      const payload = Buffer.from(`probe:${this.#sent}:${Date.now()}`);
      const t0 = performance.now();
      peer.send(request(ECHO_REQ, payload));
      this.#sent++;
      let reply;
      try {
        // Wait past the deadline (up to 30 s) so a late answer is told apart from none.
        reply = await peer.packet(Math.max(30_000, this.#deadlineMs * 2));
      } catch {
        this.#late++;
        this.#disconnected = peer.closed;
        return;
      }
      const elapsed = performance.now() - t0;
      if (reply.type !== ECHO_RES || !reply.payload.equals(payload)) this.#mismatched++;
      else {
        this.#answered++;
        this.latency.add(elapsed);
        if (elapsed > this.#deadlineMs) this.#late++;
      }
      await new Promise((r) => setTimeout(r, this.#intervalMs));
    }
  }

  async stop(): Promise<ProbeResult> {
    this.#running = false;
    await this.#loop;
    this.#peer?.close();
    return {
      sent: this.#sent,
      answered: this.#answered,
      late: this.#late,
      mismatched: this.#mismatched,
      disconnected: this.#disconnected,
      latency: this.latency,
    };
  }
}
