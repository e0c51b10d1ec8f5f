/**
 * Shell commands on a log node (issue 13, attacks 1 and 8). A node runs a command a task carries
 * only when it was started with --allow-exec, which needs the cluster secret, and only for a task
 * signed with that secret. Every command field is gated wherever a task can carry it: mapper,
 * combiner and reducer, in map and reduce tasks.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { spawnGeartrain, tempDir } from '../helpers/cluster.ts';
import { awkStatusCounts, catalogShards, gearmanCli, mapTask, nodeCluster, submitRaw } from './helpers/node-fixture.ts';

const SECRET = 'exec-test-secret-0123456789';

function pwnedPath(t: { teardown(f: () => void): void }): string {
  const file = path.join(os.tmpdir(), `PWNED-${crypto.randomBytes(6).toString('hex')}`);
  t.teardown(() => fs.rmSync(file, { force: true }));
  return file;
}

test('a combiner sent with the gearman tool to a node without --allow-exec is refused, naming the flag; no command runs', async (t) => {
  const c = await nodeCluster(t);
  const pwned = pwnedPath(t);
  const port = c.server.port;
  const [shard] = await catalogShards(port, 'n1');
  const attack = mapTask({
    job: { type: 'streaming', reducer: 'cat', combiner: `id > ${pwned}; cat` },
    params: null,
    shards: [{ id: shard!.id, path: '/x', start: 0, end: 100, format: 'combined', gzip: false }],
  });
  // Exactly as in the issue: the gearman tool, which reports a refused job as failed.
  const cli = await gearmanCli(port, 'geartrain.map@n1', attack);
  t.is(cli.code, 1);
  t.regex(cli.stderr, /Job failed/);
  // The same with a client that asks for the reason.
  const raw = await submitRaw(port, 'geartrain.map@n1', attack);
  t.is(raw.outcome, 'exception');
  t.regex(raw.text, /node n1 was not started with --allow-exec: it runs no commands \(this task carries a combiner, a reducer\)/);

  // Every other place a command can ride: a mapper, a reducer in a reduce task.
  const mapper = await submitRaw(port, 'geartrain.map@n1', mapTask({ job: { type: 'streaming', mapper: `id > ${pwned}` }, params: null, shards: [{ ...shard!, start: 0, end: 100 }] }));
  t.regex(mapper.text, /not started with --allow-exec/);
  const reduce = JSON.stringify({ v: 1, kind: 'reduce', runId: 'r1', taskId: 't2', job: { type: 'streaming', reducer: `id > ${pwned}` }, params: null, mode: 'streaming', inputs: [] });
  for (const fn of ['geartrain.reduce', 'geartrain.reduce@n1']) {
    const r = await submitRaw(port, fn, reduce);
    t.is(r.outcome, 'exception');
    t.regex(r.text, /not started with --allow-exec: it runs no commands \(this task carries a reducer\)/);
  }
  // A mapper function needs the cluster secret too: without one a node runs built-in jobs only.
  const fnOnly = await submitRaw(port, 'geartrain.map@n1', mapTask({ job: { type: 'streaming', mapperFunction: 'logger@n1' }, params: null, shards: [{ ...shard!, start: 0, end: 100 }] }));
  t.regex(fnOnly.text, /node n1 has no GEARTRAIN_SECRET: it runs built-in jobs only/);

  t.false(fs.existsSync(pwned), 'no command ran');
  t.is(fs.readdirSync(path.join(c.data, 'runs')).length, 0, 'no partial was written');
});

test('--allow-exec and --allow-code without GEARTRAIN_SECRET: the node refuses to start (exit 2), naming the variable', async (t) => {
  const dir = tempDir(t);
  for (const flag of ['--allow-exec', '--allow-code']) {
    const p = spawnGeartrain(t, 'node', ['--name', 'n1', '--servers', '127.0.0.1:1', '--data', path.join(dir, 'd'), flag], { GEARTRAIN_SECRET: '' });
    t.is(await p.exited(), 2, p.stderrText());
    t.regex(p.stderrText(), new RegExp(`geartrain node: ${flag} needs the cluster secret: set GEARTRAIN_SECRET`));
    t.is(p.stdoutText(), '');
  }
});

test('with the secret and --allow-exec, an unsigned command task from the gearman tool is refused; the secret holder runs the same pipeline', async (t) => {
  const c = await nodeCluster(t, { extra: ['--allow-exec'], env: { GEARTRAIN_SECRET: SECRET } });
  const pwned = pwnedPath(t);
  const port = c.server.port;
  // The catalogue itself needs a signature now; the attacker takes the id from the log file instead.
  const catalog = await submitRaw(port, 'geartrain.catalog@n1', '');
  t.is(catalog.outcome, 'exception');
  t.regex(catalog.text, /takes only tasks signed with the cluster secret \(GEARTRAIN_SECRET\); this one is unsigned/);
  const attack = mapTask({
    job: { type: 'streaming', reducer: 'cat', combiner: `id > ${pwned}; cat` },
    params: null,
    shards: [{ id: 'f-0123456789abcdef', path: c.log, start: 0, end: 100, format: 'combined', gzip: false }],
  });
  const cli = await gearmanCli(port, 'geartrain.map@n1', attack);
  t.is(cli.code, 1);
  const raw = await submitRaw(port, 'geartrain.map@n1', attack);
  t.is(raw.outcome, 'exception');
  t.is(raw.text, 'node n1 takes only tasks signed with the cluster secret (GEARTRAIN_SECRET); this one is unsigned');
  t.false(fs.existsSync(pwned));

  const run = spawnGeartrain(t, 'run', ['--mapper', "awk '{print $9}'", '--reducer', 'uniq -c', '--servers', c.server.address, '--wait-nodes', '1', '-q'], { GEARTRAIN_SECRET: SECRET });
  t.is(await run.exited(), 0, run.stderrText());
  const counts = Object.fromEntries(run.stdoutText().trim().split('\n').map((l) => l.trim().split(' ')).map(([n, status]) => [status!, Number(n)]));
  t.deepEqual(counts, awkStatusCounts([c.log]));
});
