/**
 * Background submit rate of geartrain's job server per persistent queue, against gearmand's
 * SQLite queue, under the same load: the libgearman driver (bench/loadgen.c) in `queue` mode,
 * 2 client processes × 100 submissions in flight, 100-byte payloads, every job with its own
 * unique key, no worker (the queue only grows). A job counts once its JOB_CREATED arrived —
 * for a persistent queue, once its row is committed.
 *
 *   node --import tsx bench/queue.ts [--only memory,sqlite,...] [--runs 3] [--jobs 100000]
 *                                    [--gearmand-jobs 5000] [--cpu-prof DIR]
 *
 * Each run gets a fresh server and a fresh store (SQLite files live under bench/out/, on the
 * project's disk, so `--fsync always` really syncs); runs go round-robin over the queues and the
 * best run of each counts (the median is shown too: on a shared machine runs vary a lot). gearmand commits each
 * job alone, so it gets fewer jobs (its rate is what is compared). `--cpu-prof DIR` runs the
 * geartrain servers under `node --cpu-prof` and leaves one profile per run in DIR.
 *
 * Needs libgearman-dev (to build the driver), gearmand, PostgreSQL at 127.0.0.1:5432 (db test,
 * user postgres) and Redis at 127.0.0.1:6379 (GT_PG_URL / GT_REDIS_URL override).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { best, buildLoadgen, loadgen, machine, OUT, ROOT, startGearmand, startListening, table, type Proc } from './lib.ts';

const PG_URL = process.env.GT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.GT_REDIS_URL ?? 'redis://127.0.0.1:6379';

const { values: opts } = parseArgs({
  options: {
    only: { type: 'string' },
    runs: { type: 'string', default: process.env.BENCH_RUNS ?? '3' },
    jobs: { type: 'string', default: process.env.BENCH_QUEUE_JOBS ?? '100000' },
    'gearmand-jobs': { type: 'string', default: process.env.BENCH_GEARMAND_JOBS ?? '5000' },
    'cpu-prof': { type: 'string' },
  },
});
const RUNS = Number(opts.runs);
const JOBS = Number(opts.jobs);
const GEARMAND_JOBS = Number(opts['gearmand-jobs']);
const profDir = opts['cpu-prof'] ? path.resolve(opts['cpu-prof']) : null;

type Server = Proc & { port: number };

interface Case {
  readonly name: string;
  readonly jobs: number;
  /** Start a server on a fresh store; `cleanup` removes the store afterwards. */
  start(tag: string): Promise<{ server: Server; cleanup(): Promise<void> }>;
}

const work = fs.mkdtempSync(path.join(OUT, 'queue-bench-'));

function startGeartrain(args: string[]): Promise<Server> {
  const node = profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  return startListening([...node, path.join(ROOT, 'bin', 'geartrain.js'), 'server', '-p', '0', ...args]);
}

/** SIGINT lets a profiled server write its profile (node writes it on a normal exit only). */
async function stopServer(server: Server): Promise<void> {
  if (!profDir) return server.stop();
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGINT');
  await exited;
}

const nothing = async () => {};

const geartrain = (name: string, args: (tag: string) => string[], cleanup: (tag: string) => Promise<void> = nothing): Case => ({
  name,
  jobs: JOBS,
  async start(tag) {
    return { server: await startGeartrain(args(tag)), cleanup: () => cleanup(tag) };
  },
});

const cases: Case[] = [
  geartrain('geartrain memory', () => ['-q', 'memory']),
  geartrain('geartrain sqlite', (tag) => ['-q', 'sqlite', '--sqlite-db', path.join(work, `${tag}.sqlite`)]),
  geartrain('geartrain sqlite --fsync always', (tag) => ['-q', 'sqlite', '--sqlite-db', path.join(work, `${tag}.sqlite`), '--fsync', 'always']),
  geartrain('geartrain postgres', (tag) => ['-q', 'postgres', '--postgres-url', PG_URL, '--queue-table', tag], dropTable),
  geartrain('geartrain postgres --fsync always', (tag) => ['-q', 'postgres', '--postgres-url', PG_URL, '--queue-table', tag, '--fsync', 'always'], dropTable),
  geartrain('geartrain redis', (tag) => ['-q', 'redis', '--redis-url', REDIS_URL, '--queue-table', tag], deleteKeys),
  {
    name: 'gearmand -q libsqlite3',
    jobs: GEARMAND_JOBS,
    async start(tag) {
      const server = await startGearmand(1, ['-q', 'libsqlite3', '--libsqlite3-db', path.join(work, `${tag}.sqlite`)]);
      return { server, cleanup: nothing };
    },
  },
];

async function dropTable(tag: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS "${tag}"`);
  await client.end();
}

async function deleteKeys(tag: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${tag}:*`, 'COUNT', 5000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

const bin = buildLoadgen();
const selected = cases.filter((c) => !opts.only || opts.only.split(',').some((o) => c.name.includes(o)));
const results = new Map<string, Record<string, string>>();

console.log(`bench:queue on ${machine()}; best of ${RUNS}; ${JOBS} jobs per geartrain run, ${GEARMAND_JOBS} per gearmand run`);
// Round-robin over the cases, so that a change in the machine's load (it is shared) hits every
// case alike instead of one case's runs.
const runs = new Map<string, Record<string, string>[]>(selected.map((c) => [c.name, []]));
try {
  for (let i = 0; i < RUNS; i++) {
    for (const [n, c] of selected.entries()) {
      const tag = `gt_qbench_${process.pid}_${n}_${i}`;
      const { server, cleanup } = await c.start(tag);
      try {
        runs.get(c.name)!.push(loadgen(bin, ['queue', '-p', String(server.port), '-c', '2', '-n', '100', '-s', '100', '-j', String(c.jobs), '-S', String(server.child.pid)]));
      } finally {
        await stopServer(server);
        await cleanup();
      }
    }
    console.log(`  round ${i + 1}: ${selected.map((c) => `${c.name} ${runs.get(c.name)![i]!.submits_per_sec}`).join(', ')}`);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
for (const c of selected) results.set(c.name, best(runs.get(c.name)!, (x) => Number(x.submits_per_sec)));
const median = (name: string) => {
  const v = runs.get(name)!.map((x) => Number(x.submits_per_sec)).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
};

const rate = (name: string) => Number(results.get(name)?.submits_per_sec ?? NaN);
const memory = rate('geartrain memory');
const gearmandSqlite = rate('gearmand -q libsqlite3');
const pct = (a: number, b: number) => (Number.isFinite(a / b) ? `${((100 * a) / b).toFixed(0)}%` : '-');
const times = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(1)}×` : '-');
const mib = (kb?: string) => (kb && Number(kb) > 0 ? `${(Number(kb) / 1024).toFixed(0)} MiB` : '-');

console.log();
console.log(
  table(
    ['queue', 'jobs', 'submits/s', 'median', 'last 10%/s', 'vs memory', 'vs gearmand sqlite', 'server RSS queued'],
    [...results].map(([name, r]) => [
      name,
      r.jobs!,
      r.submits_per_sec!,
      median(name),
      r.tail_submits_per_sec!,
      pct(Number(r.submits_per_sec), memory),
      times(Number(r.submits_per_sec), gearmandSqlite),
      mib(r.rss_kb_queued),
    ]),
  ),
);

const sqlite = rate('geartrain sqlite');
if (Number.isFinite(sqlite) && Number.isFinite(memory)) {
  const share = sqlite / memory;
  const verdict = share >= 0.5 ? 'meets the goal (≥ 50%)' : share >= 0.3 ? 'below the goal (50%), above the floor (30%)' : 'BELOW THE FLOOR (30%)';
  console.log(`\nSQLite queue / memory: ${pct(sqlite, memory)} best of ${RUNS} (medians: ${pct(median('geartrain sqlite'), median('geartrain memory'))}) — ${verdict}`);
}
if (Number.isFinite(sqlite) && Number.isFinite(gearmandSqlite)) {
  console.log(`SQLite queue / gearmand libsqlite3: ${times(sqlite, gearmandSqlite)} — ${sqlite / gearmandSqlite >= 20 ? 'meets the goal (≥ 20×)' : 'BELOW THE GOAL (20×)'}`);
}
if (profDir) console.log(`\nCPU profiles of the geartrain servers: ${profDir}`);
