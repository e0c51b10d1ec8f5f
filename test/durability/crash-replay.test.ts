/**
 * "Durable background jobs": what a persistent queue promises across a kill -9 of the job server
 * (`geartrain server` as a child process), on SQLite, PostgreSQL and Redis.
 *
 * - Every acknowledged background job (JOB_CREATED received) is stored, survives kill -9, and
 *   runs exactly once after the restart: HIGH, then NORMAL, then LOW, FIFO within a priority;
 *   an epoch job runs at its time, not before, and one whose time has passed runs at once.
 * - A completed job whose row is gone never runs again, however often the server is killed.
 * - A job that was running (assigned, not completed) when the server died runs again.
 * - Two more promises that do not depend on the store, checked on SQLite only: background jobs
 *   keyed on their payload (unique "-") are distinct rows, and a handle from before the crash
 *   never names another job after it.
 */
import test from 'ava';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { waitFor } from '../helpers/ports.ts';
import { functionStatus, liveUniques, priorityCounts } from './helpers/admin.ts';
import { makePlace, STORE_KINDS } from './helpers/places.ts';
import { RecordingWorker } from './helpers/recording-worker.ts';
import { startServer } from './helpers/server-process.ts';
import { connect, submitAcked, type BackgroundJob, type Priority } from './helpers/submit.ts';

/**
 * Epoch jobs are due this long after submission: room for the kill and the restart, scaled by how
 * long the first start took (starting a server costs ~1 s of CPU, more on a loaded machine).
 */
function epochDelaySeconds(startupMs: number): number {
  return 2 + Math.ceil((3 * startupMs) / 1000);
}

for (const kind of STORE_KINDS) {
  test(`${kind}: after kill -9 every acknowledged job runs once, by priority, FIFO, epoch jobs on time; after they completed nothing replays`, async (t) => {
    const place = await makePlace(t, kind);
    const fn = 'durable';
    const later = 'durable-at';
    const startedAt = Date.now();
    const first = await startServer(t, place.args);
    const delay = epochDelaySeconds(Date.now() - startedAt);

    const due = Math.floor(Date.now() / 1000) + delay;
    const pattern: Priority[] = ['low', 'normal', 'high', 'normal', 'high', 'low', 'normal'];
    const jobs: BackgroundJob[] = [];
    for (let i = 0; i < 21; i++) {
      jobs.push({ fn, unique: `j${i}`, data: `job ${i}`, priority: pattern[i % pattern.length]! });
      if (i % 5 === 2) jobs.push({ fn: later, unique: `epoch${i}`, data: `at ${due}`, epoch: due });
      if (i === 9) jobs.push({ fn, unique: 'past-epoch', data: 'overdue', epoch: due - 3600 });
    }
    const client = await connect(t, first.port);
    await submitAcked(client, jobs);
    // Acknowledged means stored: every row is there before the crash.
    t.deepEqual(await place.storedUniques(), jobs.map((j) => j.unique).sort());

    await first.kill9();
    const second = await startServer(t, place.args);
    const restartedAt = Date.now();
    t.true(restartedAt < due * 1000 - 300, `restart took too long to check epoch timing (${due * 1000 - restartedAt} ms left)`);

    const future = jobs.filter((j) => j.epoch === due);
    const byPriority = (p: Priority) => jobs.filter((j) => j.epoch === undefined && j.priority === p);
    const normalNow = jobs.filter((j) => (j.epoch === undefined && j.priority === 'normal') || j.unique === 'past-epoch');
    t.deepEqual(await functionStatus(second.port, fn), { total: jobs.length - future.length, running: 0 });
    t.deepEqual(await priorityCounts(second.port, fn), [byPriority('high').length, normalNow.length, byPriority('low').length]);
    t.deepEqual(await priorityCounts(second.port, later), [0, future.length, 0]);
    t.deepEqual(await liveUniques(second.port), jobs.map((j) => j.unique).sort());

    const worker = await RecordingWorker.start(t, second.port, [fn, later]);
    const runs = await worker.waitForRuns(jobs.length, (delay + 10) * 1000);
    const now = runs.filter((r) => r.fn === fn);
    const expected = [...byPriority('high'), ...normalNow, ...byPriority('low')].map((j) => j.unique);
    t.deepEqual(
      now.map((r) => r.unique),
      expected,
      'HIGH, then NORMAL (the overdue epoch job in its place), then LOW, each in submission order',
    );
    t.deepEqual(
      now.map((r) => r.data),
      expected.map((u) => jobs.find((j) => j.unique === u)!.data),
      'each job arrives with its own payload',
    );
    const atTime = runs.filter((r) => r.fn === later);
    t.deepEqual(
      atTime.map((r) => r.unique),
      future.map((j) => j.unique),
      'epoch jobs due in the same second run in submission order (FIFO within NORMAL)',
    );
    for (const run of atTime) t.true(run.at >= due * 1000, `${run.unique} ran ${due * 1000 - run.at} ms before its time`);
    await worker.expectNoMoreJobs();

    // Completed jobs leave the store (the removal is committed one event-loop turn later) …
    await waitFor(async () => (await place.storedUniques()).length === 0, 'the store to be empty');
    await second.kill9();
    // … so another crash replays nothing.
    const third = await startServer(t, place.args);
    t.deepEqual(await functionStatus(third.port, fn), { total: 0, running: 0 });
    t.deepEqual(await functionStatus(third.port, later), { total: 0, running: 0 });
    const idle = await RecordingWorker.start(t, third.port, [fn, later]);
    await idle.expectNoMoreJobs();
    t.is(idle.runs.length, 0);
  });

  test(`${kind}: a job that was running when the server was killed runs again; the one completed before does not`, async (t) => {
    const place = await makePlace(t, kind);
    const fn = 'interrupted';
    const first = await startServer(t, place.args);
    const client = await connect(t, first.port);
    const jobs: BackgroundJob[] = ['done', 'running', 'queued'].map((u) => ({ fn, unique: u, data: `payload ${u}` }));
    await submitAcked(client, jobs);

    const finisher = await RecordingWorker.start(t, first.port, [fn], { limit: 1 });
    await finisher.waitForRuns(1);
    const holder = await RecordingWorker.start(t, first.port, [fn], { complete: false, limit: 1 });
    await holder.waitForRuns(1);
    t.deepEqual([finisher.uniques, holder.uniques], [['done'], ['running']]);
    t.deepEqual(await functionStatus(first.port, fn), { total: 2, running: 1 });
    // The running job keeps its row until it ends; the completed one has lost its row.
    await waitFor(async () => (await place.storedUniques()).join() === 'queued,running', 'the completed job to leave the store');

    await first.kill9();
    await waitFor(() => holder.disconnected, 'the holding worker to see the server go');
    const second = await startServer(t, place.args);
    t.deepEqual(await functionStatus(second.port, fn), { total: 2, running: 0 });
    const worker = await RecordingWorker.start(t, second.port, [fn]);
    await worker.waitForRuns(2);
    t.deepEqual(worker.uniques, ['running', 'queued'], 'the interrupted job again, in its original place');
    t.is(worker.runs[0]!.data, 'payload running');
    await worker.expectNoMoreJobs();
    await waitFor(async () => (await place.storedUniques()).length === 0, 'the store to be empty');
  });
}

test('sqlite: background jobs with unique "-" (key = payload) and different payloads are distinct jobs, and both survive kill -9', async (t) => {
  const place = await makePlace(t, 'sqlite');
  const fn = 'dash';
  const first = await startServer(t, place.args);
  const client = await connect(t, first.port);
  const handles = await submitAcked(client, [
    { fn, unique: '-', data: 'payload A' },
    { fn, unique: '-', data: 'payload B' },
    { fn, unique: 'same', data: 'first of two' },
    { fn, unique: 'same', data: 'second of two' },
  ]);
  t.not(handles[0], handles[1], '"-" with different payloads: two jobs');
  t.is(handles[2], handles[3], 'the same unique key: one job (coalesced)');
  t.deepEqual(await functionStatus(first.port, fn), { total: 3, running: 0 });

  await first.kill9();
  const second = await startServer(t, place.args);
  const replayed = (await functionStatus(second.port, fn)).total;
  t.is(replayed, 3, 'jobs replayed');
  const worker = await RecordingWorker.start(t, second.port, [fn]);
  await worker.waitForRuns(replayed);
  await worker.expectNoMoreJobs();
  t.deepEqual(
    worker.runs.map((r) => r.data),
    ['payload A', 'payload B', 'first of two'],
    'every acknowledged job runs after the restart, with its own payload',
  );
});

test('sqlite: after a restart, a job handle acknowledged before the crash never names another job', async (t) => {
  // Clients of background jobs poll GET_STATUS by handle; after the restart that handle must
  // either still name its job or be unknown — never report on some other job.
  const place = await makePlace(t, 'sqlite');
  const fn = 'handles';
  const first = await startServer(t, place.args);
  const client = await connect(t, first.port);
  const jobs: BackgroundJob[] = ['a', 'b', 'c'].map((u) => ({ fn, unique: u, data: u }));
  const handles = await submitAcked(client, jobs);
  const uniqueOf = new Map(handles.map((h, i) => [h, jobs[i]!.unique]));
  const finisher = await RecordingWorker.start(t, first.port, [fn], { limit: 1 });
  await finisher.waitForRuns(1);
  await waitFor(async () => (await place.storedUniques()).join() === 'b,c', "a's row to be removed");

  await first.kill9();
  const second = await startServer(t, place.args);
  const poller = await connect(t, second.port);
  poller.send(T.GET_STATUS, handles[0]!);
  const status = await poller.next(T.STATUS_RES);
  t.is(status.text[1], '0', `${handles[0]} was job a, which completed before the crash; after it the handle must be unknown`);

  const worker = await RecordingWorker.start(t, second.port, [fn]);
  await worker.waitForRuns(2);
  for (const run of worker.runs) {
    const before = uniqueOf.get(run.handle);
    t.true(before === undefined || before === run.unique, `after the restart ${run.handle} names job ${run.unique}; before the crash it named job ${before}`);
  }
});
