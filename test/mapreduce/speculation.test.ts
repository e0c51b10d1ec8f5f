/**
 * Speculative execution: a map task that straggles on one node is copied to another node holding
 * the same shard; the first copy to finish gives the result, which equals an independent count.
 * The unit part pins down when a task counts as a straggler.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { StragglerDetector } from '../../src/mapreduce/speculation.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';

const policy = { factor: 2, minMs: 1000, minFinished: 2, maxShare: 0.1 };

test('no task is a straggler until enough tasks have finished to give a rate', (t) => {
  const d = new StragglerDetector(100, policy);
  t.is(d.thresholdMs(1000), undefined);
  t.false(d.shouldCopy(1000, 1_000_000));
  d.finished(1000, 100);
  t.false(d.shouldCopy(1000, 1_000_000), 'one finished task is not enough with minFinished 2');
  d.finished(1000, 100);
  t.true(d.shouldCopy(1000, 1_000_000));
});

test('the threshold is factor × the time the task\'s bytes take at the median rate, and at least minMs', (t) => {
  const d = new StragglerDetector(100, policy);
  // Rates 10, 20 and 1000 bytes/ms: the median is 20.
  d.finished(1000, 100);
  d.finished(2000, 100);
  d.finished(100_000, 100);
  t.is(d.thresholdMs(100_000), (2 * 100_000) / 20);
  t.is(d.thresholdMs(10), 1000, 'small tasks: minMs');
  t.false(d.shouldCopy(100_000, 9_999));
  t.true(d.shouldCopy(100_000, 10_000));
});

test('copies in flight are capped at maxShare of the tasks (at least one), and copyEnded frees a place', (t) => {
  const d = new StragglerDetector(30, policy);
  d.finished(1000, 1);
  d.finished(1000, 1);
  t.true(d.shouldCopy(1, 60_000));
  t.true(d.shouldCopy(1, 60_000));
  t.true(d.shouldCopy(1, 60_000));
  t.false(d.shouldCopy(1, 60_000), '10 % of 30 tasks: 3 copies at once');
  d.copyEnded();
  t.true(d.shouldCopy(1, 60_000));
  const small = new StragglerDetector(2, policy);
  small.finished(1000, 1);
  small.finished(1000, 1);
  t.true(small.shouldCopy(1, 60_000), 'at least one copy, however few tasks');
  t.false(small.shouldCopy(1, 60_000));
});

test.serial('a map task hanging on one node is copied to the other holder of its shard; the copy wins and the count equals wc -l', async (t) => {
  const dir = tempDir(t);
  const secret = 'speculation-secret-0123456789';
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  // Both nodes serve the same two files: every shard has two holders. One task per file.
  const files = [path.join(dir, 'a.log'), path.join(dir, 'b.log')];
  await writeLog(files[0]!, { lines: 1500, node: 0, seed: 11 });
  await writeLog(files[1]!, { lines: 1000, node: 1, seed: 12 });
  for (const name of ['fast', 'slow']) {
    await startNode(t, {
      name,
      servers: server.address,
      data: path.join(dir, name),
      logs: files,
      extra: ['--concurrency', '1', '--poll-ms', '0', '--allow-code'],
      env: { GEARTRAIN_SECRET: secret },
    });
  }
  const job = path.join(import.meta.dirname, 'fixtures', 'slow-on-one-node.ts');
  const p = spawnGeartrain(t, 'run', [job, '--slow-node', 'slow', '--servers', server.address, '--wait-nodes', '2', '-q', '--json', '--task-timeout', '120'], {
    GEARTRAIN_SECRET: secret,
  });
  t.is(await p.exited(), 0, p.stderrText());
  const report = JSON.parse(p.stdoutText());
  const wc = Number(execFileSync('sh', ['-c', `cat '${files[0]}' '${files[1]}' | wc -l`]).toString().trim());
  t.deepEqual(report.result, { lines: wc }, 'each shard counted once');
  t.is(report.tasks.map, 2);
  t.is(report.tasks.speculative, 1, 'one straggler copied');
  t.is(report.tasks.speculativeWon, 1, 'the copy finished first (the original hangs for 30 s)');
});
