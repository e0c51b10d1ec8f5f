/**
 * Conformance, workers (gearmand-notes §9 "Workers"): GRAB replies, exact JOB_ASSIGN layouts with
 * binary workloads, and the PRE_SLEEP / NOOP wakeup rules.
 */
import { T, conformance, eventually, grab, status, submit, sync, worker } from './fixture.ts';
import { frame } from '../protocol/frames.ts';

/** A workload with NULs at the start, inside and at the end. */
const BINARY = Buffer.from([0x00, 0x61, 0x00, 0x00, 0x62, 0xff, 0x0a, 0x00]);

conformance('GRAB_JOB, GRAB_JOB_UNIQ and GRAB_JOB_ALL without any CAN_DO get NO_JOB, even with jobs queued', async (t, h) => {
  const c = await h.connect();
  await submit(c, 'f', '', 'x');
  const w = await h.connect();
  for (const type of [T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL]) {
    const p = await grab(w, type);
    t.is(p.type, T.NO_JOB);
    t.is(p.raw.length, 12);
  }
});

conformance('GRAB on an empty queue, or with jobs only for other functions, gets NO_JOB', async (t, h) => {
  const w = await worker(h, 'f');
  for (const type of [T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL]) t.is((await grab(w, type)).type, T.NO_JOB);
  const c = await h.connect();
  await submit(c, 'g', '', 'x');
  for (const type of [T.GRAB_JOB, T.GRAB_JOB_UNIQ, T.GRAB_JOB_ALL]) t.is((await grab(w, type)).type, T.NO_JOB);
});

conformance('JOB_ASSIGN is exactly HANDLE\\0FUNC\\0DATA with a binary workload', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'fn.one', 'u1', BINARY);
  const w = await worker(h, 'fn.one');
  const p = await grab(w, T.GRAB_JOB);
  t.is(p.raw.toString('hex'), frame('RES', 11, [Buffer.from(handle), Buffer.from('fn.one'), BINARY]).toString('hex'));
});

conformance('JOB_ASSIGN_UNIQ is exactly HANDLE\\0FUNC\\0UNIQ\\0DATA with a binary workload', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'fn.two', 'uniq-é', BINARY);
  const w = await worker(h, 'fn.two');
  const p = await grab(w, T.GRAB_JOB_UNIQ);
  t.is(
    p.raw.toString('hex'),
    frame('RES', 31, [Buffer.from(handle), Buffer.from('fn.two'), Buffer.from('uniq-é'), BINARY]).toString('hex'),
  );
});

conformance('GRAB_JOB_UNIQ on a job without unique gives an empty UNIQ field', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', BINARY);
  const w = await worker(h, 'f');
  const p = await grab(w, T.GRAB_JOB_UNIQ);
  t.is(p.raw.toString('hex'), frame('RES', 31, [Buffer.from(handle), Buffer.from('f'), Buffer.alloc(0), BINARY]).toString('hex'));
});

conformance('GRAB_JOB_ALL on a plain job answers JOB_ASSIGN_UNIQ, byte-exact', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'plain', BINARY);
  const w = await worker(h, 'f');
  const p = await grab(w, T.GRAB_JOB_ALL);
  t.is(p.raw.toString('hex'), frame('RES', 31, [Buffer.from(handle), Buffer.from('f'), Buffer.from('plain'), BINARY]).toString('hex'));
});

conformance('an empty workload is assigned as an empty last field', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', '');
  const w = await worker(h, 'f');
  const p = await grab(w, T.GRAB_JOB);
  t.is(p.raw.toString('hex'), frame('RES', 11, [Buffer.from(handle), Buffer.from('f'), Buffer.alloc(0)]).toString('hex'));
});

conformance('a worker may hold several jobs at once', async (t, h) => {
  const c = await h.connect();
  const h1 = await submit(c, 'f', '', '1');
  const h2 = await submit(c, 'f', '', '2');
  const w = await worker(h, 'f');
  t.is((await grab(w)).text[0], h1);
  t.is((await grab(w)).text[0], h2);
  const row = (await status(h)).get('f');
  t.deepEqual(row, { total: 2, running: 2, workers: 1 });
});

conformance('PRE_SLEEP then a submit: exactly one NOOP; no second NOOP before the next GRAB', async (t, h) => {
  const w = await worker(h, 'f');
  w.send(T.PRE_SLEEP);
  await sync(w);
  await w.expectNothing(100);
  const c = await h.connect();
  await submit(c, 'f', '', 'one');
  const noop = await w.next(T.NOOP);
  t.is(noop.raw.toString('hex'), '005245530000000600000000');
  await submit(c, 'f', '', 'two');
  await w.expectNothing(150);
  // GRAB clears the flags; the worker takes one job, sleeps again and is woken by the next job.
  t.is((await grab(w)).type, T.JOB_ASSIGN_UNIQ);
  t.is((await grab(w)).type, T.JOB_ASSIGN_UNIQ);
  t.is((await grab(w)).type, T.NO_JOB);
  w.send(T.PRE_SLEEP);
  await sync(w);
  await submit(c, 'f', '', 'three');
  await w.next(T.NOOP);
  await w.expectNothing(100);
});

conformance('PRE_SLEEP with a job already queued gets an immediate NOOP, again on each PRE_SLEEP', async (t, h) => {
  const c = await h.connect();
  await submit(c, 'f', '', 'waiting');
  const w = await worker(h, 'f');
  w.send(T.PRE_SLEEP);
  await w.next(T.NOOP);
  // The job is still there, so sleeping again is answered again (gearmand peeks on every PRE_SLEEP).
  w.send(T.PRE_SLEEP);
  await w.next(T.NOOP);
  t.is((await grab(w)).type, T.JOB_ASSIGN_UNIQ);
});

conformance('a sleeping worker is not woken by a job for a function it cannot do', async (t, h) => {
  const w = await worker(h, 'f');
  w.send(T.PRE_SLEEP);
  await sync(w);
  const c = await h.connect();
  await submit(c, 'g', '', 'x');
  await w.expectNothing(150);
  t.pass();
});

conformance('every sleeping worker of the function is woken once by default; the first GRAB wins', async (t, h) => {
  const ws = await Promise.all([1, 2, 3].map(() => worker(h, 'f')));
  for (const w of ws) {
    w.send(T.PRE_SLEEP);
    await sync(w);
  }
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  for (const w of ws) await w.next(T.NOOP);
  await Promise.all(ws.map((w) => w.expectNothing(100)));
  const first = await grab(ws[1]!);
  t.deepEqual([first.type, first.text[0]], [T.JOB_ASSIGN_UNIQ, handle]);
  t.is((await grab(ws[0]!)).type, T.NO_JOB);
  t.is((await grab(ws[2]!)).type, T.NO_JOB);
});

conformance(
  'with a wakeup limit of 1 each new job wakes exactly one sleeper, and not one already woken',
  async (t, h) => {
    const ws = await Promise.all([1, 2, 3].map(() => worker(h, 'f')));
    for (const w of ws) {
      w.send(T.PRE_SLEEP);
      await sync(w);
    }
    const c = await h.connect();
    /** The one worker a new job woke: wait for a NOOP anywhere, then for silence elsewhere. */
    const wokenBy = async () => {
      await eventually(() => ws.some((w) => w.queued > 0), 'a NOOP');
      const woken = ws.findIndex((w) => w.queued > 0);
      await Promise.all(ws.map((w, i) => (i === woken ? null : w.expectNothing(150))));
      await ws[woken]!.next(T.NOOP);
      t.is(ws[woken]!.queued, 0, 'one NOOP only');
      return woken;
    };
    await submit(c, 'f', '', 'a');
    const first = await wokenBy();
    await submit(c, 'f', '', 'b');
    const second = await wokenBy();
    t.not(second, first);
  },
  (kind) => (kind === 'gearmand' ? { gearmandArgs: ['--worker-wakeup', '1'] } : { geartrain: { workerWakeup: 1 } }),
);

conformance('repeated CAN_DO is not deduplicated: status counts each registration; one CANT_DO removes them all', async (t, h) => {
  const w = await worker(h, 'f', 'f', 'g');
  await sync(w);
  let rows = await status(h);
  t.is(rows.get('f')?.workers, 2);
  t.is(rows.get('g')?.workers, 1);
  w.send(T.CANT_DO, 'f');
  await sync(w);
  rows = await status(h);
  t.is(rows.get('f')?.workers, 0);
  t.is(rows.get('g')?.workers, 1);
  const c = await h.connect();
  await submit(c, 'f', '', 'x');
  t.is((await grab(w)).type, T.NO_JOB);
});

conformance('CAN_DO_TIMEOUT registers the function like CAN_DO', async (t, h) => {
  const w = await h.connect();
  w.send(T.CAN_DO_TIMEOUT, 'f', '60000');
  await sync(w);
  t.is((await status(h)).get('f')?.workers, 1);
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  t.is((await grab(w)).text[0], handle);
});
