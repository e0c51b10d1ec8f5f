/**
 * Job preparation: a job file is bundled and imported once for the command line and the
 * coordinator together, and bad parameters are refused in one wording, naming them as the command
 * line does, whether the library or the CLI was given them, before any connection.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { InvalidArgumentError } from '../../src/errors.ts';
import { writeLog } from '../../src/logs/index.ts';
import { runJob } from '../../src/mapreduce/coordinator.ts';
import { checkParams, loadJob } from '../../src/mapreduce/prepare-job.ts';
import { sha256Hex } from '../../src/mapreduce/job-loader.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { refusedPort } from '../helpers/ports.ts';

const JOB = path.join(import.meta.dirname, 'fixtures', 'announces-import.ts');
const SECRET = 'prepare-secret-0123456789';

test('the library refuses bad parameters as the CLI words them, before any connection', async (t) => {
  const servers = [`127.0.0.1:${await refusedPort()}`];
  const count = await t.throwsAsync(runJob({ servers, job: 'count', params: {} }), { instanceOf: InvalidArgumentError });
  t.regex(count.message, /^count: --by: missing \(usage: geartrain run count --by FIELD/);
  t.is((count as InvalidArgumentError).field, 'by');
  const top = await t.throwsAsync(runJob({ servers, job: 'top', params: { field: 'status', limit: -3 } }));
  t.regex(top.message, /^top: --limit: .*\(usage: geartrain run top FIELD/);
  const grep = await t.throwsAsync(runJob({ servers, job: 'grep', params: {} }));
  t.regex(grep.message, /^grep: PATTERN: missing/);
});

test('a parameter without a flag is named as it is; a job without a CLI has no usage line', async (t) => {
  const job = (await loadJob('count')).job;
  t.throws(() => checkParams({ ...job, cli: undefined } as typeof job, { by: 'status', limit: 'x' }), { message: /^count: 'limit': [^(]*$/ });
});

test('a job file is loaded from its bundle, which the prepared job carries with its hash', async (t) => {
  const loaded = await loadJob(JOB);
  t.is(loaded.job.name, 'announces-import');
  t.is(loaded.source.type, 'file');
  if (loaded.source.type !== 'file') return;
  t.is(loaded.source.hash, sha256Hex(loaded.source.code));
  t.regex(loaded.source.code.toString('utf8'), /announces-import: module imported/);
});

test.serial('geartrain run ./job.ts bundles and imports the job file once, and the nodes run it', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const log = path.join(dir, 'a.log');
  await writeLog(log, { lines: 2000, seed: 4 });
  await startNode(t, { name: 'n0', servers: server.address, data: path.join(dir, 'd'), logs: [log], extra: ['--concurrency', '1', '--poll-ms', '0', '--allow-code'], env: { GEARTRAIN_SECRET: SECRET } });
  const p = spawnGeartrain(t, 'run', [JOB, 'lines', '--servers', server.address, '--wait-nodes', '1', '-q', '--json'], { GEARTRAIN_SECRET: SECRET, GT_ANNOUNCE_IMPORTS: '1' });
  t.is(await p.exited(), 0, p.stderrText());
  t.deepEqual(JSON.parse(p.stdoutText()).result, { lines: Number(execFileSync('sh', ['-c', `wc -l < '${log}'`]).toString().trim()) });
  t.is(p.stderrText().split('\n').filter((l) => l === 'announces-import: module imported').length, 1, p.stderrText());
});
