/**
 * npm run faults — kill -9 during runs of FAULTS_JOBS jobs (default 100,000), on real processes.
 *
 * 1. Workers killed at random: `geartrain server -q memory --job-retries 5` in a child process;
 *    4 worker processes (fault-worker.ts), one of them kill -9'd every FAULTS_KILL_MS (default
 *    250) and replaced. Foreground jobs from 4 clients: every job's result reaches its client
 *    exactly once (checked on the wire and in the API), or the job fails visibly with WORK_FAIL
 *    after its 5 attempts. A job may run twice (its worker died after starting it): execution is
 *    at-least-once, delivery is not.
 * 2. The server killed with a persistent queue: `geartrain server -q sqlite`, kill -9'd three
 *    times while background jobs are submitted, restarted on the same port and file. Every job
 *    that was acknowledged (JOB_CREATED) runs; the client resubmits the ones it got no answer for.
 * 3. Two servers, one killed: clients and workers have both in their list; foreground jobs are
 *    spread over both; one server is kill -9'd a third of the way through and stays down. The run
 *    completes: the client library resubmits the jobs it lost (Client `retry`).
 *
 * Env: FAULTS_JOBS (100000), FAULTS_KILL_MS (250), FAULTS_WINDOW (256 per client).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '../../src/client/client.ts';
import { Worker } from '../../src/client/worker.ts';
import { otherErrorCount, runForeground, type ForegroundResult } from './lib/fg-run.ts';
import { forkHelper, freePort, sleep, startServerChild, waitUntil, type Helper, type ServerChild } from './lib/procs.ts';
import { RawPeer } from './lib/raw.ts';
import { envInt, Proof } from './lib/report.ts';
import { count } from './lib/stats.ts';
import { WireTap } from './lib/wire-tap.ts';

const JOBS = envInt('FAULTS_JOBS', 100_000, 100);
const KILL_MS = envInt('FAULTS_KILL_MS', 250, 10);
const WINDOW = envInt('FAULTS_WINDOW', 256, 1);
const JOB_RETRIES = 5;
const DEADLINE_MS = 120_000;

const proof = new Proof('faults');
proof.watchdog(20 * 60_000);

interface Row {
  scenario: string;
  jobs: number;
  faults: string;
  completed: number;
  failedVisibly: number;
  lost: number;
  duplicates: number;
  extra: string;
  seconds: number;
}
const rows: Row[] = [];

const clientOptions = (servers: string[], tap: WireTap) =>
  ({ servers, connect: tap.factory, reconnectDelayMs: 20, maxReconnectDelayMs: 200, connectAttempts: 50 }) as const;

/** Scenario 1: kill -9 workers at random, replace them, until the run is over. */
async function workersKilled(): Promise<void> {
  const server = await startServerChild(['-q', 'memory', '--job-retries', String(JOB_RETRIES)]);
  const fn = 'faults.echo';
  type W = Helper<never, { type: 'ready' }>;
  const spawnWorker = (): W => forkHelper('fault-worker.ts', { args: [server.address, fn, '8', '3'], bundle: true });
  const workers: W[] = Array.from({ length: 4 }, spawnWorker);
  await Promise.all(workers.map((w) => w.next((m): m is { type: 'ready' } => m.type === 'ready', 60_000)));
  const tap = new WireTap();
  const clients = Array.from({ length: 4 }, () => new Client(clientOptions([server.address], tap)));
  let kills = 0;
  let running = true;
  const killer = (async () => {
    while (running) {
      await sleep(KILL_MS);
      if (!running) break;
      const i = Math.floor(Math.random() * workers.length);
      await workers[i]!.kill9();
      kills++;
      workers[i] = spawnWorker();
    }
  })();
  const r = await runForeground(clients, { fn, jobs: JOBS, window: WINDOW * clients.length, deadlineMs: DEADLINE_MS });
  running = false;
  await killer;
  report('worker processes kill -9\'d at random', r, `${kills} kills`, tap, `server stayed up: ${server.alive}`);
  proof.check('workers killed: faults were injected', kills >= 5, `${kills} worker processes killed`);
  proof.check(
    'workers killed: every result reached its client exactly once, or the job failed visibly after --job-retries',
    r.lost === 0 && tap.duplicates === 0 && r.deliveredTwice === 0 && r.misdelivered === 0 && r.completed + r.failedAfterRetries === JOBS,
    outcome(r, tap),
  );
  for (const c of clients) c.destroy();
  for (const w of workers) await w.kill9();
  await server.stop();
}

/** Scenario 2: kill -9 the server (SQLite queue) three times while submitting; nothing acknowledged may be lost. */
async function serverKilledWithQueue(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-faults-'));
  const port = await freePort();
  const args = ['-q', 'sqlite', '--sqlite-db', path.join(dir, 'queue.sqlite')];
  let server: ServerChild = await startServerChild(args, port);
  const address = `127.0.0.1:${port}`;
  const fn = 'faults.durable';
  const executions = new Uint16Array(JOBS);
  const worker = new Worker({ servers: [address], concurrency: 32, reconnectDelayMs: 20, maxReconnectDelayMs: 200 });
  worker.register(fn, (job) => {
    const id = Number(job.payload.toString('latin1'));
    if (id >= 0 && id < JOBS) executions[id] = Math.min(65535, executions[id]! + 1);
  });
  // The worker comes in at 60%: the first two kills hit a queue of stored rows only, the third
  // one rows and jobs in flight.
  let workerStarted: Promise<void> | null = null;
  const client = new Client({ servers: [address], reconnectDelayMs: 20, maxReconnectDelayMs: 200, connectAttempts: 2, timeoutMs: 5_000 });
  const backlog: number[] = [];
  const queueDepth = async () => {
    const peer = await RawPeer.connect(port, { text: true });
    try {
      const line = (await peer.admin('status')).find((l) => l.startsWith(`${fn}\t`));
      return line ? Number(line.split('\t')[1]) : 0;
    } finally {
      peer.close();
    }
  };
  const acked = new Uint8Array(JOBS);
  let ackedCount = 0;
  let resubmits = 0;
  let kills = 0;
  const killAt = [0.25, 0.5, 0.75].map((f) => Math.floor(f * JOBS));
  let restarting: Promise<void> | null = null;
  const t0 = Date.now();
  let next = 0;
  const lane = async () => {
    while (next < JOBS) {
      const i = next++;
      for (;;) {
        try {
          // The unique key makes a resubmission of a job that did get stored coalesce with it.
          await client.submitBackground(fn, String(i), { unique: `job-${i}` });
          acked[i] = 1;
          ackedCount++;
          if (!workerStarted && ackedCount >= 0.6 * JOBS) workerStarted = worker.start();
          if (kills < killAt.length && ackedCount >= killAt[kills]! && !restarting) {
            kills++;
            restarting = (async () => {
              backlog.push(await queueDepth().catch(() => -1));
              await server.kill9();
              await sleep(100);
              server = await startServerChild(args, port);
              restarting = null;
            })();
          }
          break;
        } catch {
          resubmits++;
          await (restarting ?? sleep(50));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  await restarting;
  await (workerStarted ?? worker.start());
  // Everything acknowledged must run (rows replayed after each restart included).
  const admin = await RawPeer.connect(port, { text: true });
  let lost = JOBS;
  await waitUntil(
    async () => {
      lost = 0;
      for (let i = 0; i < JOBS; i++) if (acked[i] && executions[i] === 0) lost++;
      const line = (await admin.admin('status')).find((l) => l.startsWith(`${fn}\t`));
      return lost === 0 && (line === undefined || line.split('\t')[1] === '0');
    },
    'every acknowledged job to run',
    DEADLINE_MS,
    200,
  ).catch(() => {});
  admin.close();
  let twice = 0;
  let ran = 0;
  for (let i = 0; i < JOBS; i++) {
    if (executions[i]! > 0) ran++;
    if (executions[i]! > 1) twice++;
  }
  const seconds = (Date.now() - t0) / 1000;
  rows.push({
    scenario: 'server kill -9\'d and restarted (SQLite queue)',
    jobs: JOBS,
    faults: `${kills} kills`,
    completed: ran,
    failedVisibly: 0,
    lost,
    duplicates: 0,
    extra: `jobs queued at the kills: ${backlog.map(count).join(', ')}; ${count(resubmits)} submits retried; ${count(twice)} ran twice (at-least-once)`,
    seconds,
  });
  proof.check('server killed: three kill -9s during the run, with jobs queued each time', kills === 3 && backlog.every((n) => n > 0), `${kills} kills; queued then: ${backlog.join(', ')}`);
  proof.check('server killed: every acknowledged job ran (nothing acknowledged lost)', ackedCount === JOBS && lost === 0, `${count(ackedCount)} acknowledged, ${lost} never ran`);
  client.destroy();
  worker.destroy();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Scenario 3: two servers, one kill -9'd for good a third of the way through. */
async function oneOfTwoServersKilled(): Promise<void> {
  const a = await startServerChild(['-q', 'memory']);
  const b = await startServerChild(['-q', 'memory']);
  const servers = [a.address, b.address];
  const fn = 'faults.failover';
  const workers = Array.from({ length: 2 }, () => {
    const w = new Worker({ servers, concurrency: 32, reconnectDelayMs: 20, maxReconnectDelayMs: 200 });
    w.register(fn, async (job) => {
      if (Math.random() < 0.5) await sleep(1);
      return job.payload;
    });
    return w;
  });
  await Promise.all(workers.map((w) => w.start()));
  await waitUntil(async () => {
    const peers = await Promise.all(servers.map((s) => RawPeer.connect(Number(s.split(':')[1]), { text: true })));
    const ok = (await Promise.all(peers.map((p) => p.admin('status')))).every((l) => l.some((x) => x.startsWith(`${fn}\t`) && x.endsWith('\t2')));
    for (const p of peers) p.close();
    return ok;
  }, 'the workers on both servers', 30_000);
  const tap = new WireTap();
  const clients = Array.from({ length: 4 }, () => new Client({ ...clientOptions(servers, tap), retry: 3 }));
  let killed = false;
  const r = await runForeground(clients, {
    fn,
    jobs: JOBS,
    window: WINDOW * clients.length,
    deadlineMs: DEADLINE_MS,
    onSettled: (n) => {
      if (!killed && n >= JOBS / 3) {
        killed = true;
        void a.kill9();
      }
    },
  });
  report('one of two servers kill -9\'d for good', r, killed ? '1 server kill' : 'no kill', tap, `surviving server up: ${b.alive}`);
  proof.check(
    'two servers, one killed: the run completed, every result delivered exactly once',
    killed && r.completed === JOBS && r.lost === 0 && tap.duplicates === 0 && r.deliveredTwice === 0 && r.misdelivered === 0,
    outcome(r, tap),
  );
  for (const c of clients) c.destroy();
  for (const w of workers) w.destroy();
  await a.kill9();
  await b.stop();
}

function outcome(r: ForegroundResult, tap: WireTap): string {
  const other = [...r.otherErrors].map(([k, v]) => `${v}× ${k}`).join('; ');
  return `${count(r.completed)} completed, ${r.failedAfterRetries} failed after retries, ${otherErrorCount(r)} other errors${other ? ` (${other})` : ''}, ${r.lost} lost, ${tap.duplicates} duplicate terminal packets, ${r.deliveredTwice} delivered twice, ${r.misdelivered} misdelivered`;
}

function report(scenario: string, r: ForegroundResult, faults: string, tap: WireTap, extra: string): void {
  rows.push({
    scenario,
    jobs: r.jobs,
    faults,
    completed: r.completed,
    failedVisibly: r.failedAfterRetries + otherErrorCount(r),
    lost: r.lost,
    duplicates: tap.duplicates + r.deliveredTwice,
    extra,
    seconds: r.ms / 1000,
  });
}

proof.run(async () => {
  proof.log(`${count(JOBS)} jobs per scenario`);
  await workersKilled();
  proof.log('scenario 1 done');
  await serverKilledWithQueue();
  proof.log('scenario 2 done');
  await oneOfTwoServersKilled();
  proof.table(
    'faults: outcomes',
    ['scenario', 'jobs', 'faults injected', 'completed', 'failed visibly', 'lost', 'duplicates delivered', 'time', 'notes'],
    rows.map((r) => [r.scenario, count(r.jobs), r.faults, count(r.completed), r.failedVisibly, r.lost, r.duplicates, `${r.seconds.toFixed(1)} s`, r.extra]),
  );
});
