/**
 * A run over twenty log hosts, each node in a network namespace of its own (10.213.2.0/24), the
 * job server on another host and the coordinator on a third: `run grep -c` and `run count --by
 * status` must equal GNU grep and awk over the same files, node by node.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { awkTally, spawnGeartrain, startNode, tempDir, type RunningNode } from '../helpers/cluster.ts';
import { TestBed } from '../helpers/netns.ts';

const NODES = Array.from({ length: 20 }, (_, i) => `web${String(i + 1).padStart(2, '0')}`);
const LINES = 20_000;

/** Runs `work` over `items`, `width` at a time. */
async function inBatches<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  return out;
}

test.serial('twenty nodes on twenty hosts: grep -c and count --by status equal GNU grep and awk over the same files', async (t) => {
  const dir = tempDir(t, 'geartrain-bed20-');
  const bed = await TestBed.create(t, 2, ['srv', 'ctl', ...NODES]);
  const server = await bed.startServer(t, 'srv');

  const started = Date.now();
  // A clean log per node (every line a record, so awk's $9 is the status), different per node.
  const files = await inBatches(NODES, 2, async (node) => {
    const file = path.join(dir, `${node}.log`);
    const p = spawnGeartrain(t, 'gen-logs', [file, '--lines', String(LINES), '--seed', '20', '--node', String(NODES.indexOf(node)), '--invalid-rate', '0', '--odd-rate', '0']);
    t.is(await p.exited(), 0, p.stderrText());
    return file;
  });
  const generated = Date.now();
  const nodes: RunningNode[] = await inBatches(NODES, 4, (node) =>
    startNode(t, {
      name: node,
      servers: server.address,
      data: path.join(dir, `data-${node}`),
      logs: [files[NODES.indexOf(node)]!],
      extra: ['--concurrency', '1', '--poll-ms', '0'],
      wrap: bed.wrap(node),
    }),
  );
  t.deepEqual(
    nodes.map((n) => n.readyShards),
    NODES.map(() => 1),
  );
  const ready = Date.now();

  const run = async (args: string[]) => {
    const r = await bed.runGeartrain(t, 'ctl', 'run', [...args, '--servers', server.address, '--wait-nodes', String(NODES.length), '-q', '--json']);
    t.is(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as { result: unknown; nodes: string[]; partial: boolean; missing: unknown[] };
  };

  const grep = await run(['grep', '-c', 'Googlebot']);
  const grepDone = Date.now();
  const expected: Record<string, number> = {};
  for (const [i, node] of NODES.entries()) expected[node] = Number(execFileSync('sh', ['-c', 'grep -c -F Googlebot "$1" || true', 'sh', files[i]!]).toString().trim());
  t.deepEqual(grep.result, { total: Object.values(expected).reduce((a, b) => a + b, 0), perNode: expected });
  t.deepEqual(grep.nodes, NODES);
  t.false(grep.partial);
  t.deepEqual(grep.missing, []);

  const count = await run(['count', '--by', 'status']);
  const countDone = Date.now();
  const byStatus = awkTally(9, 'cat "$@"', ...files);
  const rows = (count.result as { rows: [string, number][] }).rows;
  t.deepEqual(Object.fromEntries(rows), byStatus);
  t.is(
    rows.reduce((a, [, n]) => a + n, 0),
    NODES.length * LINES,
  );
  t.log(
    `gen-logs ${((generated - started) / 1000).toFixed(1)} s, 20 nodes ready ${((ready - generated) / 1000).toFixed(1)} s, grep -c ${((grepDone - ready) / 1000).toFixed(1)} s, count --by status ${((countDone - grepDone) / 1000).toFixed(1)} s`,
  );
});
