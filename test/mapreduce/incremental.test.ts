/**
 * Incremental re-runs (--incremental): nodes keep per-day partials of every shard range, so a run
 * over a grown or rotated log reads only what is new, and its result equals a full run's — also
 * with --since/--until cutting through a day.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import type { ExecutionContext } from 'ava';

const MB = 1024 * 1024;

type Analysis = { responseSizes?: { percentiles: { p: number; value: number }[] }; latency?: { percentiles: { p: number; value: number }[] } | null };

/**
 * Exact parts must be equal; t-digest percentiles depend on how partials were grouped, within
 * the digest's stated error, so they are compared within 1%.
 */
function sameAnalysis(t: ExecutionContext, a: Analysis & Record<string, unknown>, b: Analysis & Record<string, unknown>): void {
  const strip = (x: Analysis & Record<string, unknown>) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'percentiles' ? undefined : v)));
  t.deepEqual(strip(a), strip(b));
  for (const section of ['responseSizes', 'latency'] as const) {
    const pa = a[section]?.percentiles ?? [];
    const pb = b[section]?.percentiles ?? [];
    t.is(pa.length, pb.length);
    pa.forEach((x, i) => t.true(Math.abs(x.value - pb[i]!.value) <= 0.01 * Math.max(1, Math.abs(pb[i]!.value)), `${section} p${x.p}: ${x.value} vs ${pb[i]!.value}`));
  }
}

async function runJson(t: ExecutionContext, servers: string, args: string[]) {
  const p = spawnGeartrain(t, 'run', [...args, '--servers', servers, '--wait-nodes', '1', '-q', '--json', '--split-bytes', String(MB)]);
  const code = await p.exited();
  t.is(code, 0, p.stderrText());
  return JSON.parse(Buffer.from(p.stdoutText(), 'latin1').toString('utf8'));
}

async function append(file: string, lines: number, seed: number) {
  const extra = `${file}.extra`;
  await writeLog(extra, { lines, seed, start: '2026-10-08T00:00:00Z', days: 2 });
  fs.appendFileSync(file, fs.readFileSync(extra));
  fs.rmSync(extra);
}

test.serial('a re-run over a grown, then rotated log reads only the new bytes and equals a full run', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const log = path.join(dir, 'access.log');
  await writeLog(log, { lines: 20_000, seed: 21 });
  await startNode(t, { name: 'inc', servers: server.address, data: path.join(dir, 'data'), logs: [`${log}*`], extra: ['--concurrency', '1', '--poll-ms', '0'] });

  const first = await runJson(t, server.address, ['analyze', '--incremental']);
  t.is(first.counters.cache_hit_bytes ?? 0, 0);
  const size0 = fs.statSync(log).size;
  t.is(first.counters.bytes_scanned, size0);

  // The log grows.
  await append(log, 5000, 22);
  const grown = await runJson(t, server.address, ['analyze', '--incremental']);
  const full = await runJson(t, server.address, ['analyze']);
  sameAnalysis(t, grown.result, full.result);
  const size1 = fs.statSync(log).size;
  t.true(grown.counters.cache_hit_bytes >= size0 - MB, `reused ${grown.counters.cache_hit_bytes} of ${size0} bytes`);
  t.true(grown.counters.bytes_scanned <= size1 - size0 + MB, `scanned ${grown.counters.bytes_scanned} bytes for ${size1 - size0} new`);

  // Rotation: the file is renamed (same inode) and a new one starts.
  fs.renameSync(log, `${log}.1`);
  await append(log, 3000, 23);
  const rotated = await runJson(t, server.address, ['analyze', '--incremental']);
  const fullRotated = await runJson(t, server.address, ['analyze']);
  sameAnalysis(t, rotated.result, fullRotated.result);
  t.is(rotated.counters.bytes_scanned, fs.statSync(log).size, 'only the new file is read');
  t.is(rotated.result.totals.requests, fullRotated.result.totals.requests);
});

test.serial('--since/--until cutting through days: the incremental result equals the full one', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const log = path.join(dir, 'access.log');
  await writeLog(log, { lines: 15_000, seed: 31 });
  await startNode(t, { name: 'cut', servers: server.address, data: path.join(dir, 'data'), logs: [log], extra: ['--concurrency', '1', '--poll-ms', '0'] });
  await runJson(t, server.address, ['count', '--by', 'status', '--incremental']);
  const bounds = ['--since', '2026-10-02T13:30:00Z', '--until', '2026-10-05T06:00:00Z'];
  const inc = await runJson(t, server.address, ['count', '--by', 'status', '--incremental', ...bounds]);
  const full = await runJson(t, server.address, ['count', '--by', 'status', ...bounds]);
  t.deepEqual(inc.result, full.result);
  t.true(inc.result.total > 0 && inc.result.total < 15_000);
  t.true(inc.counters.cache_hit_bytes > 0);
});
