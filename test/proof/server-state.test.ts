/**
 * State the job server must not keep, and limits it must not trip over, found by the fuzzer
 * (scripts/proof/fuzz.ts). Each test drives an in-process server through raw sockets and checks
 * what the server holds afterwards through its live view (`JobServer.core`) or its admin listings.
 */
import test from 'ava';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { waitFor } from '../helpers/ports.ts';
import { inProcessServer, rawClientOf } from '../helpers/in-process-server.ts';

const utf8AsLatin1 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

test('foreground jobs whose clients left are not kept in the run queue while nobody serves the function', async (t) => {
  const server = await inProcessServer(t);
  const client = await rawClientOf(t, server);
  const N = 5000;
  for (let i = 0; i < N; i++) client.send(T.SUBMIT_JOB, 'nobody.serves.this', '', `payload ${i}`);
  const created = await client.nextN(N, 20_000);
  t.true(created.every((p) => p.type === T.JOB_CREATED));
  await client.close();
  await waitFor(() => server.core.jobs.size === 0, 'the abandoned jobs to be dropped');
  const fn = server.core.functions.get('nobody.serves.this')!;
  t.is(fn.total, 0, 'status counts no job');
  // What the queue holds must be bounded by live jobs, not by how many came and went.
  const held = fn.queues.reduce((n, q) => n + q.length, 0);
  t.true(held <= 1024, `the run queues still hold ${held} entries for ${N} abandoned jobs`);
});

test('a cancelled epoch job is released at once, not when its time comes', async (t) => {
  const server = await inProcessServer(t);
  const client = await rawClientOf(t, server);
  const admin = await rawClientOf(t, server);
  const tomorrow = String(Math.floor(Date.now() / 1000) + 86_400);
  client.send(T.SUBMIT_JOB_EPOCH, 'later', 'u1', tomorrow, 'one');
  client.send(T.SUBMIT_JOB_EPOCH, 'later', 'u2', tomorrow, 'two');
  const [a, b] = await client.nextN(2);
  t.is(server.core.scheduledCount, 2);
  t.is(await admin.admin(`cancel job ${a!.text[0]}`), 'OK\r\n');
  t.is(server.core.scheduledCount, 1, 'cancel job releases the scheduled job');
  t.is(await admin.admin('drop function later'), 'OK\r\n');
  t.is(server.core.scheduledCount, 0, `drop function releases its scheduled jobs (${b!.text[0]})`);
});

test('CAN_DO_TIMEOUT beyond what a timer can hold does not take the job back after 1 ms', async (t) => {
  const server = await inProcessServer(t);
  const a = await rawClientOf(t, server);
  const b = await rawClientOf(t, server);
  const client = await rawClientOf(t, server);
  // 99999999999 ms (about 3 years): more than setTimeout's 2^31-1, which Node turns into 1 ms.
  a.send(T.CAN_DO_TIMEOUT, 'slow', '99999999999');
  client.send(T.SUBMIT_JOB, 'slow', '', 'work');
  const handle = (await client.next(T.JOB_CREATED)).text[0]!;
  a.send(T.GRAB_JOB);
  t.is((await a.next(T.JOB_ASSIGN)).text[0], handle);
  // A second worker goes to sleep: it must not be woken for a job that is still running on A.
  b.send(T.CAN_DO, 'slow');
  b.send(T.PRE_SLEEP);
  await b.expectNothing(150);
  client.send(T.GET_STATUS, handle);
  t.deepEqual((await client.next(T.STATUS_RES)).text, [handle, '1', '1', '0', '0'], 'still running on A');
  a.send(T.WORK_COMPLETE, handle, 'done');
  t.deepEqual((await client.next(T.WORK_COMPLETE)).text, [handle, 'done']);
});

test('function names and client ids cannot forge lines in the admin listings', async (t) => {
  const server = await inProcessServer(t);
  const worker = await rawClientOf(t, server);
  const admin = await rawClientOf(t, server);
  worker.send(T.SET_CLIENT_ID, 'w1\n99 10.0.0.1 forged-id : forged.fn');
  worker.send(T.CAN_DO, 'real\t0\t0\t1\nforged\t7\t7\t7');
  worker.send(T.CAN_DO, 'ok.fn');
  await waitFor(async () => (await admin.admin('status')).includes('ok.fn'), 'the registrations');
  const status = (await admin.admin('status')).split('\n');
  t.false(status.some((l) => l.startsWith('forged')), `status: ${JSON.stringify(status)}`);
  const workers = (await admin.admin('workers')).split('\n');
  t.false(workers.some((l) => l.startsWith('99 10.0.0.1 forged-id')), `workers: ${JSON.stringify(workers)}`);
});

test('admin commands name functions by the same bytes as the binary protocol (UTF-8)', async (t) => {
  const server = await inProcessServer(t);
  const worker = await rawClientOf(t, server);
  const admin = await rawClientOf(t, server);
  worker.send(T.CAN_DO, 'fünf');
  await waitFor(async () => (await admin.admin('status')).startsWith(utf8AsLatin1('fünf\t')), 'fünf registered');
  await worker.close();
  await waitFor(async () => (await admin.admin('status')).startsWith(utf8AsLatin1('fünf\t0\t0\t0')), 'the worker gone');
  t.is(await admin.admin('drop function fünf'), 'OK\r\n');
  t.is(await admin.admin('create function zwölf'), 'OK\r\n');
  t.is(await admin.admin('status'), utf8AsLatin1('zwölf\t0\t0\t0\n.\n'));
});
