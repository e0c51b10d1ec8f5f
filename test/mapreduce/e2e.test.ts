/**
 * End to end, every piece a separate process: a job server (geartrain's, or two real gearmand),
 * three `geartrain node` processes over generated logs, and the coordinator (`geartrain run`).
 * Reference answers come from tools that share no code with src/: GNU grep, awk, sort, and a
 * short Python script that puts GNU grep's output in the grep job's promised order.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { startGearmand } from '../helpers/gearmand.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import type { ExecutionContext } from 'ava';

const REF = path.join(import.meta.dirname, 'reference', 'grep_groups.py');

interface Cluster {
  servers: string;
  files: { node: string; file: string }[];
}

async function generate(t: ExecutionContext, dir: string, opts: { lines: number; invalidRate?: number; oddRate?: number }) {
  const files: { node: string; file: string }[] = [];
  for (let i = 0; i < 3; i++) {
    const file = path.join(dir, `web${i}.log`);
    await writeLog(file, { lines: opts.lines, node: i, seed: 11, ...(opts.invalidRate !== undefined ? { invalidRate: opts.invalidRate } : {}), ...(opts.oddRate !== undefined ? { oddRate: opts.oddRate } : {}) });
    files.push({ node: `web${i}`, file });
  }
  return files;
}

async function startCluster(t: ExecutionContext, kind: 'geartrain' | 'gearmand', files: { node: string; file: string }[], dir: string): Promise<Cluster> {
  let servers: string;
  if (kind === 'geartrain') {
    servers = (await startServerProcess(t, ['-q', 'memory', '-p', '0'])).address;
  } else {
    // Two real gearmand servers: the nodes serve both, the coordinator uses both.
    const a = await startGearmand();
    const b = await startGearmand();
    t.teardown(() => a.stop());
    t.teardown(() => b.stop());
    servers = `${a.address},${b.address}`;
  }
  await Promise.all(
    files.map(({ node, file }) =>
      startNode(t, { name: node, servers, data: path.join(dir, `data-${node}`), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0'] }),
    ),
  );
  return { servers, files };
}

async function run(t: ExecutionContext, c: Cluster, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnGeartrain(t, 'run', [...args, '--servers', c.servers, '--wait-nodes', String(c.files.length), '-q']);
  const code = await p.exited();
  return { code, stdout: p.stdoutText(), stderr: p.stderrText() };
}

function referenceOrder(pattern: string, files: { node: string; file: string }[], invert = false): string {
  return execFileSync('python3', [REF, ...files.map((f) => `${f.node}=${f.file}`), '--', '-F', ...(invert ? ['-v'] : []), pattern], { maxBuffer: 1 << 28 }).toString('latin1');
}

for (const kind of ['geartrain', 'gearmand'] as const) {
  test.serial(`${kind}: grep output equals the reference line for line, in (time, node, file, offset) order; -c equals grep -c per node`, async (t) => {
    const dir = tempDir(t);
    // Dirty logs: invalid lines of every kind and odd-but-valid ones are grepped like any line.
    const files = await generate(t, dir, { lines: 15_000, invalidRate: 0.02, oddRate: 0.02 });
    const c = await startCluster(t, kind, files, dir);

    for (const pattern of ['POST /login', '" 404 ', 'bot']) {
      const r = await run(t, c, ['grep', pattern]);
      t.is(r.code, 0, r.stderr);
      const expected = referenceOrder(pattern, files);
      t.true(expected.length > 0, `the pattern ${pattern} must match something`);
      t.is(r.stdout, expected, `grep '${pattern}'`);
    }

    const count = await run(t, c, ['grep', '-c', 'GET', '--json']);
    t.is(count.code, 0, count.stderr);
    const perNode = JSON.parse(count.stdout).result.perNode as Record<string, number>;
    for (const { node, file } of files) {
      const expected = Number(execFileSync('grep', ['-a', '-c', 'GET', file]).toString().trim());
      t.is(perNode[node], expected, `grep -c on ${node}`);
    }
  });

  test.serial(`${kind}: count --by status equals awk over the same files`, async (t) => {
    const dir = tempDir(t);
    // A clean log: every line is a record, so awk's $9 is the status.
    const files = await generate(t, dir, { lines: 20_000, invalidRate: 0, oddRate: 0 });
    const c = await startCluster(t, kind, files, dir);
    const r = await run(t, c, ['count', '--by', 'status', '--json']);
    t.is(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout).result.rows as [string, number][];
    const got = Object.fromEntries(rows.map(([status, n]) => [status, n]));
    const awk = execFileSync('sh', ['-c', `awk '{c[$9]++} END {for (s in c) print s, c[s]}' ${files.map((f) => `'${f.file}'`).join(' ')}`]).toString();
    const expected = Object.fromEntries(
      awk
        .trim()
        .split('\n')
        .map((l) => l.split(' '))
        .map(([s, n]) => [s!, Number(n)]),
    );
    t.deepEqual(got, expected);
  });
}

test.serial('a bad --where is refused before any task runs, naming the problem', async (t) => {
  const dir = tempDir(t);
  const files = await generate(t, dir, { lines: 100 });
  const c = await startCluster(t, 'geartrain', files.slice(0, 1), dir);
  const r = await run(t, c, ['count', '--by', 'status', '--where', 'stat>=500']);
  t.is(r.code, 2, 'a usage error');
  t.regex(r.stderr, /unknown field 'stat'/);
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  const unknown = await run(t, c, ['nosuchjob']);
  t.is(unknown.code, 2, 'a usage error');
  t.regex(unknown.stderr, /unknown job 'nosuchjob'/);
});
