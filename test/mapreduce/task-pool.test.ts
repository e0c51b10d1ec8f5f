/** Task threads: what a map task thread throws reaches the node's main thread intact. */
import test from 'ava';
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

const JOB = path.join(import.meta.dirname, 'fixtures/node-gone.ts');

test('an error thrown in a task thread arrives as the same class, with its code, fields and cause', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-pool-'));
  const pool = new TaskPool({ node: 'n1', dataDir: dir, store: new PartialStore(dir, 'n1'), threads: 1 });
  // The pool's threads do not hold the process open (a node's job server connections do).
  const alive = setInterval(() => {}, 1000);
  t.teardown(async () => {
    clearInterval(alive);
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });
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
