/**
 * `geartrain.catalog@<node>` over a real job server, from a `geartrain node` child process:
 * answers validate against the exported schema, follow files as they grow and rotate, and come
 * from the scan cache after a restart.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { nodeCatalogSchema } from '../../src/logs/catalog.ts';
import { catalogFunction } from '../../src/logs/log-service.ts';
import { startServer } from '../helpers/servers.ts';
import { catalogOf, combinedLine, startNode, tempDir, testClient } from '../helpers/cluster.ts';

const T0 = Date.UTC(2026, 9, 1, 0, 0, 0);

function write(file: string, from: number, count: number, tag: string, append = false): void {
  const text = Array.from({ length: count }, (_, i) => combinedLine(new Date(T0 + (from + i) * 60_000), `${tag}/${i}`)).join('\n') + '\n';
  if (append) fs.appendFileSync(file, text);
  else fs.writeFileSync(file, text);
}

const wcL = (file: string) => Number(execFileSync('sh', ['-c', 'wc -l < "$1"', 'sh', file]).toString().trim());

test('the catalogue answers over the protocol: plain, gzip and vhost files, growth and rotation', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const access = path.join(logs, 'access.log');
  write(access, 0, 10, 'now');
  write(path.join(logs, 'access.log.1'), -100, 20, 'old');
  write(path.join(logs, 'access.log.2'), -200, 30, 'older');
  execFileSync('gzip', [path.join(logs, 'access.log.2')]);
  fs.writeFileSync(path.join(logs, 'other_vhosts_access.log'), 'example.org:80 ' + combinedLine(new Date(T0), 'v') + '\n');
  const node = await startNode(t, {
    name: 'cat1',
    servers: server.address,
    data: path.join(dir, 'data'),
    logs: [`${logs}/access.log*:combined`, `${logs}/other_vhosts*:vhost_combined`],
  });
  t.is(node.readyShards, 4);
  const client = testClient(t, server.address);

  const raw = JSON.parse((await client.call(catalogFunction('cat1'))).toString());
  t.true(nodeCatalogSchema.safeParse(raw).success, 'an empty request gets a valid catalogue');
  const cat = await catalogOf(client, 'cat1');
  t.is(cat.node, 'cat1');
  const byName = new Map(cat.shards.map((s) => [path.basename(s.path), s]));
  t.deepEqual([...byName.keys()].sort(), ['access.log', 'access.log.1', 'access.log.2.gz', 'other_vhosts_access.log']);
  t.like(byName.get('access.log.2.gz'), { gzip: true, lines: 30, firstTime: T0 - 200 * 60_000, lastTime: T0 - 171 * 60_000, timeExact: true });
  t.like(byName.get('other_vhosts_access.log'), { formatName: 'vhost_combined', lines: 1, firstTime: T0 });
  const id = byName.get('access.log')!.id;

  write(access, 10, 5, 'more', true);
  const grown = (await catalogOf(client, 'cat1')).shards.find((s) => s.id === id)!;
  t.like(grown, { path: access, lines: wcL(access), size: fs.statSync(access).size, lastTime: T0 + 14 * 60_000 });

  fs.renameSync(path.join(logs, 'access.log.1'), path.join(logs, 'access.log.3'));
  fs.renameSync(access, path.join(logs, 'access.log.1'));
  write(access, 20, 2, 'new');
  const rotated = await catalogOf(client, 'cat1');
  t.is(rotated.shards.length, 5);
  t.is(rotated.shards.find((s) => s.id === id)?.path, path.join(logs, 'access.log.1'));
  t.like(rotated.shards.find((s) => s.path === access), { lines: 2, firstTime: T0 + 20 * 60_000 });
});

test('after a restart the node answers from its scan cache: nothing is scanned again', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  for (let i = 0; i < 3; i++) write(path.join(logs, `access.log.${i}`), i * 1000, 500, `f${i}`);
  const opts = { name: 'cat2', servers: server.address, data: path.join(dir, 'data'), logs: [`${logs}/*`] };
  const client = testClient(t, server.address);
  let node = await startNode(t, opts);
  const cold = await catalogOf(client, 'cat2');
  t.true(cold.shards.every((s) => s.timeExact && s.lines === 500));
  t.true(cold.scan.bytesScanned > 0);
  t.is(await node.stop(), 0);

  node = await startNode(t, opts);
  const warm = await catalogOf(client, 'cat2', { scanBudgetBytes: 0 });
  t.like(warm.scan, { bytesScanned: 0, cacheHits: 3, pendingBytes: 0 });
  t.deepEqual(
    warm.shards.map((s) => [s.id, s.lines, s.firstTime, s.lastTime, s.timeExact]).sort(),
    cold.shards.map((s) => [s.id, s.lines, s.firstTime, s.lastTime, s.timeExact]).sort(),
  );
});
