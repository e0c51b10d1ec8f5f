/**
 * Nodes with the cluster secret (GEARTRAIN_SECRET) take only signed tasks (src/mapreduce/task-auth.ts):
 * a run signed with the same secret works end to end — on geartrain's server and on a real
 * gearmand, with nodes fetching partials from each other — while an unsigned, tampered, expired,
 * misdirected or foreign-secret task is refused, saying why.
 */
import { createHmac } from 'node:crypto';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { writeLog } from '../../src/logs/index.ts';
import { startGearmand } from '../helpers/gearmand.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { awkStatusCounts, honestCount, nodeCluster, submitRaw } from './helpers/node-fixture.ts';

const SECRET = 'signed-test-secret-0123456789';

/** The envelope computed here from its documented layout. */
function sign(fn: string, body: string, expiresAt: number, secret = SECRET): Buffer {
  const mac = createHmac('sha256', secret).update(`gt-auth1\n${fn}\n${expiresAt}\n${body}`).digest('hex');
  return Buffer.from(`gt-auth1 ${expiresAt} ${mac}\n${body}`);
}

async function twoNodes(t: ExecutionContext, servers: string) {
  const dir = tempDir(t);
  const logs: string[] = [];
  for (const name of ['s1', 's2']) {
    const log = path.join(dir, `${name}.log`);
    await writeLog(log, { lines: 3000, seed: name === 's1' ? 1 : 2, invalidRate: 0, oddRate: 0 });
    logs.push(log);
    await startNode(t, { name, servers, data: path.join(dir, name), logs: [log], extra: ['--concurrency', '1', '--poll-ms', '0'], env: { GEARTRAIN_SECRET: SECRET } });
  }
  return logs;
}

async function runOn(t: ExecutionContext, servers: string, args: string[], env: Record<string, string>) {
  const p = spawnGeartrain(t, 'run', [...args, '--servers', servers, '--wait-nodes', '2', '-q', '--retries', '0'], env);
  const code = await p.exited();
  return { code, stdout: p.stdoutText(), stderr: p.stderrText() };
}

for (const kind of ['geartrain', 'gearmand'] as const) {
  test.serial(`${kind}: a run signed with the nodes' secret works end to end; unsigned or foreign-secret runs are refused, saying what to do`, async (t) => {
    let servers: string;
    if (kind === 'geartrain') servers = (await startServerProcess(t, ['-q', 'memory', '-p', '0'])).address;
    else {
      const g = await startGearmand();
      t.teardown(() => g.stop());
      servers = g.address;
    }
    const logs = await twoNodes(t, servers);
    // count: a summary merged across nodes; --fan-in 2 and a grep make nodes fetch from each other.
    const expected = awkStatusCounts(logs);
    t.deepEqual(await honestCount(t, servers, ['--wait-nodes', '2', '--fan-in', '2'], { GEARTRAIN_SECRET: SECRET }), expected);
    const grep = await runOn(t, servers, ['grep', '-c', '" 404 '], { GEARTRAIN_SECRET: SECRET });
    t.is(grep.code, 0, grep.stderr);
    t.regex(grep.stdout, new RegExp(`\\b${expected['404']}\\b`));

    const unsigned = await runOn(t, servers, ['count', '--by', 'status'], { GEARTRAIN_SECRET: '' });
    t.is(unsigned.code, 1);
    t.regex(unsigned.stderr, /node s[12] takes only tasks signed with the cluster secret \(GEARTRAIN_SECRET\); this one is unsigned: set GEARTRAIN_SECRET to the nodes' secret where you run geartrain/);
    const foreign = await runOn(t, servers, ['count', '--by', 'status'], { GEARTRAIN_SECRET: 'some-other-secret-0123456789' });
    t.is(foreign.code, 1);
    t.regex(foreign.stderr, /its signature does not match this node's secret: another GEARTRAIN_SECRET, or the task was altered \(the nodes were started with another GEARTRAIN_SECRET\?\)/);
  });
}

test('a tampered, expired, misdirected or foreign-secret request is refused by a node with the secret; a valid one is served', async (t) => {
  const c = await nodeCluster(t, { env: { GEARTRAIN_SECRET: SECRET } });
  const port = c.server.port;
  const fn = 'geartrain.fetch@n1';
  const info = JSON.stringify({ op: 'info' });
  const soon = Date.now() + 60_000;

  const ok = await submitRaw(port, fn, sign(fn, info, soon));
  t.is(ok.outcome, 'complete', ok.text);
  t.like(JSON.parse(ok.text), { node: 'n1', allowExec: false });

  const tampered = Buffer.from(sign(fn, JSON.stringify({ op: 'drop', runId: 'r1' }), soon).toString().replace('"r1"', '"r2"'));
  const refusals: [string, Buffer, RegExp][] = [
    ['tampered', tampered, /node n1 refused a signed task for geartrain\.fetch@n1: its signature does not match this node's secret: another GEARTRAIN_SECRET, or the task was altered/],
    ['foreign secret', sign(fn, info, soon, 'not-the-cluster-secret-0123'), /does not match this node's secret/],
    ['signed for another node', sign('geartrain.fetch@n2', info, soon), /does not match this node's secret/],
    ['expired (replayed later)', sign(fn, info, Date.now() - 5 * 60_000), /node n1 refused a signed task for geartrain\.fetch@n1: it expired (299|300|301) s ago/],
    ['unsigned', Buffer.from(info), /^node n1 takes only tasks signed with the cluster secret \(GEARTRAIN_SECRET\); this one is unsigned$/],
  ];
  for (const [what, payload, re] of refusals) {
    const r = await submitRaw(port, fn, payload);
    t.is(r.outcome, 'exception', what);
    t.regex(r.text, re, what);
    t.false(r.text.includes(SECRET), what);
  }
  // The catalogue and the map function are guarded the same way.
  for (const f of ['geartrain.catalog@n1', 'geartrain.map@n1', 'geartrain.reduce', 'geartrain.reduce@n1', 'geartrain.replica@n1']) {
    const r = await submitRaw(port, f, '{}');
    t.regex(r.text, /takes only tasks signed with the cluster secret/, f);
  }
  t.false(/has no GEARTRAIN_SECRET/.test(c.node.stderrText()));
});

test('a node without a secret says once, at start, that any client of its job servers can read its logs', async (t) => {
  const c = await nodeCluster(t);
  const warning = /node n1 has no GEARTRAIN_SECRET: any client of its job servers can read its logs and run built-in jobs over them/g;
  t.is(c.node.stderrText().match(warning)?.length, 1, c.node.stderrText());
});
