/**
 * geartrain and gearmand 1.1 share queue tables: a user can move either way. Each test writes
 * rows with one program and checks what the other one sees — gearmand through its admin
 * protocol and its own workers (`gearman -w`), geartrain through replay().
 */
import path from 'node:path';
import test from 'ava';
import { adminRequest, startGearmand, type RunningServer } from '../helpers/gearmand.ts';
import { PostgresStore } from '../../src/server/store/postgres.ts';
import { SqliteStore } from '../../src/server/store/sqlite.ts';
import type { JobStore, StoredJob, StoredPriority } from '../../src/server/store/types.ts';
import { collect, job, opened, PG_URL, pgAdmin, run, tempDir, uniqueName } from './helpers.ts';

const HIGH = 0 as StoredPriority;
const NORMAL = 1 as StoredPriority;
const LOW = 2 as StoredPriority;
const PG_CONNINFO = 'host=127.0.0.1 port=5432 user=postgres dbname=test';

/** `status` as { function: total }. */
async function statusTotals(server: RunningServer): Promise<Record<string, number>> {
  const text = await adminRequest(server.port, 'status');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('\t'))
      .map((l) => l.split('\t'))
      .map(([fn, total]) => [fn!, Number(total)]),
  );
}

/** `prioritystatus` as { function: [high, normal, low] }. */
async function priorityCounts(server: RunningServer): Promise<Record<string, number[]>> {
  const text = await adminRequest(server.port, 'prioritystatus');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('\t'))
      .map((l) => l.split('\t'))
      .map(([fn, h, n, l]) => [fn!, [Number(h), Number(n), Number(l)]]),
  );
}

async function uniques(server: RunningServer): Promise<string[]> {
  const text = await adminRequest(server.port, 'show unique jobs');
  return text.split('\n').filter((l) => l !== '' && l !== '.').sort();
}

/** Run `count` jobs of `fn` with gearman's own worker; returns each job's data as hex, in the order gearmand handed them out. */
function runWithGearmanWorker(server: RunningServer, fn: string, count: number, outFile: string): string[] {
  run('gearman', ['-h', server.host, '-p', String(server.port), '-w', '-f', fn, '-c', String(count), '--', 'sh', '-c', `od -An -tx1 -v | tr -d ' \\n' >> ${outFile}; echo >> ${outFile}`]);
  return run('cat', [outFile]).split('\n').slice(0, -1);
}

function submitBackground(server: RunningServer, fn: string, data: Buffer, flags: string[] = []): void {
  run('gearman', ['-h', server.host, '-p', String(server.port), '-b', '-f', fn, ...flags], data);
}

async function stopAfter(t: import('ava').ExecutionContext, server: RunningServer): Promise<RunningServer> {
  t.teardown(() => server.stop());
  return server;
}

// rows geartrain writes, in submission (seq) order
const ours: StoredJob[] = [
  job({ unique: 'n1', seq: 1, functionName: 'resize', priority: NORMAL, data: Buffer.from([0, 1, 2, 0]) }),
  job({ unique: 'l1', seq: 2, functionName: 'resize', priority: LOW, data: Buffer.from('low') }),
  job({ unique: 'h1', seq: 3, functionName: 'resize', priority: HIGH, data: Buffer.alloc(0) }),
  job({ unique: 'n2', seq: 4, functionName: 'resize', priority: NORMAL, data: Buffer.from('n2'), reducer: 'sum' }),
  job({ unique: 'e1', seq: 5, functionName: 'later', priority: NORMAL, data: Buffer.from('epoch'), whenToRun: 2_000_000_000 }),
];

test('interop: gearmand -q libsqlite3 loads and runs the rows geartrain stored', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'queue.db');
  const table = uniqueName('gmsq');
  const store = new SqliteStore({ file, table });
  await store.open();
  await store.add(ours.slice(0, 3));
  await store.add(ours.slice(3));
  await store.close();

  const server = await stopAfter(t, await startGearmand(['-q', 'libsqlite3', '--libsqlite3-db', file, '--libsqlite3-table', table]));
  t.deepEqual(await statusTotals(server), { resize: 4, later: 1 });
  t.deepEqual((await priorityCounts(server)).resize, [1, 2, 1]);
  t.deepEqual(await uniques(server), ['e1', 'h1', 'l1', 'n1', 'n2']);
  // gearmand hands them out HIGH first, FIFO within NORMAL, with the exact bytes
  t.deepEqual(runWithGearmanWorker(server, 'resize', 4, path.join(dir, 'out')), ['', '00010200', '6e32', '6c6f77']);
});

test('interop: rows gearmand -q libsqlite3 stored for `gearman -b` jobs replay through geartrain, and gearmand still loads the upgraded table', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'queue.db');
  const table = uniqueName('gmsq');
  const args = ['-q', 'libsqlite3', '--libsqlite3-db', file, '--libsqlite3-table', table];
  const gearmand = await startGearmand(args);
  try {
    submitBackground(gearmand, 'resize', Buffer.from('normal-1'));
    submitBackground(gearmand, 'resize', Buffer.from([0, 0xff, 0]), ['-L']);
    submitBackground(gearmand, 'thumb', Buffer.from('high'), ['-I', '-u', 'my-unique']);
    submitBackground(gearmand, 'resize', Buffer.from('normal-2'));
    t.deepEqual(await statusTotals(gearmand), { resize: 3, thumb: 1 });
  } finally {
    await gearmand.stop();
  }

  const store = await opened(t, new SqliteStore({ file, table }));
  const rows = await collect(store);
  t.deepEqual(
    rows.map((j) => [j.functionName, j.priority, j.data.toString('hex'), j.whenToRun, j.reducer]),
    [
      ['thumb', HIGH, Buffer.from('high').toString('hex'), 0, null],
      ['resize', NORMAL, Buffer.from('normal-1').toString('hex'), 0, null],
      ['resize', NORMAL, Buffer.from('normal-2').toString('hex'), 0, null],
      ['resize', LOW, '00ff00', 0, null],
    ],
  );
  t.is(rows[0]!.unique, 'my-unique');
  t.true(rows.slice(1).every((j) => /^[0-9a-f-]{36}$/.test(j.unique)), 'gearman -b generates a UUID unique');
  await store.close();

  const again = await stopAfter(t, await startGearmand(args));
  t.deepEqual(await statusTotals(again), { resize: 3, thumb: 1 });
});

test('interop: rows gearmand -q Postgres stored replay through geartrain with their priorities', async (t) => {
  const table = uniqueName('gmpg');
  await pgAdmin(t, table);
  const gearmand = await startGearmand(['-q', 'Postgres', '--libpq-conninfo', PG_CONNINFO, '--libpq-table', table]);
  try {
    submitBackground(gearmand, 'resize', Buffer.from('normal-1'));
    submitBackground(gearmand, 'resize', Buffer.from('low'), ['-L']);
    submitBackground(gearmand, 'thumb', Buffer.from('high'), ['-I', '-u', 'my-unique']);
    submitBackground(gearmand, 'resize', Buffer.from('normal-2'));
  } finally {
    await gearmand.stop();
  }
  const store = await opened(t, new PostgresStore({ connection: PG_CONNINFO, table }));
  t.deepEqual(
    (await collect(store)).map((j) => [j.functionName, j.priority, j.data.toString()]),
    [
      ['thumb', HIGH, 'high'],
      ['resize', NORMAL, 'normal-1'],
      ['resize', NORMAL, 'normal-2'],
      ['resize', LOW, 'low'],
    ],
  );
});

test('interop: gearmand -q Postgres loads the rows geartrain stored', async (t) => {
  const table = uniqueName('gmpg');
  await pgAdmin(t, table);
  const store: JobStore = new PostgresStore({ connection: PG_URL, table });
  await store.open();
  await store.add(ours.map((j) => ({ ...j, data: Buffer.from(`text-${j.unique}`) })));
  await store.close();
  const server = await stopAfter(t, await startGearmand(['-q', 'Postgres', '--libpq-conninfo', PG_CONNINFO, '--libpq-table', table]));
  t.deepEqual(await statusTotals(server), { resize: 4, later: 1 });
  t.deepEqual(await uniques(server), ['e1', 'h1', 'l1', 'n1', 'n2']);
  // (gearmand 1.1.20 reads priority back wrongly from PostgreSQL, so it is not compared here)
});
