/**
 * A run's answer is complete, or it says exactly what is missing (issue 14), on real processes on
 * loopback: `geartrain node` processes, `geartrain run` from the same machine (one memory per
 * test: XDG_STATE_HOME, test/helpers/cluster.ts), geartrain's job server or gearmand. Each result
 * is checked against GNU grep or awk over the same files, or checked to name what it lacks.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { writeLog } from '../../src/logs/index.ts';
import { awkTally, sh, spawnGeartrain, startNode, tempDir, type Proc, type RunningNode } from '../helpers/cluster.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { startServer, type ServerKind } from '../helpers/servers.ts';

const NODES = ['web1', 'web2', 'web3'] as const;
/** A run must end this soon after a node dies mid-run (it is noticed within seconds; --task-timeout is 60 s). */
const NOTICE_MS = 20_000;

interface Cluster {
  readonly servers: string;
  readonly port: number;
  readonly dir: string;
  readonly files: Record<string, string>;
  readonly nodes: Record<string, RunningNode>;
}

async function cluster(t: ExecutionContext, kind: ServerKind, lines: number, o: { start?: Record<string, string> } = {}): Promise<Cluster> {
  const server = await startServer(kind);
  t.teardown(() => server.stop());
  const dir = tempDir(t, 'geartrain-members-');
  const files: Record<string, string> = {};
  for (const [i, node] of NODES.entries()) {
    files[node] = path.join(dir, `${node}.log`);
    await writeLog(files[node], { lines, node: i, seed: 14, invalidRate: 0, oddRate: 0, ...(o.start?.[node] ? { start: o.start[node], days: 2 } : {}) });
  }
  const nodes: Record<string, RunningNode> = {};
  await Promise.all(
    NODES.map(async (node) => {
      nodes[node] = await startNode(t, { name: node, servers: server.address, data: path.join(dir, `data-${node}`), logs: [files[node]!], extra: ['--concurrency', '1', '--poll-ms', '0'] });
    }),
  );
  return { servers: server.address, port: server.port, dir, files, nodes };
}

/** `grep -c -F GET` per file, and the total. */
function grepCounts(c: Cluster, nodes: readonly string[]): { total: number; perNode: Record<string, number> } {
  const perNode = Object.fromEntries(nodes.map((n) => [n, Number(execFileSync('grep', ['-c', '-F', 'GET', c.files[n]!]).toString().trim())]));
  return { total: Object.values(perNode).reduce((a, b) => a + b, 0), perNode };
}

function run(t: ExecutionContext, c: Cluster, args: string[], env: Record<string, string> = {}): Proc {
  return spawnGeartrain(t, 'run', [...args, '--servers', c.servers, '-q'], env);
}

async function finished(p: Proc): Promise<{ code: number | null; stderr: string; report: Report | null }> {
  const code = await p.exited();
  const out = p.stdoutText();
  return { code, stderr: p.stderrText(), report: out.startsWith('{') ? (JSON.parse(out) as Report) : null };
}

interface Report {
  result: { total: number; perNode: Record<string, number> } & Record<string, unknown>;
  partial: boolean;
  missing: { node: string; path: string; reason?: string }[];
  missingNodes: { node: string; expected: string; reason: string; lastSeen: string | null }[];
  nodes: string[];
}

async function kill9(node: RunningNode): Promise<void> {
  node.kill('SIGKILL');
  await node.exited();
}

for (const kind of ['geartrain', 'gearmand'] as const) {
  test.serial(`${kind}: three nodes serve, a run completes; after kill -9 of one, the next run from the same machine exits 3 naming it and its shards, and with --allow-partial exits 0 with partial: true and the node in missing`, async (t) => {
    const c = await cluster(t, kind, 5_000);
    const first = await finished(run(t, c, ['grep', '-c', 'GET', '--wait-nodes', '3', '--json']));
    t.is(first.code, 0, first.stderr);
    t.deepEqual(first.report!.result, grepCounts(c, NODES));
    t.false(first.report!.partial);

    await kill9(c.nodes.web2!);
    const after = await finished(run(t, c, ['grep', '-c', 'GET', '--json']));
    t.is(after.code, 3, after.stderr);
    t.is(after.report, null, 'no result is printed');
    t.regex(after.stderr, /^geartrain run: incomplete result: 1 expected node\(s\) did not take part: web2 \(/m);
    t.true(after.stderr.includes(`web2:${c.files.web2} (`), after.stderr);
    t.regex(after.stderr, /add --allow-partial/);

    const partial = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--allow-partial']));
    t.is(partial.code, 0, partial.stderr);
    const r = partial.report!;
    t.true(r.partial);
    t.deepEqual(r.missing.map((m) => `${m.node}:${m.path}`), [`web2:${c.files.web2}`]);
    t.deepEqual(r.missingNodes.map((m) => [m.node, m.expected]), [['web2', 'remembered']]);
    t.deepEqual(r.result, grepCounts(c, ['web1', 'web3']), 'the others counted in full');
    t.regex(partial.stderr, /^geartrain run: PARTIAL result: 1 node\(s\) missing: web2 \(/m);
  });
}

test.serial('a node killed with kill -9 mid-run is noticed within seconds, not at --task-timeout: exit 3 naming it and its unread shards', async (t) => {
  const c = await cluster(t, 'geartrain', 60_000);
  const p = run(t, c, ['grep', '-c', 'GET', '--wait-nodes', '3', '--split-bytes', String(1024 * 1024)]);
  await waitFor(async () => /geartrain\.map@web2\t[1-9]\d*\t[1-9]/.test(await adminRequest(c.port, 'status')), 'web2 mapping', 60_000);
  const killedAt = Date.now();
  await kill9(c.nodes.web2!);
  await waitFor(() => p.exitCode !== null, 'the run to notice the dead node', NOTICE_MS, 50);
  const noticed = /node web2 is gone: (.*)$/m.exec(p.stderrText());
  t.log(`kill -9 mid-run: the run ended ${Date.now() - killedAt} ms after the kill`);
  t.is(p.exitCode, 3, p.stderrText());
  t.truthy(noticed, p.stderrText());
  t.regex(noticed![1]!, /its workers left the job servers/);
  t.regex(p.stderrText(), new RegExp(`web2:${c.files.web2!.replace(/[.]/g, '\\.')}`));
});

test.serial('with --allow-partial, a node killed mid-run: exit 0, partial: true, only its file in missing, the other nodes counted in full (awk)', async (t) => {
  const c = await cluster(t, 'geartrain', 60_000);
  const p = run(t, c, ['count', '--by', 'status', '--wait-nodes', '3', '--split-bytes', String(1024 * 1024), '--allow-partial', '--json']);
  await waitFor(async () => /geartrain\.map@web2\t[1-9]\d*\t[1-9]/.test(await adminRequest(c.port, 'status')), 'web2 mapping', 60_000);
  await kill9(c.nodes.web2!);
  await waitFor(() => p.exitCode !== null, 'the run to notice the dead node', NOTICE_MS, 50);
  const { code, stderr, report } = await finished(p);
  t.is(code, 0, stderr);
  t.true(report!.partial);
  t.true(report!.missing.length > 0 && report!.missing.every((m) => m.node === 'web2' && m.path === c.files.web2), JSON.stringify(report!.missing));
  t.deepEqual(report!.missingNodes.map((m) => [m.node, m.expected]), [['web2', 'running']]);
  const counts = Object.fromEntries((report!.result.rows as [string, number][]).map(([k, n]) => [k, n]));
  t.deepEqual(counts, awkTally(9, 'cat "$@"', c.files.web1!, c.files.web3!));
});

test.serial('a node killed mid-run whose file another live node serves too: its tasks move there within seconds and the run is complete (total equals grep)', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t, 'geartrain-members-');
  const shared = path.join(dir, 'shared.log');
  await writeLog(shared, { lines: 120_000, seed: 21, invalidRate: 0, oddRate: 0 });
  // Two nodes over one file (as two nodes on one host would be): each shard has two holders.
  const [a, b] = await Promise.all(['a', 'b'].map((name) => startNode(t, { name, servers: server.address, data: path.join(dir, name), logs: [shared], extra: ['--concurrency', '1', '--poll-ms', '0'] })));
  const p = spawnGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', server.address, '--wait-nodes', '2', '--split-bytes', String(1024 * 1024), '--no-speculation', '--json', '-q']);
  await waitFor(async () => /geartrain\.map@a\t[1-9]\d*\t[1-9]/.test(await adminRequest(server.port, 'status')), 'a mapping', 60_000);
  const killedAt = Date.now();
  await kill9(a!);
  await waitFor(() => p.exitCode !== null, 'the run to finish on b', NOTICE_MS, 50);
  t.log(`kill -9 of a mid-run with a replica: the run ended ${Date.now() - killedAt} ms after the kill`);
  const { code, stderr, report } = await finished(p);
  t.is(code, 0, stderr);
  t.regex(stderr, /node a is gone: its workers left the job servers/);
  t.regex(stderr, /task m\d+ moves to replica b/);
  t.false(report!.partial);
  t.is(report!.result.total, Number(execFileSync('grep', ['-c', '-F', 'GET', shared]).toString().trim()));
  t.is(b!.exitCode, null);
});

test.serial('a machine that never saw a node still expects it while the job servers list it without a worker: exit 3, its shards not known here', async (t) => {
  const c = await cluster(t, 'geartrain', 2_000);
  await c.nodes.web3!.stop();
  const fresh = tempDir(t, 'geartrain-state-other-');
  const r = await finished(run(t, c, ['grep', '-c', 'GET', '--json'], { XDG_STATE_HOME: fresh }));
  t.is(r.code, 3, r.stderr);
  t.regex(r.stderr, /web3 \(the job servers list it with no live worker \(stopped, crashed, or its connections closed\)\), its shards not known on this machine/);
  const partial = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--allow-partial'], { XDG_STATE_HOME: fresh }));
  t.is(partial.code, 0, partial.stderr);
  t.deepEqual(partial.report!.missing.map((m) => `${m.node}:${m.path}`), ['web3:*']);
  t.deepEqual(partial.report!.result, grepCounts(c, ['web1', 'web2']));
});

test.serial('--nodes, --nodes-file and GEARTRAIN_NODES say exactly which nodes must answer: one never started fails the run naming it; a remembered node left out of the list is not expected', async (t) => {
  const c = await cluster(t, 'geartrain', 2_000);
  const all = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--wait-nodes', '3']));
  t.is(all.code, 0, all.stderr);

  const extra = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--nodes', 'web1,web2,web3,web4']));
  t.is(extra.code, 3, extra.stderr);
  t.regex(extra.stderr, /did not take part: web4 \(not registered on the job servers\), its shards not known on this machine/);
  const fromEnv = await finished(run(t, c, ['grep', '-c', 'GET', '--json'], { GEARTRAIN_NODES: 'web1 web4' }));
  t.is(fromEnv.code, 3, fromEnv.stderr);
  t.regex(fromEnv.stderr, /did not take part: web4 /);

  await kill9(c.nodes.web2!);
  const list = path.join(c.dir, 'nodes.txt');
  fs.writeFileSync(list, '# the web tier\nweb1\nweb3\n');
  const named = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--nodes-file', list]));
  t.is(named.code, 0, named.stderr);
  t.false(named.report!.partial);
  t.deepEqual(named.report!.result, grepCounts(c, ['web1', 'web3']));
  const bad = await finished(run(t, c, ['grep', '-c', 'GET', '--nodes', 'web1,', '--nodes-file', list]));
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /use either --nodes or --nodes-file, not both/);
});

test.serial('a missing node whose data lies outside --since/--until does not make the run incomplete; one whose data is inside does', async (t) => {
  const c = await cluster(t, 'geartrain', 3_000, { start: { web1: '2026-10-10T00:00:00Z', web2: '2026-09-01T00:00:00Z', web3: '2026-10-10T00:00:00Z' } });
  const first = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--wait-nodes', '3']));
  t.is(first.code, 0, first.stderr);
  await kill9(c.nodes.web2!);
  const recent = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--since', '2026-10-01']));
  t.is(recent.code, 0, recent.stderr);
  t.false(recent.report!.partial);
  t.deepEqual(recent.report!.result, grepCounts(c, ['web1', 'web3']));
  const old = await finished(run(t, c, ['grep', '-c', 'GET', '--json', '--until', '2026-10-01']));
  t.is(old.code, 3, old.stderr);
  t.regex(old.stderr, /web2 \(.*\) with 1 shard\(s\) in the time asked: web2:.*web2\.log \(2026-09-01T/);
});

test.serial('--replicas 2: a killed node\'s ingested segments are read from their copies; only its log file, which has none, is missing, and outside the time of that file the run is complete', async (t) => {
  const server = await startServer('geartrain');
  t.teardown(() => server.stop());
  const dir = tempDir(t, 'geartrain-members-');
  const own = path.join(dir, 'r2-own.log');
  await writeLog(own, { lines: 300, seed: 9, invalidRate: 0, oddRate: 0, start: '2026-09-01T00:00:00Z', days: 2 });
  const nodes = await Promise.all(
    ['r1', 'r2', 'r3'].map((name) => startNode(t, { name, servers: server.address, data: path.join(dir, name), replicas: 2, ...(name === 'r2' ? { logs: [own] } : {}), extra: ['--poll-ms', '0'] })),
  );
  const sent = path.join(dir, 'sent.log');
  await writeLog(sent, { lines: 600, seed: 3, invalidRate: 0, oddRate: 0 });
  // A third of the lines to each node: its own segments, each copied to one other node.
  for (const [i, node] of ['r1', 'r2', 'r3'].entries()) {
    const r = await sh(`sed -n '${i * 200 + 1},${(i + 1) * 200}p' '${sent}' | gearman -h 127.0.0.1 -p ${server.port} -f logger@${node}`);
    t.is(r.code, 0, r.stderr);
  }
  const gets = (file: string) => Number(execFileSync('grep', ['-c', '-F', 'GET', file]).toString().trim());
  const first = await runJson(t, server.address, ['--wait-nodes', '3']);
  t.is(first.code, 0, first.stderr);
  t.is(first.report!.result.total, gets(sent) + gets(own));

  await kill9(nodes[1]!);
  const after = await runJson(t, server.address, []);
  t.is(after.code, 3, after.stderr);
  t.regex(after.stderr, /did not take part: r2 \(.*\) with 1 shard\(s\) in the time asked: r2:\S*r2-own\.log \(2026-09-01T/, 'its segments are not missing: they have copies');
  const partial = await runJson(t, server.address, ['--allow-partial']);
  t.is(partial.code, 0, partial.stderr);
  t.deepEqual(partial.report!.missing.map((m) => `${m.node}:${m.path}`), [`r2:${own}`]);
  t.is(partial.report!.result.total, gets(sent), 'every line sent counted once, r2\'s from their copies');
  const recent = await runJson(t, server.address, ['--since', '2026-10-01']);
  t.is(recent.code, 0, recent.stderr);
  t.false(recent.report!.partial);
  t.is(recent.report!.result.total, gets(sent));
});

async function runJson(t: ExecutionContext, servers: string, args: string[]) {
  return finished(spawnGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', servers, '--json', '-q', ...args]));
}
