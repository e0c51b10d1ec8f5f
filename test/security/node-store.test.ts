/**
 * A node's data directory (issue 13, attack 2): run ids, task ids and partial keys are names that
 * cannot leave the partial store, so no task can read, write or delete outside its run.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { awkStatusCounts, catalogShards, honestCount, listing, mapTask, nodeCluster, submitRaw } from './helpers/node-fixture.ts';

test('runId "..", "." and keys like "../node.lock" are refused by fetch and map; the data directory is left as it was', async (t) => {
  const c = await nodeCluster(t);
  const port = c.server.port;
  const before = listing(c.data);
  t.truthy(before['node.lock'] !== undefined && before['segments'] !== undefined, JSON.stringify(before));
  const [shard] = await catalogShards(port, 'n1');

  const attacks: [string, string][] = [
    ['geartrain.fetch@n1', JSON.stringify({ op: 'drop', runId: '..' })],
    ['geartrain.fetch@n1', JSON.stringify({ op: 'drop', runId: '.' })],
    ['geartrain.fetch@n1', JSON.stringify({ op: 'cancel', runId: '..' })],
    ['geartrain.fetch@n1', JSON.stringify({ op: 'get', key: '../node.lock', offset: 0, length: 100 })],
    ['geartrain.fetch@n1', JSON.stringify({ op: 'get', key: '../segments/x', offset: 0, length: 100 })],
    ['geartrain.fetch@n1', JSON.stringify({ op: 'get', key: '.hidden/x', offset: 0, length: 100 })],
    ['geartrain.map@n1', mapTask({ runId: '..', shards: [{ ...shard!, start: 0, end: shard!.size }] })],
    ['geartrain.map@n1', mapTask({ taskId: '../../escape', shards: [{ ...shard!, start: 0, end: shard!.size }] })],
    ['geartrain.reduce', JSON.stringify({ v: 1, kind: 'reduce', runId: '..', taskId: 't1', job: { type: 'builtin', name: 'count' }, params: { by: 'status', limit: 0 }, mode: 'summary', inputs: [] })],
    ['geartrain.reduce', JSON.stringify({ v: 1, kind: 'reduce', runId: 'r1', taskId: 't1', job: { type: 'builtin', name: 'count' }, params: {}, mode: 'summary', inputs: [{ node: 'n1', key: '../node.lock', size: 10 }] })],
  ];
  for (const [fn, payload] of attacks) {
    const r = await submitRaw(port, fn, payload);
    t.is(r.outcome, 'exception', `${fn} ${payload}: ${r.text}`);
    t.regex(r.text, /invalid '(runId|taskId|key|inputs\.0\.key)': (1-128 letters, digits, '\.', '_' or '-', not starting with '\.'|expected <runId>\/<name>)/, payload);
  }
  t.deepEqual(listing(c.data), before, 'nothing was deleted, written or created');
  t.false(fs.existsSync(path.join(c.dir, 'escape')));
  t.deepEqual(await honestCount(t, c.server.address), awkStatusCounts([c.log]));
});
