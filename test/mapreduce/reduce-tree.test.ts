/**
 * The reduce tree alone, without a cluster: a fake transport whose reduce tasks the test finishes
 * or fails, a fake membership, and a fake "run this map task again". Tiers of fan-in F, the node
 * combine, retries, and lineage: inputs on a node that left are computed again before a reduce
 * runs, map outputs on a live replica and reduce outputs by running that reduce again.
 */
import test from 'ava';
import { NodeUnavailableError, TaskFailedError } from '../../src/errors.ts';
import type { MapOutput } from '../../src/mapreduce/map-scheduler.ts';
import { partitionOf, ReduceTree, type ReduceTreeOptions } from '../../src/mapreduce/reduce-tree.ts';
import { FakeMembership, FakeReduces, plannedTask, ref, settle } from './helpers/fake-cluster.ts';

function mapOutput(taskId: string, holders: readonly string[]): MapOutput {
  return { task: plannedTask(taskId, holders), node: holders[0]!, result: { refs: [ref(holders[0]!, `${taskId}@${holders[0]}`)], counters: {}, stats: null, bytes: 0, lines: 0 } };
}

function tree(o: Partial<ReduceTreeOptions> & { reduces: FakeReduces; live: FakeMembership }) {
  return new ReduceTree({
    transport: o.reduces,
    membership: o.live,
    rerunMap: o.rerunMap ?? (async () => noRerun()),
    fanIn: o.fanIn ?? 2,
    retries: o.retries ?? 3,
    signal: o.signal ?? new AbortController().signal,
    ...(o.onCounters ? { onCounters: o.onCounters } : {}),
  });
}

function noRerun(): never {
  throw new Error('no map task should run again');
}

/** Finish every running reduce on `node` until `done` settles. */
async function finishAll<T>(reduces: FakeReduces, done: Promise<T>, node = 'x'): Promise<T> {
  let settled = false;
  void done.then(() => (settled = true), () => (settled = true));
  while (!settled) {
    await settle();
    for (const c of reduces.running()) c.finish(node);
  }
  return done;
}

test('tiers of fan-in F until one partial is left; a group of one passes through; task ids t<tier>r<n>', async (t) => {
  const reduces = new FakeReduces();
  const live = new FakeMembership(['a', 'b', 'c', 'd', 'e', 'x']);
  const outputs = ['a', 'b', 'c', 'd', 'e'].map((n, i) => mapOutput(`m0000${i}`, [n]));
  const r = tree({ reduces, live, fanIn: 2 });
  const last = await finishAll(reduces, r.merge(partitionOf(outputs, 0), 'summary'));
  t.deepEqual(r.tiers.map((x) => [x.label, x.tasks]), [['merge (fan-in 2)', 2], ['merge (fan-in 2)', 1], ['merge (fan-in 2)', 1]]);
  t.deepEqual(reduces.calls.map((c) => c.step.id), ['t1r0', 't1r1', 't2r2', 't3r3']);
  t.deepEqual(reduces.calls[0]!.step.inputs.map((x) => x.node), ['a', 'b']);
  t.deepEqual(reduces.calls[2]!.step.inputs.map((x) => x.key), ['t1r0a0', 't1r1a0'], 'tier 2 merges the tier-1 outputs');
  t.deepEqual(reduces.calls[3]!.step.inputs.map((x) => x.key), ['t2r2a0', 'm00004@e'], 'the odd one out joins later');
  t.is(last.ref.key, 't3r3a0');
  t.is(r.tasks, 4);
});

test('merge down to at most F partials (for the root to merge): the last tier of one task is left out', async (t) => {
  const reduces = new FakeReduces();
  const live = new FakeMembership(['a', 'b', 'c', 'd', 'e', 'x']);
  const outputs = ['a', 'b', 'c', 'd', 'e'].map((n, i) => mapOutput(`m0000${i}`, [n]));
  const r = tree({ reduces, live, fanIn: 2 });
  const left = await finishAll(reduces, r.merge(partitionOf(outputs, 0), 'summary', 2));
  t.deepEqual(r.tiers.map((x) => [x.label, x.tasks]), [['merge (fan-in 2)', 2], ['merge (fan-in 2)', 1]]);
  t.deepEqual(left.map((p) => p.ref.key), ['t2r2a0', 'm00004@e']);
  const few = tree({ reduces: new FakeReduces(), live, fanIn: 8 });
  t.deepEqual((await few.merge(partitionOf(outputs, 0), 'summary', 8)).map((p) => p.ref.key), outputs.map((o) => o.result.refs[0]!.key), 'F or fewer: no reduce task');
  t.deepEqual(few.tiers, []);
});

test('current(): the partials the root reads, those on a node that left made again on a replica; none at all fails as merge does', async (t) => {
  const live = new FakeMembership(['a', 'b']);
  const reruns: string[] = [];
  const r = tree({
    reduces: new FakeReduces(),
    live,
    rerunMap: async (output, holder) => {
      reruns.push(`${output.task.taskId}->${holder}`);
      return { ...output, node: holder, result: { ...output.result, refs: [ref(holder, `${output.task.taskId}@${holder}`)] } };
    },
  });
  const outputs = [mapOutput('m00000', ['a', 'b']), mapOutput('m00001', ['c', 'b'])];
  t.deepEqual((await r.current(partitionOf(outputs, 0))).map((p) => p.ref.key), ['m00000@a', 'm00001@b']);
  t.deepEqual(reruns, ['m00001->b']);
  t.deepEqual(r.tiers, [], 'no reduce task ran');
  await t.throwsAsync(r.current([]), { instanceOf: TaskFailedError });
});

test('node combine: one reduce on each node with several partials, over its own; single partials pass through', async (t) => {
  const reduces = new FakeReduces();
  const r = tree({ reduces, live: new FakeMembership(['a', 'b']) });
  const outputs = [mapOutput('m00000', ['a']), mapOutput('m00001', ['a']), mapOutput('m00002', ['b'])];
  const combined = r.combinePerNode(partitionOf(outputs, 0), 'sorted');
  await settle();
  t.is(reduces.calls.length, 1);
  t.like(reduces.calls[0]!.step, { mode: 'sorted', node: 'a' });
  reduces.calls[0]!.finish('a');
  t.deepEqual((await combined).map((p) => p.ref.key), ['t1r0a0', 'm00002@b']);
  t.deepEqual(r.tiers, [{ tier: 1, label: 'node combine', tasks: 1, nodes: ['a'] }]);
});

test('a failed reduce is retried as attempt 1; after `retries` the run fails naming the task', async (t) => {
  const reduces = new FakeReduces();
  const r = tree({ reduces, live: new FakeMembership(['a', 'b']), retries: 1 });
  const done = r.tier('merge', [{ mode: 'summary', node: null, inputs: partitionOf([mapOutput('m00000', ['a']), mapOutput('m00001', ['b'])], 0) }]);
  await settle();
  reduces.calls[0]!.fail('out of disk');
  await settle();
  t.is(reduces.calls[1]!.attempt, 1);
  reduces.calls[1]!.fail('out of disk again');
  const err = await t.throwsAsync(done, { instanceOf: TaskFailedError });
  t.is(err.message, 'reduce task t1r0 failed after 2 attempts: out of disk again');
  t.is(r.retried, 2);
});

test('a node combine whose node is gone runs on any node after its inputs are computed again on a replica', async (t) => {
  const reduces = new FakeReduces();
  const live = new FakeMembership(['a', 'b']);
  const reruns: string[] = [];
  const r = tree({
    reduces,
    live,
    rerunMap: async (output, holder) => {
      reruns.push(`${output.task.taskId}->${holder}`);
      return { ...output, node: holder, result: { ...output.result, refs: [ref(holder, `${output.task.taskId}@${holder}`)] } };
    },
  });
  const outputs = [mapOutput('m00000', ['a', 'b']), mapOutput('m00001', ['a', 'b'])];
  const combined = r.combinePerNode(partitionOf(outputs, 0), 'summary');
  await settle();
  live.nodes.delete('a');
  reduces.calls[0]!.fail('node a left');
  await settle();
  const again = reduces.calls[1]!;
  t.is(again.step.node, null, 'no longer bound to a');
  t.deepEqual(again.step.inputs.map((x) => x.key), ['m00000@b', 'm00001@b']);
  t.deepEqual(reruns, ['m00000->b', 'm00001->b']);
  again.finish('b');
  t.is((await combined)[0]!.ref.node, 'b');
});

test('lineage: an input made by a reduce on a node that left is made again by that reduce, from its own inputs', async (t) => {
  const reduces = new FakeReduces();
  const live = new FakeMembership(['a', 'b', 'c', 'd']);
  const r = tree({ reduces, live, fanIn: 2 });
  const outputs = ['a', 'b', 'c', 'd'].map((n, i) => mapOutput(`m0000${i}`, [n]));
  const done = r.merge(partitionOf(outputs, 0), 'summary');
  await settle();
  reduces.calls[0]!.finish('c');
  reduces.calls[1]!.finish('d');
  await settle();
  // The tier-2 merge of t1r0 (on c) and t1r1 (on d) fails: c has left. t1r0 runs again first.
  live.nodes.delete('c');
  reduces.calls[2]!.fail('c is gone');
  await settle();
  t.is(reduces.calls[3]!.step.id, 't1r0', 'the lost input is made again by its reduce');
  t.deepEqual(reduces.calls[3]!.step.inputs.map((x) => x.node), ['a', 'b']);
  reduces.calls[3]!.finish('a');
  await settle();
  t.is(reduces.calls[4]!.step.id, 't2r2');
  t.is(reduces.calls[4]!.attempt, 1);
  t.deepEqual(reduces.calls[4]!.step.inputs.map((x) => `${x.key}@${x.node}`), ['t1r0a0@a', 't1r1a0@d']);
  reduces.calls[4]!.finish('b');
  t.is((await done).ref.key, 't2r2a1');
});

test('an input whose node left with the only copy of its shards fails the run naming the node and the shards', async (t) => {
  const reduces = new FakeReduces();
  const live = new FakeMembership(['b']);
  const r = tree({ reduces, live });
  const err = await t.throwsAsync(r.tier('merge', [{ mode: 'summary', node: null, inputs: partitionOf([mapOutput('m00000', ['a']), mapOutput('m00001', ['b'])], 0) }]), {
    instanceOf: NodeUnavailableError,
  });
  t.is(err.message, 'node a is unavailable and holds the only copy of: a:/logs/m00000.log');
  t.is(reduces.calls.length, 0, 'no reduce ran');
});

test('keepCounters: the counters of a tier that keeps them reach the run, the others do not', async (t) => {
  const reduces = new FakeReduces();
  const seen: Record<string, number>[] = [];
  const r = tree({ reduces, live: new FakeMembership(['a', 'b']), onCounters: (c) => seen.push({ ...c }) });
  const inputs = partitionOf([mapOutput('m00000', ['a']), mapOutput('m00001', ['b'])], 0);
  const kept = r.tier('group by key', [{ mode: 'group', node: null, inputs }], { keepCounters: true });
  await settle();
  reduces.calls[0]!.finish('a', { groups: 7 });
  await kept;
  const plain = r.tier('merge', [{ mode: 'summary', node: null, inputs }]);
  await settle();
  reduces.calls[1]!.finish('a', { reduce_inputs: 2 });
  await plain;
  t.deepEqual(seen, [{ groups: 7 }]);
});
