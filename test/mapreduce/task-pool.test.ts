/**
 * Task threads: they start when a task needs one and end after an idle period (on a fake clock);
 * what a map task thread throws reaches the node's main thread intact.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CorruptFileError,
  deserializeError,
  IncompleteResultError,
  InvalidArgumentError,
  JobExceptionError,
  NodeUnavailableError,
  serializeError,
} from '../../src/errors.ts';
import { PartialStore } from '../../src/mapreduce/partial-store.ts';
import { TaskPool } from '../../src/mapreduce/task-pool.ts';
import type { MapTask } from '../../src/mapreduce/wire.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const JOB = path.join(import.meta.dirname, 'fixtures/node-gone.ts');
const GREP = path.join(import.meta.dirname, '../../jobs/grep.ts');

/** Resolves once `check` holds, polling; fails after 20 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A pool over a temporary data dir, closed (and the dir removed) when the test ends. */
function poolFor(t: ExecutionContext, options: { threads: number; idleMs?: number; clock?: FakeClock }): { dir: string; pool: TaskPool } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-pool-'));
  const pool = new TaskPool({ node: 'n1', dataDir: dir, store: new PartialStore(dir, 'n1'), ...options });
  // The pool's threads do not hold the process open (a node's job server connections do).
  const alive = setInterval(() => {}, 1000);
  t.teardown(async () => {
    clearInterval(alive);
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, pool };
}

test('threads start on demand, end after the idle period, and start again for the next task', async (t) => {
  const clock = new FakeClock();
  const { dir, pool } = poolFor(t, { threads: 2, idleMs: 5000, clock });
  const log = path.join(dir, 'access.log');
  writeFileSync(log, '127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "curl/8"\n'.repeat(10));
  const task = (taskId: string): MapTask => ({
    v: 1,
    kind: 'map',
    runId: 'r1',
    taskId,
    job: { type: 'builtin', name: 'grep' },
    params: { pattern: 'GET /a', patterns: [], regex: false, ignoreCase: false, invert: false, count: true, filesWithMatches: false, onlyMatching: false, withNode: false, withFilename: false },
    shards: [{ id: 'access.log:0', path: log, start: 0, end: null, format: 'combined', gzip: false }],
    filter: {},
  });

  t.is(pool.live, 0, 'no thread before the first task');
  t.is((await pool.runMap(task('m1'), GREP)).counters.matched, 10);
  t.is(pool.live, 1);
  // Two tasks at once take two threads; the second is started for it.
  await Promise.all([pool.runMap(task('m2'), GREP), pool.runMap(task('m3'), GREP)]);
  t.is(pool.live, 2);
  t.is(pool.stats.started, 2);

  clock.advance(4999);
  t.is(pool.live, 2, 'idle for less than the idle period: the threads stay');
  // A task in the meantime restarts its thread's idle period.
  await pool.runMap(task('m4'), GREP);
  clock.advance(1);
  t.is(pool.live, 1, 'the thread that stayed idle ended');
  clock.advance(4999);
  t.is(pool.live, 0);
  await until(() => pool.stats.exited === 2, 'both threads to exit');

  t.is((await pool.runMap(task('m5'), GREP)).counters.matched, 10, 'a new thread runs the next task');
  t.is(pool.live, 1);
  t.is(pool.stats.started, 3);

  // Warming (a run is being planned) starts the missing threads; unused, they end like the others.
  clock.advance(2000);
  pool.warm();
  t.is(pool.live, 2);
  t.is(pool.stats.started, 4);
  clock.advance(3000);
  t.is(pool.live, 1, 'the thread idle since its task ended first');
  clock.advance(2000);
  t.is(pool.live, 0);
});

test('an error thrown in a task thread arrives as the same class, with its code, fields and cause', async (t) => {
  const { dir, pool } = poolFor(t, { threads: 1 });
  const log = path.join(dir, 'access.log');
  writeFileSync(log, '127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"\n');
  const task = {
    v: 1 as const,
    kind: 'map' as const,
    runId: 'r1',
    taskId: 'm1',
    job: { type: 'builtin' as const, name: 'node-gone' },
    params: {},
    shards: [{ id: 'access.log:0', path: log, start: 0, end: 80, format: 'combined', gzip: false }],
    filter: {},
  };
  const err = await t.throwsAsync(pool.runMap(task, JOB));
  t.true(err instanceof NodeUnavailableError, `${err?.constructor.name}: ${err?.message}`);
  const gone = err as NodeUnavailableError;
  t.is(gone.code, 'ERR_NODE_UNAVAILABLE');
  t.is(gone.name, 'NodeUnavailableError');
  t.is(gone.message, 'node web9 is gone');
  t.deepEqual(gone.nodes, ['web9']);
  t.true(gone.cause instanceof InvalidArgumentError);
  t.is((gone.cause as InvalidArgumentError).field, 'shard');
});

test('serializeError and deserializeError keep Buffers, plain errors and their codes', (t) => {
  const payload = Buffer.from('boom');
  const back = deserializeError(structuredClone(serializeError(new JobExceptionError(payload, { handle: 'H:1' }))));
  t.true(back instanceof JobExceptionError);
  t.true(Buffer.isBuffer((back as JobExceptionError).payload));
  t.deepEqual((back as JobExceptionError).payload, payload);
  t.is((back as JobExceptionError).handle, 'H:1');

  const system = Object.assign(new Error('no such file'), { code: 'ENOENT', path: '/x' });
  const plain = deserializeError(structuredClone(serializeError(system)));
  t.is(plain.message, 'no such file');
  t.is((plain as NodeJS.ErrnoException).code, 'ENOENT');
  t.is((plain as NodeJS.ErrnoException).path, '/x');
});

test('records in error fields cross too: CorruptFileError keeps its damage, IncompleteResultError what is missing', (t) => {
  const damage = { kind: 'truncated', offset: 300, bytesRead: 2000, detail: 'unexpected end of file' } as const;
  const corrupt = deserializeError(structuredClone(serializeError(new CorruptFileError('/logs/a.gz', damage))));
  t.true(corrupt instanceof CorruptFileError);
  t.is((corrupt as CorruptFileError).code, 'ERR_CORRUPT_FILE');
  t.deepEqual((corrupt as CorruptFileError).damage, damage);
  t.is((corrupt as CorruptFileError).file, '/logs/a.gz');

  const missing = [{ node: 'web1', path: '/logs/a.gz', reason: 'truncated gzip' }];
  const incomplete = deserializeError(structuredClone(serializeError(new IncompleteResultError('1 file(s) could not be read', missing))));
  t.true(incomplete instanceof IncompleteResultError);
  t.deepEqual((incomplete as IncompleteResultError).missing, missing);
});
