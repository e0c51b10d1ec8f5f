/**
 * Child process of load.ts and soak.ts: a fleet of geartrain `Client`s or `Worker`s, each with a
 * connection of its own, driven over IPC.
 *
 *   clients: connect N clients; `submit` spreads background jobs round-robin over them with at
 *            most `window` submits in flight, and reports every submit's latency (submit() to
 *            JOB_CREATED).
 *   workers: connect N workers serving an idle function (they sleep on the server); `serve`
 *            registers the real function on all of them, and they complete jobs until `stop`.
 */
import { Client } from '../../src/client/client.ts';
import { Worker } from '../../src/client/worker.ts';

export type FleetCommand =
  | { readonly type: 'connect'; readonly role: 'clients' | 'workers'; readonly servers: string; readonly count: number; readonly idleFunction?: string; readonly concurrency?: number }
  | { readonly type: 'submit'; readonly fn: string; readonly jobs: number; readonly window: number; readonly payloadBytes: number; readonly firstId: number }
  | { readonly type: 'serve'; readonly fn: string }
  | { readonly type: 'stop' };

export type FleetReport =
  | { readonly type: 'connected'; readonly count: number; readonly failed: number; readonly ms: number }
  | { readonly type: 'submitted'; readonly jobs: number; readonly failures: number; readonly firstError: string; readonly ms: number; readonly latencies: Float64Array }
  | { readonly type: 'progress'; readonly done: number }
  | { readonly type: 'stopped'; readonly done: number };

const clients: Client[] = [];
const workers: Worker[] = [];
let done = 0;
let progressTimer: NodeJS.Timeout | undefined;

const send = (m: FleetReport) => process.send!(m);

/** Run `tasks` with at most `limit` at once (a connect storm would overflow the listen backlog). */
async function limited(count: number, limit: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  let failed = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await task(i).catch(() => failed++);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  return failed;
}

async function connect(cmd: Extract<FleetCommand, { type: 'connect' }>): Promise<void> {
  const t0 = Date.now();
  const common = { servers: cmd.servers, heartbeatIntervalMs: 0, connectTimeoutMs: 20_000 } as const;
  let failed: number;
  if (cmd.role === 'clients') {
    failed = await limited(cmd.count, 100, async () => {
      const c = new Client(common);
      clients.push(c);
      await c.connect();
    });
  } else {
    failed = await limited(cmd.count, 100, async () => {
      const w = new Worker({ ...common, concurrency: cmd.concurrency ?? 1 });
      workers.push(w);
      w.register(cmd.idleFunction ?? 'load.idle', () => undefined);
      w.onJobDone(() => done++);
      await w.start();
    });
  }
  send({ type: 'connected', count: cmd.role === 'clients' ? clients.length : workers.length, failed, ms: Date.now() - t0 });
}

async function submit(cmd: Extract<FleetCommand, { type: 'submit' }>): Promise<void> {
  const t0 = Date.now();
  const latencies = new Float64Array(cmd.jobs);
  const pad = 'x'.repeat(Math.max(0, cmd.payloadBytes - 12));
  let failures = 0;
  let firstError = '';
  let next = 0;
  const lane = async (laneNo: number) => {
    // Lane i uses clients i, i+window, i+2·window, …: every connection carries jobs.
    let k = laneNo;
    while (next < cmd.jobs) {
      const i = next++;
      const client = clients[k % clients.length]!;
      k += cmd.window;
      const start = performance.now();
      try {
        await client.submitBackground(cmd.fn, `${cmd.firstId + i}:${pad}`);
        latencies[i] = performance.now() - start;
      } catch (err) {
        latencies[i] = NaN;
        failures++;
        firstError ||= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: cmd.window }, (_, i) => lane(i)));
  send({ type: 'submitted', jobs: cmd.jobs, failures, firstError, ms: Date.now() - t0, latencies });
}

function serve(fn: string): void {
  for (const w of workers) w.register(fn, () => undefined);
  progressTimer = setInterval(() => send({ type: 'progress', done }), 250);
}

async function stop(): Promise<void> {
  if (progressTimer) clearInterval(progressTimer);
  for (const c of clients) c.destroy();
  for (const w of workers) w.destroy();
  send({ type: 'stopped', done });
  setImmediate(() => process.exit(0));
}

process.on('message', (m: FleetCommand) => {
  const run = m.type === 'connect' ? connect(m) : m.type === 'submit' ? submit(m) : m.type === 'serve' ? Promise.resolve(serve(m.fn)) : stop();
  run.catch((err: Error) => {
    process.stderr.write(`load fleet: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
});
