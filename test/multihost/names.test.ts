/**
 * Node names are unique on a cluster's job servers: a second node with a live node's name
 * (a cloned VM, two containers with one host name) refuses to start, naming where the live one
 * is; on geartrain's server and on gearmand. Hosts in network namespaces (10.213.3.0/24).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { spawnGeartrain, startNode, tempDir } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/ports.ts';
import { TestBed, type BedServer } from '../helpers/netns.ts';

interface Setup {
  bed: TestBed;
  server: BedServer;
  dir: string;
  /** A log per host, different on each. */
  logs: Record<'a' | 'b', string>;
}

async function setup(t: ExecutionContext, kind: 'geartrain' | 'gearmand'): Promise<Setup> {
  const dir = tempDir(t, 'geartrain-bednames-');
  const bed = await TestBed.create(t, 3, ['srv', 'a', 'b', 'ctl']);
  const server = kind === 'geartrain' ? await bed.startServer(t, 'srv') : await bed.startGearmand(t, 'srv');
  const logs = { a: path.join(dir, 'a.log'), b: path.join(dir, 'b.log') };
  for (const [i, file] of Object.values(logs).entries()) {
    const p = spawnGeartrain(t, 'gen-logs', [file, '--lines', '3000', '--seed', '3', '--node', String(i)]);
    t.is(await p.exited(), 0, p.stderrText());
  }
  return { bed, server, dir, logs };
}

function web1(t: ExecutionContext, s: Setup, host: 'a' | 'b') {
  return startNode(t, { name: 'web1', servers: s.server.address, data: path.join(s.dir, `data-${host}`), logs: [s.logs[host]], extra: ['--concurrency', '1'], wrap: s.bed.wrap(host) });
}

/** `run grep -c -F GET` from the control host, and GNU grep's count over one host's log. */
async function grepCount(t: ExecutionContext, s: Setup, host: 'a' | 'b'): Promise<{ got: unknown; expected: unknown }> {
  const r = await s.bed.runGeartrain(t, 'ctl', 'run', ['grep', '-c', 'GET', '--servers', s.server.address, '--json', '-q']);
  t.is(r.code, 0, r.stderr);
  const n = Number(execFileSync('grep', ['-c', '-F', 'GET', s.logs[host]]).toString().trim());
  return { got: JSON.parse(r.stdout).result, expected: { total: n, perNode: { web1: n } } };
}

for (const kind of ['geartrain', 'gearmand'] as const) {
  test.serial(`${kind}: a second node named like a live one exits 1 naming the server and the live node's address; the live node keeps serving its own logs`, async (t) => {
    const s = await setup(t, kind);
    const first = await web1(t, s, 'a');
    const second = s.bed.geartrain(t, 'b', 'node', ['--name', 'web1', '--servers', s.server.address, '--data', path.join(s.dir, 'data-b'), '--logs', s.logs.b]);
    await waitFor(() => second.exitCode !== null, 'the second node to refuse to start', 60_000);
    t.is(second.exitCode, 1);
    t.is(
      second.stderrText(),
      `geartrain node: a live node named web1 is already registered on ${s.server.address} from ${s.bed.address('a')} (client ids web1:logger, web1:map, web1:mapreduce, web1:reduce, web1:service); stop it, or give this node another --name\n`,
    );
    t.notRegex(second.stdoutText(), /ready/);
    t.is(first.exitCode, null);
    const { got, expected } = await grepCount(t, s, 'a');
    t.deepEqual(got, expected);
  });
}

test.serial('a namesake that is listed but cut off (no FIN, no RST) does not answer: the new node takes the name over and the cluster reads its logs', async (t) => {
  const s = await setup(t, 'geartrain');
  const first = await web1(t, s, 'a');
  await s.bed.cut('a');
  const second = await web1(t, s, 'b');
  t.regex(second.stderrText(), new RegExp(`^geartrain node: a node named web1 is listed on ${s.server.address.replace(/\./g, '\\.')} from ${s.bed.address('a').replace(/\./g, '\\.')} but does not answer; taking the name over$`, 'm'));
  t.is(first.exitCode, null, 'the cut-off node is still running');
  const { got, expected } = await grepCount(t, s, 'b');
  t.deepEqual(got, expected);
});

test.serial('two nodes of one name started at the same moment on two hosts: at most one of them serves', async (t) => {
  const s = await setup(t, 'geartrain');
  const start = (host: 'a' | 'b') => s.bed.geartrain(t, host, 'node', ['--name', 'web1', '--servers', s.server.address, '--data', path.join(s.dir, `data-${host}`), '--logs', s.logs[host]]);
  const nodes = [start('a'), start('b')];
  // Each either prints its ready line or exits (refused) before it.
  const outcomes = await Promise.all(
    nodes.map((p) =>
      waitFor(() => (/^node web1 ready/m.test(p.stdoutText()) ? { code: undefined } : p.exitCode !== null ? { code: p.exitCode } : undefined), 'web1 ready or refused', 60_000),
    ),
  );
  const serving = outcomes.filter((o) => o.code === undefined).length;
  t.true(serving <= 1, `both nodes serve: ${nodes.map((p) => p.stderrText()).join(' | ')}`);
  for (const [i, o] of outcomes.entries()) {
    if (o.code !== undefined) {
      t.is(o.code, 1);
      t.regex(nodes[i]!.stderrText(), /geartrain node: (a live node named web1 is already registered|another node named web1 registered) on /);
    }
  }
});
