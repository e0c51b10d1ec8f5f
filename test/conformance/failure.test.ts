/**
 * Conformance, lost workers and clients (gearmand-notes §3 "Worker lost", "Client disconnect",
 * §9 "Scheduling and failure"): requeue, --job-retries, CANT_DO / RESET_ABILITIES while holding a
 * job, and what becomes of jobs whose submitter leaves.
 */
import { T, conformance, eventually, expectError, getStatus, grab, showJobs, status, submit, sync, worker } from './fixture.ts';

const NOT_FOUND_RESULT = 'Job given in work result not found';

conformance('a worker that drops mid-job: the job is requeued with NUM/DEN reset, and the client still gets the result', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'u', 'payload');
  const w1 = await worker(h, 'f');
  t.is((await grab(w1)).text[0], handle);
  w1.send(T.WORK_STATUS, handle, '3', '10');
  t.deepEqual((await c.next(T.WORK_STATUS)).text, [handle, '3', '10']);
  await w1.close();
  await eventually(async () => (await getStatus(c, handle))[2] === '0', 'the job to be requeued');
  t.deepEqual(await getStatus(c, handle), [handle, '1', '0', '0', '0']);
  t.deepEqual((await showJobs(h)).get(handle)?.[0], 1, 'retries counted');
  const w2 = await worker(h, 'f');
  t.deepEqual((await grab(w2)).text, [handle, 'f', 'u', 'payload']);
  w2.send(T.WORK_COMPLETE, handle, 'done');
  t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [handle, 'done']);
});

conformance('a requeued job goes to the tail of its priority list', async (t, h) => {
  const c = await h.connect();
  const first = await submit(c, 'f', '', 'first');
  const w1 = await worker(h, 'f');
  t.is((await grab(w1)).text[0], first);
  const second = await submit(c, 'f', '', 'second');
  await w1.close();
  await eventually(async () => (await getStatus(c, first))[2] === '0', 'the job to be requeued');
  const w2 = await worker(h, 'f');
  t.is((await grab(w2)).text[0], second);
  t.is((await grab(w2)).text[0], first);
});

conformance('without --job-retries a job survives any number of lost workers', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  for (let i = 1; i <= 3; i++) {
    const w = await worker(h, 'f');
    t.is((await grab(w)).text[0], handle);
    await w.close();
    await eventually(async () => (await showJobs(h)).get(handle)?.[0] === i, `retries = ${i}`);
  }
  const w = await worker(h, 'f');
  t.is((await grab(w)).text[0], handle);
});

conformance(
  '--job-retries=2: after the second lost worker the client gets WORK_FAIL and the job is gone',
  async (t, h) => {
    const c = await h.connect();
    const handle = await submit(c, 'f', '', 'x');
    const w1 = await worker(h, 'f');
    t.is((await grab(w1)).text[0], handle);
    await w1.close();
    await eventually(async () => (await showJobs(h)).get(handle)?.[0] === 1, 'the first retry');
    await c.expectNothing(50);
    const w2 = await worker(h, 'f');
    t.is((await grab(w2)).text[0], handle);
    await w2.close();
    t.deepEqual((await c.next(T.WORK_FAIL)).text, [handle]);
    t.false((await showJobs(h)).has(handle));
    t.deepEqual(await getStatus(c, handle), [handle, '0', '0', '0', '0']);
    const w3 = await worker(h, 'f');
    t.is((await grab(w3)).type, T.NO_JOB);
  },
  { jobRetries: 2 },
);

conformance('CANT_DO for a function while holding its job requeues the job', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await worker(h, 'f');
  t.is((await grab(w)).text[0], handle);
  w.send(T.CANT_DO, 'f');
  await sync(w);
  t.deepEqual(await getStatus(c, handle), [handle, '1', '0', '0', '0']);
  t.is((await showJobs(h)).get(handle)?.[0], 1);
  // The old holder's result no longer counts.
  w.send(T.WORK_COMPLETE, handle, 'late');
  await expectError(t, w, 'JOB_NOT_FOUND', NOT_FOUND_RESULT);
  await c.expectNothing(50);
  w.send(T.CAN_DO, 'f');
  t.is((await grab(w)).text[0], handle);
});

conformance('RESET_ABILITIES while holding a job requeues it and empties the worker\'s `workers` line', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await worker(h, 'f', 'g');
  w.send(T.SET_CLIENT_ID, 'resetter');
  t.is((await grab(w)).text[0], handle);
  w.send(T.RESET_ABILITIES);
  await sync(w);
  t.deepEqual(await getStatus(c, handle), [handle, '1', '0', '0', '0']);
  const line = (await h.admin('workers')).split('\n').find((l) => / resetter :/.test(l));
  t.regex(line ?? '', /^\d+ \S+ resetter :$/);
  t.is((await grab(w)).type, T.NO_JOB);
  const rows = await status(h);
  t.is(rows.get('f')?.workers, 0);
  t.is(rows.get('g')?.workers, 0);
});

conformance('a client that leaves with a queued foreground job: the job is never assigned and leaves the counts', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'orphan', 'x');
  await c.close();
  const observer = await h.connect();
  // The server has handled the disconnect once no client waits for the job any more.
  await eventually(async () => {
    observer.send(T.GET_STATUS_UNIQUE, 'orphan');
    return (await observer.next(T.STATUS_RES_UNIQUE)).text[5] === '0';
  }, 'the client to be detached');
  const w = await worker(h, 'f');
  t.is((await grab(w)).type, T.NO_JOB);
  t.deepEqual(await getStatus(observer, handle), [handle, '0', '0', '0', '0']);
  await eventually(async () => ((await status(h)).get('f')?.total ?? 0) === 0, 'status total to fall to 0');
});

conformance('a client that leaves while its job runs: the result is discarded without errors', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'running-orphan', 'x');
  const w = await worker(h, 'f');
  t.is((await grab(w)).text[0], handle);
  await c.close();
  const observer = await h.connect();
  await eventually(async () => {
    observer.send(T.GET_STATUS_UNIQUE, 'running-orphan');
    return (await observer.next(T.STATUS_RES_UNIQUE)).text[5] === '0';
  }, 'the client to be detached');
  w.send(T.WORK_DATA, handle, 'nobody listens');
  w.send(T.WORK_COMPLETE, handle, 'discarded');
  await sync(w);
  await w.expectNothing(50);
  t.deepEqual(await getStatus(observer, handle), [handle, '0', '0', '0', '0']);
  t.is((await status(h)).get('f')?.total, 0);
  t.is((await grab(w)).type, T.NO_JOB);
});

conformance('a background job survives its submitter\'s disconnect and runs', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'bg', Buffer.from('bg\0data'), T.SUBMIT_JOB_BG);
  await c.close();
  const w = await worker(h, 'f');
  const job = await grab(w);
  t.deepEqual(job.text, [handle, 'f', 'bg', 'bg\0data']);
  w.send(T.WORK_COMPLETE, handle, 'ok');
  await sync(w);
  const observer = await h.connect();
  t.deepEqual(await getStatus(observer, handle), [handle, '0', '0', '0', '0']);
});
