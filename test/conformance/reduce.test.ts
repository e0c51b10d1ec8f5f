/**
 * Conformance, SUBMIT_REDUCE_JOB(_BACKGROUND) (gearmand-notes §1 and §4): the server only carries
 * the reducer name; GRAB_JOB_ALL hands a job with a non-empty reducer out as JOB_ASSIGN_ALL and any
 * other job as JOB_ASSIGN_UNIQ. libgearman sends four NUL-terminated fields before DATA (an empty
 * aggregate field), which is the form used here.
 */
import { T, conformance, grab, showJobs, submit, worker, type RawClient } from './fixture.ts';
import { frame } from '../protocol/frames.ts';

const DATA = Buffer.from([0x6d, 0x00, 0x61, 0x00, 0x00, 0x70]);

async function submitReduce(c: RawClient, type: T, fn: string, unique: string, reducer: string, data: Buffer, aggregate = ''): Promise<string> {
  c.send(type, fn, unique, reducer, aggregate, data);
  return (await c.next(T.JOB_CREATED)).text[0]!;
}

conformance('GRAB_JOB_ALL on a reduce job answers JOB_ASSIGN_ALL: HANDLE\\0FUNC\\0UNIQ\\0REDUCER\\0DATA, byte-exact', async (t, h) => {
  const c = await h.connect();
  const handle = await submitReduce(c, T.SUBMIT_REDUCE_JOB, 'mapper', 'red-1', 'reducer', DATA);
  const w = await worker(h, 'mapper');
  const p = await grab(w, T.GRAB_JOB_ALL);
  t.is(
    p.raw.toString('hex'),
    frame('RES', 40, [Buffer.from(handle), Buffer.from('mapper'), Buffer.from('red-1'), Buffer.from('reducer'), DATA]).toString('hex'),
  );
  w.send(T.WORK_COMPLETE, handle, Buffer.from('aggregated\0'));
  t.deepEqual((await c.next(T.WORK_COMPLETE)).args.map((a) => a.toString('latin1')), [handle, 'aggregated\0']);
});

conformance('a background reduce job is handed out as JOB_ASSIGN_ALL too', async (t, h) => {
  const c = await h.connect();
  const handle = await submitReduce(c, T.SUBMIT_REDUCE_JOB_BACKGROUND, 'mapper', 'bg-red', 'reducer', DATA);
  const w = await worker(h, 'mapper');
  const p = await grab(w, T.GRAB_JOB_ALL);
  t.is(p.type, T.JOB_ASSIGN_ALL);
  t.deepEqual(p.args.map((a) => a.toString('latin1')), [handle, 'mapper', 'bg-red', 'reducer', DATA.toString('latin1')]);
  t.is((await showJobs(h)).get(handle)?.[2], 1, 'background: persisted');
});

conformance('GRAB_JOB and GRAB_JOB_UNIQ on a reduce job give plain JOB_ASSIGN and JOB_ASSIGN_UNIQ', async (t, h) => {
  const c = await h.connect();
  const a = await submitReduce(c, T.SUBMIT_REDUCE_JOB, 'mapper', 'ra', 'reducer', DATA);
  const b = await submitReduce(c, T.SUBMIT_REDUCE_JOB, 'mapper', 'rb', 'reducer', DATA);
  const w = await worker(h, 'mapper');
  t.is((await grab(w, T.GRAB_JOB)).raw.toString('hex'), frame('RES', 11, [Buffer.from(a), Buffer.from('mapper'), DATA]).toString('hex'));
  t.is(
    (await grab(w, T.GRAB_JOB_UNIQ)).raw.toString('hex'),
    frame('RES', 31, [Buffer.from(b), Buffer.from('mapper'), Buffer.from('rb'), DATA]).toString('hex'),
  );
});

conformance('the aggregate field is not passed on; a reduce job with an empty reducer is a plain job for GRAB_JOB_ALL', async (t, h) => {
  const c = await h.connect();
  const withAgg = await submitReduce(c, T.SUBMIT_REDUCE_JOB, 'mapper', 'agg', 'reducer', DATA, 'aggregator');
  const noReducer = await submitReduce(c, T.SUBMIT_REDUCE_JOB_BACKGROUND, 'mapper', 'noreducer', '', DATA);
  const w = await worker(h, 'mapper');
  t.deepEqual((await grab(w, T.GRAB_JOB_ALL)).args.map((x) => x.toString('latin1')), [withAgg, 'mapper', 'agg', 'reducer', DATA.toString('latin1')]);
  const p = await grab(w, T.GRAB_JOB_ALL);
  t.is(p.raw.toString('hex'), frame('RES', 31, [Buffer.from(noReducer), Buffer.from('mapper'), Buffer.from('noreducer'), DATA]).toString('hex'));
});

conformance('a reduce job coalesces with a plain job of the same function and unique', async (t, h) => {
  const c = await h.connect();
  const handle = await submitReduce(c, T.SUBMIT_REDUCE_JOB, 'mapper', 'shared', 'reducer', DATA);
  t.is(await submit(c, 'mapper', 'shared', 'x'), handle);
  const w = await worker(h, 'mapper');
  t.is((await grab(w, T.GRAB_JOB_ALL)).type, T.JOB_ASSIGN_ALL);
  t.is((await grab(w, T.GRAB_JOB_ALL)).type, T.NO_JOB);
});

conformance('reduce jobs are queued at NORMAL priority', async (t, h) => {
  const c = await h.connect();
  await submitReduce(c, T.SUBMIT_REDUCE_JOB, 'mapper', 'p1', 'reducer', DATA);
  await submitReduce(c, T.SUBMIT_REDUCE_JOB_BACKGROUND, 'mapper', 'p2', 'reducer', DATA);
  t.is(await h.admin('prioritystatus'), 'mapper\t0\t2\t0\t0\n.\n');
});
