/**
 * `geartrain ship`: lines from stdin reach a log node as background jobs, exactly once and in
 * order, through a job server crash (persistent queue, same port) and across ship processes (the
 * spool). Real processes: `geartrain server`, `geartrain node`, `geartrain ship`.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitFor } from '../helpers/ports.ts';
import { catFiles, segmentFiles, spawnGeartrain, startNode, startServerProcess, tempDir, wcLines } from '../helpers/cluster.ts';

const spooled = (dir: string) => fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.endsWith('.spool') && fs.statSync(path.join(dir, n)).size > 0);

test('ship survives a job server crash mid-stream: every line arrives once, in order', async (t) => {
  const dir = tempDir(t);
  const serverData = path.join(dir, 'server');
  let server = await startServerProcess(t, ['-p', '0', '-q', 'sqlite', '--data', serverData]);
  const port = server.port;
  const data = path.join(dir, 'node');
  await startNode(t, { name: 'shipnode', servers: server.address, data });
  const spool = path.join(dir, 'spool');
  const ship = spawnGeartrain(t, 'ship', ['-f', 'logger', '--servers', server.address, '--spool', spool, '--batch-lines', '10', '--batch-ms', '20']);
  const lines = Array.from({ length: 300 }, (_, i) => `shipped line ${String(i).padStart(3, '0')}`);
  const write = (from: number, to: number) => ship.stdin!.write(lines.slice(from, to).map((l) => l + '\n').join(''));

  write(0, 100);
  await waitFor(() => wcLines(segmentFiles(data)) >= 100, 'the first 100 lines on the node');
  server.kill('SIGKILL');
  await server.exited();

  write(100, 200);
  await waitFor(() => spooled(spool), 'ship to spool while the server is down');
  t.is(ship.exitCode, null, 'ship keeps running');
  server = await startServerProcess(t, ['-p', String(port), '-q', 'sqlite', '--data', serverData]);
  write(200, 300);
  ship.stdin!.end();
  t.is(await ship.exited(), 0, ship.stderrText());

  await waitFor(() => wcLines(segmentFiles(data)) >= 300, 'all 300 lines on the node', 20_000);
  t.is(catFiles(segmentFiles(data)), lines.join('\n') + '\n', 'each line once, in order');
  t.false(spooled(spool), 'spool emptied');
});

test('at end of input with no server, ship exits 0 and leaves the lines in the spool; the next ship sends them', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const spool = path.join(dir, 'spool');
  const lines = Array.from({ length: 25 }, (_, i) => `waiting ${i}`);
  const first = spawnGeartrain(t, 'ship', ['-f', 'logger', '-p', String(port), '--spool', spool, '--batch-lines', '7', '--flush-timeout', '300']);
  first.stdin!.end(lines.join('\n')); // the last line has no newline: ship ends it
  t.is(await first.exited(), 0);
  t.regex(first.stderrText(), new RegExp(`no job server took 25 lines \\(4 batches\\); they wait in ${spool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  t.true(spooled(spool));

  const server = await startServerProcess(t, ['-p', String(port), '-q', 'memory']);
  const data = path.join(dir, 'node');
  await startNode(t, { name: 'late', servers: server.address, data });
  const second = spawnGeartrain(t, 'ship', ['-f', 'logger', '-p', String(port), '--spool', spool]);
  second.stdin!.end('fresh line\n');
  t.is(await second.exited(), 0, second.stderrText());
  t.is(second.stderrText(), '');
  await waitFor(() => wcLines(segmentFiles(data)) >= 26, 'spooled and fresh lines on the node');
  t.is(catFiles(segmentFiles(data)), [...lines, 'fresh line'].join('\n') + '\n', 'older spooled lines first');
  t.deepEqual(fs.readdirSync(spool), [], 'nothing left in the spool');
});
