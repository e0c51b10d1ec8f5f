/**
 * npm run load — many connections and a deep queue on one job server, on loopback.
 *
 * The server runs in this process (its heap is read after forced GCs). Child processes
 * (load-fleet.ts) open LOAD_CONNECTIONS connections (default 5,000: 80% clients, 20% workers,
 * each a geartrain Client or Worker with a connection of its own; the workers sleep on an idle
 * function). The clients then queue LOAD_JOBS background jobs (default 1,000,000; 64-byte
 * payloads; at most LOAD_WINDOW submits in flight per client process, spread round-robin over
 * every client connection), timing each submit from submit() to JOB_CREATED. Then every worker
 * registers the job's function and the queue is drained.
 *
 * Checks: every connection accepted, every submit acknowledged, the queue holds every job, every
 * job completed once, and the heap after draining (connections still open) is within 20% of the
 * heap before queueing (same connections open). Prints p50/p99 submit latency, jobs/s, memory.
 *
 * Env: LOAD_JOBS (1000000), LOAD_CONNECTIONS (5000), LOAD_WINDOW (500 per client process),
 *      LOAD_CLIENT_PROCS (2), LOAD_WORKER_PROCS (2).
 */
import { JobServer } from '../../src/server/index.ts';
import { EchoProbe } from './lib/echo-probe.ts';
import { heapAfterGc, PeakRss, rss } from './lib/memory.ts';
import { ensureOpenFiles, forkHelper, waitUntil, type Helper } from './lib/procs.ts';
import { RawPeer } from './lib/raw.ts';
import { envInt, Proof } from './lib/report.ts';
import { count, mib, ms, percentiles } from './lib/stats.ts';
import type { FleetCommand, FleetReport } from './load-fleet.ts';

const JOBS = envInt('LOAD_JOBS', 1_000_000, 1);
const CONNECTIONS = envInt('LOAD_CONNECTIONS', 5000, 10);
const WINDOW = envInt('LOAD_WINDOW', 500, 1);
const CLIENT_PROCS = envInt('LOAD_CLIENT_PROCS', 2, 1);
const WORKER_PROCS = envInt('LOAD_WORKER_PROCS', 2, 1);
const PAYLOAD_BYTES = 64;
const HEAP_TOLERANCE = 0.2;
const FN = 'load.job';

const proof = new Proof('load');
proof.watchdog(15 * 60_000);

type Fleet = Helper<FleetCommand, FleetReport>;
const is =
  <T extends FleetReport['type']>(type: T) =>
  (m: FleetReport): m is Extract<FleetReport, { type: T }> =>
    m.type === type;

/** Split `total` into `parts` near-equal integers. */
const shares = (total: number, parts: number) => Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

async function statusOf(peer: RawPeer, fn: string): Promise<{ total: number; running: number; workers: number } | undefined> {
  const line = (await peer.admin('status')).find((l) => l.startsWith(`${fn}\t`));
  if (!line) return undefined;
  const [, total, running, workers] = line.split('\t').map(Number);
  return { total: total!, running: running!, workers: workers! };
}

proof.run(async () => {
  const workersWanted = Math.max(1, Math.round(CONNECTIONS * 0.2));
  const clientsWanted = CONNECTIONS - workersWanted;
  // The server holds one descriptor per connection; each fleet process its share.
  const fdNeeded = CONNECTIONS + 200;
  const fdLimit = ensureOpenFiles(fdNeeded);
  if (!(fdLimit >= fdNeeded)) {
    throw new Error(`this process may open ${fdLimit} files, the run needs ${fdNeeded}: raise it (ulimit -n ${Math.max(65536, fdNeeded)}) and run again`);
  }
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory' });
  const { port } = await server.listen();
  const address = `127.0.0.1:${port}`;
  proof.log(`server on ${address}; ${count(clientsWanted)} clients + ${count(workersWanted)} workers, ${count(JOBS)} jobs; open files limit ${fdLimit}`);
  const heapEmpty = await heapAfterGc();
  const peak = new PeakRss(100);

  // 1. Connections.
  const clientFleets: Fleet[] = shares(clientsWanted, CLIENT_PROCS).map(() => forkHelper('load-fleet.ts'));
  const workerFleets: Fleet[] = shares(workersWanted, WORKER_PROCS).map(() => forkHelper('load-fleet.ts'));
  const t0 = Date.now();
  clientFleets.forEach((f, i) => f.send({ type: 'connect', role: 'clients', servers: address, count: shares(clientsWanted, CLIENT_PROCS)[i]! }));
  workerFleets.forEach((f, i) => f.send({ type: 'connect', role: 'workers', servers: address, count: shares(workersWanted, WORKER_PROCS)[i]!, idleFunction: 'load.idle' }));
  const connected = await Promise.all([...clientFleets, ...workerFleets].map((f) => f.next(is('connected'), 300_000)));
  const connectFailures = connected.reduce((n, c) => n + c.failed, 0);
  await waitUntil(() => server.core.connections.size >= CONNECTIONS - connectFailures, 'the server to see every connection', 30_000).catch(() => {});
  const held = server.core.connections.size;
  const connectMs = Date.now() - t0;
  proof.log(`${count(held)} connections in ${(connectMs / 1000).toFixed(1)} s`);
  const heapConnected = await heapAfterGc();
  const rssConnected = rss();

  const admin = await RawPeer.connect(port, { text: true });
  const probe = new EchoProbe(port, { intervalMs: 20, deadlineMs: 1000 });
  await probe.start();

  // 2. Queue.
  const completedBefore = server.stats.completed;
  const perProc = shares(JOBS, CLIENT_PROCS);
  const tq = Date.now();
  const cpuQ = process.cpuUsage();
  let firstId = 0;
  clientFleets.forEach((f, i) => {
    f.send({ type: 'submit', fn: FN, jobs: perProc[i]!, window: WINDOW, payloadBytes: PAYLOAD_BYTES, firstId });
    firstId += perProc[i]!;
  });
  const submitted = await Promise.all(clientFleets.map((f) => f.next(is('submitted'), 600_000)));
  const queueMs = Date.now() - tq;
  const queueCpu = process.cpuUsage(cpuQ);
  const failures = submitted.reduce((n, s) => n + s.failures, 0);
  const latencies = new Float64Array(submitted.reduce((n, s) => n + s.latencies.length, 0));
  let off = 0;
  for (const s of submitted) {
    latencies.set(s.latencies, off);
    off += s.latencies.length;
  }
  const [p50, p99, p999] = percentiles(latencies.filter((v) => !Number.isNaN(v)), [50, 99, 99.9]);
  const queued = await statusOf(admin, FN);
  proof.log(`${count(JOBS)} jobs queued in ${(queueMs / 1000).toFixed(1)} s; status says ${queued?.total}`);
  const heapQueued = await heapAfterGc();
  const rssQueued = rss();

  // 3. Drain.
  const td = Date.now();
  const cpuD = process.cpuUsage();
  for (const f of workerFleets) f.send({ type: 'serve', fn: FN });
  await waitUntil(async () => (await statusOf(admin, FN))?.total === 0 && server.stats.completed - completedBefore >= JOBS, 'the queue to drain', 600_000, 250);
  const drainMs = Date.now() - td;
  const drainCpu = process.cpuUsage(cpuD);
  await new Promise((r) => setTimeout(r, 300));
  const done = workerFleets.reduce((n, f) => n + (f.messages.filter(is('progress')).at(-1)?.done ?? 0), 0);
  const completed = server.stats.completed - completedBefore;
  const echo = await probe.stop();
  const heapDrained = await heapAfterGc();
  const rssDrained = rss();

  // 4. Disconnect everyone.
  for (const f of [...clientFleets, ...workerFleets]) f.send({ type: 'stop' });
  const stopped = await Promise.all(workerFleets.map((f) => f.next(is('stopped'), 60_000)));
  const executed = stopped.reduce((n, s) => n + s.done, 0);
  await Promise.all([...clientFleets, ...workerFleets].map((f) => f.exited));
  admin.close();
  await waitUntil(() => server.core.connections.size === 0, 'every connection to close', 60_000).catch(() => {});
  const heapAfter = await heapAfterGc();
  peak.stop();

  const [e50, e99] = echo.latency.percentiles([50, 99]);
  proof.table('load: connections and jobs', ['measure', 'value'], [
    ['connections held (clients + workers)', `${count(held)} (${count(clientsWanted)} + ${count(workersWanted)})`],
    ['  time to open them', `${(connectMs / 1000).toFixed(1)} s`],
    ['jobs queued (background, 64 B)', count(JOBS)],
    ['  submit failures', count(failures)],
    ['  queued per status before the drain', count(queued?.total ?? 0)],
    ['  queueing time', `${(queueMs / 1000).toFixed(1)} s`],
    ['  submits/s', count(Math.round(JOBS / (queueMs / 1000)))],
    [`  submit latency p50 (${WINDOW} in flight per client process × ${CLIENT_PROCS})`, ms(p50!)],
    ['  submit latency p99', ms(p99!)],
    ['  submit latency p99.9', ms(p999!)],
    ['  submit latency max', ms(latencies.reduce((m, v) => (v > m ? v : m), 0))],
    ['  server process CPU while queueing', `${((queueCpu.user + queueCpu.system) / 1e6).toFixed(1)} s (${(((queueCpu.user + queueCpu.system) / 1e3 / queueMs) * 100).toFixed(0)}% of one core)`],
    ['jobs completed by the server', count(completed)],
    ['  handler runs reported by the workers', count(Math.max(done, executed))],
    ['  draining time', `${(drainMs / 1000).toFixed(1)} s`],
    ['  drained jobs/s', count(Math.round(JOBS / (drainMs / 1000)))],
    ['  server process CPU while draining', `${((drainCpu.user + drainCpu.system) / 1e6).toFixed(1)} s (${(((drainCpu.user + drainCpu.system) / 1e3 / drainMs) * 100).toFixed(0)}% of one core)`],
    ['ECHO on its own connection during queue+drain, p50 / p99 / max', `${ms(e50!)} / ${ms(e99!)} / ${ms(echo.latency.max)}`],
  ]);
  proof.table('load: memory of the server process (heap after forced GC)', ['moment', 'heap used', 'RSS'], [
    ['empty server', mib(heapEmpty), '-'],
    [`${count(held)} connections open`, mib(heapConnected), mib(rssConnected)],
    [`${count(JOBS)} jobs queued`, mib(heapQueued), mib(rssQueued)],
    ['queue drained, connections still open', mib(heapDrained), mib(rssDrained)],
    ['everyone disconnected', mib(heapAfter), mib(rss())],
    ['peak RSS', '-', mib(peak.peak)],
  ]);

  proof.check(`${count(CONNECTIONS)} connections open at once`, connectFailures === 0 && held >= CONNECTIONS, `${count(held)} held, ${connectFailures} failed to connect`);
  proof.check('every submit acknowledged (JOB_CREATED)', failures === 0, failures === 0 ? `${count(JOBS)} acknowledged` : `${failures} failed: ${submitted.find((s) => s.firstError)?.firstError}`);
  proof.check('the queue held every job before the drain', queued?.total === JOBS, `status total ${queued?.total}`);
  proof.check('every job completed, none twice', completed === JOBS && executed === JOBS, `server completed ${count(completed)}, workers ran ${count(executed)}`);
  proof.check('the well-formed ECHO peer was answered throughout', !echo.disconnected && echo.answered === echo.sent, `${echo.answered}/${echo.sent}, max ${ms(echo.latency.max)}`);
  proof.check(
    `heap after draining within ${HEAP_TOLERANCE * 100}% of the heap before queueing`,
    heapDrained <= heapConnected * (1 + HEAP_TOLERANCE),
    `${mib(heapConnected)} -> ${mib(heapDrained)} (${(((heapDrained - heapConnected) / heapConnected) * 100).toFixed(1)}%)`,
  );
  proof.check('every connection closed at the end', server.core.connections.size === 0, `${server.core.connections.size} open`);
  server.destroy();
});
