/**
 * Deep queues (issue 17): a queued background job is a record in the job table and bytes in
 * shared slabs, with no object of its own until something needs one, and the slabs go back
 * as jobs end, however many came and went. Memory itself is measured by `npm run
 * bench:server` (docs/benchmarks.md); these tests pin the structure through the server's
 * live view (`JobServer.core.jobs`), not RSS.
 */
import test from 'ava';
import { Client, Worker } from '../../src/client/index.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { SLAB_BYTES } from '../../src/server/job-bytes.ts';
import { waitFor } from '../helpers/ports.ts';
import { inProcessServer, rawClientOf } from '../helpers/in-process-server.ts';

test('queued background jobs have no job object, and still coalesce, answer GET_STATUS and list in show jobs', async (t) => {
  const server = await inProcessServer(t);
  const client = await rawClientOf(t, server);
  const N = 10_000;
  for (let i = 0; i < N; i++) client.send(T.SUBMIT_JOB_BG, 'deep', `u-${i}`, `payload ${i}`);
  const created = await client.nextN(N, 20_000);
  t.true(created.every((p) => p.type === T.JOB_CREATED));
  t.is(server.core.jobs.size, N);
  t.is(server.core.jobs.keptViews, 0, 'no job object for a queued background job');

  // The same unique key again: the same job.
  client.send(T.SUBMIT_JOB_BG, 'deep', 'u-42', 'another payload');
  t.is((await client.next(T.JOB_CREATED)).text[0], created[42]!.text[0]);
  client.send(T.GET_STATUS, created[7]!.text[0]!);
  t.deepEqual((await client.next(T.STATUS_RES)).text, [created[7]!.text[0], '1', '0', '0', '0']);
  t.is((await client.admin('show jobs')).split('\n').filter((l) => l.startsWith(server.options.jobHandlePrefix)).length, N);
  t.is(server.core.jobs.keptViews, 0, 'looking jobs up made no object either');

  // A worker takes the oldest one: it gets the payload it was submitted with.
  const worker = await rawClientOf(t, server);
  worker.send(T.CAN_DO, 'deep');
  worker.send(T.GRAB_JOB_UNIQ);
  const assigned = await worker.next(T.JOB_ASSIGN_UNIQ);
  t.deepEqual(assigned.text, [created[0]!.text[0], 'deep', 'u-0', 'payload 0']);
  t.is(server.core.jobs.keptViews, 1, 'the running job has its object');
  worker.send(T.WORK_COMPLETE, assigned.text[0]!, 'ok');
  await waitFor(() => server.core.jobs.size === N - 1, 'the job to end');
  t.is(server.core.jobs.keptViews, 0);
});

test('submit and complete cycles leave no slab bytes and no table growth behind', async (t) => {
  const server = await inProcessServer(t);
  const servers = `127.0.0.1:${server.address().port}`;
  const client = new Client({ servers });
  t.teardown(() => client.destroy());
  const worker = new Worker({ servers, concurrency: 16 });
  t.teardown(() => worker.destroy());
  let done = 0;
  const handler = (job: { payload: Buffer }) => {
    done++;
    return job.payload.subarray(0, 4);
  };
  await worker.start();
  const jobs = server.core.jobs;
  const initialCapacity = jobs.capacity;
  let bytes = 0;
  for (let cycle = 0; cycle < 12; cycle++) {
    // Queue a few thousand jobs of up to 3 KiB while no worker runs, then let the worker drain them.
    const n = 2500;
    const submits: Promise<string>[] = [];
    for (let i = 0; i < n; i++) {
      const payload = Buffer.alloc(100 + ((i * 37) % 3000), cycle);
      bytes += payload.length;
      submits.push(client.submitBackground('churn', payload, { unique: `c${cycle}-${i}` }));
    }
    await Promise.all(submits);
    t.true(jobs.bytesStats.liveBytes > n * 100 && jobs.capacity > initialCapacity, `cycle ${cycle}: the queue holds its jobs`);
    worker.register('churn', handler);
    await waitFor(() => jobs.size === 0, `cycle ${cycle} to drain`, 60_000);
    worker.unregister('churn');
    const s = jobs.bytesStats;
    t.is(s.liveBytes, 0, `cycle ${cycle}`);
    t.true(s.allocatedBytes <= SLAB_BYTES && s.slabs <= 1, `cycle ${cycle}: ${JSON.stringify(s)}`);
    t.is(jobs.capacity, initialCapacity, `cycle ${cycle}: the table shrank back`);
  }
  t.is(done, 12 * 2500);
  t.true(bytes > 40 * SLAB_BYTES, `${bytes} bytes went through`);
});
