/**
 * geartrain's server timers on a fake clock (test/helpers/fake-clock.ts): CAN_DO_TIMEOUT and
 * epoch jobs, to the millisecond and without waiting. The conformance suite keeps one real-time
 * run of each against gearmand and geartrain (conformance/timeout.test.ts, epoch.test.ts).
 */
import test from 'ava';
import { T, expectError, getStatus, grab, setup, showJobs, status, submit, sync, worker, type RawClient } from '../conformance/fixture.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

async function rig(t: Parameters<typeof setup>[0], jobRetries?: number) {
  const clock = new FakeClock();
  const h = await setup(t, 'geartrain', { geartrain: { clock }, ...(jobRetries !== undefined ? { jobRetries } : {}) });
  return { clock, h };
}

/** Retries of `handle` in `show jobs` (1 once a CAN_DO_TIMEOUT took it back). */
async function retries(h: Awaited<ReturnType<typeof rig>>['h'], handle: string): Promise<number | undefined> {
  return (await showJobs(h)).get(handle)?.[0];
}

async function timedWorker(h: Awaited<ReturnType<typeof rig>>['h'], fn: string, ms: string): Promise<RawClient> {
  const w = await h.connect();
  w.send(T.CAN_DO_TIMEOUT, fn, ms);
  return w;
}

test('CAN_DO_TIMEOUT: the job is taken back at its timeout to the millisecond, not before, and the worker is not told', async (t) => {
  const { clock, h } = await rig(t);
  const c = await h.connect();
  const handle = await submit(c, 'f', 'slow', 'x');
  const w1 = await timedWorker(h, 'f', '1500');
  t.is((await grab(w1)).text[0], handle);
  clock.advance(1499);
  t.is(await retries(h, handle), 0, 'still running 1 ms before the timeout');
  clock.advance(1);
  t.is(await retries(h, handle), 1, 'requeued at the timeout');
  t.deepEqual(await getStatus(c, handle), [handle, '1', '0', '0', '0']);
  await w1.expectNothing(50);
  w1.send(T.WORK_COMPLETE, handle, 'too late');
  await expectError(t, w1, 'JOB_NOT_FOUND', 'Job given in work result not found');
  const w2 = await worker(h, 'f');
  t.is((await grab(w2)).text[0], handle);
  w2.send(T.WORK_COMPLETE, handle, 'in time');
  t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [handle, 'in time']);
});

test('CAN_DO_TIMEOUT: a job completed in time leaves no timer behind, and its worker is served as before', async (t) => {
  const { clock, h } = await rig(t);
  const c = await h.connect();
  const fast = await submit(c, 'f', 'fast', 'x');
  const w = await timedWorker(h, 'f', '1000');
  t.is((await grab(w)).text[0], fast);
  clock.advance(999);
  w.send(T.WORK_COMPLETE, fast, 'quick');
  t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [fast, 'quick']);
  t.is(clock.pending, 0, 'the terminal packet cancelled the timer');
  clock.advance(10_000);
  await sync(w);
  t.deepEqual((await status(h)).get('f'), { total: 0, running: 0, workers: 1 });
  const next = await submit(c, 'f', 'next', 'x');
  t.is((await grab(w)).text[0], next);
});

test('CAN_DO_TIMEOUT: below 1000 ms is raised to 1000 ms', async (t) => {
  const { clock, h } = await rig(t);
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await timedWorker(h, 'f', '100');
  t.is((await grab(w)).text[0], handle);
  clock.advance(999);
  t.is(await retries(h, handle), 0);
  clock.advance(1);
  t.is(await retries(h, handle), 1);
});

test('CAN_DO_TIMEOUT: a timeout requeue counts toward --job-retries', async (t) => {
  const { clock, h } = await rig(t, 1);
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await timedWorker(h, 'f', '1000');
  t.is((await grab(w)).text[0], handle);
  clock.advance(1000);
  t.deepEqual((await c.next(T.WORK_FAIL)).text, [handle]);
  t.false((await showJobs(h)).has(handle));
});

test('epoch: a sleeping worker is woken at the job\'s second, not a millisecond before, and jobs come due in time order', async (t) => {
  const { clock, h } = await rig(t);
  const w = await worker(h, 'e');
  w.send(T.PRE_SLEEP);
  await sync(w);
  const c = await h.connect();
  const at = Math.floor(clock.now() / 1000) + 60;
  const submitEpoch = async (when: number, unique: string) => {
    c.send(T.SUBMIT_JOB_EPOCH, 'e', unique, String(when), unique);
    return (await c.next(T.JOB_CREATED)).text[0]!;
  };
  const later = await submitEpoch(at + 30, 'later');
  const first = await submitEpoch(at, 'first');
  t.is((await grab(w)).type, T.NO_JOB);
  clock.advance(at * 1000 - clock.now() - 1);
  w.send(T.PRE_SLEEP);
  await sync(w);
  await w.expectNothing(50);
  clock.advance(1);
  await w.next(T.NOOP);
  t.is((await grab(w)).text[0], first);
  t.is((await grab(w)).type, T.NO_JOB, 'the later job waits for its own time');
  clock.advance(30_000);
  t.is((await grab(w)).text[0], later);
});

test('epoch: a job cancelled before its time never runs and holds no timer', async (t) => {
  const { clock, h } = await rig(t);
  const c = await h.connect();
  const when = Math.floor(clock.now() / 1000) + 3600;
  c.send(T.SUBMIT_JOB_EPOCH, 'e', 'gone', String(when), 'x');
  const handle = (await c.next(T.JOB_CREATED)).text[0]!;
  t.is(clock.pending, 1);
  t.is(await h.admin(`cancel job ${handle}`), 'OK\r\n');
  t.is(clock.pending, 0);
  clock.advance(7200_000);
  const w = await worker(h, 'e');
  t.is((await grab(w)).type, T.NO_JOB);
});
