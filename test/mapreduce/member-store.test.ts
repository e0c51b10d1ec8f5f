/**
 * The membership memory of a coordinator machine (member-store.ts) and what a run expects of it
 * (expected-nodes.ts): the file per set of job servers, kept across processes and replaced whole;
 * nodes remembered with their shards until they leave; which absent nodes cost a run which shards
 * (the time range asked, copies on live nodes).
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StoreError } from '../../src/errors.ts';
import { expectedNodes, missingNodes, missingNodesMessage, missingShardsOf } from '../../src/mapreduce/expected-nodes.ts';
import { emptyState, FileMemberStore, memberStateFile, recordDeparture, rememberCatalogs, stateDirectory, type MemberState } from '../../src/mapreduce/member-store.ts';
import type { NodeCatalog } from '../../src/logs/catalog.ts';
import { testCatalog } from './helpers/fake-cluster.ts';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1);

function tmp(t: { teardown(f: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-members-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A catalogue whose shards each span one day from T0 + `day` days. */
function catalog(node: string, shards: { id: string; path: string; day: number; size?: number }[]): NodeCatalog {
  return testCatalog(node, shards.map((s) => ({ ...s, first: T0 + s.day * DAY, last: T0 + (s.day + 1) * DAY - 1 })));
}

test('the file of a server set: under $XDG_STATE_HOME/geartrain, else ~/.local/state/geartrain; the servers in any order share one', (t) => {
  t.is(stateDirectory({ XDG_STATE_HOME: '/var/x', HOME: '/home/u' }), '/var/x/geartrain');
  t.is(stateDirectory({ HOME: '/home/u' }), '/home/u/.local/state/geartrain');
  t.is(stateDirectory({ XDG_STATE_HOME: 'relative', HOME: '/home/u' }), '/home/u/.local/state/geartrain', 'a relative XDG_STATE_HOME is ignored, as the spec says');
  const env = { HOME: '/home/u' };
  t.is(memberStateFile(['10.0.0.2:4730', '10.0.0.1:4730'], env), '/home/u/.local/state/geartrain/members-10.0.0.1_4730_10.0.0.2_4730.json');
  t.is(memberStateFile(['10.0.0.1:4730', '10.0.0.2:4730'], env), memberStateFile(['10.0.0.2:4730', '10.0.0.1:4730'], env));
  const many = Array.from({ length: 20 }, (_, i) => `server-${i}.example.org:4730`);
  t.true(path.basename(memberStateFile(many, env)).length < 100);
  t.not(memberStateFile(many, env), memberStateFile(many.slice(1), env));
});

test('a file store starts empty, keeps what it is told across instances (a coordinator restart), and replaces the file whole', async (t) => {
  const file = path.join(tmp(t), 'state', 'members-s.json');
  const first = new FileMemberStore(file, ['s:1']);
  t.deepEqual(await first.read(), emptyState(['s:1']));
  await first.update((s) => rememberCatalogs(s, [catalog('web1', [{ id: 'f-1', path: '/l/a.log', day: 0 }])], T0));
  const again = new FileMemberStore(file, ['s:1']);
  const state = await again.read();
  t.deepEqual(Object.keys(state.nodes), ['web1']);
  t.deepEqual(state.nodes.web1!.shards, [{ id: 'f-1', path: '/l/a.log', size: 100, firstTime: T0, lastTime: T0 + DAY - 1, timeToleranceMs: 0 }]);
  t.deepEqual(fs.readdirSync(path.dirname(file)), ['members-s.json'], 'no temporary file left');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
});

test('a damaged file is an error naming it and what to do, not an empty memory', async (t) => {
  const file = path.join(tmp(t), 'members-s.json');
  fs.writeFileSync(file, '{"version":1,"servers":[],"nodes":{"a":{"firstSeen":"x"}}');
  const err = await t.throwsAsync(new FileMemberStore(file, ['s:1']).read(), { instanceOf: StoreError });
  t.true(err.message.includes(file));
  t.regex(err.message, /not JSON.*remove it to start remembering anew/);
  fs.writeFileSync(file, JSON.stringify({ version: 1, servers: [], nodes: { a: { firstSeen: 'x' } }, departed: {} }));
  const bad = await t.throwsAsync(new FileMemberStore(file, ['s:1']).read(), { instanceOf: StoreError });
  t.regex(bad.message, /not valid \('nodes\.a\.firstSeen'/);
});

test('a departure removes a node last seen before it; a node seen live after its departure is expected again', (t) => {
  const state: MemberState = emptyState(['s:1']);
  rememberCatalogs(state, [catalog('web1', []), catalog('web2', [])], T0);
  t.true(recordDeparture(state, 'web2', T0 + 1000));
  t.deepEqual(Object.keys(state.nodes), ['web1']);
  t.deepEqual([...expectedNodes(state, new Set(['web1', 'web2'])).keys()], ['web1'], 'a listed node that left is not expected');
  rememberCatalogs(state, [catalog('web2', [])], T0 + 2000);
  t.deepEqual(state.departed, {});
  t.deepEqual([...expectedNodes(state, new Set()).keys()], ['web1', 'web2']);
  t.false(recordDeparture(state, 'web1', T0 - 1), 'a notice older than the last sighting changes nothing');
  t.deepEqual([...expectedNodes(state, new Set()).keys()], ['web1', 'web2']);
});

test('missing nodes: an absent node costs the run its shards in the time range that no live node holds in full', (t) => {
  const state = emptyState(['s:1']);
  rememberCatalogs(
    state,
    [
      catalog('web1', [{ id: 'f-a', path: '/l/web1.log', day: 0 }]),
      catalog('web2', [
        { id: 'f-old', path: '/l/web2.log.1', day: 0 },
        { id: 'f-new', path: '/l/web2.log', day: 2 },
        { id: 's-rep', path: '/d/segments/s-rep.log', day: 2, size: 500 },
        { id: 's-short', path: '/d/segments/s-short.log', day: 2, size: 500 },
      ]),
    ],
    T0,
  );
  const expected = expectedNodes(state, new Set(['web3']));
  const live = [
    catalog('web1', [
      { id: 'f-a', path: '/l/web1.log', day: 0 },
      { id: 's-rep', path: '/d1/segments/s-rep.log', day: 2, size: 500 },
      { id: 's-short', path: '/d1/segments/s-short.log', day: 2, size: 400 },
    ]),
  ];
  const why = (n: string) => `${n} is not there`;
  const all = missingNodes(expected, { taking: new Set(['web1']), catalogs: live, why });
  t.deepEqual(
    all.map((m) => [m.node, m.shards?.map((s) => s.path) ?? null]),
    [
      ['web2', ['/l/web2.log.1', '/l/web2.log', '/d/segments/s-short.log']],
      ['web3', null],
    ],
    'the segment copied in full to web1 is read there; the one copied in part is missing; web3 is known only by name',
  );
  const recent = missingNodes(expected, { taking: new Set(['web1']), catalogs: live, since: T0 + 2 * DAY, why });
  t.deepEqual(recent.find((m) => m.node === 'web2')!.shards!.map((s) => s.path), ['/l/web2.log', '/d/segments/s-short.log'], 'the old file is outside --since');
  const early = missingNodes(expectedNodes(state, new Set()), { taking: new Set(['web1']), catalogs: live, until: T0 + DAY, why });
  t.deepEqual(early.map((m) => m.node), ['web2']);
  const none = missingNodes(expectedNodes(state, new Set()), { taking: new Set(['web1']), catalogs: live, since: T0 + 5 * DAY, why });
  t.deepEqual(none, [], 'no data of web2 in the range: the run does not need it');

  t.deepEqual(missingShardsOf(all).map((m) => `${m.node}:${m.path}`), ['web2:/l/web2.log.1', 'web2:/l/web2.log', 'web2:/d/segments/s-short.log', 'web3:*']);
  t.regex(missingShardsOf(all)[3]!.reason!, /its shards are not known on this machine/);
  const message = missingNodesMessage(all);
  t.regex(message, /^incomplete result: 2 expected node\(s\) did not take part: web2 \(web2 is not there; last seen 2026-10-01T00:00:00Z\) with 3 shard\(s\) in the time asked: web2:\/l\/web2\.log\.1 \(2026-10-01T00:00:00Z to 2026-10-01T23:59:59Z\)/);
  t.regex(message, /web3 \(web3 is not there\), its shards not known on this machine/);
  t.regex(message, /--allow-partial.*geartrain nodes forget NAME$/);
});
