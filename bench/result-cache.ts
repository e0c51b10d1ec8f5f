/**
 * node --import tsx bench/result-cache.ts — the result cache's hit path against a worker round
 * trip, on one `geartrain server -q memory --result-cache 64M --result-cache-functions cached`
 * (a child process), one worker process (concurrency 1, 100-byte results, no work) and a Client
 * in this process:
 *
 *   - latency, one job in flight (BENCH_JOBS jobs after a warm-up): p50 / p99 / mean
 *   - throughput, 100 jobs in flight for BENCH_SECONDS: jobs/s
 *
 * for three cases: a function outside the cache (worker round trip), a cached function with a new
 * unique key each time (a miss: worker round trip, then the result is stored), and a cached
 * function with the same unique key (a hit: the worker is not reached). Best of BENCH_RUNS.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, Worker } from '../src/client/index.ts';
import { machine, startGeartrain, table } from './lib.ts';

// Every server of a run executes the same code: the sources, whatever the state of dist/ (which
// bin/geartrain.js prefers while it is newer than them, and which others may rebuild meanwhile).
process.env.GEARTRAIN_SOURCE ??= '1';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const JOBS = Number(process.env.BENCH_JOBS ?? 3000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const INFLIGHT = 100;
const RESULT = Buffer.alloc(100, 'r');

if (process.argv[2] === '--worker') {
  const w = new Worker({ servers: process.argv[3]! });
  for (const fn of ['plain', 'cached']) w.register(fn, () => RESULT);
  await w.start();
  process.send!('ready');
} else {
  await main();
}

type Case = { name: string; fn: string; unique: (i: number) => string };

async function main(): Promise<void> {
  const cases: Case[] = [
    { name: 'worker round trip (function not cached)', fn: 'plain', unique: (i) => `u${i}` },
    { name: 'cache miss (worker round trip + store)', fn: 'cached', unique: (i) => `m${i}-${process.hrtime.bigint()}` },
    { name: 'cache hit (no worker)', fn: 'cached', unique: () => 'hot' },
  ];
  console.log(`bench result-cache on ${machine()}, best of ${RUNS}`);
  const best: Record<string, { p50: number; p99: number; mean: number; perSec: number }> = {};
  for (let run = 0; run < RUNS; run++) {
    const server = await startGeartrain(['-q', 'memory', '--result-cache', '64M', '--result-cache-functions', 'cached']);
    const servers = `127.0.0.1:${server.port}`;
    const worker = await startWorker(servers);
    const client = new Client({ servers });
    try {
      // Warm up every path (JIT of the server, the worker and the client) before measuring any.
      for (const c of cases) await latency(client, c, 1000);
      for (const c of cases) {
        const l = await latency(client, c, JOBS);
        const perSec = await throughput(client, c);
        const prev = best[c.name];
        best[c.name] = {
          p50: Math.min(prev?.p50 ?? Infinity, l.p50),
          p99: Math.min(prev?.p99 ?? Infinity, l.p99),
          mean: Math.min(prev?.mean ?? Infinity, l.mean),
          perSec: Math.max(prev?.perSec ?? 0, perSec),
        };
      }
    } finally {
      client.destroy();
      worker.kill('SIGKILL');
      await server.stop();
    }
  }
  const us = (n: number) => `${Math.round(n)} µs`;
  console.log();
  console.log(
    table(
      ['case', 'p50 (1 in flight)', 'p99', 'mean', `jobs/s (${INFLIGHT} in flight)`],
      cases.map((c) => {
        const b = best[c.name]!;
        return [c.name, us(b.p50), us(b.p99), us(b.mean), String(Math.round(b.perSec))];
      }),
    ),
  );
}

async function startWorker(servers: string): Promise<ChildProcess> {
  const child = fork(fileURLToPath(import.meta.url), ['--worker', servers], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return child;
}

async function latency(client: Client, c: Case, n: number): Promise<{ p50: number; p99: number; mean: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await client.submit(c.fn, 'x', { unique: c.unique(i), updates: false }).result;
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n * 0.5)]!, p99: times[Math.floor(n * 0.99)]!, mean: times.reduce((a, b) => a + b, 0) / n };
}

async function throughput(client: Client, c: Case): Promise<number> {
  const end = Date.now() + SECONDS * 1000;
  let done = 0;
  let i = 0;
  const lane = async () => {
    while (Date.now() < end) {
      await client.submit(c.fn, 'x', { unique: c.unique(i++), updates: false }).result;
      done++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: INFLIGHT }, lane));
  return done / ((Date.now() - t0) / 1000);
}
