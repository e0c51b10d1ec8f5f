import test from 'ava';
import { createStore, parseStoreOptions } from '../../src/server/store/index.ts';
import { MemoryStore } from '../../src/server/store/memory.ts';
import { pgConfigFromConninfo } from '../../src/server/store/pg-conninfo.ts';
import { PostgresStore } from '../../src/server/store/postgres.ts';
import { RedisStore } from '../../src/server/store/redis.ts';
import { SqliteStore } from '../../src/server/store/sqlite.ts';
import { collect, job } from './helpers.ts';

test('options: queue names are case-insensitive and accept gearmand\'s spellings', (t) => {
  const cases: Array<[string, string]> = [
    ['memory', 'memory'],
    ['builtin', 'memory'],
    ['BuiltIn', 'memory'],
    ['sqlite', 'sqlite'],
    ['libsqlite3', 'sqlite'],
    ['Postgres', 'postgres'],
    ['libpq', 'postgres'],
    ['postgresql', 'postgres'],
    ['REDIS', 'redis'],
  ];
  for (const [given, kind] of cases) {
    t.is(parseStoreOptions({ queue: given, sqliteDb: '/tmp/x.db' }).queue as string, kind, given);
  }
});

test('options: defaults — fsync normal, and each store\'s default table or prefix', (t) => {
  t.is(parseStoreOptions({ queue: 'memory' }).fsync, 'normal');
  const sqlite = createStore({ queue: 'sqlite', sqliteDb: '/tmp/none.db' }) as SqliteStore;
  t.true(sqlite instanceof SqliteStore);
  t.is(sqlite.table, 'gearman_queue');
  t.is(sqlite.fsync, 'normal');
  const pg = createStore({ queue: 'postgres', fsync: 'always' }) as PostgresStore;
  t.true(pg instanceof PostgresStore);
  t.is(pg.table, 'queue');
  t.is(pg.fsync, 'always');
  const redis = createStore({ queue: 'redis' }) as RedisStore;
  t.true(redis instanceof RedisStore);
  t.is(redis.prefix, 'geartrain:queue');
  t.is(redis.url, 'redis://127.0.0.1:6379');
  t.true(createStore({ queue: 'builtin' }) instanceof MemoryStore);
});

test('options: invalid options throw ERR_INVALID_ARGUMENT naming the field', (t) => {
  const cases: Array<[unknown, string]> = [
    [{ queue: 'mysql' }, 'queue'],
    [{}, 'queue'],
    [{ queue: 'sqlite' }, 'sqliteDb'],
    [{ queue: 'sqlite', sqliteDb: '' }, 'sqliteDb'],
    [{ queue: 'postgres', table: 'queue; DROP TABLE x' }, 'table'],
    [{ queue: 'sqlite', sqliteDb: 'q.db', table: 'my-table' }, 'table'],
    [{ queue: 'redis', table: 'has space' }, 'table'],
    [{ queue: 'memory', fsync: 'sometimes' }, 'fsync'],
    [{ queue: 'memory', tabel: 'x' }, 'tabel'],
    [{ queue: 'postgres', postgresUrl: 'host=x bogus_keyword=1' }, 'postgresUrl'],
    [{ queue: 'redis', redisUrl: 'http://example.com' }, 'redisUrl'],
  ];
  for (const [input, field] of cases) {
    const err = t.throws(() => createStore(input as never), { code: 'ERR_INVALID_ARGUMENT' }, JSON.stringify(input));
    t.is((err as { field?: string }).field, field, JSON.stringify(input));
  }
});

test('options: a Redis prefix may contain colons and other punctuation', (t) => {
  t.is((createStore({ queue: 'redis', table: 'app:{jobs}:q-1' }) as RedisStore).prefix, 'app:{jobs}:q-1');
});

test('options: libpq conninfo strings map to pg settings, quotes and escapes included', (t) => {
  t.deepEqual(pgConfigFromConninfo("host=db.example port = 6543 dbname='my db' user=gear password='it\\'s' connect_timeout=7 sslmode=require"), {
    host: 'db.example',
    port: 6543,
    database: 'my db',
    user: 'gear',
    password: "it's",
    connectionTimeoutMillis: 7000,
    ssl: { rejectUnauthorized: false },
  });
  t.deepEqual(pgConfigFromConninfo('postgresql://u@h/db'), { connectionString: 'postgresql://u@h/db' });
  t.deepEqual(pgConfigFromConninfo(''), {});
  t.throws(() => pgConfigFromConninfo("host='unterminated"), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => pgConfigFromConninfo('port=abc'), { code: 'ERR_INVALID_ARGUMENT' });
});

test('memory: stores nothing, replays nothing, and honours the contract around close', async (t) => {
  const store = createStore({ queue: 'memory' });
  t.is(store.kind, 'memory');
  await store.open();
  await store.add([job({ unique: 'a', seq: 1 })]);
  await store.remove([{ functionName: 'fn', unique: 'a' }]);
  t.deepEqual(await collect(store), []);
  await store.close();
  await store.close();
  await t.throwsAsync(store.add([job({ unique: 'b', seq: 2 })]), { code: 'ERR_CLOSED' });
  await t.throwsAsync(collect(store), { code: 'ERR_CLOSED' });
});

test('every store rejects use before open() with ERR_STORE', async (t) => {
  for (const store of [
    new SqliteStore({ file: '/tmp/never-opened.db' }),
    new PostgresStore({ connection: 'host=127.0.0.1' }),
    new RedisStore({ url: 'redis://127.0.0.1:1' }),
  ]) {
    await t.throwsAsync(store.add([job({ unique: 'a', seq: 1 })]), { code: 'ERR_STORE' }, store.kind);
    await t.throwsAsync(collect(store), { code: 'ERR_STORE' }, store.kind);
  }
});
