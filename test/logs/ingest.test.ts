/**
 * Ingestion through `logger` on a real job server and `geartrain node` child processes: stock
 * clients (the `gearman` CLI, `geartrain job`), restarts, and retries that must not store lines
 * twice. Line counts are taken with `cat | wc -l` over the segment files.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { GeartrainError } from '../../src/errors.ts';
import { waitFor } from '../helpers/ports.ts';
import { startServer } from '../helpers/servers.ts';
import { catalogOf, catFiles, geartrainShell, segmentFiles, sh, startNode, startServerProcess, tempDir, testClient, wcLines } from '../helpers/cluster.ts';

test('lines sent with `gearman -n -f logger` and `geartrain job -n -f logger` are stored once each, byte for byte', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const node = await startNode(t, { name: 'ing1', servers: server.address, data });
  t.is(node.readyShards, 0);

  const viaGearman = Array.from({ length: 25 }, (_, i) => `gearman line ${i} "quoted" \\ back`);
  const r1 = await sh(`printf '%s\\n' "$@" | gearman -h 127.0.0.1 -p ${server.port} -n -f logger`.replace('"$@"', viaGearman.map((l) => `'${l}'`).join(' ')));
  t.is(r1.code, 0, r1.stderr);
  t.is(r1.stdout, '', 'nothing printed per line');
  t.is(wcLines(segmentFiles(data)), 25);

  // -N strips the newline: the node adds it back. The last line of the input has none at all.
  const r2 = await sh(`printf 'job a\\njob b\\njob c' | ${geartrainShell('job')} -h 127.0.0.1 -p ${server.port} -N -f logger`);
  t.is(r2.code, 0, r2.stderr);
  t.is(wcLines(segmentFiles(data)), 28);
  t.is(catFiles(segmentFiles(data)), [...viaGearman, 'job a', 'job b', 'job c'].join('\n') + '\n');

  // A multi-line job (all of stdin as one job) is one batch.
  const r3 = await sh(`printf 'm1\\nm2\\nm3\\n' | gearman -h 127.0.0.1 -p ${server.port} -f logger`);
  t.is(r3.code, 0, r3.stderr);
  t.is(wcLines(segmentFiles(data)), 31);
  const r4 = await sh(`printf 'n1\\nn2\\n' | ${geartrainShell('job')} --servers 127.0.0.1:${server.port} -n -f logger`);
  t.is(r4.code, 0, r4.stderr);
  t.is(wcLines(segmentFiles(data)), 33);
  t.true(catFiles(segmentFiles(data)).endsWith('m1\nm2\nm3\nn1\nn2\n'));

  const client = testClient(t, server.address);
  const cat = await catalogOf(client, 'ing1');
  const segs = cat.shards.filter((s) => s.kind === 'segment');
  t.is(segs.length, 1);
  t.like(segs[0], { origin: 'ing1', lines: 33, size: fs.statSync(segmentFiles(data)[0]!).size, growing: true, formatName: 'combined' });
});

test('after a restart the old segments stay, new lines go to a new segment, and a resent unique is still recognised', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const data = path.join(tempDir(t), 'data');
  const client = testClient(t, server.address);
  let node = await startNode(t, { name: 'ing2', servers: server.address, data });
  await client.call('logger', 'first\nsecond\n', { unique: 'batch-1' });
  await client.call('logger', 'first\nsecond\n', { unique: 'batch-1' });
  t.is(wcLines(segmentFiles(data)), 2, 'same unique and lines: stored once');
  await client.call('logger', 'third\n', { unique: 'batch-1' });
  t.is(wcLines(segmentFiles(data)), 3, 'same unique, other lines: a different job, stored');
  t.is(await node.stop(), 0, 'SIGTERM exits 0');

  node = await startNode(t, { name: 'ing2', servers: server.address, data });
  t.is(node.readyShards, 1, 'the segment written before the restart');
  await client.call('logger', 'first\nsecond\n', { unique: 'batch-1' });
  t.is(wcLines(segmentFiles(data)), 3, 'the key survived the restart');
  const r = await sh(`printf 'x\\ny\\n' | gearman -h 127.0.0.1 -p ${server.port} -n -f logger@ing2`);
  t.is(r.code, 0, r.stderr);
  t.is(segmentFiles(data).length, 2);
  t.is(wcLines(segmentFiles(data)), 5);
  const cat = await catalogOf(client, 'ing2');
  t.deepEqual(
    cat.shards.map((s) => [s.lines, s.growing]).sort(),
    [
      [2, true],
      [3, false],
    ],
  );
  t.is(await node.stop(), 0);
});

test('a node killed -9 after storing a job and before completing it does not store the lines again when the job is retried', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const hold = path.join(dir, 'held');
  const client = testClient(t, server.address);
  const node = await startNode(t, { name: 'ing3', servers: server.address, data, env: { GEARTRAIN_TEST_HOLD_AFTER_STORE: hold } });

  // No unique key (geartrain's client sends none for foreground jobs): the job handle identifies the retry.
  const job = client.submit('logger', 'kill me 1\nkill me 2\nkill me 3\n');
  await waitFor(() => fs.existsSync(hold) && fs.readFileSync(hold, 'utf8').trim().length > 0, 'the node to store the lines');
  t.is(wcLines(segmentFiles(data)), 3);
  node.kill('SIGKILL');
  await node.exited();

  await startNode(t, { name: 'ing3', servers: server.address, data });
  await job.result;
  t.is(wcLines(segmentFiles(data)), 3, 'stored once');
  t.is(catFiles(segmentFiles(data)), 'kill me 1\nkill me 2\nkill me 3\n');
});

test('background jobs from `gearman -b` wait in the server\'s persistent queue, across a server crash, until a node stores them', async (t) => {
  const dir = tempDir(t);
  const serverData = path.join(dir, 'server');
  let server = await startServerProcess(t, ['-p', '0', '-q', 'sqlite', '--data', serverData]);
  const port = server.port;
  const sent = Array.from({ length: 40 }, (_, i) => `bg line ${i}`);
  const r = await sh(`printf '%s\\n' ${sent.map((l) => `'${l}'`).join(' ')} | gearman -h 127.0.0.1 -p ${port} -b -n -f logger`);
  t.is(r.code, 0, r.stderr);
  server.kill('SIGKILL');
  await server.exited();
  server = await startServerProcess(t, ['-p', String(port), '-q', 'sqlite', '--data', serverData]);

  const data = path.join(dir, 'node');
  await startNode(t, { name: 'ing4', servers: server.address, data });
  await waitFor(() => wcLines(segmentFiles(data)) >= 40, 'all background lines stored');
  t.is(wcLines(segmentFiles(data)), 40);
  t.deepEqual(catFiles(segmentFiles(data)).split('\n').slice(0, -1).sort(), [...sent].sort());
});

test('a payload with several lines and no final newline is stored as whole lines; an empty job stores nothing', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const data = path.join(tempDir(t), 'data');
  const client = testClient(t, server.address);
  await startNode(t, { name: 'ing5', servers: server.address, data });
  t.is((await client.call('logger', '')).length, 0);
  t.is(segmentFiles(data).length, 0);
  await client.call('logger@ing5', 'a\r\nb\nc');
  t.is(catFiles(segmentFiles(data)), 'a\r\nb\nc\n');
  const err = await t.throwsAsync<GeartrainError>(client.call('geartrain.catalog@ing5', '{"bogus":1}'));
  t.is(err?.code, 'ERR_JOB_EXCEPTION');
  t.regex(err!.message, /bogus/);
});

test('against gearmand: lines from the gearman CLI are stored and the catalogue answers', async (t) => {
  const server = await startServer('gearmand');
  t.teardown(() => server.stop());
  const data = path.join(tempDir(t), 'data');
  await startNode(t, { name: 'gm1', servers: server.address, data });
  const r = await sh(`printf 'g1\\ng2\\ng3\\n' | gearman -h 127.0.0.1 -p ${server.port} -n -f logger && printf 'g4\\n' | gearman -h 127.0.0.1 -p ${server.port} -b -f logger@gm1`);
  t.is(r.code, 0, r.stderr);
  await waitFor(() => wcLines(segmentFiles(data)) >= 4, 'the background line');
  t.is(catFiles(segmentFiles(data)), 'g1\ng2\ng3\ng4\n');
  const client = testClient(t, server.address);
  const cat = await catalogOf(client, 'gm1');
  t.is(cat.shards.length, 1);
  t.is(cat.shards[0]!.lines, 4);
});
