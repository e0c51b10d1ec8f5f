/**
 * Conformance, SUBMIT_JOB_EPOCH (gearmand-notes §3 "Epoch jobs"): a NORMAL background job that may
 * not run before its unix time. geartrain departs on purpose (DESIGN.md): a due job wakes sleeping
 * workers on time (a timer); gearmand 1.1 waits for some unrelated wakeup (#101).
 */
import { T, conformance, eventually, grab, showJobs, sync, type RawClient } from './fixture.ts';

async function submitEpoch(c: RawClient, fn: string, unique: string, epoch: string, data: string): Promise<string> {
  c.send(T.SUBMIT_JOB_EPOCH, fn, unique, epoch, data);
  return (await c.next(T.JOB_CREATED)).text[0]!;
}

/** GRAB_JOB_UNIQ, skipping NOOPs that were already on their way. */
async function grabPastNoops(w: RawClient) {
  w.send(T.GRAB_JOB_UNIQ);
  for (;;) {
    const p = await w.next();
    if (p.type !== T.NOOP) return p;
  }
}

conformance('a future epoch job is not handed out early, and becomes runnable at its time', async (t, h) => {
  const w = await h.connect();
  w.send(T.CAN_DO, 'e');
  w.send(T.PRE_SLEEP);
  await sync(w);
  const c = await h.connect();
  // 1.5 to 2.5 s ahead, whole seconds: room for the checks below on a loaded machine.
  const when = Math.ceil((Date.now() + 1500) / 1000);
  const handle = await submitEpoch(c, 'e', 'ep', String(when), 'later');
  t.is((await grabPastNoops(w)).type, T.NO_JOB, 'not before its time');
  t.true(Date.now() < when * 1000, 'the check above ran before the epoch');
  const jobs = await showJobs(h);
  t.deepEqual(jobs.get(handle)?.slice(0, 2), [0, 0]);
  const prio = await h.admin('prioritystatus');
  t.true(prio.split('\n').includes('e\t0\t1\t0\t1'), `queued as NORMAL: ${JSON.stringify(prio)}`);
  w.send(T.PRE_SLEEP);
  await sync(w);
  if (h.kind === 'gearmand') {
    // gearmand 1.1 has no timer (#101): the sleeping worker is not woken when the time comes,
    // but a GRAB after that time gets the job.
    await eventually(() => Date.now() >= when * 1000 + 150, 'the epoch to pass');
    await w.expectNothing(100);
    t.deepEqual((await grab(w)).text, [handle, 'e', 'ep', 'later']);
  } else {
    await w.next(T.NOOP, when * 1000 - Date.now() + 2000);
    t.true(Date.now() >= when * 1000 - 50, `woken ${when * 1000 - Date.now()} ms early`);
    t.deepEqual((await grab(w)).text, [handle, 'e', 'ep', 'later']);
  }
});

conformance('an epoch in the past runs at once: sleeping workers are woken', async (t, h) => {
  const w = await h.connect();
  w.send(T.CAN_DO, 'e');
  w.send(T.PRE_SLEEP);
  await sync(w);
  const c = await h.connect();
  const handle = await submitEpoch(c, 'e', '', String(Math.floor(Date.now() / 1000) - 100), 'past');
  await w.next(T.NOOP);
  t.deepEqual((await grab(w)).text, [handle, 'e', '', 'past']);
});

conformance('an epoch job is a background job: the submitter gets no result packets', async (t, h) => {
  const c = await h.connect();
  const handle = await submitEpoch(c, 'e', 'bg-epoch', String(Math.floor(Date.now() / 1000) - 1), 'x');
  const w = await h.connect();
  w.send(T.CAN_DO, 'e');
  t.is((await grab(w)).text[0], handle);
  w.send(T.WORK_DATA, handle, 'd');
  w.send(T.WORK_COMPLETE, handle, 'r');
  await sync(w);
  await c.expectNothing(100);
});

conformance('a non-numeric epoch reads as 0: the job runs at once', async (t, h) => {
  const c = await h.connect();
  const handle = await submitEpoch(c, 'e', '', 'soon', 'x');
  const w = await h.connect();
  w.send(T.CAN_DO, 'e');
  t.is((await grab(w)).text[0], handle);
});

conformance('an epoch that overflows a 64-bit integer makes the server drop the connection', async (t, h) => {
  const c = await h.connect();
  c.send(T.SUBMIT_JOB_EPOCH, 'e', '', '99999999999999999999999', 'x');
  await c.closedByServer();
  t.true(c.isClosed);
});
