/**
 * A node and its job server start in any order (systemd, containers): a node started first waits
 * for the server, saying so once, and becomes ready when it comes up; a node whose server
 * restarts says once that it lost it and again when it is back, and serves runs after.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { spawnGeartrain, startServerProcess, tempDir, waitForLine, type Proc } from '../helpers/cluster.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';

async function logFile(t: ExecutionContext, dir: string): Promise<{ file: string; gets: number }> {
  const file = path.join(dir, 'access.log');
  const p = spawnGeartrain(t, 'gen-logs', [file, '--lines', '2000', '--seed', '4']);
  t.is(await p.exited(), 0, p.stderrText());
  return { file, gets: Number(execFileSync('grep', ['-c', '-F', 'GET', file]).toString().trim()) };
}

function startNodeProcess(t: ExecutionContext, dir: string, file: string, port: number): Proc {
  return spawnGeartrain(t, 'node', ['--name', 'early', '--servers', `127.0.0.1:${port}`, '--data', path.join(dir, 'data'), '--logs', file, '--concurrency', '1']);
}

const count = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l)).length;

async function grepCount(t: ExecutionContext, port: number): Promise<unknown> {
  const r = spawnGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', `127.0.0.1:${port}`, '--wait-nodes', '1', '--json', '-q']);
  t.is(await r.exited(), 0, r.stderrText());
  return JSON.parse(r.stdoutText()).result;
}

test('a node started before its job server waits for it, says so once, and is ready once the server is up', async (t) => {
  const dir = tempDir(t);
  const { file, gets } = await logFile(t, dir);
  const port = await refusedPort();
  const node = startNodeProcess(t, dir, file, port);
  const waiting = new RegExp(`^geartrain node: waiting for job server 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\); retrying$`, 'm');
  await waitFor(() => waiting.test(node.stderrText()), 'the waiting line', 60_000);
  // Let it retry a few times (backoff 0.1, 0.2, 0.4, 0.8 s…): it must not say so again.
  await new Promise((r) => setTimeout(r, 1500));
  t.is(node.exitCode, null, node.stderrText());
  await startServerProcess(t, ['-p', String(port), '-q', 'memory']);
  await waitForLine(node, /^node early ready \(1 shards\)$/m, 'node ready', 60_000);
  t.is(count(node.stderrText(), /waiting for job server/), 1, node.stderrText());
  t.regex(node.stderrText(), new RegExp(`^geartrain node: job server 127\\.0\\.0\\.1:${port} is up$`, 'm'));
  t.deepEqual(await grepCount(t, port), { total: gets, perNode: { early: gets } });
});

test('a node survives a restart of its job server: it says once that it lost the server and once that it is back, and serves runs after', async (t) => {
  const dir = tempDir(t);
  const { file, gets } = await logFile(t, dir);
  const first = await startServerProcess(t, ['-p', '0', '-q', 'memory']);
  const node = startNodeProcess(t, dir, file, first.port);
  await waitForLine(node, /^node early ready/m, 'node ready', 60_000);
  first.kill('SIGKILL');
  await first.exited();
  await waitFor(() => /lost job server/.test(node.stderrText()), 'the lost line', 30_000);
  await new Promise((r) => setTimeout(r, 1500));
  await startServerProcess(t, ['-p', String(first.port), '-q', 'memory']);
  await waitFor(() => /reconnected to job server/.test(node.stderrText()), 'the reconnected line', 60_000);
  t.deepEqual(await grepCount(t, first.port), { total: gets, perNode: { early: gets } });
  const err = node.stderrText();
  t.is(count(err, new RegExp(`^geartrain node: lost job server 127\\.0\\.0\\.1:${first.port} \\(.+\\); reconnecting$`)), 1, err);
  t.is(count(err, new RegExp(`^geartrain node: reconnected to job server 127\\.0\\.0\\.1:${first.port}$`)), 1, err);
  t.is(node.exitCode, null);
});
