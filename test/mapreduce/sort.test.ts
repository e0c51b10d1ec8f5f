/**
 * sort --by FIELD: one globally sorted output over every node, whether the keys are merged in one
 * tree or cut into sampled key ranges merged in parallel; equal to an independent Python sort.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';

const REF = path.join(import.meta.dirname, 'reference', 'sort_by_bytes.py');

test.serial('sort --by bytes over three nodes equals the reference, with 1 and with 4 key ranges, ascending and descending', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const files: { node: string; file: string }[] = [];
  for (let i = 0; i < 3; i++) {
    const file = path.join(dir, `s${i}.log`);
    await writeLog(file, { lines: 6000, node: i, seed: 17, invalidRate: 0, oddRate: 0 });
    files.push({ node: `s${i}`, file });
  }
  await Promise.all(files.map(({ node, file }) => startNode(t, { name: node, servers: server.address, data: path.join(dir, node), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0'] })));
  for (const extra of [['--ranges', '1'], ['--ranges', '4'], ['--ranges', '4', '--desc']]) {
    const p = spawnGeartrain(t, 'run', ['sort', '--by', 'bytes', ...extra, '--servers', server.address, '--wait-nodes', '3', '-q', '--split-bytes', String(1024 * 1024)]);
    t.is(await p.exited(), 0, p.stderrText());
    const expected = execFileSync('python3', [REF, ...(extra.includes('--desc') ? ['--desc'] : []), ...files.map((f) => `${f.node}=${f.file}`)], { maxBuffer: 1 << 28 }).toString('latin1');
    t.is(p.stdoutText(), expected, extra.join(' '));
  }
  const json = spawnGeartrain(t, 'run', ['sort', '--by', 'bytes', '--ranges', '4', '--servers', server.address, '--wait-nodes', '3', '-q', '--json']);
  t.is(await json.exited(), 0, json.stderrText());
  const tiers = JSON.parse(json.stdoutText()).tiers as { label: string; tasks: number }[];
  t.deepEqual(tiers.map((x) => [x.label, x.tasks]), [['range merge', 4]], 'four reducers each merged one key range');
});
