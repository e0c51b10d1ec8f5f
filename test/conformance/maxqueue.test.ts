/**
 * Conformance, `maxqueue` (gearmand-notes §2, §3 "Maxqueue"): a new job is refused with ERROR
 * QUEUE_ERROR "Job queue is full" when max[priority] > 0 and the function's jobs (queued + running,
 * every priority) reach it. Coalescing submits are never refused.
 */
import { T, conformance, expectError, grab, submit, sync, worker } from './fixture.ts';

const FULL = 'Job queue is full';

conformance('maxqueue f 1: the second job is refused, a coalescing submit is not; maxqueue f 0 lifts the limit', async (t, h) => {
  await sync(await worker(h, 'f')); // the function exists from its first CAN_DO
  t.is(await h.admin('maxqueue f 1'), 'OK\r\n');
  const c = await h.connect();
  const first = await submit(c, 'f', 'one', 'x');
  c.send(T.SUBMIT_JOB, 'f', 'two', 'x');
  await expectError(t, c, 'QUEUE_ERROR', FULL);
  t.is(await submit(c, 'f', 'one', 'x'), first, 'coalescing is not refused');
  for (const type of [T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_LOW_BG]) {
    c.send(type, 'f', '', 'x');
    await expectError(t, c, 'QUEUE_ERROR', FULL);
  }
  t.is(await h.admin('maxqueue f 0'), 'OK\r\n');
  await submit(c, 'f', 'three', 'x');
  t.is(await h.admin('maxqueue f 1'), 'OK\r\n');
  c.send(T.SUBMIT_JOB, 'f', 'four', 'x');
  await expectError(t, c, 'QUEUE_ERROR', FULL);
  // With no value the limit is 0: unlimited.
  t.is(await h.admin('maxqueue f'), 'OK\r\n');
  await submit(c, 'f', 'five', 'x');
});

conformance('a running job counts toward the limit', async (t, h) => {
  const w = await worker(h, 'f');
  await sync(w);
  t.is(await h.admin('maxqueue f 1'), 'OK\r\n');
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  t.is((await grab(w)).text[0], handle);
  c.send(T.SUBMIT_JOB, 'f', '', 'y');
  await expectError(t, c, 'QUEUE_ERROR', FULL);
  w.send(T.WORK_COMPLETE, handle, 'r');
  await c.next(T.WORK_COMPLETE);
  await submit(c, 'f', '', 'z');
});

conformance('maxqueue g 5 0 1 sets HIGH, NORMAL and LOW limits against the function\'s total', async (t, h) => {
  const c = await h.connect();
  await submit(c, 'g', '', 'creates g');
  t.is(await h.admin('maxqueue g 5 0 1'), 'OK\r\n');
  await submit(c, 'g', '', 'normal is unlimited'); // total 2
  c.send(T.SUBMIT_JOB_LOW, 'g', '', 'x');
  await expectError(t, c, 'QUEUE_ERROR', FULL); // LOW max 1, total 2
  await submit(c, 'g', '', 'h3', T.SUBMIT_JOB_HIGH);
  await submit(c, 'g', '', 'h4', T.SUBMIT_JOB_HIGH);
  await submit(c, 'g', '', 'h5', T.SUBMIT_JOB_HIGH); // total 5
  c.send(T.SUBMIT_JOB_HIGH, 'g', '', 'x');
  await expectError(t, c, 'QUEUE_ERROR', FULL);
  c.send(T.SUBMIT_JOB_HIGH_BG, 'g', '', 'x');
  await expectError(t, c, 'QUEUE_ERROR', FULL);
  await submit(c, 'g', '', 'normal still unlimited');
});

conformance('maxqueue for a function the server does not know yet answers OK and has no effect', async (t, h) => {
  t.is(await h.admin('maxqueue later 1'), 'OK\r\n');
  const c = await h.connect();
  await submit(c, 'later', '', '1');
  await submit(c, 'later', '', '2');
  t.pass();
});

conformance('bare maxqueue answers ERR INVALID_ARGUMENTS', async (t, h) => {
  t.is(
    await h.admin('maxqueue'),
    'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+maxqueue\r\n',
  );
});
