/**
 * The one-shot mode's embedded node (`geartrain analyze FILE`): job server, node and coordinator
 * share one event loop, so a loop kept busy delays the node's heartbeats and its answers to
 * probes. Such a node is never found gone for silence: here the run's failure detector takes every
 * node as quiet at once and gives a probe 1 ms (no answer can come back that fast), and the run
 * still completes, whole: counts by status equal awk | sort | uniq -c over the file.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { compileLogFormat, writeLog } from '../../src/logs/index.ts';
import { parseLogSource } from '../../src/logs/log-sources.ts';
import { runJob } from '../../src/mapreduce/coordinator.ts';
import { startLogNode } from '../../src/mapreduce/log-node.ts';
import { loadJob, prepareJob } from '../../src/mapreduce/prepare-job.ts';
import { JobServer } from '../../src/server/index.ts';
import { tempDir } from '../helpers/cluster.ts';

test('an in-process node whose heartbeats and probe answers never arrive in time: the run completes, nothing missing', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  await writeLog(file, { lines: 20_000, seed: 5, invalidRate: 0, oddRate: 0 });
  const reference = execFileSync('sh', ['-c', `awk '{print $9}' '${file}' | sort | uniq -c`], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map(([n, status]) => [status!, Number(n)] as const)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const format = compileLogFormat('combined');
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory' });
  t.teardown(() => server.destroy());
  const { port } = await server.listen();
  const servers = [`127.0.0.1:${port}`];
  const node = await startLogNode({ servers, name: 'local', sources: [parseLogSource(file, format)], dataDir: path.join(dir, 'node'), format, concurrency: Math.min(2, os.availableParallelism()), logService: { pollMs: 0 } });
  t.teardown(() => node.close());
  const report = await runJob({
    servers,
    job: prepareJob(await loadJob('count'), { by: 'status' }),
    waitNodes: 1,
    // Small splits: several map tasks and a node combine, all while the detector looks every 5 ms.
    splitBytes: 1024 * 1024,
    detector: { tickMs: 5, quietMs: 0, probeTimeoutMs: 1, listingMs: 1000 },
    inProcessNodes: ['local'],
  });
  t.false(report.partial);
  t.deepEqual(report.missingNodes, []);
  t.true(report.tasks.map > 1, `${report.tasks.map} map tasks`);
  const rows = (report.result as { rows: [string, number][] }).rows.map(([s, n]) => [String(s), n] as const).sort(([a], [b]) => (a < b ? -1 : 1));
  t.deepEqual(rows, reference);
});
