/**
 * npm run bench:client — geartrain's Client and Worker against libgearman's, both through the
 * same gearmand (`gearmand -t 1`, a fresh one per run), same load, best of BENCH_RUNS (3):
 *
 *   2 client processes × 100 jobs in flight, 2 worker processes, 16-byte payloads, empty results,
 *   1 s warm-up, then jobs/s over BENCH_SECONDS (5).
 *
 * libgearman is bench/loadgen.c (`loadgen fg -c 2 -w 2 -n 100 -s 16`): each client adds 100 tasks,
 * runs them all, and repeats ("rounds"); each worker does one job at a time. geartrain's clients
 * use the same rounds for the ratio (a sliding window of 100 is shown as well), its workers run
 * with concurrency 1 (as libgearman's) and 10. Two mixed lines (geartrain clients + libgearman
 * workers and the reverse) show which side limits the rate.
 *
 *   node --import tsx bench/client.ts             the table
 *   node --import tsx bench/client.ts --profile   one more run of the main geartrain line with the
 *                                                 V8 CPU profiler on every geartrain process over the
 *                                                 measured window, summarised (bench/cpu-profile.ts)
 *   node --import tsx bench/client.ts --profile-only   only that profiled run
 *
 * Environment: BENCH_RUNS, BENCH_SECONDS, BENCH_ONLY=0,1 (table lines to run), BENCH_BUNDLE=0 (run
 * the geartrain processes through tsx instead of a bundle). Besides jobs/s the table gives
 * each side's CPU time per job, which the other tenants of a shared machine disturb far less.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AdminClient } from '../src/client/index.ts';
import { report, summarise } from './cpu-profile.ts';
import { buildLoadgen, machine, OUT, startGearmand, table } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP_MS = 1000;
const CLIENTS = 2;
const WORKERS = 2;
const INFLIGHT = 100;
const SIZE = 16;
const FUNCTION = 'gt_bench';
const PROFILE = process.argv.includes('--profile') || process.argv.includes('--profile-only');
const TABLE = !process.argv.includes('--profile-only');
/** BENCH_ONLY=0,1: run only these lines of the table (0 is the libgearman baseline). */
const ONLY = process.env.BENCH_ONLY?.split(',').map(Number);
/**
 * The geartrain processes run from an esbuild bundle, as the CLI does from dist/ (BENCH_BUNDLE=0
 * runs them through tsx instead, whose `keepNames` adds a `__name()` call to every closure created).
 */
const BUNDLE = process.env.BENCH_BUNDLE !== '0';
const PEER_SOURCE = path.join(path.dirname(new URL(import.meta.url).pathname), 'client-peer.ts');
const PEER = BUNDLE ? await bundlePeer() : PEER_SOURCE;
const TICKS_PER_S = 100; // getconf CLK_TCK on Linux

async function bundlePeer(): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = path.join(OUT, 'client-peer.mjs');
  await build({ entryPoints: [PEER_SOURCE], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' });
  return outfile;
}

const loadgenBin = buildLoadgen();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process in seconds (0 once it is gone). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
  } catch {
    return 0;
  }
}

function childPids(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

interface Peer {
  readonly role: string;
  readonly child: ChildProcess;
  next(type: string): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Fork a geartrain peer process and wait for its `ready`; with `profDir` it profiles its measured window. */
async function forkPeer(args: string[], profDir?: string): Promise<Peer> {
  const env = profDir ? { ...process.env, GT_BENCH_PROFILE_DIR: profDir } : process.env;
  const child = fork(PEER, args, { execArgv: BUNDLE ? [] : ['--import', 'tsx'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: Record<string, unknown>[] = [];
  const waiters: { type: string; resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (m: Record<string, unknown>) => {
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m);
    else inbox.push(m);
  });
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`peer ${args.join(' ')} exited (${code})`));
  });
  const peer: Peer = {
    role: args[0]!,
    child,
    next(type) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0]!);
      if (child.exitCode !== null) return Promise.reject(new Error(`peer ${args.join(' ')} has exited`));
      return new Promise((resolve, reject) => waiters.push({ type, resolve, reject }));
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ type: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
  await peer.next('ready');
  return peer;
}

/** Start loadgen (its own process group, so that its forked workers can be stopped with it). */
function startLoadgen(args: string[]): { child: ChildProcess; result: Promise<Record<string, string>>; kill(): Promise<void> } {
  const child = spawn(loadgenBin, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const result = exited.then((code) => {
    if (code !== 0) throw new Error(`loadgen ${args.join(' ')} exited ${code}`);
    const line = out.trim().split('\n').pop()!;
    return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
  });
  return {
    child,
    result,
    async kill() {
      result.catch(() => {}); // a killed loadgen has no result line
      if (child.exitCode === null) {
        process.kill(-child.pid!, 'SIGTERM');
        await exited;
      }
    },
  };
}

async function workersRegistered(port: number, n: number): Promise<void> {
  const admin = new AdminClient({ server: `127.0.0.1:${port}` });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const row = (await admin.status()).find((s) => s.name === FUNCTION);
      if (row && row.workers >= n) return;
      if (Date.now() > deadline) throw new Error(`${n} workers for ${FUNCTION} did not register`);
      await sleep(20);
    }
  } finally {
    admin.destroy();
  }
}

type Side = { kind: 'libgearman' } | { kind: 'geartrain'; concurrency?: number; shape?: 'rounds' | 'window' };

interface Setup {
  readonly name: string;
  readonly clients: Side;
  readonly workers: Side;
}

interface Result {
  readonly jobsPerSec: number;
  /** CPU use over the measured window, in % of one core (undefined where not measured). */
  readonly cpu: { gearmand?: number; clients?: number; workers?: number };
}

async function measure(setup: Setup, profDir?: string): Promise<Result> {
  const gearmand = await startGearmand(1);
  const peers: Peer[] = [];
  const loadgens: ReturnType<typeof startLoadgen>[] = [];
  try {
    const port = String(gearmand.port);
    const common = ['fg', '-p', port, '-n', String(INFLIGHT), '-s', String(SIZE), '-f', FUNCTION];
    // Workers first; wait until the server lists all of them.
    let workerPids: () => number[];
    if (setup.workers.kind === 'geartrain') {
      const concurrency = String(setup.workers.concurrency ?? 1);
      const ws = await Promise.all(Array.from({ length: WORKERS }, () => forkPeer(['worker', port, concurrency], profDir && path.join(profDir, 'workers'))));
      peers.push(...ws);
      workerPids = () => ws.map((w) => w.child.pid!);
    } else {
      // libgearman workers run in their own loadgen (no clients), stopped with its process group.
      const lg = startLoadgen([...common, '-c', '0', '-w', String(WORKERS), '-d', '3600']);
      loadgens.push(lg);
      workerPids = () => childPids(lg.child.pid!);
    }
    await workersRegistered(gearmand.port, WORKERS);

    let clientPids: () => number[];
    let count: (type: 'mark' | 'stop') => Promise<number>;
    let go: () => void;
    let loadgenResult: Promise<Record<string, string>> | undefined;
    if (setup.clients.kind === 'libgearman') {
      // loadgen measures its own window: 1 s warm-up, then SECONDS; CPU is sampled over about the same.
      const lg = startLoadgen([...common, '-c', String(CLIENTS), '-w', '0', '-d', String(SECONDS)]);
      loadgens.push(lg);
      loadgenResult = lg.result;
      clientPids = () => childPids(lg.child.pid!);
      count = async () => 0;
      go = () => {};
    } else {
      const shape = setup.clients.shape ?? 'rounds';
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => forkPeer(['client', port, String(INFLIGHT), String(SIZE), shape], profDir && path.join(profDir, 'clients'))));
      peers.push(...clients);
      clientPids = () => clients.map((c) => c.child.pid!);
      count = async (type) => {
        const replies = clients.map((c) => c.next('count'));
        for (const c of clients) c.child.send({ type });
        const rs = await Promise.all(replies);
        const failed = rs.reduce((sum, r) => sum + Number(r.failed), 0);
        if (failed > 0) throw new Error(`${failed} geartrain jobs failed`);
        return rs.reduce((sum, r) => sum + Number(r.done), 0);
      };
      go = () => {
        for (const c of clients) c.child.send({ type: 'go' });
      };
    }
    const sample = () => ({
      at: performance.now(),
      gearmand: cpuSeconds(gearmand.child.pid),
      clients: clientPids().reduce((sum, p) => sum + cpuSeconds(p), 0),
      workers: workerPids().reduce((sum, p) => sum + cpuSeconds(p), 0),
    });
    go();
    await sleep(WARMUP_MS);
    // Workers only act on `mark` when profiling (they start their profiler).
    for (const p of peers) if (p.role === 'worker') p.child.send({ type: 'mark' });
    const s0 = sample();
    const n0 = await count('mark');
    // A loadgen client's processes are gone at the end of its window: sample just before.
    await sleep(SECONDS * 1000 - (loadgenResult ? 100 : 0));
    const s1 = sample();
    const n1 = await count('stop');
    const secs = (s1.at - s0.at) / 1000;
    const pct = (k: 'gearmand' | 'clients' | 'workers') => (100 * (s1[k] - s0[k])) / secs;
    const jobsPerSec = loadgenResult ? Number((await loadgenResult).jobs_per_sec) : (n1 - n0) / secs;
    return { jobsPerSec, cpu: { gearmand: pct('gearmand'), clients: pct('clients'), workers: pct('workers') } };
  } finally {
    await Promise.all(peers.map((p) => p.stop()));
    await Promise.all(loadgens.map((l) => l.kill()));
    await gearmand.stop();
  }
}

const LIB: Side = { kind: 'libgearman' };
const setups: Setup[] = [
  { name: 'libgearman clients + libgearman workers (loadgen)', clients: LIB, workers: LIB },
  { name: 'geartrain clients (rounds) + geartrain workers (concurrency 1)', clients: { kind: 'geartrain', shape: 'rounds' }, workers: { kind: 'geartrain', concurrency: 1 } },
  { name: 'geartrain clients (rounds) + geartrain workers (concurrency 10)', clients: { kind: 'geartrain', shape: 'rounds' }, workers: { kind: 'geartrain', concurrency: 10 } },
  { name: 'geartrain clients (window) + geartrain workers (concurrency 1)', clients: { kind: 'geartrain', shape: 'window' }, workers: { kind: 'geartrain', concurrency: 1 } },
  { name: 'geartrain clients (rounds) + libgearman workers', clients: { kind: 'geartrain', shape: 'rounds' }, workers: LIB },
  { name: 'libgearman clients + geartrain workers (concurrency 1)', clients: LIB, workers: { kind: 'geartrain', concurrency: 1 } },
];

if (TABLE) {
  console.log(`bench:client on ${machine()}${BUNDLE ? ' (geartrain from an esbuild bundle, not tsx)' : ''}`);
  console.log(`${CLIENTS} client processes × ${INFLIGHT} in flight, ${WORKERS} worker processes, ${SIZE} B payloads, empty results, gearmand -t 1; best of ${RUNS}, ${SECONDS} s each after ${WARMUP_MS / 1000} s warm-up`);
  const results: Result[] = [];
  for (const [i, s] of setups.entries()) {
    if (ONLY && !ONLY.includes(i)) {
      results.push({ jobsPerSec: NaN, cpu: {} });
      continue;
    }
    const runs: Result[] = [];
    for (let run = 0; run < RUNS; run++) runs.push(await measure(s));
    const best = runs.reduce((a, b) => (b.jobsPerSec > a.jobsPerSec ? b : a));
    results.push(best);
    console.log(`  ${s.name}: ${runs.map((r) => r.jobsPerSec.toFixed(0)).join(' / ')} jobs/s`);
  }
  const base = results[0]!.jobsPerSec;
  const cpu = (v?: number) => (v === undefined ? '' : `${v.toFixed(0)}%`);
  console.log();
  console.log(
    table(
      ['setup', 'jobs/s', '× libgearman', 'gearmand CPU', 'clients CPU', 'workers CPU', 'client µs/job', 'worker µs/job'],
      setups.flatMap((s, i) => {
        const r = results[i]!;
        if (Number.isNaN(r.jobsPerSec)) return [];
        const perJob = (v?: number) => (v === undefined || !(r.jobsPerSec > 0) ? '' : ((v / 100) * 1e6 / r.jobsPerSec).toFixed(1));
        return [[s.name, r.jobsPerSec.toFixed(0), (r.jobsPerSec / base).toFixed(2), cpu(r.cpu.gearmand), cpu(r.cpu.clients), cpu(r.cpu.workers), perJob(r.cpu.clients), perJob(r.cpu.workers)]];
      }),
    ),
  );
  const ratio = results[1]!.jobsPerSec / base;
  console.log();
  if (!Number.isNaN(ratio)) console.log(`geartrain / libgearman (same shape: rounds of ${INFLIGHT}, worker concurrency 1): ${ratio.toFixed(2)}× — goal 0.8×, floor 0.6×: ${ratio >= 0.8 ? 'goal met' : ratio >= 0.6 ? 'above the floor, below the goal' : 'BELOW THE FLOOR'}`);
  console.log('CPU: % of one core over the measured window (all processes of a side together; the machine has 2 cores); µs/job: CPU time per job of a side.');
}

if (PROFILE) {
  const dir = path.join(OUT, `client-prof-${Date.now()}`);
  const setup = setups[1]!;
  const r = await measure(setup, dir);
  console.log();
  console.log(`profile of "${setup.name}" (${r.jobsPerSec.toFixed(0)} jobs/s while profiling), files in ${path.relative(process.cwd(), dir)}`);
  for (const role of ['clients', 'workers'] as const) {
    const files = fs.readdirSync(path.join(dir, role)).map((f) => path.join(dir, role, f));
    console.log(`\n== geartrain ${role} (${files.length} processes) ==`);
    console.log(report(summarise(files), 30));
  }
}
