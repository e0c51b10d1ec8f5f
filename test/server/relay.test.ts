/**
 * Job relay (`relay` / `--relay FUNC=host:port`): a job that no worker on server A can do is
 * submitted by A to server B as a client; what B's worker sends (data, warnings, status, the
 * result, a failure or an exception) reaches the client on A under A's handle. A local worker
 * keeps its jobs. A background job is handed over: once B acknowledged it, A forgets it. When B
 * dies under a running foreground job, the job fails visibly on A. A job relayed around a loop
 * (A → B → A) is refused by the server that relayed it first.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { AdminClient, Client, Worker, type JobUpdate } from '../../src/client/index.ts';
import { JobFailedError } from '../../src/errors.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import type { JobServerOptions } from '../../src/server/index.ts';
import { parseRelaySpec } from '../../src/server/relay-spec.ts';
import { freePort, refusedPort, waitFor } from '../helpers/ports.ts';
import { rawPlain, startServer, type RunningServer } from '../security/helpers/fixture.ts';

type Ctx = ExecutionContext;

async function pair(t: Ctx, extraA: JobServerOptions = {}): Promise<{ a: RunningServer; b: RunningServer }> {
  const b = await startServer(t);
  const a = await startServer(t, { relay: [{ functions: ['remote.*'], servers: [b.address] }], ...extraA });
  return { a, b };
}

function client(t: Ctx, servers: string): Client {
  const c = new Client({ servers });
  t.teardown(() => c.destroy());
  return c;
}

/** B's worker: data, a warning, status 1/2, then `payload` decides: ok / no (WORK_FAIL) / boom (exception). */
async function remoteWorker(t: Ctx, servers: string, fns: string[], calls: string[] = []) {
  const w = new Worker({ servers, concurrency: 8 });
  t.teardown(() => w.destroy());
  for (const fn of fns) {
    w.register(fn, async (job, ctx) => {
      calls.push(`${fn}:${job.payload}`);
      const p = job.payload.toString();
      await ctx.sendData('part1,');
      await ctx.sendWarning('warn,');
      await ctx.sendStatus(1, 2);
      await ctx.sendData('part2');
      if (p === 'no') throw new JobFailedError('no');
      if (p === 'boom') throw new Error('remote boom');
      return `${fn} on B: ${p} (unique ${job.unique || '-none-'})`;
    });
  }
  await w.start();
  return calls;
}

function describe(u: JobUpdate): string {
  return u.type === 'status' ? `status ${u.numerator}/${u.denominator}` : `${u.type} ${u.data.toString()}`;
}

test('a job only B can do, submitted on A: data, warning, status and the result come back under A\'s handle', async (t) => {
  const { a, b } = await pair(t);
  const calls = await remoteWorker(t, b.address, ['remote.resize']);
  const c = client(t, a.address);
  const job = c.submit('remote.resize', 'cat.png', { unique: 'k1' });
  const updates: string[] = [];
  for await (const u of job) updates.push(describe(u));
  t.is((await job.result).toString(), 'remote.resize on B: cat.png (unique k1)');
  t.deepEqual(updates, ['data part1,', 'warning warn,', 'status 1/2', 'data part2']);
  t.is(job.server, a.address, 'the job was A\'s');
  t.deepEqual(calls, ['remote.resize:cat.png']);
  t.like(a.server.core.relay!.stats, { relayed: 1, completed: 1, failed: 0 });
  t.like(a.server.stats, { completed: 1 });
  // Packet by packet: every work packet carries A's handle.
  const raw = await rawPlain(t, a.port);
  raw.send(T.SUBMIT_JOB, 'remote.resize', '', 'dog.png');
  const packets = await raw.nextN(6);
  t.deepEqual(packets.map((p) => p.name), ['JOB_CREATED', 'WORK_DATA', 'WORK_WARNING', 'WORK_STATUS', 'WORK_DATA', 'WORK_COMPLETE']);
  t.true(packets.every((p) => p.text[0] === packets[0]!.text[0]));
  t.deepEqual(packets[3]!.text.slice(1), ['1', '2']);
  t.is(packets[5]!.text[1], 'remote.resize on B: dog.png (unique -none-)');
});

test('WORK_FAIL and WORK_EXCEPTION come back: exceptions to clients that asked, WORK_FAIL to the others', async (t) => {
  const { a, b } = await pair(t);
  await remoteWorker(t, b.address, ['remote.f']);
  const c = client(t, a.address);
  const failed = await t.throwsAsync(c.call('remote.f', 'no'));
  t.is((failed as { code?: string }).code, 'ERR_JOB_FAILED');
  const raised = await t.throwsAsync(c.call('remote.f', 'boom'));
  t.is((raised as { code?: string }).code, 'ERR_JOB_EXCEPTION');
  t.regex(raised!.message, /remote boom/);
  // A raw client without OPTION_REQ exceptions gets WORK_FAIL for the exception.
  const raw = await rawPlain(t, a.port);
  raw.send(T.SUBMIT_JOB, 'remote.f', '', 'boom');
  const packets = await raw.nextN(6);
  t.deepEqual(packets.map((p) => p.name), ['JOB_CREATED', 'WORK_DATA', 'WORK_WARNING', 'WORK_STATUS', 'WORK_DATA', 'WORK_FAIL']);
  t.like(a.server.stats, { failed: 1, exceptions: 2 });
});

test('GET_STATUS on A follows the relayed job: running, with the remote worker\'s progress', async (t) => {
  const { a, b } = await pair(t);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const w = new Worker({ servers: b.address });
  t.teardown(() => w.destroy());
  w.register('remote.slow', async (_job, ctx) => {
    await ctx.sendStatus(3, 10);
    await gate;
    return 'ok';
  });
  await w.start();
  const c = client(t, a.address);
  const job = c.submit('remote.slow', '');
  const handle = await job.created;
  const raw = await rawPlain(t, a.port);
  const status = await waitFor(async () => {
    raw.send(T.GET_STATUS, handle);
    const p = await raw.next(T.STATUS_RES);
    return p.text[3] === '3' ? p.text : undefined;
  }, 'the status to reach A');
  t.deepEqual(status, [handle, '1', '1', '3', '10']);
  const admin = new AdminClient({ server: a.address });
  t.teardown(() => admin.close());
  t.deepEqual((await admin.status()).find((f) => f.name === 'remote.slow'), { name: 'remote.slow', total: 1, running: 1, workers: 0 });
  release();
  t.is((await job.result).toString(), 'ok');
});

test('a function with a worker on A stays on A; only functions no local worker can do are relayed', async (t) => {
  const { a, b } = await pair(t);
  const remoteCalls = await remoteWorker(t, b.address, ['remote.both', 'remote.only-b']);
  const local = new Worker({ servers: a.address });
  t.teardown(() => local.destroy());
  local.register('remote.both', () => 'local');
  await local.start();
  const c = client(t, a.address);
  t.is((await c.call('remote.both', 'x')).toString(), 'local');
  t.is((await c.call('remote.only-b', 'x')).toString(), 'remote.only-b on B: x (unique -none-)');
  // A function no rule names is queued on A as usual, not relayed.
  const other = c.submit('unrelayed', 'x');
  await other.created;
  t.deepEqual(remoteCalls, ['remote.only-b:x']);
  const admin = new AdminClient({ server: a.address });
  t.teardown(() => admin.close());
  t.like((await admin.status()).find((f) => f.name === 'unrelayed'), { total: 1, running: 0 });
});

test('a background job is handed over: B runs it, A forgets it once B acknowledged it', async (t) => {
  const { a, b } = await pair(t);
  const calls: string[] = [];
  const c = client(t, a.address);
  const handle = await c.submitBackground('remote.bg', 'payload', { unique: 'bg-1' });
  t.truthy(handle);
  await waitFor(() => a.server.core.relay!.stats.handedOver === 1, 'the hand-over');
  const adminA = new AdminClient({ server: a.address });
  t.teardown(() => adminA.close());
  t.deepEqual(await adminA.showJobs(), [], 'A holds nothing');
  // B holds the job until a worker comes, under the same unique key.
  const adminB = new AdminClient({ server: b.address });
  t.teardown(() => adminB.close());
  t.deepEqual(await adminB.showUniqueJobs(), ['bg-1']);
  await remoteWorker(t, b.address, ['remote.bg'], calls);
  await waitFor(() => calls.length === 1, 'B\'s worker to run it');
  t.deepEqual(calls, ['remote.bg:payload']);
});

test('B killed (-9) while it runs a relayed foreground job: the job fails visibly on A, with the reason', async (t) => {
  const child = spawn(process.execPath, ['bin/geartrain.js', 'server', '-q', 'memory', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const m = await waitFor(() => /listening on 127\.0\.0\.1:(\d+)\n/.exec(out), 'B ready', 20_000);
  const bAddress = `127.0.0.1:${m[1]}`;
  const a = await startServer(t, { relay: [{ functions: ['remote.*'], servers: [bAddress] }] });
  let started = 0;
  const w = new Worker({ servers: bAddress, concurrency: 2, maxReconnectAttempts: 0 });
  t.teardown(() => w.destroy());
  w.register('remote.hang', async (_job, ctx) => {
    started++;
    await ctx.sendData('before the crash');
    await new Promise(() => {});
  });
  await w.start();
  const c = client(t, a.address);
  const job = c.submit('remote.hang', 'x');
  const raw = await rawPlain(t, a.port);
  raw.send(T.SUBMIT_JOB, 'remote.hang', '', 'y');
  const handle = (await raw.next(T.JOB_CREATED)).text[0];
  await waitFor(() => started === 2, 'both jobs to start on B');
  child.kill('SIGKILL');
  const err = await t.throwsAsync(job.result);
  t.is((err as { code?: string }).code, 'ERR_JOB_EXCEPTION', 'the Client asked for exceptions: it gets the reason');
  t.regex(err!.message, new RegExp(`relay to ${bAddress} failed: .*(lost|closed|ECONNRESET)`, 'i'));
  // The raw client (no exceptions) got its data, then WORK_FAIL.
  t.is((await raw.next(T.WORK_DATA)).text[1], 'before the crash');
  t.deepEqual((await raw.next(T.WORK_FAIL)).text, [handle]);
  const admin = new AdminClient({ server: a.address });
  t.teardown(() => admin.close());
  t.like((await admin.status()).find((f) => f.name === 'remote.hang'), { total: 0, running: 0 });
  t.like(a.server.core.relay!.stats, { relayed: 2, failed: 2 });
});

test('a loop (A relays to B, B relays to A) is refused with RELAY_LOOP; the client learns why', async (t) => {
  const portA = await freePort();
  const b = await startServer(t, { relay: [{ functions: ['loop.*'], servers: [`127.0.0.1:${portA}`] }] });
  const a = await startServer(t, { port: portA, relay: [{ functions: ['loop.*'], servers: [b.address] }] });
  const c = client(t, a.address);
  const err = await t.throwsAsync(c.call('loop.f', 'x', { unique: 'round' }));
  t.is((err as { code?: string }).code, 'ERR_JOB_EXCEPTION');
  t.regex(err!.message, /RELAY_LOOP: job relayed in a loop: server [0-9a-f]{8} already relayed it/);
  t.regex(err!.message, new RegExp(`path ${a.server.core.serverId} > ${b.server.core.serverId} > ${a.server.core.serverId}`));
  t.is(a.server.core.relay!.stats.loopsRefused, 1, 'A, which relayed the job first, refused it');
  // A background job: handed over to B; B's relay back to A is refused, so B keeps it in its queue.
  await c.submitBackground('loop.bg', 'x', { unique: 'bg-round' });
  const adminB = new AdminClient({ server: b.address });
  t.teardown(() => adminB.close());
  await waitFor(async () => (await adminB.status()).find((f) => f.name === 'loop.bg')?.total === 1 && a.server.core.relay!.stats.loopsRefused === 2, 'B to keep the job');
  t.deepEqual(await adminB.showUniqueJobs(), ['bg-round']);
  t.is(a.server.core.jobs.size, 0, 'nothing left on A');
  // B's relay connection to A says what it is, and the path its jobs took.
  const adminA = new AdminClient({ server: a.address });
  t.teardown(() => adminA.close());
  const ids = (await adminA.workers()).map((w) => w.clientId);
  t.true(ids.includes(`geartrain-relay:${a.server.core.serverId},${b.server.core.serverId}`), ids.join(' '));
});

test('when no relay server can be reached, a foreground job fails with the reason', async (t) => {
  const dead = `127.0.0.1:${await refusedPort()}`;
  const a = await startServer(t, { relay: [{ functions: ['x'], servers: [dead] }] });
  const err = await t.throwsAsync(client(t, a.address).call('x', 'p'));
  t.is((err as { code?: string }).code, 'ERR_JOB_EXCEPTION');
  t.regex(err!.message, new RegExp(`relay to ${dead} failed`));
});

test('--relay values: FUNC[,FUNC]=host:port[,host:port]; bad ones are refused naming the flag', (t) => {
  t.deepEqual(parseRelaySpec('resize,thumb*=10.0.0.2:4730,10.0.0.3'), { functions: ['resize', 'thumb*'], servers: ['10.0.0.2:4730', '10.0.0.3'] });
  for (const bad of ['resize', '=h:1', 'f=', 'f=h:99999']) {
    const err = t.throws(() => parseRelaySpec(bad), undefined, bad);
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    t.regex(err!.message, /^--relay/);
  }
});

test('with a result cache on A, a relayed result is kept there: the repeat never reaches B', async (t) => {
  const { a, b } = await pair(t, { resultCache: { maxBytes: 1 << 20, functions: ['remote.*'] } });
  const calls = await remoteWorker(t, b.address, ['remote.cached']);
  const c = client(t, a.address);
  const run = async () => {
    const job = c.submit('remote.cached', 'p', { unique: 'once' });
    const updates: string[] = [];
    for await (const u of job) updates.push(describe(u));
    return { result: (await job.result).toString(), updates };
  };
  const first = await run();
  t.deepEqual(await run(), { result: first.result, updates: ['data part1,', 'warning warn,', 'data part2'] }, 'data and warnings replayed, not the status');
  t.is(calls.length, 1);
  t.is(a.server.core.relay!.stats.relayed, 1);
});
