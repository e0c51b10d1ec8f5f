/**
 * `--replicas R`: every ingested line is stored on exactly R nodes, replicas of a segment are the
 * same file under the same shard id, a lost peer is replaced, and too few nodes is a clear error.
 * Three `geartrain node` processes on one machine, one job server; lines are found with `cat`.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { Client } from '../../src/client/client.ts';
import type { GeartrainError } from '../../src/errors.ts';
import type { ShardInfo } from '../../src/logs/catalog.ts';
import { startServer } from '../helpers/servers.ts';
import { catalogOf, catFiles, segmentFiles, sh, startNode, tempDir, testClient, wcLines, type RunningNode } from '../helpers/cluster.ts';

/** On how many of the nodes' segment files each line occurs (each line of the test is distinct). */
function copies(nodes: readonly { data: string }[], lines: readonly string[]): Map<string, number> {
  const texts = nodes.map((n) => new Set(catFiles(segmentFiles(n.data)).split('\n')));
  return new Map(lines.map((l) => [l, texts.filter((s) => s.has(l)).length]));
}

async function segmentsById(client: Client, nodes: readonly RunningNode[]): Promise<Map<string, { node: string; shard: ShardInfo }[]>> {
  const out = new Map<string, { node: string; shard: ShardInfo }[]>();
  for (const n of nodes) {
    for (const s of (await catalogOf(client, n.name)).shards) {
      if (s.kind !== 'segment') continue;
      out.set(s.id, [...(out.get(s.id) ?? []), { node: n.name, shard: s }]);
    }
  }
  return out;
}

function cmpEqual(a: string, b: string): boolean {
  try {
    execFileSync('cmp', ['-s', a, b]);
    return true;
  } catch {
    return false;
  }
}

test('with --replicas 2 and three nodes, every line is on exactly two nodes, in identical segment files with one id', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t);
  const nodes = await Promise.all(['r1', 'r2', 'r3'].map((name) => startNode(t, { name, servers: server.address, data: path.join(dir, name), replicas: 2 })));
  const client = testClient(t, server.address);

  const single = Array.from({ length: 45 }, (_, i) => `single ${i}`);
  const r = await sh(`printf '%s\\n' ${single.map((l) => `'${l}'`).join(' ')} | gearman -h 127.0.0.1 -p ${server.port} -n -f logger`);
  t.is(r.code, 0, r.stderr);
  const batch = Array.from({ length: 30 }, (_, i) => `batch ${i}`);
  await Promise.all([
    client.call('logger@r2', batch.slice(0, 10).join('\n')),
    client.call('logger@r3', batch.slice(10, 20).join('\n'), { unique: 'b2' }),
    client.call('logger', batch.slice(20).join('\n') + '\n', { unique: 'b3' }),
  ]);

  const all = [...single, ...batch];
  const counts = copies(nodes, all);
  t.deepEqual([...counts.entries()].filter(([, n]) => n !== 2), [], 'lines not on exactly two nodes');
  t.is(nodes.reduce((n, node) => n + wcLines(segmentFiles(node.data)), 0), 2 * all.length, 'no line twice on one node');

  const byId = await segmentsById(client, nodes);
  t.true(byId.size >= 1);
  for (const [id, holders] of byId) {
    t.is(holders.length, 2, `segment ${id} on two nodes`);
    const [a, b] = holders as [{ node: string; shard: ShardInfo }, { node: string; shard: ShardInfo }];
    t.is(a.shard.size, b.shard.size);
    t.is(a.shard.lines, b.shard.lines);
    t.is(a.shard.origin, b.shard.origin);
    t.true(cmpEqual(a.shard.path, b.shard.path), `${a.shard.path} and ${b.shard.path} are the same bytes`);
  }
  for (const n of nodes) t.is(await n.stop(), 0);
});

test('with --replicas 2 and one node, a logger job fails and says why; nothing is stored', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const data = path.join(tempDir(t), 'solo');
  await startNode(t, { name: 'solo', servers: server.address, data, replicas: 2 });
  const client = testClient(t, server.address);
  const err = await t.throwsAsync<GeartrainError>(client.call('logger', 'lonely line\n'));
  t.is(err?.code, 'ERR_JOB_EXCEPTION');
  t.regex(err!.message, /--replicas 2 needs 2 log nodes, but only 1 is alive \(solo\).*not stored/);
  t.is(wcLines(segmentFiles(data)), 0);
  const r = await sh(`printf 'cli line\\n' | gearman -h 127.0.0.1 -p ${server.port} -n -f logger`);
  t.not(r.code, 0, 'the gearman CLI reports the failure too');
});

test('when the peer holding a segment dies, the origin copies the segment to another node and completes the jobs', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t);
  const nodes = await Promise.all(['p1', 'p2', 'p3'].map((name) => startNode(t, { name, servers: server.address, data: path.join(dir, name), replicas: 2 })));
  const client = testClient(t, server.address);
  const before = Array.from({ length: 20 }, (_, i) => `before ${i}`);
  for (let i = 0; i < before.length; i += 5) await client.call('logger@p1', before.slice(i, i + 5).join('\n'), { unique: `a${i}` });

  const byId = await segmentsById(client, nodes);
  const holders = [...byId.values()][0]!;
  t.is(byId.size, 1);
  const peer = holders.find((h) => h.node !== 'p1')!.node;
  const victim = nodes.find((n) => n.name === peer)!;
  const survivor = nodes.find((n) => n.name !== 'p1' && n.name !== peer)!;
  victim.kill('SIGKILL');
  await victim.exited();

  const after = Array.from({ length: 20 }, (_, i) => `after ${i}`);
  for (let i = 0; i < after.length; i += 5) await client.call('logger@p1', after.slice(i, i + 5).join('\n'), { unique: `b${i}` });

  const origin = nodes.find((n) => n.name === 'p1')!;
  t.regex(origin.stderrText(), new RegExp(`replicas moved from ${peer} to ${survivor.name}`));
  const live = [origin, survivor];
  const counts = copies(live, [...before, ...after]);
  t.deepEqual([...counts.entries()].filter(([, n]) => n !== 2), [], 'every line on both live nodes');
  for (const [id, hs] of await segmentsById(client, live)) {
    t.is(hs.length, 2, `segment ${id} on both live nodes`);
    t.true(cmpEqual(hs[0]!.shard.path, hs[1]!.shard.path));
  }
});
