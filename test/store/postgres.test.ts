import test from 'ava';
import { createStore } from '../../src/server/store/index.ts';
import { PostgresStore } from '../../src/server/store/postgres.ts';
import type { StoredPriority } from '../../src/server/store/types.ts';
import { storeContract } from './contract.ts';
import { collect, job, opened, PG_URL, pgAdmin, TcpProxy, uniqueName, view } from './helpers.ts';

storeContract(test, 'postgres', async (t) => {
  const table = uniqueName('pg');
  await pgAdmin(t, table); // drops the table when the test ends
  return { queue: 'postgres', postgresUrl: PG_URL, table };
});

/** gearmand 1.1.20 libgearman-server/plugins/queue/postgres/queue.cc (GEARMAN_UNIQUE_SIZE = 64). */
const gearmandDdl = (table: string) =>
  `CREATE TABLE IF NOT EXISTS ${table} (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER, UNIQUE (unique_key, function_name))`;
const gearmandInsert = (table: string) => `INSERT INTO ${table} (priority, unique_key, function_name, data, when_to_run) VALUES($1,$2,$3,$4::BYTEA,$5)`;

test('postgres: fsync normal runs with synchronous_commit off, always with it on', async (t) => {
  const table = uniqueName('pgdur');
  await pgAdmin(t, table);
  const normal = await opened(t, new PostgresStore({ connection: PG_URL, table }));
  const always = await opened(t, new PostgresStore({ connection: PG_URL, table, fsync: 'always' }));
  t.is(await normal.durability(), 'synchronous_commit=off');
  t.is(await always.durability(), 'synchronous_commit=on');
});

test('postgres: server options given in the URL are kept alongside synchronous_commit', async (t) => {
  const table = uniqueName('pgopts');
  const admin = await pgAdmin(t, table);
  const marker = uniqueName('app');
  const url = `${PG_URL}?options=${encodeURIComponent(`-c application_name=${marker}`)}`;
  const store = await opened(t, new PostgresStore({ connection: url, table }));
  t.is(await store.durability(), 'synchronous_commit=off');
  const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [marker]);
  t.true(rows[0].n >= 1);
});

test('postgres: a table created by gearmand is upgraded in place and its rows replay in insertion order within a priority', async (t) => {
  const table = uniqueName('pggm');
  const admin = await pgAdmin(t, table);
  await admin.query(gearmandDdl(table));
  const rows: Array<[number, string, string, Buffer, number]> = [
    [1, 'n1', 'resize', Buffer.from([0, 255, 0]), 0],
    [2, 'l1', 'resize', Buffer.from('low'), 0],
    [1, 'n2', 'thumb', Buffer.alloc(0), 1_800_000_000],
    [0, 'h1', 'resize', Buffer.from('h'), 0],
    [1, 'n3', 'resize', Buffer.from('n3'), 0],
  ];
  for (const r of rows) await admin.query(gearmandInsert(table), r);
  const store = await opened(t, new PostgresStore({ connection: PG_URL, table }));
  const { rows: cols } = await admin.query<{ column_name: string; data_type: string }>(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
    [table],
  );
  t.deepEqual(cols.map((c) => `${c.column_name} ${c.data_type}`), [
    'unique_key character varying',
    'function_name character varying',
    'priority integer',
    'data bytea',
    'when_to_run integer',
    'reducer text',
    'seq bigint',
  ]);
  const replayed = await collect(store);
  t.deepEqual(replayed.map((j) => j.unique), ['h1', 'n1', 'n2', 'n3', 'l1']);
  t.deepEqual(view(replayed[2]!), { unique: 'n2', functionName: 'thumb', priority: 1, data: '', whenToRun: 1_800_000_000, reducer: null, seq: 0 });
  t.is(replayed[1]!.data.toString('hex'), '00ff00');
  await store.add([job({ unique: 'n4', seq: 1, functionName: 'resize' })]);
  t.deepEqual((await collect(store)).map((j) => j.unique), ['h1', 'n1', 'n2', 'n3', 'n4', 'l1']);
});

test('postgres: the table name folds to lower case, as for gearmand\'s unquoted name', async (t) => {
  const table = uniqueName('PgCase');
  const admin = await pgAdmin(t, table.toLowerCase());
  const store = await opened(t, createStore({ queue: 'Postgres', postgresUrl: PG_URL, table }));
  await store.add([job({ unique: 'a', seq: 1 })]);
  const { rows } = await admin.query(`SELECT count(*)::int AS n FROM ${table}`); // unquoted: folded by PostgreSQL
  t.is(rows[0].n, 1);
});

test('postgres: a queue table without the (unique_key, function_name) unique constraint is refused at open', async (t) => {
  const table = uniqueName('pgnouniq');
  const admin = await pgAdmin(t, table);
  await admin.query(`CREATE TABLE ${table} (unique_key VARCHAR(64), function_name VARCHAR(255), priority INTEGER, data BYTEA, when_to_run INTEGER)`);
  const err = await t.throwsAsync(new PostgresStore({ connection: PG_URL, table }).open(), { code: 'ERR_STORE' });
  t.regex(err!.message, /no unique constraint on \(unique_key, function_name\)/);
});

test('postgres: a failing batch stores none of its rows and the error carries PostgreSQL\'s reason', async (t) => {
  const table = uniqueName('pgatom');
  const admin = await pgAdmin(t, table);
  const store = await opened(t, new PostgresStore({ connection: PG_URL, table }));
  await store.add([job({ unique: 'keep', seq: 1, data: Buffer.from('v1') })]);
  // a unique key longer than gearmand's VARCHAR(64)
  const e1 = await t.throwsAsync(store.add([job({ unique: 'keep', seq: 2, data: Buffer.from('v2') }), job({ unique: 'u'.repeat(65), seq: 3 })]), {
    code: 'ERR_STORE',
  });
  t.regex(e1!.message, /value too long for type character varying\(64\)/);
  // a full disk, simulated by a trigger from an independent connection
  await admin.query(`CREATE FUNCTION ${table}_full() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.function_name = 'boom' THEN RAISE EXCEPTION USING ERRCODE = 'disk_full', MESSAGE = 'could not extend file: No space left on device'; END IF; RETURN NEW; END $$`);
  t.teardown(() => admin.query(`DROP FUNCTION IF EXISTS ${table}_full() CASCADE`).then(() => {}));
  await admin.query(`CREATE TRIGGER full_disk BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_full()`);
  const e2 = await t.throwsAsync(store.add([job({ unique: 'x', seq: 4 }), job({ unique: 'y', seq: 5, functionName: 'boom' })]), { code: 'ERR_STORE' });
  t.regex(e2!.message, /No space left on device \(53100\)/);
  t.deepEqual((await collect(store)).map(view), [job({ unique: 'keep', seq: 1, data: Buffer.from('v1') })].map(view));
});

test('postgres: while the database is unreachable batches fail with ERR_STORE; the first batch after it returns succeeds', async (t) => {
  const table = uniqueName('pgdown');
  await pgAdmin(t, table);
  const proxy = new TcpProxy(5432);
  t.teardown(() => proxy.stop());
  const port = await proxy.start();
  const store = await opened(t, new PostgresStore({ connection: `postgres://postgres@127.0.0.1:${port}/test`, table, connectTimeoutMs: 2000 }));
  await store.add([job({ unique: 'before', seq: 1 })]);

  await proxy.stop(); // cuts the pooled connection and refuses new ones
  const down = await t.throwsAsync(store.add([job({ unique: 'during', seq: 2 })]), { code: 'ERR_STORE' });
  t.regex(down!.message, /ECONNREFUSED/);
  await t.throwsAsync(store.remove([{ functionName: 'fn', unique: 'before' }]), { code: 'ERR_STORE' });

  await proxy.start(); // same port
  await store.add([job({ unique: 'after', seq: 3 })]);
  t.deepEqual((await collect(store)).map((j) => j.unique), ['before', 'after']);
});

test('postgres: a pooled connection that died while idle is replaced without failing the batch', async (t) => {
  const table = uniqueName('pgidle');
  await pgAdmin(t, table);
  const proxy = new TcpProxy(5432);
  t.teardown(() => proxy.stop());
  const port = await proxy.start();
  const store = await opened(t, new PostgresStore({ connection: `postgres://postgres@127.0.0.1:${port}/test`, table }));
  await store.add([job({ unique: 'a', seq: 1 })]);
  await proxy.stop();
  await proxy.start();
  await store.add([job({ unique: 'b', seq: 2 })]);
  t.deepEqual((await collect(store)).map((j) => j.unique), ['a', 'b']);
});

test('postgres: open fails with ERR_STORE when the database cannot be reached', async (t) => {
  const proxy = new TcpProxy(5432);
  const port = await proxy.start();
  await proxy.stop(); // a port where nothing listens now
  const err = await t.throwsAsync(createStore({ queue: 'postgres', postgresUrl: `host=127.0.0.1 port=${port} user=postgres dbname=test` }).open(), {
    code: 'ERR_STORE',
  });
  t.regex(err!.message, /ECONNREFUSED/);
});

test('postgres: libpq conninfo strings (gearmand --libpq-conninfo) connect like URLs', async (t) => {
  const table = uniqueName('pgconninfo');
  await pgAdmin(t, table);
  const store = await opened(t, createStore({ queue: 'libpq', postgresUrl: "host=127.0.0.1 port=5432 user=postgres dbname='test' connect_timeout=3", table }));
  await store.add([job({ unique: 'a', seq: 1, priority: 2 as StoredPriority })]);
  t.deepEqual((await collect(store)).map((j) => j.priority), [2]);
});
