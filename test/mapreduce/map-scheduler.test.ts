/**
 * The map scheduler alone, without a cluster: a fake transport whose task copies the test finishes
 * or fails, a fake membership, and a FakeClock for speculation. Per-node windows, retries,
 * failover to a replica, speculative copies (first wins, the loser is cancelled) and the
 * bookkeeping of `allowPartial`, damaged files included.
 */
import test from 'ava';
import { FakeClock } from '../helpers/fake-clock.ts';
import { IncompleteResultError, NodeUnavailableError, TaskFailedError } from '../../src/errors.ts';
import { MapScheduler, type MapSchedulerOptions } from '../../src/mapreduce/map-scheduler.ts';
import { ProgressTracker } from '../../src/mapreduce/run-progress.ts';
import { FakeMaps, FakeMembership, plannedTask, settle } from './helpers/fake-cluster.ts';

function scheduler(o: Partial<MapSchedulerOptions> & { maps: FakeMaps; live: FakeMembership }) {
  return new MapScheduler({
    transport: o.maps,
    membership: o.live,
    slots: o.slots ?? new Map(),
    signal: o.signal ?? new AbortController().signal,
    retries: o.retries ?? 3,
    speculative: o.speculative ?? true,
    allowPartial: o.allowPartial ?? false,
    clock: o.clock ?? new FakeClock(),
    policy: o.policy ?? { factor: 2, minMs: 1000, minFinished: 1, maxShare: 1 },
    ...(o.progress ? { progress: o.progress } : {}),
  });
}

/**
 * m00000 (on a) and m00001 (on a, also held by b), two slots on a; m00000 finishes after 100 ms,
 * which sets the rate: m00001's 1000 bytes should take 100 ms, so it straggles from twice that,
 * and at least minMs (1000 ms) after its start.
 */
async function oneFinished(clock: FakeClock, options: { speculative?: boolean } = {}) {
  const maps = new FakeMaps();
  const s = scheduler({ maps, live: new FakeMembership(['a', 'b']), clock, slots: new Map([['a', 2]]), speculative: options.speculative ?? true });
  const done = s.run([plannedTask('m00000', ['a']), plannedTask('m00001', ['a', 'b'])]);
  await settle();
  await clock.advanceAsync(100);
  maps.copy('m00000', 'a').finish();
  return { maps, s, done };
}

test('per node, at most its slot count of tasks runs at once; the rest start as slots free up', async (t) => {
  const maps = new FakeMaps();
  const tasks = [...['a0', 'a1', 'a2', 'a3', 'a4'].map((id) => plannedTask(id, ['a'])), plannedTask('b0', ['b']), plannedTask('b1', ['b'])];
  const s = scheduler({ maps, live: new FakeMembership(['a', 'b']), slots: new Map([['a', 2], ['b', 1]]) });
  const done = s.run(tasks);
  let widest = { a: 0, b: 0 };
  for (let i = 0; i < tasks.length; i++) {
    await settle();
    widest = { a: Math.max(widest.a, maps.running('a').length), b: Math.max(widest.b, maps.running('b').length) };
    (maps.running('a')[0] ?? maps.running('b')[0])!.finish();
  }
  const result = await done;
  t.deepEqual(widest, { a: 2, b: 1 });
  t.deepEqual(result.outputs.map((o) => o.task.taskId), ['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1'], 'outputs in plan order');
  t.deepEqual(maps.calls.map((c) => c.taskId).slice(0, 3), ['a0', 'a1', 'b0'], 'first a0 and a1 on a, b0 on b');
  t.deepEqual(result.missing, []);
});

test('a failed attempt is retried on its live node with the next attempt number; after `retries` the run fails naming the task', async (t) => {
  const maps = new FakeMaps();
  const progress = new ProgressTracker();
  const s = scheduler({ maps, live: new FakeMembership(['a']), retries: 2, progress });
  const done = s.run([plannedTask('m00000', ['a'])]);
  for (let attempt = 0; attempt <= 2; attempt++) {
    await settle();
    const call = maps.copy('m00000', 'a');
    t.deepEqual(call.copy, { attempt, speculative: false });
    call.fail(`disk error ${attempt}`);
  }
  const err = await t.throwsAsync(done, { instanceOf: TaskFailedError });
  t.regex(err.message, /^map task m00000 on a failed after 3 attempts: disk error 2$/);
  t.is(s.retried, 3);
  t.is(progress.retries, 3);
});

test('a retry that succeeds gives the output; the retry is counted', async (t) => {
  const maps = new FakeMaps();
  const s = scheduler({ maps, live: new FakeMembership(['a']) });
  const done = s.run([plannedTask('m00000', ['a'])]);
  await settle();
  maps.copy('m00000', 'a').fail();
  await settle();
  maps.copy('m00000', 'a').finish();
  const { outputs } = await done;
  t.is(outputs[0]!.node, 'a');
  t.is(s.retried, 1);
});

test('a task whose node is gone moves to a live replica of its shards', async (t) => {
  const maps = new FakeMaps();
  const live = new FakeMembership(['a', 'b']);
  const s = scheduler({ maps, live, speculative: false });
  const done = s.run([plannedTask('m00000', ['a', 'b'])]);
  await settle();
  live.nodes.delete('a');
  maps.copy('m00000', 'a').fail('connection lost');
  await settle();
  const moved = maps.copy('m00000', 'b');
  t.deepEqual(moved.copy, { attempt: 1, speculative: false });
  moved.finish();
  const { outputs } = await done;
  t.is(outputs[0]!.node, 'b');
  t.is(outputs[0]!.result.refs[0]!.node, 'b');
});

test('a node gone without a replica fails the run naming the node and its unread shards, and stops the other tasks', async (t) => {
  const maps = new FakeMaps();
  const live = new FakeMembership(['a', 'b']);
  const s = scheduler({ maps, live });
  const done = s.run([plannedTask('m00000', ['a']), plannedTask('m00001', ['b'])]);
  await settle();
  live.nodes.delete('a');
  maps.copy('m00000', 'a').fail('connection lost');
  const err = await t.throwsAsync(done, { instanceOf: NodeUnavailableError });
  t.is(err.message, 'node a is unavailable (connection lost); unread shards: a:/logs/m00000.log[0-1000]');
  t.true(maps.calls.find((c) => c.taskId === 'm00001')!.signal.aborted, 'the task on b was stopped');
});

test('allowPartial: the shards of a failed task are reported missing, by the node last tried; the other outputs are kept', async (t) => {
  const maps = new FakeMaps();
  const live = new FakeMembership(['a', 'b']);
  const s = scheduler({ maps, live, allowPartial: true, retries: 0 });
  const done = s.run([plannedTask('m00000', ['a']), plannedTask('m00001', ['b'])]);
  await settle();
  maps.copy('m00000', 'a').fail();
  maps.copy('m00001', 'b').finish();
  const result = await done;
  t.deepEqual(result.outputs.map((o) => o.task.taskId), ['m00001']);
  t.deepEqual(result.missing, [{ node: 'a', path: '/logs/m00000.log', reason: 'map task m00000 on a failed after 1 attempts: task failed' }]);
});

/** What a map task reports of a .gz it could read only up to byte 300. */
const CUT = { kind: 'truncated', offset: 300, bytesRead: 2000, detail: 'unexpected end of file' } as const;

test('a .gz a finished task read only in part fails the phase with IncompleteResultError naming the node, the file and where it stopped', async (t) => {
  const maps = new FakeMaps();
  const s = scheduler({ maps, live: new FakeMembership(['a', 'b']) });
  const done = s.run([plannedTask('m00000', ['a']), plannedTask('m00001', ['b'])]);
  await settle();
  maps.copy('m00000', 'a').finish({ damaged: [{ path: '/logs/old.log.gz', ...CUT }] });
  maps.copy('m00001', 'b').finish();
  const err = await t.throwsAsync(done, { instanceOf: IncompleteResultError });
  const reason = 'truncated gzip: unexpected end of file at byte 300; 2000 bytes read before it';
  t.is(err.message, `1 file(s) could not be read to their end: a:/logs/old.log.gz (${reason}); allow a partial result (--allow-partial) to get what was read`);
  t.deepEqual(err.missing, [{ node: 'a', path: '/logs/old.log.gz', reason }]);
});

test('allowPartial: a .gz read only in part is missing with its reason, after the shards of failed tasks; its output is kept', async (t) => {
  const maps = new FakeMaps();
  const s = scheduler({ maps, live: new FakeMembership(['a', 'b']), allowPartial: true, retries: 0 });
  const done = s.run([plannedTask('m00000', ['a']), plannedTask('m00001', ['b'])]);
  await settle();
  maps.copy('m00000', 'a').fail();
  maps.copy('m00001', 'b').finish({ damaged: [{ path: '/logs/old.log.gz', ...CUT }] });
  const result = await done;
  t.deepEqual(result.outputs.map((o) => o.task.taskId), ['m00001']);
  t.deepEqual(result.missing, [
    { node: 'a', path: '/logs/m00000.log', reason: 'map task m00000 on a failed after 1 attempts: task failed' },
    { node: 'b', path: '/logs/old.log.gz', reason: 'truncated gzip: unexpected end of file at byte 300; 2000 bytes read before it' },
  ]);
});

test('a straggler is copied to another live holder once no task waits; the copy wins, the original is aborted and cancelled on its node', async (t) => {
  const clock = new FakeClock();
  const { maps, s, done } = await oneFinished(clock);
  await clock.advanceAsync(850);
  t.is(maps.calls.length, 2, 'no copy before the threshold');
  await clock.advanceAsync(100);
  const copy = maps.copy('m00001', 'b');
  t.deepEqual(copy.copy, { attempt: 0, speculative: true });
  const original = maps.copy('m00001', 'a');
  copy.finish();
  const { outputs } = await done;
  t.is(outputs[1]!.node, 'b');
  t.true(original.signal.aborted, 'the losing copy stopped waiting');
  t.deepEqual(maps.cancelled, ['a:m00001'], 'and was cancelled on its node');
  t.deepEqual(s.speculative, { started: 1, won: 1 });
});

test('when the original finishes first, the copy is the one cancelled', async (t) => {
  const clock = new FakeClock();
  const { maps, s, done } = await oneFinished(clock);
  await clock.advanceAsync(1000);
  const copy = maps.copy('m00001', 'b');
  maps.copy('m00001', 'a').finish();
  const { outputs } = await done;
  t.is(outputs[1]!.node, 'a');
  t.true(copy.signal.aborted);
  t.deepEqual(maps.cancelled, ['b:m00001']);
  t.deepEqual(s.speculative, { started: 1, won: 0 });
});

test('no copy while a task still waits for a slot, none without another live holder, and none with speculation off', async (t) => {
  const clock = new FakeClock();
  const maps = new FakeMaps();
  const live = new FakeMembership(['a', 'b']);
  // One slot on a: m00002 waits while m00001 straggles.
  const s = scheduler({ maps, live, clock, slots: new Map([['a', 1]]) });
  const done = s.run([plannedTask('m00000', ['a']), plannedTask('m00001', ['a', 'b']), plannedTask('m00002', ['a', 'b'])]);
  await settle();
  await clock.advanceAsync(100);
  maps.copy('m00000', 'a').finish();
  await clock.advanceAsync(10_000);
  t.is(maps.calls.length, 2, 'm00002 waits for the slot: m00001 is not copied');
  maps.copy('m00001', 'a').finish();
  await settle();
  live.nodes.delete('b');
  await clock.advanceAsync(10_000);
  t.is(maps.calls.length, 3, 'b is not live: m00002 is not copied');
  maps.copy('m00002', 'a').finish();
  await done;

  const { maps: off, s: s2, done: done2 } = await oneFinished(clock, { speculative: false });
  await clock.advanceAsync(60_000);
  t.is(off.calls.length, 2, '--no-speculation');
  off.copy('m00001', 'a').finish();
  await done2;
  t.deepEqual(s2.speculative, { started: 0, won: 0 });
});

test('progress: bytes from the furthest copy, once per task; running and done counts', async (t) => {
  const maps = new FakeMaps();
  const progress = new ProgressTracker();
  const s = scheduler({ maps, live: new FakeMembership(['a']), progress });
  const done = s.run([plannedTask('m00000', ['a'], 1000)]);
  await settle();
  const call = maps.copy('m00000', 'a');
  call.progress(400);
  call.progress(300);
  t.like(progress.snapshot(), { bytesDone: 400, tasksRunning: 1, tasksDone: 0 });
  call.finish();
  await done;
  t.like(progress.snapshot(), { bytesDone: 1000, tasksRunning: 0, tasksDone: 1 });
});

test('rerun: a finished task runs again on the holder it is given, and its output moves there', async (t) => {
  const maps = new FakeMaps();
  const s = scheduler({ maps, live: new FakeMembership(['a', 'b']), speculative: false });
  const done = s.run([plannedTask('m00000', ['a', 'b'])]);
  await settle();
  maps.copy('m00000', 'a').finish();
  const [output] = (await done).outputs;
  const again = s.rerun(output!, 'b');
  await settle();
  maps.copy('m00000', 'b').finish();
  t.is((await again).node, 'b');
  t.is((await again).result.refs[0]!.node, 'b');
});
