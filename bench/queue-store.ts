/**
 * Queue store throughput: add and remove, batches of 1, 100 and 1000 jobs of 100 bytes, one
 * batch at a time as the job server's write batcher issues them.
 *
 *   node --import tsx bench/queue-store.ts [--only sqlite,postgres] [--seconds 1]
 *
 * Needs PostgreSQL at 127.0.0.1:5432 (db test, user postgres) and Redis at 127.0.0.1:6379
 * (GT_PG_URL / GT_REDIS_URL override). "redis always" runs on a private redis-server with
 * appendonly yes + appendfsync always, started and removed by this script.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createStore, type StoreOptionsInput } from '../src/server/store/index.ts';
import type { JobKey, StoredJob, StoredPriority } from '../src/server/store/types.ts';

const PG_URL = process.env.GT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.GT_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BATCH_SIZES = [1, 100, 1000];
const MAX_JOBS = 50_000;

const { values: args } = parseArgs({ options: { only: { type: 'string' }, seconds: { type: 'string', default: '1' } } });
const budgetMs = Number(args.seconds) * 1000;
const only = args.only?.split(',');

interface Case {
  readonly name: string;
  setup(tag: string): Promise<{ options: StoreOptionsInput; cleanup(): Promise<void> }>;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-bench-'));

const cases: Case[] = [
  { name: 'memory', setup: async () => ({ options: { queue: 'memory' }, cleanup: async () => {} }) },
  ...(['normal', 'always'] as const).map<Case>((fsync) => ({
    name: `sqlite ${fsync}`,
    setup: async (tag) => ({ options: { queue: 'sqlite', sqliteDb: path.join(tmp, `${tag}.db`), fsync }, cleanup: async () => {} }),
  })),
  ...(['normal', 'always'] as const).map<Case>((fsync) => ({
    name: `postgres ${fsync}`,
    setup: async (tag) => ({
      options: { queue: 'postgres', postgresUrl: PG_URL, table: tag, fsync },
      cleanup: async () => {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP TABLE IF EXISTS ${tag}`);
        await client.end();
      },
    }),
  })),
  {
    name: 'redis normal',
    setup: async (tag) => ({ options: { queue: 'redis', redisUrl: REDIS_URL, table: `${tag}:q` }, cleanup: () => deletePrefix(REDIS_URL, `${tag}:q`) }),
  },
  {
    name: 'redis always',
    setup: async (tag) => {
      const server = await privateRedis(path.join(tmp, tag));
      return { options: { queue: 'redis', redisUrl: server.url, table: 'q', fsync: 'always' }, cleanup: server.stop };
    },
  },
];

function jobsFor(count: number, from: number): StoredJob[] {
  const data = Buffer.alloc(100, 0x61);
  return Array.from({ length: count }, (_, i) => ({
    unique: `bench-${from + i}`,
    functionName: 'bench',
    priority: ((from + i) % 3) as StoredPriority,
    data,
    whenToRun: 0,
    reducer: null,
    seq: from + i + 1,
  }));
}

async function measure(c: Case, batch: number): Promise<{ add: number; remove: number; jobs: number }> {
  const tag = `gt_bench_${process.pid}_${c.name.replace(/\W/g, '_')}_${batch}`;
  const { options, cleanup } = await c.setup(tag);
  const store = createStore(options);
  await store.open();
  try {
    const batches: StoredJob[][] = [];
    let start = performance.now();
    let added = 0;
    while ((performance.now() - start < budgetMs || batches.length === 0) && added + batch <= MAX_JOBS) {
      const jobs = jobsFor(batch, added);
      await store.add(jobs);
      batches.push(jobs);
      added += batch;
    }
    const addRate = added / ((performance.now() - start) / 1000);
    const keys: JobKey[][] = batches.map((b) => b.map((j) => ({ functionName: j.functionName, unique: j.unique })));
    start = performance.now();
    for (const k of keys) await store.remove(k);
    const removeRate = added / ((performance.now() - start) / 1000);
    return { add: addRate, remove: removeRate, jobs: added };
  } finally {
    await store.close();
    await cleanup();
  }
}

async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}

async function privateRedis(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const redis = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      redis.disconnect();
      break;
    } catch {
      if (i > 100) throw new Error('redis-server did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    stop: async () => {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await done;
    },
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(12);
console.log(`queue store throughput, 100-byte jobs, ~${budgetMs / 1000}s of adds per cell (node ${process.version}, ${os.cpus().length} cpus)`);
console.log(`${'store'.padEnd(16)}${'batch'.padStart(6)}${'jobs'.padStart(8)}${'add jobs/s'.padStart(12)}${'remove jobs/s'.padStart(15)}`);
try {
  for (const c of cases) {
    if (only && !only.some((o) => c.name.startsWith(o))) continue;
    for (const batch of BATCH_SIZES) {
      const r = await measure(c, batch);
      console.log(`${c.name.padEnd(16)}${String(batch).padStart(6)}${String(r.jobs).padStart(8)}${fmt(r.add)}${fmt(r.remove).padStart(15)}`);
    }
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
