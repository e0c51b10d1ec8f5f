/**
 * "Acknowledgement really means stored": many clients submit background jobs concurrently while
 * the job server is killed (-9) at a random moment. Every job a client got JOB_CREATED for must
 * be in the store afterwards (rows read independently), and after the restart each stored job
 * runs exactly once. Two crashes in a row: the second while the queue still holds the
 * survivors of the first, so replayed jobs and new ones mix. The second run of the SQL stores
 * uses `--fsync always` on the same table, so both modes are crashed under load.
 *
 * (Checked against a server that sends JOB_CREATED before the commit: this test catches it on
 * PostgreSQL and Redis. On SQLite the commit is synchronous, in the same event-loop turn as
 * the reply, so no kill from outside can land in between — there is no window to catch.)
 */
import test, { type ExecutionContext } from 'ava';
import { waitFor } from '../helpers/ports.ts';
import { makePlace, STORE_KINDS } from './helpers/places.ts';
import { RecordingWorker } from './helpers/recording-worker.ts';
import { startServer, type ServerProcess } from './helpers/server-process.ts';
import { connect, SubmitFlood } from './helpers/submit.ts';

const CLIENTS = 6;
const WINDOW = 16;

/** Flood the server from CLIENTS connections and kill it once `killAfter` acks have arrived in all. */
async function floodAndKill(t: ExecutionContext, server: ServerProcess, round: string, killAfter: number): Promise<{ acked: string[]; sent: string[]; errors: string[] }> {
  let acks = 0;
  let killed: Promise<void> | null = null;
  const onAck = () => {
    if (++acks === killAfter) killed = server.kill9();
  };
  const floods: SubmitFlood[] = [];
  for (let i = 0; i < CLIENTS; i++) floods.push(new SubmitFlood(await connect(t, server.port), `${round}c${i}`, WINDOW, onAck));
  await Promise.all(floods.map((f) => f.done));
  t.truthy(killed, 'the server was killed by the test, not by something else');
  await killed;
  return {
    acked: floods.flatMap((f) => f.acked),
    sent: floods.flatMap((f) => f.sent),
    errors: floods.flatMap((f) => f.errors),
  };
}

function randomBetween(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo));
}

for (const kind of STORE_KINDS) {
  test(`${kind}: every job acknowledged before a kill -9 at a random moment is stored, and runs exactly once after the restart`, async (t) => {
    const place = await makePlace(t, kind);
    const stored = new Set<string>();
    const sentAll = new Set<string>();
    const killAfter = [randomBetween(300, 1500), randomBetween(100, 800)];
    t.log(`kill after ${killAfter.join(' and ')} acknowledgements`);

    const argsFor = (round: number) => (round === 1 && kind !== 'redis' ? [...place.args, '--fsync', 'always'] : place.args);
    let server = await startServer(t, argsFor(0));
    for (const [round, target] of killAfter.entries()) {
      const { acked, sent, errors } = await floodAndKill(t, server, `r${round}`, target);
      t.deepEqual(errors, [], 'no submission was refused');
      t.true(acked.length >= target);
      t.is(new Set(acked).size, acked.length);
      for (const u of sent) sentAll.add(u);

      const rows = await place.storedUniques();
      const rowSet = new Set(rows);
      t.is(rowSet.size, rows.length, 'one row per job');
      const missing = acked.filter((u) => !rowSet.has(u));
      t.deepEqual(missing, [], `acknowledged but not stored (round ${round})`);
      t.deepEqual(rows.filter((u) => !sentAll.has(u)), [], 'no row that nobody submitted');
      for (const u of stored) t.true(rowSet.has(u), `${u} survived the earlier crash, but not this one`);
      for (const u of rows) stored.add(u);
      t.log(`round ${round}: ${acked.length} acknowledged, ${rows.length} stored in all (${sent.length} sent)`);
      server = await startServer(t, argsFor(round + 1));
    }

    const worker = await RecordingWorker.start(t, server.port, ['flood']);
    await worker.waitForRuns(stored.size, 30_000);
    await worker.expectNoMoreJobs();
    const ran = worker.uniques;
    t.is(new Set(ran).size, ran.length, 'no job ran twice');
    t.deepEqual([...ran].sort(), [...stored].sort(), 'exactly the stored jobs ran');
    await waitFor(async () => (await place.storedUniques()).length === 0, 'the store to be empty', 15_000);
  });
}
