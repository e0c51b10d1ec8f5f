/**
 * npm run soak — a job server under steady work and steady faults for SOAK_SECONDS (default 60).
 *
 * The server runs in this process (`--job-retries 10`; heap read after forced GCs). Around it:
 * SOAK_IDLE_CONNECTIONS idle clients (default 1,000) held open by a fleet process; 3 worker
 * processes, one of them kill -9'd every SOAK_KILL_MS (default 500) and replaced; a client
 * process running foreground jobs with SOAK_WINDOW in flight (default 256) whose connections are
 * cut every SOAK_CUT_MS (default 1000) and re-dialled by the library (jobs resubmitted, `retry`).
 * Afterwards the queue must drain, no job may be lost and no result delivered twice.
 *
 * Prints: connections held, jobs done, faults injected, jobs lost (must be 0), duplicates
 * delivered (must be 0), peak RSS, heap after drain.
 */
import { JobServer } from '../../src/server/index.ts';
import { heapAfterGc, PeakRss, rss } from './lib/memory.ts';
import { forkHelper, sleep, waitUntil, type Helper } from './lib/procs.ts';
import { envInt, Proof } from './lib/report.ts';
import { count, mib } from './lib/stats.ts';
import type { FleetCommand, FleetReport } from './load-fleet.ts';
import type { SoakDone, SoakRun } from './soak-client.ts';

const SECONDS = envInt('SOAK_SECONDS', 60, 1);
const IDLE = envInt('SOAK_IDLE_CONNECTIONS', 1000, 0);
const KILL_MS = envInt('SOAK_KILL_MS', 500, 10);
const CUT_MS = envInt('SOAK_CUT_MS', 1000, 0);
const WINDOW = envInt('SOAK_WINDOW', 256, 1);
const WORKERS = 3;
const FN = 'soak.echo';

const proof = new Proof('soak');
proof.watchdog((SECONDS + 300) * 1000);

proof.run(async () => {
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory', jobRetries: 10 });
  const { port } = await server.listen();
  const address = `127.0.0.1:${port}`;
  proof.log(`server on ${address}; ${SECONDS} s, ${IDLE} idle connections, a worker killed every ${KILL_MS} ms, a client connection cut every ${CUT_MS} ms`);
  const peak = new PeakRss(100);

  const idle: Helper<FleetCommand, FleetReport> = forkHelper('load-fleet.ts');
  if (IDLE > 0) {
    idle.send({ type: 'connect', role: 'clients', servers: address, count: IDLE });
    await idle.next((m): m is Extract<FleetReport, { type: 'connected' }> => m.type === 'connected', 120_000);
  }
  type W = { helper: Helper<never, { type: 'ready' }>; ready: Promise<unknown> };
  const spawnWorker = (): W => {
    const helper = forkHelper<never, { type: 'ready' }>('fault-worker.ts', { args: [address, FN, '8', '2'], bundle: true });
    const ready = helper.next((m): m is { type: 'ready' } => m.type === 'ready', 60_000);
    ready.catch(() => {}); // a worker killed before it was ready
    return { helper, ready };
  };
  const workers: W[] = Array.from({ length: WORKERS }, spawnWorker);
  await Promise.all(workers.map((w) => w.ready));
  const heapStart = await heapAfterGc();
  const connectionsAtStart = server.core.connections.size;

  const client: Helper<SoakRun, SoakDone> = forkHelper('soak-client.ts');
  client.send({ type: 'run', servers: address, fn: FN, seconds: SECONDS, window: WINDOW, cutEveryMs: CUT_MS });
  let kills = 0;
  let running = true;
  let maxConnections = 0;
  let connectionSamples = 0;
  let connectionSum = 0;
  const sampler = setInterval(() => {
    const n = server.core.connections.size;
    maxConnections = Math.max(maxConnections, n);
    connectionSum += n;
    connectionSamples++;
  }, 250);
  const killer = (async () => {
    while (running) {
      await sleep(KILL_MS);
      if (!running) break;
      const i = Math.floor(Math.random() * workers.length);
      await workers[i]!.helper.kill9();
      kills++;
      workers[i] = spawnWorker();
    }
  })();
  const done = await client.next((m): m is SoakDone => m.type === 'done', (SECONDS + 180) * 1000);
  running = false;
  await killer;
  clearInterval(sampler);

  // Drain: whatever the killed workers left behind runs on the survivors.
  await Promise.all(workers.map((w) => w.ready.catch(() => undefined)));
  await waitUntil(() => server.core.jobs.size === 0, 'the queue to drain', 120_000).catch(() => {});
  const jobsLeft = server.core.jobs.size;
  await sleep(200);
  const heapDrained = await heapAfterGc();
  const rssDrained = rss();

  for (const w of workers) await w.helper.kill9();
  idle.send({ type: 'stop' });
  await idle.exited;
  await waitUntil(() => server.core.connections.size === 0, 'every connection to close', 30_000).catch(() => {});
  const heapEmpty = await heapAfterGc();
  peak.stop();

  const faults = kills + done.cuts;
  proof.table('soak: summary', ['measure', 'value'], [
    ['duration', `${(done.ms / 1000).toFixed(1)} s`],
    ['connections held (peak / mean)', `${count(maxConnections)} / ${count(Math.round(connectionSum / Math.max(1, connectionSamples)))}`],
    ['jobs done', count(done.completed)],
    ['  jobs/s', count(Math.round(done.completed / (done.ms / 1000)))],
    ['faults injected', `${count(faults)} (${kills} worker kill -9s, ${done.cuts} client connections cut)`],
    ['jobs lost', count(done.lost)],
    ['duplicates delivered', count(done.wireDuplicates + done.deliveredTwice)],
    ['misdelivered results', count(done.misdelivered)],
    ['failed visibly (WORK_FAIL after 10 attempts / other errors)', `${done.failedAfterRetries} / ${done.otherErrors}${done.otherErrorSample ? ` (${done.otherErrorSample})` : ''}`],
    ['jobs left on the server after drain', count(jobsLeft)],
    ['peak RSS', mib(peak.peak)],
    ['heap at start (after GC)', mib(heapStart)],
    ['heap after drain (after GC)', `${mib(heapDrained)} (RSS ${mib(rssDrained)})`],
    ['heap after everyone left (after GC)', mib(heapEmpty)],
  ]);

  proof.check('connections held during the soak', maxConnections >= connectionsAtStart && connectionsAtStart >= IDLE + WORKERS, `${connectionsAtStart} at start, peak ${maxConnections}`);
  proof.check('faults were injected', kills > 0 && (CUT_MS === 0 || done.cuts > 0), `${kills} kills, ${done.cuts} cuts`);
  proof.check('jobs lost: 0', done.lost === 0 && done.started === done.completed + done.failedAfterRetries + done.otherErrors, `${done.lost} lost of ${count(done.started)} started`);
  proof.check('duplicates delivered: 0', done.wireDuplicates === 0 && done.deliveredTwice === 0 && done.misdelivered === 0, `${done.wireDuplicates} on the wire, ${done.deliveredTwice} in the API, ${done.misdelivered} misdelivered`);
  proof.check('every job completed (none failed, none left queued)', done.completed === done.started && jobsLeft === 0, `${count(done.completed)} of ${count(done.started)}; ${jobsLeft} left`);
  proof.check('heap after drain within 20% of start', heapDrained <= heapStart * 1.2, `${mib(heapStart)} -> ${mib(heapDrained)}`);
  server.destroy();
});
