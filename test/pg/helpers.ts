/**
 * Shared set-up for the gman_* SQL function tests: the real PostgreSQL (GT_PG_URL, default the
 * machine's 127.0.0.1:5432 db `test`), a schema per test (dropped in teardown), and job servers
 * and workers that are stopped in teardown.
 */
import type { ExecutionContext } from 'ava';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import type { CliIO } from '../../src/cli/io.ts';
import { Worker, type Handler } from '../../src/client/index.ts';
import { installGearmanFunctions, quoteIdent } from '../../src/pg/index.ts';
import type { RunningServer } from '../helpers/gearmand.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { startServer, type ServerKind } from '../helpers/servers.ts';

export const PG_URL = process.env.GT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let counter = 0;
/** A lower-case identifier no other test (or parallel run) uses. */
export function uniqueName(tag: string): string {
  return `gt_pg_${tag}_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
}

/** A connected client, ended in teardown. */
export async function connect(t: ExecutionContext, url = PG_URL): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.end().catch(() => {}));
  return client;
}

/** A fresh empty schema, dropped (with everything in it) in teardown. */
export async function freshSchema(t: ExecutionContext, tag: string): Promise<string> {
  const schema = uniqueName(tag);
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  } finally {
    await admin.end();
  }
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
    } finally {
      await c.end();
    }
  });
  return schema;
}

export interface Gman {
  readonly schema: string;
  readonly server: RunningServer;
  /** A session of its own (each one is a separate database backend). */
  session(): Promise<pg.Client>;
  /** `schema.name` quoted, for SQL text. */
  fn(name: string): string;
  /** Start a geartrain Worker on the server with these functions; wait until the server lists them. */
  worker(handlers: Record<string, Handler>, concurrency?: number): Promise<Worker>;
}

/** A job server of `kind`, a schema with the functions installed and the server as their default. */
export async function setupGman(t: ExecutionContext, kind: ServerKind, tag: string): Promise<Gman> {
  const server = await startServer(kind);
  t.teardown(() => server.stop());
  const schema = await freshSchema(t, tag);
  await installGearmanFunctions({ url: PG_URL, schema, servers: server.address });
  return {
    schema,
    server,
    session: () => connect(t),
    fn: (name) => `${quoteIdent(schema)}.${quoteIdent(name)}`,
    async worker(handlers, concurrency = 1) {
      const w = new Worker({ servers: server.address, concurrency });
      for (const [name, handler] of Object.entries(handlers)) w.register(name, handler);
      t.teardown(() => w.destroy());
      await w.start();
      for (const name of Object.keys(handlers)) {
        await waitFor(async () => (await functionStatus(server, name))?.workers ?? 0, `a worker for ${name}`);
      }
      return w;
    },
  };
}

/** One row of the admin `status` listing (both servers answer it). */
export async function functionStatus(server: RunningServer, fn: string): Promise<{ queued: number; running: number; workers: number } | undefined> {
  const text = await adminRequest(server.port, 'status', server.host);
  for (const line of text.split('\n')) {
    const [name, queued, running, workers] = line.split('\t');
    if (name === fn) return { queued: Number(queued), running: Number(running), workers: Number(workers) };
  }
  return undefined;
}

/** The error a query rejects with (node-postgres' DatabaseError: code = SQLSTATE). */
export async function sqlError(client: pg.Client, sql: string, params: unknown[] = []): Promise<pg.DatabaseError> {
  try {
    await client.query(sql, params);
  } catch (err) {
    return err as pg.DatabaseError;
  }
  throw new Error(`expected ${sql} to fail`);
}

/** In-process CliIO whose output the test can read. */
export function cliIO(env: NodeJS.ProcessEnv = {}): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  stdin.end();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  return { stdin, stdout, stderr, env, signal: new AbortController().signal, out: () => out, err: () => err };
}
