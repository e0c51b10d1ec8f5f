import test from 'ava';
import { Redis } from 'ioredis';
import { freePort, waitFor } from '../helpers/ports.ts';
import { createStore } from '../../src/server/store/index.ts';
import { RedisStore } from '../../src/server/store/redis.ts';
import type { StoredPriority } from '../../src/server/store/types.ts';
import { storeContract } from './contract.ts';
import { cleanRedisPrefix, collect, job, opened, REDIS_URL, startRedisServer, uniqueName, view } from './helpers.ts';

storeContract(test, 'redis', async (t) => {
  const prefix = `${uniqueName('rd')}:queue`;
  cleanRedisPrefix(t, prefix);
  return { queue: 'redis', redisUrl: REDIS_URL, table: prefix };
});

async function client(t: import('ava').ExecutionContext, url: string): Promise<Redis> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  t.teardown(() => redis.disconnect());
  return redis;
}

test('redis: the layout is one hash per job plus one sorted index; replay uses neither KEYS nor SCAN', async (t) => {
  const server = await startRedisServer(t);
  const store = await opened(t, new RedisStore({ url: server.url, prefix: 'q' }));
  await store.add([job({ unique: 'a', seq: 1, functionName: 'f:g' }), job({ unique: 'b', seq: 2, priority: 0 as StoredPriority, reducer: 'r' })]);
  const admin = await client(t, server.url);
  t.deepEqual((await admin.keys('*')).sort(), ['q:index', 'q:job:2:fn:b', 'q:job:3:f:g:a']);
  t.deepEqual(await admin.zrange('q:index', '0', '-1'), ['2:fn:b', '3:f:g:a']);
  t.is(await admin.hget('q:job:2:fn:b', 'reducer'), 'r');
  await admin.config('RESETSTAT');
  t.is((await collect(store)).length, 2);
  const stats = await admin.info('commandstats');
  t.notRegex(stats, /cmdstat_(keys|scan):/);
  t.regex(stats, /cmdstat_zrange:/);
  // an index entry whose hash has gone (an interrupted remove) is skipped, not replayed half-empty
  await admin.del('q:job:2:fn:b');
  t.deepEqual((await collect(store)).map((j) => j.unique), ['a']);
});

test('redis: an unreachable server fails open promptly with ERR_STORE', async (t) => {
  t.timeout(5000, 'open() must fail, not hang, when Redis is unreachable');
  const port = await freePort();
  const err = await t.throwsAsync(createStore({ queue: 'redis', redisUrl: `127.0.0.1:${port}` }).open(), { code: 'ERR_STORE' });
  t.regex(err!.message, /ECONNREFUSED/);
});

test('redis: while Redis is down batches fail promptly with ERR_STORE; after it returns batches succeed again', async (t) => {
  t.timeout(15_000, 'batches must fail promptly while Redis is down');
  const server = await startRedisServer(t);
  const store = await opened(t, new RedisStore({ url: server.url, prefix: 'q' }));
  await store.add([job({ unique: 'before', seq: 1 })]);
  await server.kill();
  const err = await t.throwsAsync(store.add([job({ unique: 'during', seq: 2 })]), { code: 'ERR_STORE' });
  t.regex(err!.message, /enableOfflineQueue|Connection is closed|ECONNRESET|MaxRetriesPerRequest/);
  await t.throwsAsync(store.remove([{ functionName: 'fn', unique: 'before' }]), { code: 'ERR_STORE' });
  await server.restart(); // empty: this Redis has no persistence
  await waitFor(
    () => store.add([job({ unique: 'after', seq: 3 })]).then(() => true, () => false),
    'a batch to succeed after Redis restarted',
  );
  t.deepEqual((await collect(store)).map((j) => j.unique), ['after']);
});

test('redis: fsync always is refused unless Redis has the append-only file on (checked on the shared Redis)', async (t) => {
  const admin = await client(t, REDIS_URL);
  const aofOn = /^aof_enabled:1/m.test(await admin.info('persistence'));
  const store = new RedisStore({ url: REDIS_URL, prefix: uniqueName('rdalways'), fsync: 'always' });
  t.teardown(() => store.close());
  if (aofOn) {
    await store.open();
    t.regex(await store.durability(), /aof fsynced/);
  } else {
    const err = await t.throwsAsync(store.open(), { code: 'ERR_STORE' });
    t.regex(err!.message, /appendonly no/);
  }
});

test('redis: fsync always on a Redis without appendfsync always (and without WAITAOF) is refused', async (t) => {
  const server = await startRedisServer(t, ['--appendonly', 'yes', '--appendfsync', 'everysec']);
  const admin = await client(t, server.url);
  const version = /^redis_version:(\d+)\.(\d+)/m.exec(await admin.info('server'))!;
  const hasWaitAof = Number(version[1]) > 7 || (Number(version[1]) === 7 && Number(version[2]) >= 2);
  const store = new RedisStore({ url: server.url, prefix: 'q', fsync: 'always' });
  t.teardown(() => store.close());
  if (hasWaitAof) {
    await store.open();
    t.is(await store.durability(), 'aof fsynced per batch (WAITAOF)');
  } else {
    const err = await t.throwsAsync(store.open(), { code: 'ERR_STORE' });
    t.regex(err!.message, /needs appendfsync always, but it is everysec/);
  }
});

test('redis: with fsync always on an appendfsync-always Redis, acknowledged jobs survive kill -9 of Redis', async (t) => {
  const server = await startRedisServer(t, ['--appendonly', 'yes', '--appendfsync', 'always']);
  const store = await opened(t, new RedisStore({ url: server.url, prefix: 'q', fsync: 'always' }));
  t.regex(await store.durability(), /aof fsynced per batch/);
  const jobs = Array.from({ length: 20 }, (_, i) => job({ unique: `j${i}`, seq: i + 1, priority: (i % 3) as StoredPriority, data: Buffer.from([i, 0, 255]) }));
  await store.add(jobs.slice(0, 10));
  await store.add(jobs.slice(10));
  await store.remove([{ functionName: 'fn', unique: 'j0' }]);
  await store.close();
  await server.kill();
  await server.restart();
  const reopened = await opened(t, new RedisStore({ url: server.url, prefix: 'q' }));
  const expected = jobs.slice(1).sort((a, b) => a.priority - b.priority || a.seq - b.seq);
  t.deepEqual((await collect(reopened)).map(view), expected.map(view));
});

test('redis: when Redis is out of memory a batch fails with ERR_STORE naming OOM and is stored all or nothing', async (t) => {
  const server = await startRedisServer(t, ['--maxmemory', '3mb', '--maxmemory-policy', 'noeviction']);
  const store = await opened(t, new RedisStore({ url: server.url, prefix: 'q' }));
  let stored = 0;
  let failure: Error | undefined;
  for (let batch = 0; batch < 100 && !failure; batch++) {
    const jobs = Array.from({ length: 10 }, (_, i) => job({ unique: `b${batch}-${i}`, seq: batch * 10 + i + 1, data: Buffer.alloc(20_000, i) }));
    try {
      await store.add(jobs);
      stored += jobs.length;
    } catch (err) {
      failure = err as Error;
    }
  }
  t.truthy(failure, 'a 3 MB Redis must refuse 20 MB of jobs');
  t.is((failure as { code?: string }).code, 'ERR_STORE');
  t.regex(failure!.message, /OOM/);
  const admin = await client(t, server.url);
  t.is(await admin.zcard('q:index'), stored);
  t.is((await collect(store)).length, stored);
  // removing still works when full, which is how a full queue drains
  await store.remove([{ functionName: 'fn', unique: 'b0-0' }]);
  t.is(await admin.zcard('q:index'), stored - 1);
});

test('redis: host[:port] is accepted as gearmand --redis-server takes it; junk is refused', async (t) => {
  const store = await opened(t, createStore({ queue: 'REDIS', redisUrl: REDIS_URL.replace('redis://', ''), table: `${uniqueName('rdhost')}:q` }));
  t.deepEqual(await collect(store), []);
  t.throws(() => createStore({ queue: 'redis', redisUrl: 'not a url' }), { code: 'ERR_INVALID_ARGUMENT' });
});
