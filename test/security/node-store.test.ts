/**
 * A node's data directory (issue 13, attacks 2 and 3): run ids, task ids and partial keys are
 * names that cannot leave the partial store, and the incremental cache is keyed by what the node
 * computes itself, so no task can read, write or delete outside its run, nor poison later runs.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { GEARTRAIN_VERSION } from '../../src/version.ts';
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

test('a map task cannot fill the incremental cache under a key it chose: the node keys entries by the code, parameters and filters it runs', async (t) => {
  const c = await nodeCluster(t);
  const port = c.server.port;
  const [shard] = await catalogShards(port, 'n1');
  const spec = { id: shard!.id, path: shard!.path, start: 0, end: shard!.size, format: shard!.format, gzip: false };
  // The key `geartrain run count --by status --incremental` used, computed offline as the issue did.
  const code = createHash('sha256').update(fs.readFileSync(path.resolve(import.meta.dirname, '../../jobs/count.ts'))).digest('hex');
  const params = { by: 'status', limit: 0 };
  const key = createHash('sha256').update(JSON.stringify({ v: GEARTRAIN_VERSION, code, params, where: null, vhost: null })).digest('hex');

  const poisoned = await submitRaw(port, 'geartrain.map@n1', mapTask({ runId: 'evil', params, shards: [spec], filter: { where: 'status=404' }, incremental: { key } }));
  t.is(poisoned.outcome, 'exception');
  t.regex(poisoned.text, /map task: invalid 'incremental'/);
  t.false(fs.existsSync(path.join(c.data, 'cache')), 'the cache is untouched');

  // Asking for an incremental run with a filter is allowed; it fills an entry of its own.
  const filtered = await submitRaw(port, 'geartrain.map@n1', mapTask({ runId: 'evil2', params, shards: [spec], filter: { where: 'status=404' }, incremental: true }));
  t.is(filtered.outcome, 'complete', filtered.text);
  // A range past the end of the file is read but not cached (it would be served short later).
  const past = await submitRaw(port, 'geartrain.map@n1', mapTask({ runId: 'evil3', params, shards: [{ ...spec, end: 64 * 1024 * 1024 }], incremental: true }));
  t.is(past.outcome, 'complete', past.text);
  // Claiming a plain file is gzip (or the reverse) changes nothing: the node reads it as it is.
  const flipped = await submitRaw(port, 'geartrain.map@n1', mapTask({ runId: 'evil4', params, shards: [{ ...spec, gzip: true }], incremental: true }));
  t.is(flipped.outcome, 'complete', flipped.text);

  const expected = awkStatusCounts([c.log]);
  t.true(Object.keys(expected).length > 1);
  t.deepEqual(await honestCount(t, c.server.address, ['--incremental']), expected);
  // Twice: the second run is served from the cache the first one filled.
  t.deepEqual(await honestCount(t, c.server.address, ['--incremental']), expected);
});
