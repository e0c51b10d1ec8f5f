/**
 * The job result cache (`resultCache` / `--result-cache SIZE[,TTL] --result-cache-functions F`):
 * a finished foreground job's WORK_COMPLETE (and the WORK_DATA/WORK_WARNING its worker sent) is
 * kept under (function, unique key); a later foreground submit of the same function and unique
 * key is answered from it without reaching a worker. Failures, exceptions and background jobs are
 * never cached or served; entries expire after TTL and leave least-recently-used first when the
 * byte budget is spent; tenants never see each other's entries.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { AdminClient, Client, Worker, type JobUpdate } from '../../src/client/index.ts';
import { JobFailedError } from '../../src/errors.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { FunctionEntry } from '../../src/server/function-entry.ts';
import { Job, Priority } from '../../src/server/job.ts';
import type { JobServerOptions } from '../../src/server/index.ts';
import { ResultCache } from '../../src/server/result-cache.ts';
import { waitFor } from '../helpers/ports.ts';
import { rawClients } from '../helpers/raw-client.ts';
import { clientTls, serverTls, startServer as startTlsServer } from '../security/helpers/fixture.ts';
import { makePki } from '../security/helpers/pki.ts';
import type { ExecutionContext } from 'ava';

type Ctx = ExecutionContext;

async function start(t: Ctx, resultCache: JobServerOptions['resultCache'], extra: JobServerOptions = {}) {
  return startTlsServer(t, { ...(resultCache ? { resultCache } : {}), ...extra });
}

/** A worker that counts its calls per function and answers `<fn>:<payload>#<n>` after two WORK_DATA chunks. */
async function countingWorker(t: Ctx, servers: string, fns: string[], behave: (fn: string, n: number) => 'ok' | 'fail' | 'exception' = () => 'ok') {
  const calls: Record<string, number> = {};
  const w = new Worker({ servers, concurrency: 4 });
  t.teardown(() => w.destroy());
  for (const fn of fns) {
    calls[fn] = 0;
    w.register(fn, async (job, ctx) => {
      const n = ++calls[fn]!;
      const how = behave(fn, n);
      if (how === 'fail') throw new JobFailedError('no');
      if (how === 'exception') throw new Error(`boom ${n}`);
      await ctx.sendData('chunk1;');
      await ctx.sendWarning('careful;');
      await ctx.sendData('chunk2;');
      return `${fn}:${job.payload.toString()}#${n}`;
    });
  }
  await w.start();
  return calls;
}

function client(t: Ctx, servers: string): Client {
  const c = new Client({ servers });
  t.teardown(() => c.destroy());
  return c;
}

async function run(c: Client, fn: string, payload: string, unique: string): Promise<{ result: string; updates: string[] }> {
  const job = c.submit(fn, payload, { unique });
  const updates: string[] = [];
  for await (const u of job) updates.push(describe(u));
  return { result: (await job.result).toString(), updates };
}

function describe(u: JobUpdate): string {
  return u.type === 'status' ? `status ${u.numerator}/${u.denominator}` : `${u.type} ${u.data.toString()}`;
}

test('a repeated submit is answered from the cache with the replayed data packets, and the worker is not reached', async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, functions: ['resize'] });
  const calls = await countingWorker(t, s.address, ['resize']);
  const c = client(t, s.address);
  const first = await run(c, 'resize', 'cat.png', 'img-1');
  t.is(first.result, 'resize:cat.png#1');
  t.deepEqual(first.updates, ['data chunk1;', 'warning careful;', 'data chunk2;']);

  // Packet by packet, from a raw client: JOB_CREATED (a new handle), the data in order, WORK_COMPLETE.
  const connect = rawClients(t, s.port);
  const raw = await connect();
  raw.send(T.SUBMIT_JOB, 'resize', 'img-1', 'cat.png');
  const packets = await raw.nextN(5);
  t.deepEqual(
    packets.map((p) => p.name),
    ['JOB_CREATED', 'WORK_DATA', 'WORK_WARNING', 'WORK_DATA', 'WORK_COMPLETE'],
  );
  const handle = packets[0]!.text[0]!;
  t.true(packets.slice(1).every((p) => p.text[0] === handle), 'every packet names the handle of its JOB_CREATED');
  t.deepEqual(packets.slice(1).map((p) => p.text[1]), ['chunk1;', 'careful;', 'chunk2;', 'resize:cat.png#1']);

  const again = await run(c, 'resize', 'cat.png', 'img-1');
  t.deepEqual(again, first, 'the Client sees the same updates and result as the first time');
  // A hit is not a job: the server knows no job by the handle it answered with.
  raw.send(T.GET_STATUS, handle);
  t.deepEqual((await raw.next(T.STATUS_RES)).text, [handle, '0', '0', '0', '0']);
  t.is(calls.resize, 1, 'the worker ran the job once');
  t.deepEqual({ hits: s.server.core.resultCache!.stats.hits, stores: s.server.core.resultCache!.stats.stores }, { hits: 2, stores: 1 });
});

test('a cached result is never served for another unique key, another function, or a function not opted in', async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, functions: ['img.*'] });
  const calls = await countingWorker(t, s.address, ['img.resize', 'img.thumb', 'other']);
  const c = client(t, s.address);
  t.is((await run(c, 'img.resize', 'x', 'k')).result, 'img.resize:x#1');
  t.is((await run(c, 'img.resize', 'x', 'k2')).result, 'img.resize:x#2', 'another unique key runs');
  t.is((await run(c, 'img.thumb', 'x', 'k')).result, 'img.thumb:x#1', 'the same unique key of another function runs');
  t.is((await run(c, 'other', 'x', 'k')).result, 'other:x#1');
  t.is((await run(c, 'other', 'x', 'k')).result, 'other:x#2', 'a function outside --result-cache-functions is never cached');
  // A job without a unique key has nothing to be found by.
  t.is((await c.call('img.resize', 'x')).toString(), 'img.resize:x#3');
  t.is((await c.call('img.resize', 'x')).toString(), 'img.resize:x#4');
  // The cached ones still hit; the key is (function, unique), not the payload (as for coalescing).
  t.is((await run(c, 'img.resize', 'another payload', 'k')).result, 'img.resize:x#1');
  t.is((await run(c, 'img.thumb', 'x', 'k')).result, 'img.thumb:x#1');
  t.deepEqual(calls, { 'img.resize': 4, 'img.thumb': 1, other: 2 });
});

test("unique key '-' keys on the payload: the same payload hits, another payload runs", async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, functions: ['*'] });
  const calls = await countingWorker(t, s.address, ['rev']);
  const c = client(t, s.address);
  t.is((await run(c, 'rev', 'abc', '-')).result, 'rev:abc#1');
  t.is((await run(c, 'rev', 'abd', '-')).result, 'rev:abd#2');
  t.is((await run(c, 'rev', 'abc', '-')).result, 'rev:abc#1');
  t.is(calls.rev, 2);
});

test('WORK_FAIL and WORK_EXCEPTION are not cached: the next submit reaches the worker', async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, functions: ['flaky'] });
  const calls = await countingWorker(t, s.address, ['flaky'], (_fn, n) => (n === 1 ? 'exception' : n === 2 ? 'fail' : 'ok'));
  const c = client(t, s.address);
  const e1 = await t.throwsAsync(c.call('flaky', 'p', { unique: 'u' }));
  t.is((e1 as { code?: string }).code, 'ERR_JOB_EXCEPTION');
  const e2 = await t.throwsAsync(c.call('flaky', 'p', { unique: 'u' }));
  t.is((e2 as { code?: string }).code, 'ERR_JOB_FAILED');
  t.is((await c.call('flaky', 'p', { unique: 'u' })).toString(), 'flaky:p#3');
  t.is((await c.call('flaky', 'p', { unique: 'u' })).toString(), 'flaky:p#3');
  t.is(calls.flaky, 3);
});

test('a background submit is never answered from the cache, and its result is not stored', async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, functions: ['job'] });
  const calls = await countingWorker(t, s.address, ['job']);
  const c = client(t, s.address);
  await c.submitBackground('job', 'bg', { unique: 'b' });
  await waitFor(() => calls.job === 1, 'the background job to run');
  t.is((await c.call('job', 'fg', { unique: 'b' })).toString(), 'job:fg#2', 'a background result is not kept');
  t.is((await c.call('job', 'fg', { unique: 'b' })).toString(), 'job:fg#2', 'the foreground result is');
  await c.submitBackground('job', 'bg', { unique: 'b' });
  await waitFor(() => calls.job === 3, 'a background submit to reach the worker despite the cached result');
  t.pass();
});

test('a submit while the job runs joins it (coalescing), and both get the one result', async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, functions: ['slow'] });
  let calls = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const w = new Worker({ servers: s.address });
  t.teardown(() => w.destroy());
  w.register('slow', async () => {
    calls++;
    await gate;
    return 'done';
  });
  await w.start();
  const c1 = client(t, s.address);
  const c2 = client(t, s.address);
  const j1 = c1.submit('slow', 'a', { unique: 'same' });
  await j1.created;
  await waitFor(() => calls === 1, 'the job to start');
  const j2 = c2.submit('slow', 'b', { unique: 'same' });
  t.is(await j2.created, await j1.created, 'the second submit joined the running job');
  release();
  t.is((await j1.result).toString(), 'done');
  t.is((await j2.result).toString(), 'done');
  t.is((await c2.call('slow', 'c', { unique: 'same' })).toString(), 'done');
  t.is(calls, 1);
});

test('entries expire after their TTL', async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, ttlSeconds: 0.3, functions: ['f'] });
  const calls = await countingWorker(t, s.address, ['f']);
  const c = client(t, s.address);
  t.is((await c.call('f', 'x', { unique: 'u' })).toString(), 'f:x#1');
  t.is((await c.call('f', 'x', { unique: 'u' })).toString(), 'f:x#1');
  const fresh = await waitFor(async () => {
    const r = (await c.call('f', 'x', { unique: 'u' })).toString();
    return r !== 'f:x#1' ? r : undefined;
  }, 'the entry to expire', 5000, 50);
  t.is(fresh, 'f:x#2');
  t.is(calls.f, 2, 'the worker ran the job again only once the entry expired');
  t.true(s.server.core.resultCache!.stats.expired >= 1);
});

test('the byte budget evicts the least recently used entries; `cache` lists what is kept', async (t) => {
  // Each entry: result ("f:p#N", 5 bytes) + data chunks (7 + 8 + 7) + key ("f\0uN", 4) = 31 bytes; two fit in 70.
  const s = await start(t, { maxBytes: 70, functions: ['f'] });
  const calls = await countingWorker(t, s.address, ['f']);
  const c = client(t, s.address);
  const resultOf = async (u: string) => (await c.call('f', 'p', { unique: u })).toString();
  t.is(await resultOf('u1'), 'f:p#1');
  t.is(await resultOf('u2'), 'f:p#2');
  t.is(await resultOf('u1'), 'f:p#1', 'hit: u1 is now the most recently used');
  t.is(await resultOf('u3'), 'f:p#3', 'u3 needs room: u2, the least recently used, leaves');
  const admin = new AdminClient({ server: s.address });
  t.teardown(() => admin.close());
  t.deepEqual(
    (await admin.cacheEntries()).map((e) => [e.function, e.unique, e.bytes, e.hits]),
    [
      ['f', 'u1', 31, 1],
      ['f', 'u3', 31, 0],
    ],
  );
  t.is(await resultOf('u2'), 'f:p#4', 'the evicted entry runs again (and u1, now the least recently used, leaves)');
  t.is(await resultOf('u3'), 'f:p#3');
  t.is(s.server.core.resultCache!.bytes, 62);
  t.is(s.server.core.resultCache!.stats.evictions, 2);
  t.is(calls.f, 4);
});

test('admin: `cache stats` and `cache flush [FUNC]`; flushed entries run again', async (t) => {
  const s = await start(t, { maxBytes: 1 << 20, ttlSeconds: 60, functions: ['a', 'b'] });
  const calls = await countingWorker(t, s.address, ['a', 'b']);
  const c = client(t, s.address);
  for (const fn of ['a', 'b']) for (const u of ['1', '2']) await c.call(fn, 'x', { unique: u });
  await c.call('a', 'x', { unique: '1' });
  const connect = rawClients(t, s.port);
  const raw = await connect();
  // The raw client reads replies by src/protocol/admin.ts replyShape: a mismatch would hang here.
  const stats = await raw.admin('cache stats');
  const table = Object.fromEntries(stats.split('\n').filter((l) => l.includes('\t')).map((l) => l.split('\t')));
  t.like(table, { entries: '4', max_bytes: String(1 << 20), ttl_seconds: '60', hits: '1', stores: '4' });
  t.is(await raw.admin('cache flush a'), 'OK 2\r\n');
  t.is((await raw.admin('cache')).split('\n').filter((l) => l.startsWith('b\t')).length, 2);
  t.is((await raw.admin('cache')).split('\n').filter((l) => l.startsWith('a\t')).length, 0);
  await c.call('a', 'x', { unique: '1' });
  t.is(calls.a, 3, 'a flushed entry runs again');
  // The typed AdminClient methods; a unique key with a tab and a backslash survives the listing.
  await c.call('b', 'x', { unique: 'tab\there\\' });
  const admin = new AdminClient({ server: s.address });
  t.teardown(() => admin.close());
  t.deepEqual((await admin.cacheEntries()).map((e) => `${e.function}:${e.unique}`).sort(), ['a:1', 'b:1', 'b:2', 'b:tab\there\\']);
  t.is(await admin.flushCache('b*'), 3);
  t.is(await admin.flushCache(), 1);
  t.is(await raw.admin('cache'), '.\n');
  // An unknown sub-command answers one ERR line (AdminClient ends any reply on a first ERR line).
  raw.sendRaw('cache bogus\n');
  t.is(await raw.readAdminReply('line'), 'ERR UNKNOWN_CACHE_COMMAND expected+cache,+cache+stats+or+cache+flush+[FUNC]\r\n');
});

test('admin `cache` on a server without a cache answers ERR CACHE_DISABLED', async (t) => {
  const s = await start(t, undefined);
  const admin = new AdminClient({ server: s.address });
  t.teardown(() => admin.close());
  const err = await t.throwsAsync(admin.command('cache'));
  t.is((err as { code?: string }).code, 'ERR_ADMIN');
  t.regex(err!.message, /^CACHE_DISABLED/);
});

test('tenants never share entries: the same function and unique key in another tenant reaches its own worker', async (t) => {
  const pki = makePki(['acme-app', 'globex-app', 'ops']);
  t.teardown(() => pki.remove());
  const s = await start(t, { maxBytes: 1 << 20, functions: ['resize'] }, {
    tls: serverTls(pki),
    tenants: { tenants: { acme: { cn: ['acme-app'] }, globex: { cn: ['globex-app'] } }, operators: { cn: ['ops'] } },
  });
  const calls: Record<string, number> = { acme: 0, globex: 0 };
  for (const tenant of ['acme', 'globex']) {
    const w = new Worker({ servers: s.address, tls: clientTls(pki, `${tenant}-app`) });
    t.teardown(() => w.destroy());
    w.register('resize', () => `${tenant} #${++calls[tenant]!}`);
    await w.start();
  }
  const acme = new Client({ servers: s.address, tls: clientTls(pki, 'acme-app') });
  const globex = new Client({ servers: s.address, tls: clientTls(pki, 'globex-app') });
  t.teardown(() => acme.destroy());
  t.teardown(() => globex.destroy());
  t.is((await acme.call('resize', 'x', { unique: 'u' })).toString(), 'acme #1');
  t.is((await globex.call('resize', 'x', { unique: 'u' })).toString(), 'globex #1');
  t.is((await acme.call('resize', 'x', { unique: 'u' })).toString(), 'acme #1');
  t.is((await globex.call('resize', 'x', { unique: 'u' })).toString(), 'globex #1');
  t.deepEqual(calls, { acme: 1, globex: 1 });
  // Each tenant's admin view lists only its own entry, under its own name; the operator sees both.
  const view = async (cn: string) => {
    const a = new AdminClient({ server: s.address, tls: clientTls(pki, cn) });
    try {
      return (await a.command('cache')).split('\n').filter((l) => l.includes('\t')).map((l) => l.split('\t')[0]).sort();
    } finally {
      await a.close();
    }
  };
  t.deepEqual(await view('acme-app'), ['resize']);
  t.deepEqual(await view('ops'), ['acme/resize', 'globex/resize']);
});

test('ResultCache with a fake clock: TTL counts from the store, hits do not extend it; an entry larger than the budget is not kept', (t) => {
  let now = 1_000_000;
  const cache = new ResultCache({ maxBytes: 64, ttlSeconds: 10, functions: ['f'] }, () => now);
  const fn = new FunctionEntry('f');
  const job = (unique: string, background = false) =>
    Job.standalone({ fn, unique, storeKey: unique, data: Buffer.from('d'), priority: Priority.NORMAL, background, whenToRun: 0, reducer: null }, `H:${unique}`, 1);
  cache.store(job('a'), Buffer.from('result-a'));
  now += 9_999;
  t.is(cache.lookup(fn, 'a', Buffer.alloc(0))?.result.toString(), 'result-a');
  now += 1;
  t.is(cache.lookup(fn, 'a', Buffer.alloc(0)), undefined, 'expired 10 s after it was stored, although it was hit at 9.999 s');
  t.is(cache.stats.expired, 1);
  cache.store(job('big'), Buffer.alloc(61));
  t.is(cache.size, 0, '61 bytes of result + 4 of key do not fit in 64');
  t.is(cache.stats.tooLarge, 1);
  cache.store(job('bg', true), Buffer.from('x'));
  t.is(cache.size, 0, 'a background job is not kept');
  // Data of an attempt whose worker vanished is not replayed: only the completing attempt's.
  const j = job('r');
  j.startedAt = 1;
  cache.record(j, T.WORK_DATA, Buffer.from('old'));
  j.startedAt = 2;
  cache.record(j, T.WORK_DATA, Buffer.from('new'));
  cache.store(j, Buffer.from('done'));
  t.deepEqual(cache.lookup(fn, 'r', Buffer.alloc(0))?.chunks.map((c) => c.data.toString()), ['new']);
});

test('`geartrain server --result-cache 1M,60 --result-cache-functions …` caches; a missing or bad flag is refused, naming it', async (t) => {
  const bin = 'bin/geartrain.js';
  const bad = (args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(process.execPath, [bin, 'server', '-q', 'memory', '-p', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.once('exit', (code) => resolve({ code, err }));
    });
  const noFunctions = await bad(['--result-cache', '1M']);
  t.not(noFunctions.code, 0);
  t.regex(noFunctions.err, /--result-cache-functions/);
  const badSize = await bad(['--result-cache', 'lots', '--result-cache-functions', 'x']);
  t.not(badSize.code, 0);
  t.regex(badSize.err, /--result-cache: SIZE/);

  const child = spawn(process.execPath, [bin, 'server', '-q', 'memory', '-p', '0', '--result-cache', '1M,60', '--result-cache-functions', 'thumb*,other'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const m = await waitFor(() => /listening on 127\.0\.0\.1:(\d+)\n/.exec(out), 'ready line', 20_000);
  const servers = `127.0.0.1:${m[1]}`;
  const calls = await countingWorker(t, servers, ['thumb.small']);
  const c = client(t, servers);
  await c.call('thumb.small', 'x', { unique: 'u' });
  await c.call('thumb.small', 'x', { unique: 'u' });
  t.is(calls['thumb.small'], 1);
  const admin = new AdminClient({ server: servers });
  t.teardown(() => admin.close());
  t.regex(await admin.command('cache stats'), /^max_bytes\t1048576$/m);
  t.regex(await admin.command('cache stats'), /^ttl_seconds\t60$/m);
});
