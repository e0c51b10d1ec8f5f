/**
 * A raw-protocol worker that records every JOB_ASSIGN_UNIQ it receives (in order, with the time
 * it arrived) and completes each job at once — or holds it, to leave a job running.
 * It grabs one job at a time (GRAB_JOB_UNIQ, PRE_SLEEP on NO_JOB, grab again on NOOP), so the
 * recorded order is the order in which the server handed the jobs out.
 */
import type { ExecutionContext } from 'ava';
import { PacketType as T } from '../../../src/protocol/packet-types.ts';
import { waitFor } from '../../helpers/ports.ts';
import { RawClient, describePacket } from '../../helpers/raw-client.ts';

export interface Assignment {
  readonly handle: string;
  readonly fn: string;
  readonly unique: string;
  readonly data: string;
  /** Date.now() when the JOB_ASSIGN_UNIQ arrived. */
  readonly at: number;
}

export interface RecordingWorkerOptions {
  /** Complete each job (default) or keep it running until the connection ends. */
  complete?: boolean;
  /** Stop grabbing after this many assignments. */
  limit?: number;
}

/** How long the loop waits for a NOOP before it checks whether it was stopped. */
const SLEEP_POLL_MS = 60_000;

export class RecordingWorker {
  readonly runs: Assignment[] = [];
  readonly #client: RawClient;
  readonly #opts: Required<RecordingWorkerOptions>;
  #error: Error | null = null;
  #stopped = false;
  readonly #loop: Promise<void>;

  private constructor(client: RawClient, fns: readonly string[], opts: RecordingWorkerOptions) {
    this.#client = client;
    this.#opts = { complete: opts.complete ?? true, limit: opts.limit ?? Infinity };
    for (const f of fns) client.send(T.CAN_DO, f);
    this.#loop = this.#run().catch((err: Error) => {
      if (!this.#stopped) this.#error = err;
    });
  }

  static async start(t: ExecutionContext, port: number, fns: readonly string[], opts: RecordingWorkerOptions = {}): Promise<RecordingWorker> {
    const client = await RawClient.connect(port);
    const worker = new RecordingWorker(client, fns, opts);
    t.teardown(() => worker.stop());
    return worker;
  }

  async #run(): Promise<void> {
    const c = this.#client;
    while (!this.#stopped && this.runs.length < this.#opts.limit) {
      c.send(T.GRAB_JOB_UNIQ);
      const p = await c.next();
      if (p.type === T.NO_JOB) {
        c.send(T.PRE_SLEEP);
        for (;;) {
          try {
            await c.next(T.NOOP, SLEEP_POLL_MS);
            break;
          } catch (err) {
            if (this.#stopped || c.isClosed) throw err;
          }
        }
        continue;
      }
      if (p.type !== T.JOB_ASSIGN_UNIQ) throw new Error(`worker: unexpected ${describePacket(p)}`);
      const [handle, fn, unique, data] = p.text as [string, string, string, string];
      this.runs.push({ handle, fn, unique, data, at: Date.now() });
      if (this.#opts.complete) c.send(T.WORK_COMPLETE, handle, '');
    }
  }

  /** Unique keys in the order the jobs were handed out. */
  get uniques(): string[] {
    return this.runs.map((r) => r.unique);
  }

  /** Resolve once `n` jobs were assigned; fails early if the connection broke. */
  async waitForRuns(n: number, timeoutMs = 15_000): Promise<Assignment[]> {
    await waitFor(
      () => {
        if (this.#error) throw this.#error;
        return this.runs.length >= n;
      },
      `${n} assignments (have ${this.runs.length})`,
      timeoutMs,
      5,
    );
    return this.runs.slice(0, n);
  }

  /** The worker's connection ended on the server's side (e.g. the server was killed). */
  get disconnected(): boolean {
    return this.#client.isClosed;
  }

  /** Fail if any packet arrives for a while (use after the expected jobs were all assigned). */
  async expectNoMoreJobs(): Promise<void> {
    if (this.#error) throw this.#error;
    const before = this.runs.length;
    await new Promise((r) => setTimeout(r, 150));
    if (this.#error) throw this.#error;
    if (this.runs.length !== before) throw new Error(`unexpected job(s) after the last one: ${this.uniques.slice(before).join(', ')}`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#client.close();
    await this.#loop;
  }
}
