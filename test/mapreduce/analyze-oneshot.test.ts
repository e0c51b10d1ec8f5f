/**
 * `geartrain analyze FILE…` (embedded server and node, nothing to start) gives the same numbers as
 * `geartrain run analyze` over a cluster of node processes holding the same files.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';

test.serial('one-shot analyze equals the distributed run; --html writes the report', async (t) => {
  const dir = tempDir(t);
  const files: string[] = [];
  for (let i = 0; i < 3; i++) {
    const f = path.join(dir, `web${i}.log`);
    await writeLog(f, { lines: 8000, node: i, seed: 41 });
    files.push(f);
  }
  const html = path.join(dir, 'report.html');
  const local = spawnGeartrain(t, 'analyze', [...files, '--json', '--html', html]);
  t.is(await local.exited(), 0, local.stderrText());
  const oneShot = JSON.parse(Buffer.from(local.stdoutText(), 'latin1').toString('utf8'));

  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  await Promise.all(files.map((f, i) => startNode(t, { name: `web${i}`, servers: server.address, data: path.join(dir, `d${i}`), logs: [f], extra: ['--concurrency', '1', '--poll-ms', '0'] })));
  const dist = spawnGeartrain(t, 'run', ['analyze', '--servers', server.address, '--wait-nodes', '3', '--json', '-q']);
  t.is(await dist.exited(), 0, dist.stderrText());
  const distributed = JSON.parse(Buffer.from(dist.stdoutText(), 'latin1').toString('utf8'));

  // Percentiles come from t-digests merged in a different grouping: equal within 1 %.
  const strip = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'percentiles' ? undefined : v)));
  t.deepEqual(strip(oneShot.result), strip(distributed.result));
  for (const [a, b] of oneShot.result.responseSizes.percentiles.map((p: { value: number }, i: number) => [p.value, distributed.result.responseSizes.percentiles[i].value])) {
    t.true(Math.abs(a - b) <= 0.01 * Math.max(1, b), `${a} vs ${b}`);
  }
  t.is(oneShot.result.totals.linesRead, 24_000);
  const page = fs.readFileSync(html, 'utf8');
  t.true(page.startsWith('<!DOCTYPE html>') || page.startsWith('<!doctype html>'));
  t.true(page.includes(String(oneShot.result.totals.requests)) || page.includes(oneShot.result.totals.requests.toLocaleString('en-US')));
});
