import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { createStore } from '../../src/server/store/index.ts';
import { SqliteStore } from '../../src/server/store/sqlite.ts';
import type { StoredPriority } from '../../src/server/store/types.ts';
import { storeContract } from './contract.ts';
import { collect, job, opened, run, tempDir, uniqueName, view } from './helpers.ts';

storeContract(test, 'sqlite', async (t) => ({ queue: 'sqlite', sqliteDb: path.join(tempDir(t), 'queue.db'), table: uniqueName('sq') }));

/** gearmand 1.1.20 libgearman-server/plugins/queue/sqlite/instance.cc, verbatim. */
const gearmandDdl = (table: string) =>
  `CREATE TABLE ${table} ( unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, when_to_run INTEGER, PRIMARY KEY (unique_key, function_name))`;
/** …and how it inserts (priority, unique, function, data blob, when). */
const gearmandInsert = (table: string, p: number, unique: string, fn: string, hex: string, when: number) =>
  `INSERT OR REPLACE INTO ${table} (priority, unique_key, function_name, data, when_to_run) VALUES (${p},'${unique}','${fn}',X'${hex}',${when});`;

const sqlite3 = (file: string, sql: string) => run('sqlite3', [file], sql).trim();

test('sqlite: the file is in WAL mode; fsync normal is synchronous=NORMAL, always is FULL', async (t) => {
  const dir = tempDir(t);
  const normal = await opened(t, new SqliteStore({ file: path.join(dir, 'a.db') }));
  const always = await opened(t, new SqliteStore({ file: path.join(dir, 'b.db'), fsync: 'always' }));
  t.is(await normal.durability(), 'journal_mode=wal synchronous=NORMAL');
  t.is(await always.durability(), 'journal_mode=wal synchronous=FULL');
  // journal_mode=WAL is a property of the file, visible to any other program
  t.is(sqlite3(path.join(dir, 'a.db'), 'PRAGMA journal_mode;'), 'wal');
});

test('sqlite: rows use the storage classes gearmand replays (TEXT, TEXT, INTEGER, BLOB even when empty, INTEGER)', async (t) => {
  const file = path.join(tempDir(t), 'q.db');
  const store = await opened(t, new SqliteStore({ file, table: 'gearman_queue' }));
  await store.add([job({ unique: 'a', seq: 1, data: Buffer.alloc(0) }), job({ unique: 'b', seq: 2, priority: 2 as StoredPriority, whenToRun: 99, reducer: 'r' })]);
  await store.close();
  t.is(
    sqlite3(file, 'SELECT DISTINCT typeof(unique_key), typeof(function_name), typeof(priority), typeof(data), typeof(when_to_run) FROM gearman_queue;'),
    'text|text|integer|blob|integer',
  );
  t.is(sqlite3(file, "SELECT reducer, seq FROM gearman_queue WHERE unique_key = 'b';"), 'r|2');
});

test('sqlite: a table created by gearmand is upgraded in place and its rows replay in insertion order within a priority', async (t) => {
  const file = path.join(tempDir(t), 'gearmand.db');
  const table = uniqueName('gm');
  sqlite3(
    file,
    [
      `${gearmandDdl(table)};`,
      gearmandInsert(table, 1, 'n1', 'resize', '00ff00', 0),
      gearmandInsert(table, 2, 'l1', 'resize', '6c6f77', 0),
      gearmandInsert(table, 1, 'n2', 'thumb', '', 1_800_000_000),
      gearmandInsert(table, 0, 'h1', 'resize', '68', 0),
      gearmandInsert(table, 1, 'n3', 'resize', '6e33', 0),
    ].join('\n'),
  );
  const store = await opened(t, new SqliteStore({ file, table }));
  t.deepEqual(
    sqlite3(file, `SELECT name FROM pragma_table_info('${table}') ORDER BY cid;`).split('\n'),
    ['unique_key', 'function_name', 'priority', 'data', 'when_to_run', 'reducer', 'seq'],
  );
  const rows = await collect(store);
  t.deepEqual(rows.map((j) => j.unique), ['h1', 'n1', 'n2', 'n3', 'l1']);
  t.deepEqual(view(rows[2]!), { unique: 'n2', functionName: 'thumb', priority: 1, data: '', whenToRun: 1_800_000_000, reducer: null, seq: 0 });
  t.is(rows[1]!.data.toString('hex'), '00ff00');
  // rows geartrain adds later come after gearmand's within their priority
  await store.add([job({ unique: 'n4', seq: 1, functionName: 'resize' })]);
  t.deepEqual((await collect(store)).map((j) => j.unique), ['h1', 'n1', 'n2', 'n3', 'n4', 'l1']);
});

test('sqlite: a pre-epoch gearmand table (no when_to_run) gains the column and replays with when 0', async (t) => {
  const file = path.join(tempDir(t), 'old.db');
  sqlite3(
    file,
    `CREATE TABLE gearman_queue (unique_key TEXT, function_name TEXT, priority INTEGER, data BLOB, PRIMARY KEY (unique_key, function_name));
     INSERT INTO gearman_queue VALUES ('u', 'f', 2, X'01');`,
  );
  const store = await opened(t, new SqliteStore({ file }));
  t.deepEqual((await collect(store)).map(view), [{ unique: 'u', functionName: 'f', priority: 2, data: '01', whenToRun: 0, reducer: null, seq: 0 }]);
});

test('sqlite: a failing batch stores none of its rows and the error carries SQLite\'s reason', async (t) => {
  const file = path.join(tempDir(t), 'q.db');
  const table = uniqueName('atom');
  const store = await opened(t, new SqliteStore({ file, table }));
  await store.add([job({ unique: 'keep', seq: 1, data: Buffer.from('v1') })]);
  // an independent connection makes one row of the next batch fail, as a full disk would
  sqlite3(
    file,
    `CREATE TRIGGER ${table}_full BEFORE INSERT ON ${table} WHEN NEW.function_name = 'boom'
     BEGIN SELECT RAISE(ABORT, 'simulated: database or disk is full'); END;`,
  );
  const err = await t.throwsAsync(
    store.add([job({ unique: 'keep', seq: 2, data: Buffer.from('v2') }), job({ unique: 'x', seq: 3 }), job({ unique: 'y', seq: 4, functionName: 'boom' })]),
    { code: 'ERR_STORE' },
  );
  t.regex(err!.message, /simulated: database or disk is full/);
  t.deepEqual((await collect(store)).map(view), [job({ unique: 'keep', seq: 1, data: Buffer.from('v1') })].map(view));
});

test('sqlite: open fails with ERR_STORE when the file cannot be opened or the table is not a queue table', async (t) => {
  const dir = tempDir(t);
  const missingDir = createStore({ queue: 'sqlite', sqliteDb: path.join(dir, 'no', 'such', 'dir', 'q.db') });
  const e1 = await t.throwsAsync(missingDir.open(), { code: 'ERR_STORE' });
  t.regex(e1!.message, /directory does not exist/);
  const file = path.join(dir, 'other.db');
  sqlite3(file, 'CREATE TABLE gearman_queue (id INTEGER PRIMARY KEY, name TEXT);');
  const e2 = await t.throwsAsync(createStore({ queue: 'sqlite', sqliteDb: file }).open(), { code: 'ERR_STORE' });
  t.regex(e2!.message, /not a gearman queue table/);
});

test('sqlite: a file that is not a database is refused with ERR_STORE', async (t) => {
  const file = path.join(tempDir(t), 'junk.db');
  fs.writeFileSync(file, 'this is not an SQLite file, just text that is long enough to have a header..............');
  const err = await t.throwsAsync(new SqliteStore({ file }).open(), { code: 'ERR_STORE' });
  t.regex(err!.message, /not a database/);
});

test('sqlite: a table name that is not a plain identifier is refused before any SQL runs', (t) => {
  for (const table of ['a;DROP TABLE x', 'x"y', '1abc', '', 'a'.repeat(64), 'main.t']) {
    t.throws(() => new SqliteStore({ file: '/nonexistent/q.db', table }), { code: 'ERR_INVALID_ARGUMENT' }, table);
  }
});

test('sqlite: replay while another connection holds a write lock still reads (WAL readers do not block)', async (t) => {
  const file = path.join(tempDir(t), 'q.db');
  const store = await opened(t, new SqliteStore({ file }));
  await store.add([job({ unique: 'a', seq: 1 })]);
  const other = new Database(file);
  t.teardown(() => other.close());
  other.exec('BEGIN IMMEDIATE');
  other.prepare("INSERT INTO gearman_queue (unique_key, function_name, priority, data, when_to_run) VALUES ('b', 'fn', 1, X'', 0)").run();
  t.deepEqual((await collect(store)).map((j) => j.unique), ['a']);
  other.exec('ROLLBACK');
});
