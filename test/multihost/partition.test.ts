/**
 * Partitions on the multi-host bed (10.213.4.0/24), issue 14. A cut link (the host's bridge port
 * down) leaves the node's process alive and its connections half-open: no FIN, no RST, the job
 * server still lists its workers. The run notices it by its silence: tasks beat every second, a
 * node quiet for 2 s is pinged, no answer within 3 s and it is gone (failure-detector.ts). Before
 * this, a run waited for --task-timeout (60 s) per task, and a run started while the node was cut
 * could leave it out without a word.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { spawnGeartrain, startNode, tempDir, type Proc, type RunningNode } from '../helpers/cluster.ts';
import { TestBed, type BedServer } from '../helpers/netns.ts';
import { waitFor } from '../helpers/ports.ts';

const NODES = ['web1', 'web2', 'web3'] as const;
/** How long after a cut a run must have noticed it (issue 14: "within 5 s"), with slack for a loaded machine. */
const NOTICE_MS = 15_000;

interface Cluster {
  bed: TestBed;
  server: BedServer;
  files: Record<string, string>;
  nodes: Record<string, RunningNode>;
}

async function cluster(t: ExecutionContext, lines: number): Promise<Cluster> {
  const dir = tempDir(t, 'geartrain-bedpart-');
  const bed = await TestBed.create(t, 4, ['srv', 'ctl', ...NODES]);
  const server = await bed.startServer(t, 'srv');
  const files: Record<string, string> = {};
  for (const [i, node] of NODES.entries()) {
    files[node] = path.join(dir, `${node}.log`);
    const p = spawnGeartrain(t, 'gen-logs', [files[node], '--lines', String(lines), '--seed', '4', '--node', String(i), '--invalid-rate', '0', '--odd-rate', '0']);
    t.is(await p.exited(), 0, p.stderrText());
  }
  const nodes: Record<string, RunningNode> = {};
  for (const node of NODES) {
    nodes[node] = await startNode(t, { name: node, servers: server.address, data: path.join(dir, `data-${node}`), logs: [files[node]!], extra: ['--concurrency', '1', '--poll-ms', '0'], wrap: bed.wrap(node) });
  }
  return { bed, server, files, nodes };
}

function grepCounts(c: Cluster, nodes: readonly string[]): { total: number; perNode: Record<string, number> } {
  const perNode = Object.fromEntries(nodes.map((n) => [n, Number(execFileSync('grep', ['-c', '-F', 'GET', c.files[n]!]).toString().trim())]));
  return { total: Object.values(perNode).reduce((a, b) => a + b, 0), perNode };
}

function run(t: ExecutionContext, c: Cluster, args: string[]) {
  return c.bed.geartrain(t, 'ctl', 'run', ['grep', '-c', 'GET', '--servers', c.server.address, '--json', '-q', '--split-bytes', String(1024 * 1024), ...args]);
}

/**
 * Cuts web2's link once it runs a map task of `run`, then waits for the run to end; logs how long
 * after the cut the run said web2 was gone, and how long until it ended.
 */
async function cutWhileMapping(t: ExecutionContext, c: Cluster, run: Proc): Promise<void> {
  await c.bed.waitForAdmin('ctl', c.server.address, 'status', /geartrain\.map@web2\t[1-9]\d*\t[1-9]/, 60_000);
  await c.bed.cut('web2');
  const cutAt = Date.now();
  let noticedAt: number | null = null;
  await waitFor(
    () => {
      if (noticedAt === null && /node web2 is gone/.test(run.stderrText())) noticedAt = Date.now();
      return run.exitCode !== null;
    },
    'the run to notice the cut',
    NOTICE_MS,
    20,
  );
  t.log(`web2 cut mid-run: noticed ${noticedAt === null ? '(not said)' : `${noticedAt - cutAt} ms`} after the cut, the run ended after ${Date.now() - cutAt} ms`);
}

test.serial('a node cut off mid-run (link down, process alive) is noticed within seconds: exit 3 naming it and its shards', async (t) => {
  const c = await cluster(t, 120_000);
  const p = run(t, c, ['--wait-nodes', '3']);
  await cutWhileMapping(t, c, p);
  t.is(p.exitCode, 3, p.stderrText());
  t.regex(p.stderrText(), /web2/);
  t.regex(p.stderrText(), new RegExp(c.files.web2!.replace(/\./g, '\\.')));
  t.is(c.nodes.web2!.exitCode, null, 'the cut-off node is still running');
});

test.serial('with --allow-partial, a node cut off mid-run: exit 0, partial: true, its shards in missing, the others counted in full', async (t) => {
  const c = await cluster(t, 120_000);
  const p = run(t, c, ['--wait-nodes', '3', '--allow-partial']);
  await cutWhileMapping(t, c, p);
  t.is(p.exitCode, 0, p.stderrText());
  const report = JSON.parse(p.stdoutText()) as { partial: boolean; missing: { node: string; path: string }[]; result: { perNode: Record<string, number> } };
  t.true(report.partial);
  t.true(report.missing.length > 0 && report.missing.every((m) => m.node === 'web2' && m.path === c.files.web2), JSON.stringify(report.missing));
  const full = grepCounts(c, ['web1', 'web3']);
  t.is(report.result.perNode.web1, full.perNode.web1);
  t.is(report.result.perNode.web3, full.perNode.web3);
  t.regex(p.stderrText(), /PARTIAL/);
});

test.serial('a node cut off before a run is not left out silently (exit 3 naming it); once its link is back, the next run is complete and equals grep', async (t) => {
  const c = await cluster(t, 5_000);
  const first = run(t, c, ['--wait-nodes', '3']);
  t.is(await first.exited(), 0, first.stderrText());
  t.deepEqual(JSON.parse(first.stdoutText()).result, grepCounts(c, NODES));

  await c.bed.cut('web2');
  const cut = run(t, c, []);
  const started = Date.now();
  await waitFor(() => cut.exitCode !== null, 'the run over a cut node to end', NOTICE_MS);
  t.log(`web2 cut before the run: the run ended ${Date.now() - started} ms after it started`);
  t.is(cut.exitCode, 3, cut.stderrText());
  t.regex(cut.stderrText(), /web2/);

  await c.bed.restore('web2');
  // Back: the node's connections resume (or it reconnects) and the cluster sees it again.
  await waitFor(async () => /geartrain\.map@web2\t\d+\t\d+\t[1-9]/.test(await c.bed.admin('ctl', c.server.address, 'status')), 'web2 back', 60_000, 200);
  const again = run(t, c, ['--wait-nodes', '3']);
  t.is(await again.exited(), 0, again.stderrText());
  const report = JSON.parse(again.stdoutText()) as { result: unknown; partial: boolean; missing: unknown[] };
  t.deepEqual(report.result, grepCounts(c, NODES));
  t.false(report.partial);
  t.deepEqual(report.missing, []);
});
