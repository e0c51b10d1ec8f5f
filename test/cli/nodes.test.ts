/**
 * `geartrain nodes` (the nodes runs expect: live, missing, with their shards' time spans),
 * `geartrain nodes forget NAME` and `geartrain node --leave`: a node that left for good stops being
 * expected by every coordinator machine (each with its own memory, XDG_STATE_HOME), on
 * geartrain's server and on gearmand; a node seen live again is expected again.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { writeLog } from '../../src/logs/index.ts';
import { runGeartrain, startNode, tempDir, type RunningNode } from '../helpers/cluster.ts';
import { startServer, type ServerKind } from '../helpers/servers.ts';

const NODES = ['web1', 'web2', 'web3'] as const;

interface Cluster {
  readonly servers: string;
  readonly dir: string;
  readonly files: Record<string, string>;
  readonly nodes: Record<string, RunningNode>;
  /** XDG_STATE_HOME of a second coordinator machine. */
  readonly other: string;
  start(node: string): Promise<RunningNode>;
}

async function cluster(t: ExecutionContext, kind: ServerKind, env: Record<string, string> = {}): Promise<Cluster> {
  const server = await startServer(kind);
  t.teardown(() => server.stop());
  const dir = tempDir(t, 'geartrain-nodes-');
  const files: Record<string, string> = {};
  for (const [i, node] of NODES.entries()) {
    files[node] = path.join(dir, `${node}.log`);
    await writeLog(files[node], { lines: 2_000, node: i, seed: 7, invalidRate: 0, oddRate: 0, start: `2026-10-0${i + 1}T00:00:00Z`, days: 1 });
  }
  const start = (node: string) =>
    startNode(t, { name: node, servers: server.address, data: path.join(dir, `data-${node}`), logs: [files[node]!], extra: ['--concurrency', '1', '--poll-ms', '0'], env });
  const nodes: Record<string, RunningNode> = {};
  for (const node of NODES) nodes[node] = await start(node);
  return { servers: server.address, dir, files, nodes, other: tempDir(t, 'geartrain-state-b-'), start };
}

function grepTotal(c: Cluster, nodes: readonly string[]): number {
  return nodes.reduce((n, node) => n + Number(execFileSync('grep', ['-c', '-F', 'GET', c.files[node]!]).toString().trim()), 0);
}

/** `geartrain run grep -c GET` from this machine, or from the other one: exit status and total. */
async function count(t: ExecutionContext, c: Cluster, machine: 'a' | 'b', args: string[] = [], env: Record<string, string> = {}) {
  const r = await runGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', c.servers, '--json', '-q', ...args], { ...env, ...(machine === 'b' ? { XDG_STATE_HOME: c.other } : {}) });
  return { code: r.code, stderr: r.stderr, total: r.code === 0 ? (JSON.parse(r.stdout) as { result: { total: number } }).result.total : null };
}

async function stop(node: RunningNode): Promise<void> {
  node.kill('SIGKILL');
  await node.exited();
}

for (const kind of ['geartrain', 'gearmand'] as const) {
  test.serial(`${kind}: geartrain nodes lists live and missing nodes with their shards and time spans, --check exits 3 while one is missing; nodes forget web2 ends that here at once and on another coordinator machine from its next run`, async (t) => {
    const c = await cluster(t, kind);
    for (const machine of ['a', 'b'] as const) t.is((await count(t, c, machine, ['--wait-nodes', '3'])).code, 0);
    await stop(c.nodes.web2!);

    const listed = await runGeartrain(t, 'nodes', ['--servers', c.servers, '--json']);
    t.is(listed.code, 0, listed.stderr);
    const rows = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { node: string; state: string; expected: string; lastSeen: string; shards: { path: string; firstTime: string; lastTime: string }[] });
    t.deepEqual(rows.map((r) => [r.node, r.state, r.expected]), [
      ['web1', 'live', 'remembered'],
      ['web2', 'missing', 'remembered'],
      ['web3', 'live', 'remembered'],
    ]);
    const web2 = rows[1]!;
    t.deepEqual(web2.shards.map((s) => s.path), [c.files.web2]);
    t.regex(web2.shards[0]!.firstTime, /^2026-10-02T00:/);
    t.regex(web2.shards[0]!.lastTime, /^2026-10-02T23:/);
    t.regex(web2.lastSeen, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const text = await runGeartrain(t, 'nodes', ['--servers', c.servers, '--check']);
    t.is(text.code, 3, text.stderr);
    t.regex(text.stdout, /^web2\s+missing\s+remembered\s+1\s+\S+ \S+\s+2026-10-02T00:\d\d:\d\dZ\s+2026-10-02T23:\d\d:\d\dZ\s+\d{4}-/m);

    t.is((await count(t, c, 'a')).code, 3);
    const forget = await runGeartrain(t, 'nodes', ['forget', 'web2', '--servers', c.servers]);
    t.is(forget.code, 0, forget.stderr);
    t.regex(forget.stdout, /^forgot web2: runs from this machine no longer expect it; told /);
    for (const machine of ['a', 'b'] as const) {
      const r = await count(t, c, machine);
      t.is(r.code, 0, `${machine}: ${r.stderr}`);
      t.is(r.total, grepTotal(c, ['web1', 'web3']));
    }
    t.is((await runGeartrain(t, 'nodes', ['--servers', c.servers, '--check'])).code, 0);
  });
}

test.serial('forget and --leave are refused while the node is live; geartrain node --leave once it is stopped: no machine expects it; started again, it is expected again', async (t) => {
  const c = await cluster(t, 'geartrain');
  for (const machine of ['a', 'b'] as const) t.is((await count(t, c, machine, ['--wait-nodes', '3'])).code, 0);
  const nodeHost = tempDir(t, 'geartrain-state-node-');

  const refused = await runGeartrain(t, 'nodes', ['forget', 'web3', '--servers', c.servers]);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /node web3 is live on .*: stop it first/);
  const early = await runGeartrain(t, 'node', ['--leave', '--name', 'web3', '--servers', c.servers], { XDG_STATE_HOME: nodeHost });
  t.is(early.code, 1);
  t.regex(early.stderr, /node web3 is live/);

  await c.nodes.web3!.stop();
  t.is((await count(t, c, 'a')).code, 3, 'stopped is not left');
  const leave = await runGeartrain(t, 'node', ['--leave', '--name', 'web3', '--servers', c.servers], { XDG_STATE_HOME: nodeHost });
  t.is(leave.code, 0, leave.stderr);
  t.regex(leave.stdout, /^node web3 left the cluster: coordinators stop expecting it from their next run/);
  for (const machine of ['a', 'b'] as const) {
    const r = await count(t, c, machine);
    t.is(r.code, 0, `${machine}: ${r.stderr}`);
    t.is(r.total, grepTotal(c, ['web1', 'web2']));
  }

  c.nodes.web3 = await c.start('web3');
  const back = await count(t, c, 'a', ['--wait-nodes', '3']);
  t.is(back.code, 0, back.stderr);
  t.is(back.total, grepTotal(c, NODES));
  await stop(c.nodes.web3);
  const again = await count(t, c, 'a');
  t.is(again.code, 3, 'seen live after it left: a member again');
  t.regex(again.stderr, /did not take part: web3 /);
});

test.serial('with the cluster secret, only a signed departure counts: forget without the secret leaves other machines expecting the node, forget with it does not', async (t) => {
  const secret = { GEARTRAIN_SECRET: 'cluster-secret-14' };
  const c = await cluster(t, 'geartrain', secret);
  for (const machine of ['a', 'b'] as const) t.is((await count(t, c, machine, ['--wait-nodes', '3'], secret)).code, 0);
  await stop(c.nodes.web2!);

  const unsigned = await runGeartrain(t, 'nodes', ['forget', 'web2', '--servers', c.servers]);
  t.is(unsigned.code, 0, unsigned.stderr);
  const b = await count(t, c, 'b', [], secret);
  t.is(b.code, 3, 'an unsigned notice is not taken by a coordinator that holds the secret');
  t.regex(b.stderr, /did not take part: web2 /);

  const signed = await runGeartrain(t, 'nodes', ['forget', 'web2', '--servers', c.servers], secret);
  t.is(signed.code, 0, signed.stderr);
  const after = await count(t, c, 'b', [], secret);
  t.is(after.code, 0, after.stderr);
  t.is(after.total, grepTotal(c, ['web1', 'web3']));
});
