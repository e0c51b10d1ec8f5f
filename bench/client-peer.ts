/**
 * One geartrain process of bench/client.ts, forked with IPC:
 *
 *   client-peer.ts worker PORT CONCURRENCY           a Worker answering `gt_bench` with an empty result
 *   client-peer.ts client PORT INFLIGHT SIZE SHAPE   a Client keeping INFLIGHT jobs of SIZE bytes in flight;
 *                                                    SHAPE `rounds` (submit INFLIGHT, await all, repeat:
 *                                                    loadgen's shape) or `window` (refill as each ends)
 *
 * Messages from the parent: `go` (clients start), `mark` (clients reply with the count of results
 * so far), `stop` (clients reply with the count; then close and exit). With GT_BENCH_PROFILE_DIR
 * set, the process profiles its main thread from `mark` to `stop` (the measured window only, no
 * start-up or module compilation) and writes `<role>-<pid>.cpuprofile` there.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { Client, Worker } from '../src/client/index.ts';

const FUNCTION = 'gt_bench';
const [role, portArg, a, b, shape] = process.argv.slice(2);
const servers = `127.0.0.1:${portArg}`;

type Msg = { type: 'go' | 'mark' | 'stop' };
const send = (m: Record<string, unknown>) => process.send!(m);

const profileDir = process.env.GT_BENCH_PROFILE_DIR;
let profiler: Session | undefined;

async function startProfile(): Promise<void> {
  if (!profileDir || profiler) return;
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
  await profiler.post('Profiler.start');
}

async function stopProfile(): Promise<void> {
  const session = profiler;
  if (!session) return;
  profiler = undefined;
  const { profile } = await session.post('Profiler.stop');
  fs.mkdirSync(profileDir!, { recursive: true });
  fs.writeFileSync(path.join(profileDir!, `${role}-${process.pid}.cpuprofile`), JSON.stringify(profile));
  session.disconnect();
}

if (role === 'worker') {
  const worker = new Worker({ servers, concurrency: Number(a) });
  worker.register(FUNCTION, () => undefined);
  await worker.start();
  process.on('message', async (m: Msg) => {
    if (m.type === 'mark') await startProfile();
    if (m.type !== 'stop') return;
    await stopProfile();
    worker.destroy();
    process.exit(0);
  });
  send({ type: 'ready' });
} else if (role === 'client') {
  const inflight = Number(a);
  const payload = Buffer.alloc(Number(b), 'a');
  const client = new Client({ servers });
  await client.connect();
  let done = 0;
  let failed = 0;
  let stopped = false;
  const submit = () => client.submit(FUNCTION, payload, { updates: false }).result;
  const rounds = async () => {
    while (!stopped) {
      const round: Promise<unknown>[] = [];
      for (let i = 0; i < inflight; i++) round.push(submit().then(() => done++, () => failed++));
      await Promise.all(round);
    }
  };
  const window = () => {
    const one = (): void => {
      if (stopped) return;
      submit().then(
        () => {
          done++;
          one();
        },
        () => failed++,
      );
    };
    for (let i = 0; i < inflight; i++) one();
  };
  process.on('message', async (m: Msg) => {
    if (m.type === 'go') {
      if (shape === 'window') window();
      else void rounds();
    } else if (m.type === 'mark') {
      send({ type: 'count', done, failed });
      await startProfile();
    } else if (m.type === 'stop' && !stopped) {
      stopped = true;
      send({ type: 'count', done, failed });
      await stopProfile();
      client.destroy();
      process.exit(0);
    }
  });
  send({ type: 'ready' });
} else {
  process.stderr.write('usage: client-peer.ts worker PORT CONCURRENCY | client PORT INFLIGHT SIZE rounds|window\n');
  process.exit(2);
}
