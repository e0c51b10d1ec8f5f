import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import pg from 'pg';
import { Redis } from 'ioredis';
import { freePort, waitFor } from '../helpers/ports.ts';
import type { JobStore, StoredJob, StoredPriority } from '../../src/server/store/types.ts';

export const PG_URL = process.env.GT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.GT_REDIS_URL ?? 'redis://127.0.0.1:6379';

let counter = 0;
/** A lower-case SQL identifier / key prefix no other test (or run) uses. */
export function uniqueName(tag: string): string {
  return `gt_${tag}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
}

export function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-store-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function job(over: Partial<StoredJob> & { unique: string; seq: number }): StoredJob {
  return {
    functionName: 'fn',
    priority: 1 as StoredPriority,
    data: Buffer.from(`data ${over.unique}`),
    whenToRun: 0,
    reducer: null,
    ...over,
  };
}

export async function collect(store: JobStore): Promise<StoredJob[]> {
  const out: StoredJob[] = [];
  for await (const j of store.replay()) out.push(j);
  return out;
}

/** A comparable view of a job (Buffers as hex). */
export function view(j: StoredJob): Record<string, unknown> {
  return {
    unique: j.unique,
    functionName: j.functionName,
    priority: j.priority,
    data: j.data.toString('hex'),
    whenToRun: j.whenToRun,
    reducer: j.reducer,
    seq: j.seq,
  };
}

/** Open a store and close it when the test ends. */
export async function opened<S extends JobStore>(t: ExecutionContext, store: S): Promise<S> {
  t.teardown(() => store.close().catch(() => {}));
  await store.open();
  return store;
}

// ------------------------------------------------------------------ PostgreSQL

/** An independent connection for DDL and checks; drops `tables` when the test ends. */
export async function pgAdmin(t: ExecutionContext, ...tables: string[]): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  t.teardown(async () => {
    for (const table of tables) await client.query(`DROP TABLE IF EXISTS "${table}"`).catch(() => {});
    await client.end().catch(() => {});
  });
  return client;
}

/**
 * A TCP proxy to PostgreSQL that a test can stop (refusing connections and cutting the open
 * ones) and start again on the same port, to take "the database" away without touching it.
 */
export class TcpProxy {
  port = 0;
  #server: net.Server | null = null;
  readonly #sockets = new Set<net.Socket>();

  constructor(
    readonly targetPort: number,
    readonly targetHost = '127.0.0.1',
  ) {}

  async start(): Promise<number> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
    return this.port;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}

// ------------------------------------------------------------------ Redis

/** Delete every key under `prefix` on the shared Redis when the test ends. */
export function cleanRedisPrefix(t: ExecutionContext, prefix: string, url = REDIS_URL): void {
  t.teardown(async () => {
    const redis = new Redis(url, { lazyConnect: true });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });
}

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** SIGKILL: nothing is flushed beyond what Redis already wrote. */
  kill(): Promise<void>;
  /** Start again on the same port and directory (loads its AOF if it has one). */
  restart(): Promise<void>;
}

/**
 * A redis-server of the test's own (free port, temp dir), for what the shared one must not be
 * put through: being killed, persistence settings, maxmemory. `args` are redis-server options.
 */
export async function startRedisServer(t: ExecutionContext, args: string[] = []): Promise<PrivateRedis> {
  const dir = tempDir(t);
  const port = await freePort();
  let child: ChildProcess | null = null;
  const launch = async () => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let exited = false;
    proc.on('exit', () => (exited = true));
    await waitFor(async () => {
      if (exited) throw new Error('redis-server exited');
      return (await rawCommand(port, 'PING')).startsWith('+PONG');
    }, `redis-server on port ${port}`);
  };
  const kill = async () => {
    const proc = child;
    child = null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const done = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await done;
  };
  t.teardown(kill);
  await launch();
  return { port, url: `redis://127.0.0.1:${port}`, dir, kill, restart: launch };
}

function rawCommand(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let reply = '';
    sock.setEncoding('latin1');
    sock.on('connect', () => sock.write(`${line}\r\n`));
    sock.on('data', (d: string) => {
      reply += d;
      if (reply.endsWith('\r\n')) {
        sock.destroy();
        resolve(reply);
      }
    });
    sock.on('error', reject);
  });
}

// ------------------------------------------------------------------ processes

/** Run a command to completion (for sqlite3, gearman); throws with its stderr on failure. */
export function run(cmd: string, args: string[], input?: string | Buffer): string {
  const res = spawnSync(cmd, args, { input, timeout: 20_000 });
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.status}: ${res.stderr.toString()}`);
  return res.stdout.toString();
}
