/**
 * Conformance, results and status (gearmand-notes §9 "Results and status"): forwarding of WORK_*,
 * exceptions and OPTION_REQ, JOB_NOT_FOUND for strangers, GET_STATUS and GET_STATUS_UNIQUE.
 */
import { T, conformance, expectError, getStatus, grab, showJobs, status, submit, sync, worker } from './fixture.ts';
import { frame } from '../protocol/frames.ts';

const NOT_FOUND_RESULT = 'Job given in work result not found';
const NOT_FOUND_DATA = 'Job does not exist on server';
const NOT_FOUND_EXCEPTION = 'An exception was received for a job that does not exist';

conformance('DATA, WARNING and STATUS reach the foreground client in order and unchanged; COMPLETE ends the job', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await worker(h, 'f');
  await grab(w);
  const bin = Buffer.from([0, 1, 2, 0, 0xff, 0]);
  w.send(T.WORK_DATA, handle, bin);
  w.send(T.WORK_WARNING, handle, Buffer.from('warn\0ing'));
  w.send(T.WORK_STATUS, handle, '3', '10');
  w.send(T.WORK_DATA, handle, '');
  w.send(T.WORK_COMPLETE, handle, Buffer.from('res\0ult'));
  const got = await c.nextN(5);
  t.deepEqual(
    got.map((p) => p.raw.toString('hex')),
    [
      frame('RES', 28, [Buffer.from(handle), bin]),
      frame('RES', 29, [Buffer.from(handle), Buffer.from('warn\0ing')]),
      frame('RES', 12, [Buffer.from(handle), Buffer.from('3'), Buffer.from('10')]),
      frame('RES', 28, [Buffer.from(handle), Buffer.alloc(0)]),
      frame('RES', 13, [Buffer.from(handle), Buffer.from('res\0ult')]),
    ].map((b) => b.toString('hex')),
  );
  t.deepEqual(await getStatus(c, handle), [handle, '0', '0', '0', '0']);
  t.is((await status(h)).get('f')?.total, 0);
  // The worker hears nothing back about its results.
  await w.expectNothing(100);
});

conformance('WORK_FAIL is forwarded; GET_STATUS afterwards says known=0', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await worker(h, 'f');
  await grab(w);
  w.send(T.WORK_FAIL, handle);
  const p = await c.next(T.WORK_FAIL);
  t.is(p.raw.toString('hex'), frame('RES', 14, [Buffer.from(handle)]).toString('hex'));
  t.deepEqual(await getStatus(c, handle), [handle, '0', '0', '0', '0']);
});

conformance('WORK_EXCEPTION reaches a client without OPTION exceptions as WORK_FAIL', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const w = await worker(h, 'f');
  await grab(w);
  w.send(T.WORK_EXCEPTION, handle, 'boom');
  const p = await c.next(T.WORK_FAIL);
  if (h.kind === 'gearmand') {
    // Observed on gearmand 1.1.20: the converted WORK_FAIL carries the handle plus a trailing NUL
    // (payload "H:host:n\0"); libgearman reads the handle as a C string, so it copes.
    t.is(p.raw.toString('hex'), frame('RES', 14, [Buffer.from(handle + '\0')]).toString('hex'));
  } else {
    t.is(p.raw.toString('hex'), frame('RES', 14, [Buffer.from(handle)]).toString('hex'));
  }
  t.deepEqual(await getStatus(c, handle), [handle, '0', '0', '0', '0']);
  await w.expectNothing(100);
});

conformance('OPTION_REQ exceptions is echoed in OPTION_RES; then WORK_EXCEPTION arrives with its data', async (t, h) => {
  const c = await h.connect();
  c.send(T.OPTION_REQ, 'exceptions');
  const opt = await c.next(T.OPTION_RES);
  t.is(opt.raw.toString('hex'), frame('RES', 27, [Buffer.from('exceptions')]).toString('hex'));
  const handle = await submit(c, 'f', '', 'x');
  const w = await worker(h, 'f');
  await grab(w);
  w.send(T.WORK_EXCEPTION, handle, Buffer.from('stack\0trace'));
  const p = await c.next(T.WORK_EXCEPTION);
  t.is(p.raw.toString('hex'), frame('RES', 25, [Buffer.from(handle), Buffer.from('stack\0trace')]).toString('hex'));
  t.deepEqual(await getStatus(c, handle), [handle, '0', '0', '0', '0']);
});

conformance('OPTION_REQ is case-insensitive and echoes the name as sent; an unknown option is ERROR UNKNOWN_OPTION', async (t, h) => {
  const c = await h.connect();
  c.send(T.OPTION_REQ, 'EXCEPTIONS');
  t.deepEqual((await c.next(T.OPTION_RES)).text, ['EXCEPTIONS']);
  c.send(T.OPTION_REQ, 'foo');
  await expectError(t, c, 'UNKNOWN_OPTION', 'Server does not recognize given option');
  c.send(T.ECHO_REQ, 'alive');
  t.is((await c.next(T.ECHO_RES)).text[0], 'alive');
});

conformance('only clients that asked for exceptions get WORK_EXCEPTION; the others get WORK_FAIL', async (t, h) => {
  const withOpt = await h.connect();
  withOpt.send(T.OPTION_REQ, 'exceptions');
  await withOpt.next(T.OPTION_RES);
  const without = await h.connect();
  const handle = await submit(withOpt, 'f', 'shared', 'x');
  t.is(await submit(without, 'f', 'shared', 'x'), handle);
  const w = await worker(h, 'f');
  await grab(w);
  w.send(T.WORK_EXCEPTION, handle, 'err');
  t.deepEqual((await withOpt.next(T.WORK_EXCEPTION)).text, [handle, 'err']);
  t.is((await without.next(T.WORK_FAIL)).type, T.WORK_FAIL);
});

conformance('WORK_* for an unknown handle gets ERROR JOB_NOT_FOUND with gearmand\'s texts', async (t, h) => {
  const w = await worker(h, 'f');
  const bogus = 'H:nowhere:999999';
  const cases: Array<[T, string[], string]> = [
    [T.WORK_STATUS, [bogus, '1', '2'], NOT_FOUND_RESULT],
    [T.WORK_COMPLETE, [bogus, 'r'], NOT_FOUND_RESULT],
    [T.WORK_FAIL, [bogus], NOT_FOUND_RESULT],
    [T.WORK_DATA, [bogus, 'd'], NOT_FOUND_DATA],
    [T.WORK_WARNING, [bogus, 'w'], NOT_FOUND_DATA],
    [T.WORK_EXCEPTION, [bogus, 'e'], NOT_FOUND_EXCEPTION],
  ];
  for (const [type, args, text] of cases) {
    w.send(type, ...args);
    await expectError(t, w, 'JOB_NOT_FOUND', text);
  }
});

conformance('WORK_* from a worker that does not own the job gets JOB_NOT_FOUND and changes nothing', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const owner = await worker(h, 'f');
  await grab(owner);
  const stranger = await worker(h, 'f');
  const cases: Array<[T, string[], string]> = [
    [T.WORK_DATA, [handle, 'd'], NOT_FOUND_DATA],
    [T.WORK_WARNING, [handle, 'w'], NOT_FOUND_DATA],
    [T.WORK_STATUS, [handle, '5', '6'], NOT_FOUND_RESULT],
    [T.WORK_EXCEPTION, [handle, 'e'], NOT_FOUND_EXCEPTION],
    [T.WORK_FAIL, [handle], NOT_FOUND_RESULT],
    [T.WORK_COMPLETE, [handle, 'stolen'], NOT_FOUND_RESULT],
  ];
  for (const [type, args, text] of cases) {
    stranger.send(type, ...args);
    await expectError(t, stranger, 'JOB_NOT_FOUND', text);
  }
  await c.expectNothing(100);
  t.deepEqual(await getStatus(c, handle), [handle, '1', '1', '0', '0']);
  owner.send(T.WORK_COMPLETE, handle, 'mine');
  t.deepEqual((await c.next(T.WORK_COMPLETE)).text, [handle, 'mine']);
});

conformance('a WORK_FAIL handle of 64 bytes or more gets ERROR ARGUMENT_TOO_LARGE', async (t, h) => {
  const w = await worker(h, 'f');
  w.send(T.WORK_FAIL, 'H:x:' + '1'.repeat(70));
  const p = await w.next(T.ERROR);
  t.is(p.text[0], 'ARGUMENT_TOO_LARGE');
  w.send(T.ECHO_REQ, 'alive');
  t.is((await w.next(T.ECHO_RES)).text[0], 'alive');
});

conformance('GET_STATUS through a job\'s life: queued 1/0, running 1/1, WORK_STATUS 3/10, done 0/0', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', '', 'x');
  const other = await h.connect(); // any connection may ask
  t.deepEqual(await getStatus(other, handle), [handle, '1', '0', '0', '0']);
  const w = await worker(h, 'f');
  await grab(w);
  t.deepEqual(await getStatus(other, handle), [handle, '1', '1', '0', '0']);
  w.send(T.WORK_STATUS, handle, '3', '10');
  t.deepEqual((await c.next(T.WORK_STATUS)).text, [handle, '3', '10']);
  other.send(T.GET_STATUS, handle);
  const p = await other.next(T.STATUS_RES);
  t.is(p.raw.toString('hex'), frame('RES', 20, [handle, '1', '1', '3', '10'].map((s) => Buffer.from(s))).toString('hex'));
  w.send(T.WORK_COMPLETE, handle, 'done');
  await c.next(T.WORK_COMPLETE);
  t.deepEqual(await getStatus(other, handle), [handle, '0', '0', '0', '0']);
});

conformance('GET_STATUS of an unknown handle answers known=0 with the handle echoed', async (t, h) => {
  const c = await h.connect();
  t.deepEqual(await getStatus(c, 'H:nowhere:42'), ['H:nowhere:42', '0', '0', '0', '0']);
});

conformance('a background job is visible to GET_STATUS until it ends; WORK_STATUS is kept for it', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'bg', 'x', T.SUBMIT_JOB_BG);
  const w = await worker(h, 'f');
  await grab(w);
  w.send(T.WORK_STATUS, handle, '1', '4');
  w.send(T.WORK_DATA, handle, 'not forwarded anywhere');
  await sync(w);
  t.deepEqual(await getStatus(c, handle), [handle, '1', '1', '1', '4']);
  w.send(T.WORK_COMPLETE, handle, 'r');
  await c.expectNothing(100);
  t.deepEqual(await getStatus(c, handle), [handle, '0', '0', '0', '0']);
  t.false((await showJobs(h)).has(handle));
});

conformance('GET_STATUS_UNIQUE answers UNIQ first and counts waiting clients (2 after two coalesced submits)', async (t, h) => {
  const c1 = await h.connect();
  const c2 = await h.connect();
  const handle = await submit(c1, 'f', 'the-unique', 'x');
  t.is(await submit(c2, 'f', 'the-unique', 'x'), handle);
  c1.send(T.GET_STATUS_UNIQUE, 'the-unique');
  let p = await c1.next(T.STATUS_RES_UNIQUE);
  t.is(p.raw.toString('hex'), frame('RES', 42, ['the-unique', '1', '0', '0', '0', '2'].map((s) => Buffer.from(s))).toString('hex'));
  const w = await worker(h, 'f');
  await grab(w);
  w.send(T.WORK_STATUS, handle, '7', '8');
  await c1.next(T.WORK_STATUS);
  await c2.next(T.WORK_STATUS);
  c2.send(T.GET_STATUS_UNIQUE, 'the-unique');
  p = await c2.next(T.STATUS_RES_UNIQUE);
  t.deepEqual(p.text, ['the-unique', '1', '1', '7', '8', '2']);
  c2.send(T.GET_STATUS_UNIQUE, 'never-submitted');
  t.deepEqual((await c2.next(T.STATUS_RES_UNIQUE)).text, ['never-submitted', '0', '0', '0', '0', '0']);
});

conformance('GET_STATUS_UNIQUE of a background job counts no waiting clients until a foreground one joins', async (t, h) => {
  const c = await h.connect();
  const handle = await submit(c, 'f', 'bgu', 'x', T.SUBMIT_JOB_BG);
  c.send(T.GET_STATUS_UNIQUE, 'bgu');
  t.deepEqual((await c.next(T.STATUS_RES_UNIQUE)).text, ['bgu', '1', '0', '0', '0', '0']);
  const fg = await h.connect();
  t.is(await submit(fg, 'f', 'bgu', 'x'), handle);
  c.send(T.GET_STATUS_UNIQUE, 'bgu');
  t.deepEqual((await c.next(T.STATUS_RES_UNIQUE)).text, ['bgu', '1', '0', '0', '0', '1']);
});
