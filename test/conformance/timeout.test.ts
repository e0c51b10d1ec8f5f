/**
 * Conformance, CAN_DO_TIMEOUT (gearmand-notes §3): milliseconds with a floor of 1000 ms; armed at
 * assignment; on expiry the job is requeued as for a lost worker, and the worker is not told.
 * geartrain keeps one timer per assignment, cancelled by the terminal packet (gearmand #301).
 * These are the slow tests of the suite: each waits out one 1000 ms timeout. The first runs on
 * both servers; the others run here against gearmand only, and geartrain's side of each runs on
 * a fake clock in test/server/timers.test.ts.
 */
import { T, conformance, conformanceOf, eventually, expectError, getStatus, grab, showJobs, status, submit, sync, worker } from './fixture.ts';

const TIMEOUT_MS = 1000;

conformance('a silent worker past its CAN_DO_TIMEOUT loses the job: it is requeued and another worker finishes it', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'slow', 'x');
  const w1 = await h.connect();
  w1.send(T.CAN_DO_TIMEOUT, 'f', String(TIMEOUT_MS));
  const assignedAt = Date.now();
  t.is((await grab(w1)).text[0], handle);
  w1.send(T.WORK_STATUS, handle, '1', '2');
  await c.next(T.WORK_STATUS);
  await eventually(async () => (await showJobs(h)).get(handle)?.[0] === 1, 'the timeout requeue', 5000);
  // Not before the timeout (a lower bound only: a slow machine can only make this later).
  t.true(Date.now() - assignedAt >= TIMEOUT_MS - 100, `requeued after ${Date.now() - assignedAt} ms`);
  t.deepEqual(await getStatus(c, handle), [handle, '1', '0', '0', '0']);
  // The worker is not told, and its late result is refused.
  await w1.expectNothing(50);
  w1.send(T.WORK_COMPLETE, handle, 'too late');
  await expectError(t, w1, 'JOB_NOT_FOUND', 'Job given in work result not found');
  const w2 = await worker(h, 'f');
  t.is((await grab(w2)).text[0], handle);
  w2.send(T.WORK_COMPLETE, handle, 'in time');
  t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [handle, 'in time']);
  await c.expectNothing(50);
});

conformanceOf(['gearmand'], 'a job completed within CAN_DO_TIMEOUT is not requeued afterwards', async (t, h) => {
  const c = await h.connect();
  const fast = await submit(c, 'f', 'fast', 'x');
  const w = await h.connect();
  w.send(T.CAN_DO_TIMEOUT, 'f', String(TIMEOUT_MS));
  t.is((await grab(w)).text[0], fast);
  // A sentinel job under the same timeout, assigned just after, shows when the first one's
  // timeout has certainly passed: once the sentinel is requeued, wait no more.
  const sentinelWorker = await h.connect();
  sentinelWorker.send(T.CAN_DO_TIMEOUT, 'sentinel', String(TIMEOUT_MS));
  const sentinel = await submit(c, 'sentinel', 's', 'x');
  t.is((await grab(sentinelWorker)).text[0], sentinel);
  w.send(T.WORK_COMPLETE, fast, 'quick');
  t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [fast, 'quick']);
  await eventually(async () => (await showJobs(h)).get(sentinel)?.[0] === 1, 'the sentinel to time out', 5000);
  await sync(w);
  // Observed on gearmand 1.1.20 (#301): the connection's stale timer fires on the finished job
  // and drives the running count to -1, printed as 4294967295. geartrain keeps one timer per
  // assignment, cancelled by the terminal packet: running stays 0 (test/server/timers.test.ts).
  t.deepEqual((await status(h)).get('f'), { total: 0, running: 4294967295, workers: 1 });
  await c.expectNothing(50);
  await w.expectNothing(50);
  // The worker is still served normally.
  const next = await submit(c, 'f', 'next', 'x');
  t.is((await grab(w)).text[0], next);
  w.send(T.WORK_COMPLETE, next, 'ok');
  t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [next, 'ok']);
});

conformanceOf(['gearmand'], 'a CAN_DO_TIMEOUT requeue counts toward --job-retries', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await h.connect();
  w.send(T.CAN_DO_TIMEOUT, 'f', String(TIMEOUT_MS));
  t.is((await grab(w)).text[0], handle);
  // With --job-retries=1 the first timeout is the last attempt.
  t.deepEqual((await c.next(T.WORK_FAIL, 5000)).text, [handle]);
  t.false((await showJobs(h)).has(handle));
}, { jobRetries: 1 });

conformanceOf(['gearmand'], 'a CAN_DO_TIMEOUT below 1000 ms is raised to 1000 ms', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await h.connect();
  w.send(T.CAN_DO_TIMEOUT, 'f', '100');
  const assignedAt = Date.now();
  t.is((await grab(w)).text[0], handle);
  await eventually(async () => (await showJobs(h)).get(handle)?.[0] === 1, 'the timeout requeue', 5000);
  t.true(Date.now() - assignedAt >= TIMEOUT_MS - 100, `requeued after ${Date.now() - assignedAt} ms`);
});
