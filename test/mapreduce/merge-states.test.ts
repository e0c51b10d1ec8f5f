/**
 * The summary merge step (a node combine takes every map output of its node: one per 64 MiB of
 * log) folds its inputs one at a time: at most two are being read at once, however many there are,
 * and the event loop runs between inputs (on a node the merge shares the main thread with its
 * heartbeats and fetches). The merged counts equal the sums the test computes from what it wrote.
 */
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import countJob from '../../jobs/count.ts';
import { mergeStates } from '../../src/mapreduce/kinds/summary.ts';
import type { NodeClient } from '../../src/mapreduce/node-client.ts';
import { PartialStore } from '../../src/mapreduce/partial-store.ts';
import { WIRE_VERSION, type Ref } from '../../src/mapreduce/wire.ts';

test('a merge of 40 inputs reads at most two at a time, lets the event loop run between them, and sums them all', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-merge-states-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new PartialStore(dir, 'n1');
  const expected: Record<string, number> = {};
  const inputs: Ref[] = [];
  for (let i = 0; i < 40; i++) {
    // A count job's partial: a JSON object of key → count, written by hand.
    const counts: Record<string, number> = { all: 1, [`k${i % 7}`]: i + 1 };
    for (const [k, n] of Object.entries(counts)) expected[k] = (expected[k] ?? 0) + n;
    inputs.push(await store.putBuffer('r1', `m${i}.partial`, Buffer.from(JSON.stringify(counts))));
  }
  let reading = 0;
  let mostReading = 0;
  const read = store.read.bind(store);
  store.read = async (key, offset, length) => {
    mostReading = Math.max(mostReading, ++reading);
    try {
      return await read(key, offset, length);
    } finally {
      reading--;
    }
  };
  const params = countJob.params.parse({ by: 'status' });
  const task = { v: WIRE_VERSION, kind: 'reduce', runId: 'r1', taskId: 't1', job: { type: 'builtin', name: 'count' }, params, mode: 'summary', inputs } as const;
  const result = await mergeStates.run(task, { nodes: {} as NodeClient, store, job: countJob });
  t.true(mostReading <= 2, `${mostReading} inputs read at once`);
  t.deepEqual(JSON.parse((await read(result.ref.key)).toString()), expected);
  t.is(result.counters.reduce_inputs, 40);

  // The same merge with every read answered from memory at once: no I/O turns the event loop
  // then, so each turn seen comes from the merge giving it back.
  const bytes = new Map<string, Buffer>();
  for (const ref of inputs) bytes.set(ref.key, await read(ref.key));
  store.read = (key, offset = 0, length) => Promise.resolve(bytes.get(key)!.subarray(offset, length === undefined ? undefined : offset + length));
  let turns = 0;
  let turning = true;
  const turn = () => {
    turns++;
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  await mergeStates.run({ ...task, taskId: 't2' }, { nodes: {} as NodeClient, store, job: countJob });
  turning = false;
  t.true(turns >= inputs.length - 1, `the event loop turned ${turns} times during ${inputs.length} inputs`);
});
