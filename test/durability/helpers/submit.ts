/** Raw-protocol background submissions: one by one, a pipelined batch, or a flood until the server dies. */
import type { ExecutionContext } from 'ava';
import { PacketType as T } from '../../../src/protocol/packet-types.ts';
import { RawClient, describePacket, type Packet } from '../../helpers/raw-client.ts';

export type Priority = 'high' | 'normal' | 'low';

export interface BackgroundJob {
  readonly fn: string;
  readonly unique: string;
  readonly data: string;
  readonly priority?: Priority;
  /** Unix seconds: sent as SUBMIT_JOB_EPOCH (a NORMAL background job that runs at that time). */
  readonly epoch?: number;
}

const BG_TYPES: Record<Priority, T> = { high: T.SUBMIT_JOB_HIGH_BG, normal: T.SUBMIT_JOB_BG, low: T.SUBMIT_JOB_LOW_BG };

export function sendSubmit(c: RawClient, job: BackgroundJob): void {
  if (job.epoch !== undefined) c.send(T.SUBMIT_JOB_EPOCH, job.fn, job.unique, String(job.epoch), job.data);
  else c.send(BG_TYPES[job.priority ?? 'normal'], job.fn, job.unique, job.data);
}

export async function connect(t: ExecutionContext, port: number): Promise<RawClient> {
  const c = await RawClient.connect(port);
  t.teardown(() => c.close());
  return c;
}

/** Submit all jobs pipelined on one connection; resolves with each job's reply packet, in order. */
export async function submitAll(c: RawClient, jobs: readonly BackgroundJob[]): Promise<Packet[]> {
  for (const j of jobs) sendSubmit(c, j);
  return c.nextN(jobs.length);
}

/** Submit all jobs and insist that each was acknowledged; returns the handles. */
export async function submitAcked(c: RawClient, jobs: readonly BackgroundJob[]): Promise<string[]> {
  const replies = await submitAll(c, jobs);
  return replies.map((p, i) => {
    if (p.type !== T.JOB_CREATED) throw new Error(`job ${jobs[i]!.unique}: expected JOB_CREATED, got ${describePacket(p)}`);
    return p.text[0]!;
  });
}

/**
 * One client connection that keeps `window` background submissions in flight, for as long as
 * the server answers. Every JOB_CREATED acknowledges the oldest unanswered submission (a server
 * answers a connection's submissions in order), so `acked` holds exactly the unique keys the
 * server acknowledged before it went away.
 */
export class SubmitFlood {
  readonly acked: string[] = [];
  readonly errors: string[] = [];
  /** Every unique key sent (acknowledged or not). */
  readonly sent: string[] = [];
  readonly done: Promise<void>;
  readonly #client: RawClient;
  #stopped = false;

  constructor(
    client: RawClient,
    readonly name: string,
    readonly window: number,
    onAck: () => void,
    readonly fn = 'flood',
  ) {
    this.#client = client;
    this.done = this.#run(onAck);
  }

  #jobFor(n: number): BackgroundJob {
    const priority = (['high', 'normal', 'low'] as const)[n % 3];
    return { fn: this.fn, unique: `${this.name}-${n}`, data: `payload ${this.name} ${n}`, priority };
  }

  async #run(onAck: () => void): Promise<void> {
    const c = this.#client;
    const pending: string[] = [];
    let n = 0;
    const sendOne = () => {
      const job = this.#jobFor(n++);
      pending.push(job.unique);
      this.sent.push(job.unique);
      sendSubmit(c, job);
    };
    for (let i = 0; i < this.window; i++) sendOne();
    for (;;) {
      let p: Packet;
      try {
        p = await c.next(undefined, 30_000);
      } catch {
        return; // the server is gone (or we were stopped): what was acknowledged is in `acked`
      }
      const unique = pending.shift();
      if (unique === undefined) throw new Error(`${this.name}: reply with nothing pending: ${describePacket(p)}`);
      if (p.type === T.JOB_CREATED) {
        this.acked.push(unique);
        onAck();
      } else {
        this.errors.push(`${unique}: ${describePacket(p)}`);
      }
      if (!this.#stopped && !c.isClosed) sendOne();
    }
  }

  stop(): void {
    this.#stopped = true;
  }
}
