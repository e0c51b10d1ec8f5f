/**
 * Conformance, coalescing by unique key (gearmand-notes §3 "Coalescing", §9): key = (function,
 * unique); an empty unique never coalesces; `-` coalesces on the workload.
 */
import { T, conformance, getStatus, grab, showJobs, submit, worker } from './fixture.ts';

function handleNumber(handle: string): number {
  return Number(handle.slice(handle.lastIndexOf(':') + 1));
}

conformance('same function and unique from two clients: one handle, one job for the worker, both get every result packet', async (t, h) => {
  const c1 = await h.connect();
  const c2 = await h.connect();
  const handle = await submit(c1, 'f', 'same', 'first workload');
  t.is(await submit(c2, 'f', 'same', 'second workload'), handle);
  const w = await worker(h, 'f');
  const job = await grab(w);
  // The job keeps the first submitter's workload.
  t.deepEqual(job.text, [handle, 'f', 'same', 'first workload']);
  t.is((await grab(w)).type, T.NO_JOB);
  w.send(T.WORK_DATA, handle, 'd');
  w.send(T.WORK_COMPLETE, handle, 'r');
  for (const c of [c1, c2]) {
    t.deepEqual((await c.next(T.WORK_DATA)).text, [handle, 'd']);
    t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [handle, 'r']);
  }
});

conformance('a coalesced submit does not use up a handle number', async (t, h) => {
  const c = await h.connect();
  const a = await submit(c, 'f', 'u', 'x');
  t.is(await submit(c, 'f', 'u', 'x'), a);
  const b = await submit(c, 'f', 'v', 'x');
  t.is(handleNumber(b), handleNumber(a) + 1);
});

conformance('a different function or an empty unique does not coalesce', async (t, h) => {
  const c = await h.connect();
  const a = await submit(c, 'f', 'same', 'x');
  const b = await submit(c, 'g', 'same', 'x');
  t.not(a, b);
  const e1 = await submit(c, 'f', '', 'x');
  const e2 = await submit(c, 'f', '', 'x');
  t.not(e1, e2);
  t.is(new Set([a, b, e1, e2]).size, 4);
});

conformance('unique "-" coalesces identical workloads and only those', async (t, h) => {
  const c1 = await h.connect();
  const c2 = await h.connect();
  const a = await submit(c1, 'f', '-', Buffer.from('same\0bytes'));
  t.is(await submit(c2, 'f', '-', Buffer.from('same\0bytes')), a);
  const b = await submit(c2, 'f', '-', Buffer.from('same\0bytez'));
  t.not(b, a);
  const w = await worker(h, 'f');
  const seen = [(await grab(w)).text[0], (await grab(w)).text[0]];
  t.deepEqual(seen.sort(), [a, b].sort());
  t.is((await grab(w)).type, T.NO_JOB);
});

conformance('a foreground submit joins a running job and gets later packets and the result, nothing earlier', async (t, h) => {
  const c1 = await h.connect();
  const handle = await submit(c1, 'f', 'running', 'x');
  const w = await worker(h, 'f');
  await grab(w);
  w.send(T.WORK_DATA, handle, 'early');
  t.deepEqual((await c1.next(T.WORK_DATA)).text, [handle, 'early']);
  const c2 = await h.connect();
  t.is(await submit(c2, 'f', 'running', 'y'), handle);
  w.send(T.WORK_DATA, handle, 'late');
  w.send(T.WORK_COMPLETE, handle, 'r');
  t.deepEqual((await c2.next(T.WORK_DATA)).text, [handle, 'late']);
  t.deepEqual((await c2.next(T.WORK_COMPLETE)).text, [handle, 'r']);
  t.deepEqual((await c1.next(T.WORK_DATA)).text, [handle, 'late']);
  t.deepEqual((await c1.next(T.WORK_COMPLETE)).text, [handle, 'r']);
});

conformance('a foreground submit joins a running background job and gets its result', async (t, h) => {
  const bg = await h.connect();
  const handle = await submit(bg, 'f', 'bgjob', 'x', T.SUBMIT_JOB_BG);
  const w = await worker(h, 'f');
  t.is((await grab(w)).text[0], handle);
  const fg = await h.connect();
  t.is(await submit(fg, 'f', 'bgjob', 'other'), handle);
  w.send(T.WORK_COMPLETE, handle, 'bg result');
  t.deepEqual((await fg.next(T.WORK_COMPLETE)).text, [handle, 'bg result']);
  await bg.expectNothing(100);
});

conformance('a background duplicate returns the existing handle and is not stored again', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'dup', 'x', T.SUBMIT_JOB_BG);
  const other = await h.connect();
  t.is(await submit(other, 'f', 'dup', 'y', T.SUBMIT_JOB_BG), handle);
  t.is(await submit(other, 'f', 'dup', 'z', T.SUBMIT_JOB_HIGH_BG), handle);
  const jobs = await showJobs(h);
  t.deepEqual([...jobs.keys()], [handle]);
  const w = await worker(h, 'f');
  t.deepEqual((await grab(w)).text, [handle, 'f', 'dup', 'x']);
  t.is((await grab(w)).type, T.NO_JOB);
});

conformance('a background submit matching a queued foreground job returns its handle', async (t, h) => {
  const fg = await h.connect();
  const handle = await submit(fg, 'f', 'mixed', 'x');
  const bg = await h.connect();
  t.is(await submit(bg, 'f', 'mixed', 'y', T.SUBMIT_JOB_BG), handle);
  t.deepEqual(await getStatus(bg, handle), [handle, '1', '0', '0', '0']);
});

conformance('a coalescing submit of another priority joins the existing job', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'prio', 'x', T.SUBMIT_JOB_LOW);
  t.is(await submit(c, 'f', 'prio', 'x', T.SUBMIT_JOB_HIGH), handle);
  t.is((await showJobs(h)).size, 1);
});
