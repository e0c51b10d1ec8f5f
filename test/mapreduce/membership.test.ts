/**
 * ClusterMembership over a stand-in for the servers' admin view and a stand-in probe, on a
 * FakeClock: which answers are shared and for how long, what a run starts with, which nodes it
 * expects (named, remembered, listed, departed) and why an absent one is absent.
 */
import test from 'ava';
import { FakeClock } from '../helpers/fake-clock.ts';
import { NodeUnavailableError, TimeoutError } from '../../src/errors.ts';
import type { ClusterListing, ClusterView } from '../../src/mapreduce/discovery.ts';
import { MemoryMemberStore, rememberCatalogs } from '../../src/mapreduce/member-store.ts';
import { ClusterMembership } from '../../src/mapreduce/membership.ts';
import { departureSignature } from '../../src/mapreduce/task-auth.ts';
import type { NodeCatalog } from '../../src/logs/catalog.ts';
import type { DepartureNotice } from '../../src/wire-names.ts';
import { testCatalog } from './helpers/fake-cluster.ts';

class FakeView {
  queries = 0;
  nodes = new Set(['a', 'b']);
  /** Listed with no live worker. */
  gone = new Set<string>();
  departures: DepartureNotice[] = [];
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
  async listing(): Promise<ClusterListing> {
    return { live: new Set(this.nodes), known: new Set([...this.nodes, ...this.gone]), departures: [...this.departures] };
  }
  async waitForNodes(count: number): Promise<Set<string>> {
    return new Set([...this.nodes].slice(0, count));
  }
}

/** Nodes in `silent` time out on a probe; the others answer. */
function membership(view: FakeView, o: { clock?: FakeClock; silent?: Set<string>; store?: MemoryMemberStore; named?: string[] } = {}) {
  const silent = o.silent ?? new Set<string>();
  return new ClusterMembership(view as unknown as ClusterView, {
    clock: o.clock ?? new FakeClock(),
    probe: async (node) => {
      if (silent.has(node)) throw new TimeoutError('probe timed out');
    },
    ...(o.store ? { store: o.store } : {}),
    ...(o.named ? { named: o.named } : {}),
  });
}

function catalog(node: string, shards: { id: string; path: string; first: number; last: number }[] = []): NodeCatalog {
  return testCatalog(node, shards);
}

test('live(maxAgeMs): callers during a query share it, and its answer serves for maxAgeMs after it came', async (t) => {
  const view = new FakeView();
  const clock = new FakeClock();
  const m = membership(view, { clock });
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
  t.deepEqual([...(await m.initial(undefined, 1000, ['s:1'])).nodes], ['a', 'b']);
  view.nodes.clear();
  const err = await t.throwsAsync(m.initial(undefined, 1000, ['s:1', 's:2']), { instanceOf: NodeUnavailableError });
  t.regex(err.message, /^no geartrain nodes are registered on s:1, s:2/);
  m.stop();
});

test('initial(): a listed node that does not answer a probe is left out, found gone, and no longer live; why says so', async (t) => {
  const view = new FakeView();
  const m = membership(view, { silent: new Set(['b']) });
  const { nodes } = await m.initial(undefined, 1000, ['s:1']);
  t.deepEqual([...nodes], ['a']);
  t.true(m.lost('b').aborted);
  t.true(m.lost('b').reason instanceof NodeUnavailableError);
  t.false(m.lost('a').aborted);
  t.deepEqual([...(await m.live())], ['a'], 'the servers still list b; the run does not count it');
  t.regex(m.whyAbsent('b'), /did not answer a probe within 2\.5 s/);
  m.stop();
});

test('initial(): when every listed node is silent, the error names them', async (t) => {
  const view = new FakeView();
  const m = membership(view, { silent: new Set(['a', 'b']) });
  const err = await t.throwsAsync(m.initial(undefined, 1000, ['s:1']), { instanceOf: NodeUnavailableError });
  t.regex(err.message, /no geartrain node answers: a, b registered on s:1/);
});

test('expected: the remembered nodes and those the servers list without workers; a departure notice newer than the last sighting removes a node', async (t) => {
  const view = new FakeView();
  const clock = new FakeClock();
  const store = new MemoryMemberStore(['s:1']);
  await store.update((s) => rememberCatalogs(s, [catalog('a'), catalog('c'), catalog('d')], clock.now() - 10_000));
  view.gone = new Set(['e']);
  view.departures = [{ node: 'd', at: clock.now() - 5_000, signature: null }];
  const m = membership(view, { clock, store });
  const { expected } = await m.initial(undefined, 1000, ['s:1']);
  t.deepEqual(
    [...expected.values()].map((e) => `${e.node}:${e.because}`),
    ['a:remembered', 'c:remembered', 'b:listed', 'e:listed'],
  );
  t.false('d' in (await store.read()).nodes, 'the departure is remembered too');
  t.is(m.whyAbsent('e'), 'the job servers list it with no live worker (stopped, crashed, or its connections closed)');
  t.is(m.whyAbsent('c'), 'not registered on the job servers');
  m.stop();
});

test('expected: nodes named by the user replace the remembered and listed ones', async (t) => {
  const view = new FakeView();
  const store = new MemoryMemberStore(['s:1']);
  await store.update((s) => rememberCatalogs(s, [catalog('c')], 0));
  const m = membership(view, { store, named: ['a', 'z'] });
  const { expected } = await m.initial(undefined, 1000, ['s:1']);
  t.deepEqual([...expected.keys()], ['a', 'z']);
  m.stop();
});

test('remember(): the catalogues of the nodes seen, with their shards and the time', async (t) => {
  const view = new FakeView();
  const clock = new FakeClock();
  const store = new MemoryMemberStore(['s:1']);
  const m = membership(view, { clock, store });
  await m.remember([catalog('a', [{ id: 'f-0000000000000001', path: '/logs/a.log', first: 1, last: 2 }])]);
  const state = await store.read();
  t.deepEqual(state.nodes.a, {
    firstSeen: clock.now(),
    lastSeen: clock.now(),
    shards: [{ id: 'f-0000000000000001', path: '/logs/a.log', size: 100, firstTime: 1, lastTime: 2, timeToleranceMs: 0 }],
  });
});

test('departure notices: a coordinator with the cluster secret takes only signed ones; none dated in the future counts; without a memory they still apply to the listed nodes', async (t) => {
  const clock = new FakeClock();
  const view = new FakeView();
  view.gone = new Set(['c', 'd', 'e']);
  const past = clock.now() - 5_000;
  view.departures = [
    { node: 'c', at: past, signature: departureSignature('s3cret', 'c', past) },
    { node: 'd', at: past, signature: null },
    { node: 'e', at: clock.now() + 3_600_000, signature: departureSignature('s3cret', 'e', clock.now() + 3_600_000) },
  ];
  const signed = new ClusterMembership(view as unknown as ClusterView, { clock, probe: async () => {}, secret: 's3cret' });
  t.deepEqual([...(await signed.initial(undefined, 1000, ['s:1'])).expected.keys()], ['a', 'b', 'd', 'e'], 'c left (signed); d unsigned and e in the future do not count');
  signed.stop();
  const open = membership(view, { clock });
  t.deepEqual([...(await open.initial(undefined, 1000, ['s:1'])).expected.keys()], ['a', 'b', 'e'], 'without a secret any notice counts, but not one from the future');
  open.stop();
});
