/**
 * ClusterMembership over a stand-in for the servers' admin view, on a FakeClock: which answers
 * are shared and for how long, and what a run starts with.
 */
import test from 'ava';
import { FakeClock } from '../helpers/fake-clock.ts';
import { NodeUnavailableError } from '../../src/errors.ts';
import type { ClusterView } from '../../src/mapreduce/discovery.ts';
import { ClusterMembership } from '../../src/mapreduce/membership.ts';

class FakeView {
  queries = 0;
  nodes = new Set(['a', 'b']);
  failNext = false;
  pending: (() => void)[] = [];
  hold = false;
  async liveNodes(): Promise<Set<string>> {
    this.queries++;
    if (this.hold) await new Promise<void>((r) => this.pending.push(r));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('admin port unreachable');
    }
    return new Set(this.nodes);
  }
  async waitForNodes(count: number): Promise<Set<string>> {
    return new Set([...this.nodes].slice(0, count));
  }
}

function membership(view: FakeView, clock = new FakeClock()) {
  return new ClusterMembership(view as unknown as ClusterView, { clock });
}

test('live(maxAgeMs): callers during a query share it, and its answer serves for maxAgeMs after it came', async (t) => {
  const view = new FakeView();
  const clock = new FakeClock();
  const m = membership(view, clock);
  view.hold = true;
  const [x, y] = [m.live(200), m.live(200)];
  view.hold = false;
  for (const release of view.pending.splice(0)) release();
  t.deepEqual([...(await x)], ['a', 'b']);
  t.is(await y, await x);
  t.is(view.queries, 1);
  view.nodes.delete('a');
  clock.advance(200);
  t.deepEqual([...(await m.live(200))], ['a', 'b'], 'still within 200 ms of the answer');
  clock.advance(1);
  t.deepEqual([...(await m.live(200))], ['b']);
  t.is(view.queries, 2);
});

test('live() without an age asks every time; a failed query is not reused', async (t) => {
  const view = new FakeView();
  const m = membership(view);
  await m.live();
  await m.live();
  t.is(view.queries, 2);
  view.failNext = true;
  await t.throwsAsync(m.live(200), { message: 'admin port unreachable' });
  t.deepEqual([...(await m.live(200))], ['a', 'b']);
  t.is(view.queries, 4);
});

test('initial(): the nodes live now, or waitNodes of them; none is an error naming the servers', async (t) => {
  const view = new FakeView();
  const m = membership(view);
  t.deepEqual([...(await m.initial(undefined, 1000, ['s:1']))], ['a', 'b']);
  t.deepEqual([...(await m.initial(1, 1000, ['s:1']))], ['a']);
  view.nodes.clear();
  const err = await t.throwsAsync(m.initial(undefined, 1000, ['s:1', 's:2']), { instanceOf: NodeUnavailableError });
  t.regex(err.message, /^no geartrain nodes are registered on s:1, s:2/);
});
