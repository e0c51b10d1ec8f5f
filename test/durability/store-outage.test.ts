/**
 * The database behind the queue goes away while the job server runs. A background submission
 * then gets ERROR QUEUE_ERROR with the database's reason (never a JOB_CREATED for a job that is
 * not stored), the server keeps serving, and service resumes when the database returns.
 *
 * PostgreSQL is taken away with a TCP proxy the test stops and starts (the machine's PostgreSQL
 * is never touched); Redis is a private redis-server, killed and restarted, with an fsynced AOF
 * so that what it acknowledged survives its own restart.
 */
import test from 'ava';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { describePacket, type RawClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/ports.ts';
import { startRedisServer, TcpProxy } from '../store/helpers.ts';
import { functionStatus } from './helpers/admin.ts';
import { makePlace } from './helpers/places.ts';
import { RecordingWorker } from './helpers/recording-worker.ts';
import { startServer } from './helpers/server-process.ts';
import { connect, submitAcked, submitAll, type BackgroundJob } from './helpers/submit.ts';

const fn = 'outage';
const job = (unique: string): BackgroundJob => ({ fn, unique, data: `payload ${unique}` });

const FAILED_REMOVAL = /removing \d+ finished job\(s\) failed/g;

/**
 * Watch the server's log for `ms` while its store is away: how many failed removal attempts it
 * logged in that time, the most one retry per 20 ms would allow, and how many it logged in all
 * (at least one: the failure must be reported). Retrying is fine; spinning on a dead database,
 * and flooding the log, is not.
 */
async function removalRetries(output: () => string, ms: number): Promise<{ attempts: number; allowed: number; logged: number }> {
  const count = () => (output().match(FAILED_REMOVAL) ?? []).length;
  const before = count();
  const started = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  const logged = count();
  return { attempts: logged - before, allowed: 5 + Math.ceil((Date.now() - started) / 20), logged };
}

/** Submit until a JOB_CREATED comes back; every reply before it must be ERROR QUEUE_ERROR. */
async function submitUntilStored(c: RawClient, unique: string, timeoutMs: number): Promise<string[]> {
  const refusals: string[] = [];
  await waitFor(
    async () => {
      const [reply] = await submitAll(c, [job(unique)]);
      if (reply!.type === T.JOB_CREATED) return true;
      if (reply!.type !== T.ERROR || reply!.text[0] !== 'QUEUE_ERROR') throw new Error(`unexpected ${describePacket(reply!)}`);
      refusals.push(reply!.text[1]!);
      return false;
    },
    `a submission of ${unique} to be stored`,
    timeoutMs,
    100,
  );
  return refusals;
}

test('postgres unreachable: submit gets QUEUE_ERROR with the reason, the server keeps serving, the first submit after the database returns is stored', async (t) => {
  const proxy = new TcpProxy(5432);
  await proxy.start();
  t.teardown(() => proxy.stop());
  const place = await makePlace(t, 'postgres', { postgresUrl: `postgres://postgres@127.0.0.1:${proxy.port}/test` });
  const server = await startServer(t, place.args);
  const client = await connect(t, server.port);
  await submitAcked(client, [job('before')]);

  await proxy.stop();
  const refused = await submitAll(client, [job('during-1'), job('during-2')]);
  for (const reply of refused) {
    t.is(reply.type, T.ERROR, describePacket(reply));
    t.is(reply.text[0], 'QUEUE_ERROR');
    t.regex(reply.text[1]!, /^postgres: add \d+ job\(s\) to \S+: connect ECONNREFUSED 127\.0\.0\.1:\d+$/, 'the reason names the store and the connection failure');
  }
  // The server is alive and still serves: admin commands, and the jobs it already holds.
  t.true(server.alive);
  t.deepEqual(await functionStatus(server.port, fn), { total: 1, running: 0 });
  const worker = await RecordingWorker.start(t, server.port, [fn]);
  await worker.waitForRuns(1);
  t.deepEqual(worker.uniques, ['before']);

  await proxy.start();
  await submitAcked(client, [job('after')]);
  await worker.waitForRuns(2);
  t.deepEqual(worker.uniques, ['before', 'after'], 'refused jobs never run');
  await worker.expectNoMoreJobs();
  // 'before' completed while the database was away: its removal is retried once it is back.
  await waitFor(async () => (await place.storedUniques()).length === 0, 'both rows to be removed', 15_000);
});

test('postgres: a job completed while the database is away is not replayed once the removal went through', async (t) => {
  const proxy = new TcpProxy(5432);
  await proxy.start();
  t.teardown(() => proxy.stop());
  const place = await makePlace(t, 'postgres', { postgresUrl: `postgres://postgres@127.0.0.1:${proxy.port}/test` });
  let server = await startServer(t, [...place.args, '--verbose', 'ERROR']);
  const client = await connect(t, server.port);
  await submitAcked(client, [job('a'), job('b')]);

  await proxy.stop();
  const worker = await RecordingWorker.start(t, server.port, [fn], { limit: 1 });
  await worker.waitForRuns(1);
  const { attempts, allowed, logged } = await removalRetries(() => server.output(), 300);
  t.true(logged >= 1, 'the failed removal is logged');
  t.true(attempts <= allowed, `${attempts} failed removal attempts in 300 ms while the database was away (at most ${allowed} expected)`);

  await proxy.start();
  await waitFor(async () => (await place.storedUniques()).join() === 'b', "a's row to be removed once the database is back", 15_000);
  await server.kill9();
  server = await startServer(t, place.args);
  const after = await RecordingWorker.start(t, server.port, [fn]);
  await after.waitForRuns(1);
  await after.expectNoMoreJobs();
  t.deepEqual(after.uniques, ['b']);
});

test('redis unreachable: submit gets QUEUE_ERROR with the reason, the server keeps serving, and storing resumes when Redis is back', async (t) => {
  const redis = await startRedisServer(t, ['--appendonly', 'yes', '--appendfsync', 'always']);
  const place = await makePlace(t, 'redis', { redisUrl: redis.url });
  let server = await startServer(t, [...place.args, '--verbose', 'ERROR']);
  const client = await connect(t, server.port);
  await submitAcked(client, [job('done-during'), job('before')]);

  await redis.kill();
  const [refused] = await submitAll(client, [job('during')]);
  t.is(refused!.type, T.ERROR, describePacket(refused!));
  t.is(refused!.text[0], 'QUEUE_ERROR');
  t.regex(refused!.text[1]!, /^redis: add 1 job\(s\) under \S+: .+/, 'the reason names the store and what failed');
  t.true(server.alive);
  t.deepEqual(await functionStatus(server.port, fn), { total: 2, running: 0 });
  const worker = await RecordingWorker.start(t, server.port, [fn], { limit: 1 });
  await worker.waitForRuns(1);
  t.deepEqual(worker.uniques, ['done-during']);
  const { attempts, allowed, logged } = await removalRetries(() => server.output(), 300);
  t.true(logged >= 1, 'the failed removal is logged');
  t.true(attempts <= allowed, `${attempts} failed removal attempts in 300 ms while Redis was away (at most ${allowed} expected)`);

  await redis.restart();
  const refusals = await submitUntilStored(client, 'after', 10_000);
  t.log(`${refusals.length} refusal(s) while reconnecting`);
  await waitFor(
    async () => (await place.storedUniques()).join() === 'after,before',
    'Redis to hold what it acknowledged (AOF, fsync always) minus the job completed meanwhile',
    10_000,
  );

  // Both acknowledged jobs survive a crash of the job server too; the refused one does not exist.
  await server.kill9();
  server = await startServer(t, place.args);
  const after = await RecordingWorker.start(t, server.port, [fn]);
  await after.waitForRuns(2);
  await after.expectNoMoreJobs();
  t.deepEqual(after.uniques, ['before', 'after']);
});

test('postgres: SIGTERM while the database is away stops the server promptly; the job whose removal failed runs again after the restart', async (t) => {
  const proxy = new TcpProxy(5432);
  await proxy.start();
  t.teardown(() => proxy.stop());
  const place = await makePlace(t, 'postgres', { postgresUrl: `postgres://postgres@127.0.0.1:${proxy.port}/test` });
  const server = await startServer(t, [...place.args, '--log-file', 'none']);
  const client = await connect(t, server.port);
  await submitAcked(client, [job('finished-while-away')]);
  await proxy.stop();
  const worker = await RecordingWorker.start(t, server.port, [fn]);
  await worker.waitForRuns(1);

  server.signal('SIGTERM');
  const stopped = await Promise.race([server.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 5000))]);
  t.true(stopped, 'still running 5 s after SIGTERM (waiting for a removal that cannot commit?)');
  await server.kill9();

  // The removal never reached the database: at least once means the job runs again.
  await proxy.start();
  const again = await startServer(t, place.args);
  const after = await RecordingWorker.start(t, again.port, [fn]);
  await after.waitForRuns(1);
  t.deepEqual(after.uniques, ['finished-while-away']);
});
