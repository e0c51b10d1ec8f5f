/**
 * Relayed background jobs keep the persistent queue's promise across kill -9 of the relaying
 * server (`geartrain server --relay …` as a child process, SQLite queue): an acknowledged job is
 * stored on the relaying server until the remote server acknowledged it; only then is its row
 * removed, and from then on the remote server owns the job. Rows are read with the sqlite3 CLI.
 */
import test from 'ava';
import { Client } from '../../src/client/index.ts';
import { JobServer } from '../../src/server/index.ts';
import { freePort, waitFor } from '../helpers/ports.ts';
import { functionStatus, liveUniques } from '../durability/helpers/admin.ts';
import { makePlace } from '../durability/helpers/places.ts';
import { RecordingWorker } from '../durability/helpers/recording-worker.ts';
import { startServer } from '../durability/helpers/server-process.ts';

test('kill -9 of the relaying server: jobs not yet handed over replay and are relayed once; handed-over ones are gone', async (t) => {
  const place = await makePlace(t, 'sqlite');
  const bPort = await freePort();
  const args = [...place.args, '--relay', `durable.*=127.0.0.1:${bPort}`];
  const fn = 'durable.work';

  // 1. The remote server is down: jobs are acknowledged (stored) and wait on A.
  const a1 = await startServer(t, args);
  const c1 = new Client({ servers: `127.0.0.1:${a1.port}` });
  t.teardown(() => c1.destroy());
  for (const u of ['j1', 'j2', 'j3']) await c1.submitBackground(fn, `data ${u}`, { unique: u });
  t.deepEqual(await place.storedUniques(), ['j1', 'j2', 'j3'], 'acknowledged means stored');
  // Running while a hand-over is being tried, queued between attempts.
  t.is((await functionStatus(a1.port, fn)).total, 3, 'A holds them, waiting to hand them over');
  c1.destroy();
  await a1.kill9();
  t.deepEqual(await place.storedUniques(), ['j1', 'j2', 'j3'], 'the rows survive the crash');

  // 2. The remote server is up; A restarts on its queue, replays the rows and hands them over.
  const b = new JobServer({ host: '127.0.0.1', port: bPort, queue: 'memory' });
  t.teardown(() => b.destroy());
  await b.listen();
  const worker = await RecordingWorker.start(t, bPort, [fn]);
  const a2 = await startServer(t, args);
  const runs = await worker.waitForRuns(3);
  t.deepEqual(runs.map((r) => `${r.unique}=${r.data}`).sort(), ['j1=data j1', 'j2=data j2', 'j3=data j3']);
  await waitFor(async () => (await place.storedUniques()).length === 0, 'the rows to be removed after the hand-over');

  // 3. With the remote up, a new job is handed over at once and its row removed.
  const c2 = new Client({ servers: `127.0.0.1:${a2.port}` });
  t.teardown(() => c2.destroy());
  await c2.submitBackground(fn, 'data j4', { unique: 'j4' });
  await worker.waitForRuns(4);
  await waitFor(async () => (await place.storedUniques()).length === 0, 'j4\'s row to be removed');

  // 4. Another crash replays nothing: the remote server owns what it acknowledged.
  c2.destroy();
  await a2.kill9();
  const a3 = await startServer(t, args);
  t.deepEqual(await liveUniques(a3.port), []);
  await worker.expectNoMoreJobs();
  t.deepEqual(worker.uniques.slice().sort(), ['j1', 'j2', 'j3', 'j4'], 'each job ran once');
});
