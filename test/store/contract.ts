/**
 * The JobStore contract, run against every persistent store (sqlite, postgres, redis) on the
 * real database. A fixture gives each test its own place (file + table, table, key prefix),
 * cleaned up when the test ends, and the createStore options that reach it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext, TestFn } from 'ava';
import { createStore, type StoreOptionsInput } from '../../src/server/store/index.ts';
import type { JobStore, StoredJob, StoredPriority } from '../../src/server/store/types.ts';
import { collect, job, opened, view } from './helpers.ts';

export type PlaceFactory = (t: ExecutionContext) => Promise<StoreOptionsInput>;

const HIGH = 0 as StoredPriority;
const NORMAL = 1 as StoredPriority;
const LOW = 2 as StoredPriority;

const byPriorityThenSeq = (a: StoredJob, b: StoredJob) => a.priority - b.priority || a.seq - b.seq;

export function storeContract(test: TestFn, kind: string, place: PlaceFactory): void {
  const openAt = (t: ExecutionContext, options: StoreOptionsInput): Promise<JobStore> => opened(t, createStore(options));

  test(`${kind}: a new queue replays nothing`, async (t) => {
    const store = await openAt(t, await place(t));
    t.is(store.kind, kind);
    t.deepEqual(await collect(store), []);
  });

  test(`${kind}: replay returns every field, ordered by priority then seq whatever the insertion order`, async (t) => {
    const store = await openAt(t, await place(t));
    const jobs: StoredJob[] = [
      job({ unique: 'n-5', seq: 5, priority: NORMAL }),
      job({ unique: 'l-2', seq: 2, priority: LOW, data: Buffer.from([0, 1, 0, 255, 0]) }),
      job({ unique: 'h-9', seq: 9, priority: HIGH, functionName: 'other', reducer: 'sum' }),
      job({ unique: 'n-1', seq: 1, priority: NORMAL, whenToRun: 1_900_000_000 }),
      job({ unique: 'h-3', seq: 3, priority: HIGH, data: Buffer.alloc(0) }),
      job({ unique: 'l-7', seq: 7, priority: LOW, functionName: 'fn:with:colons', reducer: 'merge' }),
      job({ unique: 'ü-8', seq: 8, priority: NORMAL, functionName: 'fünf', data: Buffer.from('\u0000tab\there\n') }),
      job({ unique: 'n-4', seq: 4, priority: NORMAL, whenToRun: 1_700_000_000, reducer: 'count' }),
    ];
    // three batches, each out of order
    await store.add(jobs.slice(0, 3));
    await store.add(jobs.slice(3, 5));
    await store.add(jobs.slice(5));
    const expected = [...jobs].sort(byPriorityThenSeq);
    t.deepEqual((await collect(store)).map(view), expected.map(view));
  });

  test(`${kind}: adding an existing (function, unique) key replaces the row`, async (t) => {
    const store = await openAt(t, await place(t));
    await store.add([
      job({ unique: 'k', seq: 1, priority: LOW, data: Buffer.from('old'), whenToRun: 7, reducer: 'old-reducer' }),
      job({ unique: 'k', seq: 2, functionName: 'g' }),
    ]);
    // nothing of the old row may survive, the reducer included
    const replacement = job({ unique: 'k', seq: 3, priority: HIGH, data: Buffer.from('new'), whenToRun: 5, reducer: null });
    await store.add([replacement]);
    // within one batch the later of two rows with one key wins
    await store.add([job({ unique: 'd', seq: 4, data: Buffer.from('first') }), job({ unique: 'd', seq: 5, data: Buffer.from('second') })]);
    const rows = await collect(store);
    t.deepEqual(rows.map(view), [replacement, job({ unique: 'k', seq: 2, functionName: 'g' }), job({ unique: 'd', seq: 5, data: Buffer.from('second') })].map(view));
  });

  test(`${kind}: remove deletes exactly the given keys; missing keys and empty batches are fine`, async (t) => {
    const store = await openAt(t, await place(t));
    const jobs = Array.from({ length: 6 }, (_, i) => job({ unique: `u${i}`, seq: i + 1, functionName: i % 2 ? 'odd' : 'even' }));
    await store.add(jobs);
    await store.add([]);
    await store.remove([
      { functionName: 'even', unique: 'u0' },
      { functionName: 'odd', unique: 'u3' },
      { functionName: 'odd', unique: 'u0' }, // right unique, wrong function: not a stored key
      { functionName: 'nope', unique: 'missing' },
    ]);
    await store.remove([]);
    t.deepEqual((await collect(store)).map((j) => j.unique), ['u1', 'u2', 'u4', 'u5']);
  });

  test(`${kind}: rows survive close and reopen; close twice is safe; use after close is ERR_CLOSED`, async (t) => {
    const options = await place(t);
    const first = await openAt(t, options);
    const jobs = [job({ unique: 'a', seq: 1, reducer: 'r' }), job({ unique: 'b', seq: 2, priority: HIGH, whenToRun: 1234 })];
    await first.add(jobs);
    await first.close();
    await first.close();
    await t.throwsAsync(first.add(jobs), { code: 'ERR_CLOSED' });
    const second = await openAt(t, options);
    t.deepEqual((await collect(second)).map(view), [jobs[1]!, jobs[0]!].map(view));
  });

  test(`${kind}: a batch of 1200 jobs is stored by one add and replayed in order across replay pages`, async (t) => {
    const store = await openAt(t, await place(t));
    const jobs = Array.from({ length: 1200 }, (_, i) => job({ unique: `bulk-${i}`, seq: 1200 - i, priority: (i % 3) as StoredPriority, data: Buffer.alloc(100, i) }));
    await store.add(jobs);
    const rows = await collect(store);
    t.is(rows.length, 1200);
    t.deepEqual(rows.map(view), [...jobs].sort(byPriorityThenSeq).map(view));
    // stopping a replay part-way releases what it held: the store keeps working
    for await (const _ of store.replay()) break;
    await store.remove(jobs.slice(0, 600).map((j) => ({ functionName: j.functionName, unique: j.unique })));
    t.is((await collect(store)).length, 600);
  });

  test(`${kind}: an acknowledged batch survives kill -9 of the process that added it`, async (t) => {
    const options = await place(t);
    const fixture = fileURLToPath(new URL('./fixtures/add-then-die.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, JSON.stringify(options), '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const [, signal] = (await new Promise((resolve) => child.on('exit', (...a) => resolve(a)))) as [number | null, string | null];
    t.is(signal, 'SIGKILL', stderr);
    t.is(stdout, 'acked\n');
    const store = await openAt(t, options);
    const rows = await collect(store);
    t.is(rows.length, 50);
    t.deepEqual(
      rows.map((j) => j.unique),
      Array.from({ length: 50 }, (_, i) => ({ i, p: i % 3 }))
        .sort((a, b) => a.p - b.p || a.i - b.i)
        .map(({ i }) => `crash-${i}`),
    );
    t.deepEqual(rows.find((j) => j.unique === 'crash-7')?.data, Buffer.from([7, 0, 0xff]));
  });
}
