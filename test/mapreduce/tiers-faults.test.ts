/**
 * Multi-tier reduction and faults, with real processes: five nodes with --fan-in 2 build several
 * reduce tiers on the nodes and give the one-tier answer; a node killed with -9 mid-job fails the
 * run by name within seconds, and once restarted serves the next run in full; a node gone for good
 * fails the run by name within --task-timeout.
 */
import test from 'ava';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir, type RunningNode } from '../helpers/cluster.ts';
import type { ExecutionContext } from 'ava';
import { waitFor } from '../helpers/ports.ts';
import { adminRequest } from '../helpers/gearmand.ts';

async function files(dir: string, n: number, lines: number) {
  const out: { node: string; file: string }[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `n${i}.log`);
    await writeLog(file, { lines, node: i, seed: 5 });
    out.push({ node: `n${i}`, file });
  }
  return out;
}

async function runJson(t: ExecutionContext, servers: string, args: string[]) {
  const p = spawnGeartrain(t, 'run', [...args, '--servers', servers, '-q', '--json']);
  const code = await p.exited();
  return { code, stderr: p.stderrText(), report: code === 0 ? JSON.parse(p.stdoutText()) : null };
}

test.serial('five nodes with --fan-in 2: at least two tiers of reduce ran on the nodes, the root got at most F partials, same result as one tier', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const logs = await files(dir, 5, 4000);
  await Promise.all(logs.map(({ node, file }) => startNode(t, { name: node, servers: server.address, data: path.join(dir, node), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0'] })));

  // Small splits so each node maps several tasks and combines them itself first.
  const args = ['count', '--by', 'status', '--wait-nodes', '5', '--split-bytes', String(1024 * 1024)];
  const deep = await runJson(t, server.address, [...args, '--fan-in', '2']);
  t.is(deep.code, 0, deep.stderr);
  const flat = await runJson(t, server.address, [...args, '--fan-in', '8']);
  t.is(flat.code, 0, flat.stderr);

  t.deepEqual(deep.report.result, flat.report.result, 'the tree shape does not change the answer');
  const mergeTiers = deep.report.tiers.filter((tier: { label: string }) => tier.label.startsWith('merge'));
  t.true(mergeTiers.length >= 2, `merge tiers: ${JSON.stringify(deep.report.tiers)}`);
  // Tiers of fan-in 2, each smaller than the one before, until 2 partials are left: the root
  // merges those itself (a third tier would only encode the merged state for the root to decode).
  t.deepEqual(mergeTiers.map((x: { tasks: number }) => x.tasks), [2, 1]);
  for (const tier of deep.report.tiers) t.true(tier.nodes.every((n: string) => /^n\d$/.test(n)), 'reduce tasks run on nodes');
  t.is(deep.report.partialsAtRoot, 2);
  t.is(deep.report.nodes.length, 5);
});

test.serial('kill -9 of a node mid-job: the run ends with exit 3 naming it (it does not wait for the node); once it is restarted, the next run gives the fault-free result', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const logs = await files(dir, 3, 60_000);
  const nodes: RunningNode[] = [];
  const start = (i: number) =>
    startNode(t, { name: logs[i]!.node, servers: server.address, data: path.join(dir, logs[i]!.node), logs: [logs[i]!.file], extra: ['--concurrency', '1', '--poll-ms', '0'] });
  for (let i = 0; i < 3; i++) nodes.push(await start(i));
  const args = ['grep', '-c', 'GET', '--wait-nodes', '3', '--split-bytes', String(1024 * 1024)];
  const clean = await runJson(t, server.address, args);
  t.is(clean.code, 0, clean.stderr);

  // Start the run and kill n1 as soon as it is running a map task: the run does not wait for it.
  const p = spawnGeartrain(t, 'run', [...args, '--servers', server.address, '--json', '-q']);
  await waitFor(async () => {
    const status = await adminRequest(server.port, 'status');
    return /geartrain\.map@n1\t[1-9]\d*\t1\t/.test(status);
  }, 'n1 running a map task', 20_000);
  nodes[1]!.kill('SIGKILL');
  await nodes[1]!.exited();
  t.is(await p.exited(), 3, p.stderrText());
  t.regex(p.stderrText(), /node n1 is gone/);

  nodes[1] = await start(1);
  const again = await runJson(t, server.address, args);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(again.report.result, clean.report.result);
  t.false(again.report.partial);
});

test.serial('a node gone for good: the run fails within --task-timeout with exit status 3, naming the node and its unread shards', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const logs = await files(dir, 2, 40_000);
  const nodes = await Promise.all(
    logs.map(({ node, file }) => startNode(t, { name: node, servers: server.address, data: path.join(dir, node), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0'] })),
  );
  const p = spawnGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', server.address, '--wait-nodes', '2', '--task-timeout', '3', '-q', '--split-bytes', String(1024 * 1024)]);
  await waitFor(async () => {
    const status = await adminRequest(server.port, 'status');
    return /geartrain\.map@n1\t[1-9]\d*\t/.test(status);
  }, 'n1 has map tasks', 20_000);
  const killedAt = Date.now();
  nodes[1]!.kill('SIGKILL');
  const code = await p.exited();
  const elapsed = Date.now() - killedAt;
  t.is(code, 3, 'exit status 3: no complete result');
  t.regex(p.stderrText(), /node n1 is unavailable/);
  t.regex(p.stderrText(), /unread shards: n1:.*n1\.log/);
  t.true(elapsed < 15_000, `failed after ${elapsed} ms`);
});
