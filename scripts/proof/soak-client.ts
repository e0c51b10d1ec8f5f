/**
 * Child process of soak.ts: foreground jobs for a while from 4 geartrain Clients (with `retry`),
 * while one of their connections is cut now and then (a network failure under the client).
 * Reports every outcome, and terminal packets seen twice on the wire (lib/wire-tap.ts).
 */
import { Client } from '../../src/client/client.ts';
import { otherErrorCount, runForeground } from './lib/fg-run.ts';
import { WireTap } from './lib/wire-tap.ts';

export interface SoakRun {
  readonly type: 'run';
  readonly servers: string;
  readonly fn: string;
  readonly seconds: number;
  readonly window: number;
  /** Cut one client connection this often (0: never). */
  readonly cutEveryMs: number;
}

export interface SoakDone {
  readonly type: 'done';
  readonly started: number;
  readonly completed: number;
  readonly failedAfterRetries: number;
  readonly otherErrors: number;
  readonly otherErrorSample: string;
  readonly lost: number;
  readonly deliveredTwice: number;
  readonly misdelivered: number;
  readonly wireDuplicates: number;
  readonly cuts: number;
  readonly ms: number;
}

process.on('message', (m: SoakRun) => {
  if (m.type !== 'run') return;
  void (async () => {
    const tap = new WireTap();
    const clients = Array.from(
      { length: 4 },
      () => new Client({ servers: [m.servers], connect: tap.factory, retry: 5, reconnectDelayMs: 20, maxReconnectDelayMs: 200, connectAttempts: 50 }),
    );
    let cuts = 0;
    const cutter = m.cutEveryMs > 0 ? setInterval(() => tap.cutOne() && cuts++, m.cutEveryMs) : undefined;
    const r = await runForeground(clients, { fn: m.fn, jobs: Math.max(1_000_000, m.seconds * 50_000), stopAt: Date.now() + m.seconds * 1000, window: m.window, deadlineMs: 120_000 });
    if (cutter) clearInterval(cutter);
    for (const c of clients) c.destroy();
    const done: SoakDone = {
      type: 'done',
      started: r.jobs,
      completed: r.completed,
      failedAfterRetries: r.failedAfterRetries,
      otherErrors: otherErrorCount(r),
      otherErrorSample: [...r.otherErrors.keys()][0] ?? '',
      lost: r.lost,
      deliveredTwice: r.deliveredTwice,
      misdelivered: r.misdelivered,
      wireDuplicates: tap.duplicates,
      cuts,
      ms: r.ms,
    };
    process.send!(done, () => process.exit(0));
  })().catch((err: Error) => {
    process.stderr.write(`soak client: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
});
