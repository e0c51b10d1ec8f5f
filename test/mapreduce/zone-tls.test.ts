/**
 * Two promises of `geartrain run` that cross layers: time bounds without a zone are read in the
 * logs' own zone (as the nodes report it), and a whole cluster runs over TLS (-S).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { makePki } from '../security/helpers/pki.ts';

test.serial('--since/--until without a zone are read in the zone of the logs (-0700 here); --until DATE includes that day', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const log = path.join(dir, 'west.log');
  await writeLog(log, { lines: 8000, seed: 8, tzOffset: -420, invalidRate: 0, oddRate: 0 });
  await startNode(t, { name: 'west', servers: server.address, data: path.join(dir, 'd'), logs: [log], extra: ['--concurrency', '1', '--poll-ms', '0'] });
  const run = spawnGeartrain(t, 'run', ['count', '--by', 'status', '--since', '2026-10-03', '--until', '2026-10-04', '--servers', server.address, '--wait-nodes', '1', '-q', '--json']);
  t.is(await run.exited(), 0, run.stderrText());
  const total = JSON.parse(run.stdoutText()).result.total;
  // The logged dates themselves (local time) decide: 03/Oct and 04/Oct 2026, the --until day included.
  const expected = Number(execFileSync('sh', ['-c', `grep -c -E '\\[0[34]/Oct/2026:' '${log}'`]).toString());
  t.is(total, expected);
});

test.serial('a cluster over TLS: server --ssl, node -S, run -S', async (t) => {
  const dir = tempDir(t);
  const pki = makePki([]);
  t.teardown(() => pki.remove());
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0', '--ssl', '--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key]);
  const log = path.join(dir, 'tls.log');
  await writeLog(log, { lines: 3000, seed: 9, invalidRate: 0, oddRate: 0 });
  const tlsFlags = ['--ssl-ca-file', pki.ca];
  await startNode(t, { name: 'secure', servers: server.address, data: path.join(dir, 'd'), logs: [log], extra: ['--concurrency', '1', '--poll-ms', '0', ...tlsFlags] });
  const run = spawnGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', server.address, '--wait-nodes', '1', '-q', '--json', ...tlsFlags]);
  t.is(await run.exited(), 0, run.stderrText());
  t.is(JSON.parse(run.stdoutText()).result.total, Number(execFileSync('grep', ['-c', 'GET', log]).toString()));
  const plain = spawnGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', server.address, '-q']);
  t.is(await plain.exited(), 1);
  t.regex(plain.stderrText(), /TLS/);
});
