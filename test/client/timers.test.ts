/**
 * The client's and the worker's timers on a fake clock (test/helpers/fake-clock.ts): call
 * timeouts, the heartbeat, reconnect backoff and a handler's timeout, to the millisecond and
 * without waiting. Real job servers on real sockets; only time is fake.
 */
import test, { type ExecutionContext } from 'ava';
import type { StatusEvent } from '../../src/client/status.ts';
import { Client, Worker } from '../../src/client/index.ts';
import type { GeartrainError } from '../../src/errors.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS, startServer } from '../helpers/servers.ts';
import { cleanup } from './helpers/setup.ts';
import { Tap } from './helpers/tap.ts';

/** Collect status events until the test ends. */
function events(owner: Client | Worker): StatusEvent[] {
  const seen: StatusEvent[] = [];
  void (async () => {
    for await (const e of owner.status()) seen.push(e);
  })();
  return seen;
}

/** Whether `p` settled by the end of the next macrotask turn (socket reads land in between). */
async function settledSoon(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  return done;
}

async function geartrainServer(t: ExecutionContext, clock?: FakeClock) {
  const server = await startServer('geartrain', clock ? { geartrain: { clock } } : {});
  t.teardown(() => server.stop());
  return server;
}

test('a call with timeoutMs fails with ERR_TIMEOUT when the client\'s clock reaches it, not a millisecond before', async (t) => {
  const server = await geartrainServer(t);
  const clock = new FakeClock();
  const client = cleanup(t)(new Client({ servers: server.address, clock }));
  const job = client.submit('nobody', 'x', { timeoutMs: 100 });
  await job.created;
  clock.advance(99);
  t.false(await settledSoon(job.result), 'still waiting at 99 ms');
  clock.advance(1);
  const err = await t.throwsAsync<GeartrainError>(job.result);
  t.is(err?.code, 'ERR_TIMEOUT');
  t.is(client.pending, 0, 'a timed-out job is no longer tracked');
});

test('reconnect backoff doubles from reconnectDelayMs up to maxReconnectDelayMs, one dial per delay', async (t) => {
  const port = await refusedPort();
  const clock = new FakeClock();
  const worker = cleanup(t)(new Worker({ servers: `127.0.0.1:${port}`, clock, reconnectDelayMs: 100, maxReconnectDelayMs: 800, reconnectJitter: 0, connectAttempts: 100 }));
  const seen = events(worker);
  void worker.register('f', () => 'x').start().catch(() => {});
  const delays = async (n: number) =>
    (await waitFor(() => {
      const r = seen.filter((e) => e.type === 'reconnecting');
      return r.length >= n ? r : undefined;
    }, `${n} reconnect attempts`)).map((e) => (e as { delayMs: number }).delayMs);
  t.deepEqual(await delays(1), [100]);
  for (const [n, wait] of [[2, 100], [3, 200], [4, 400], [5, 800], [6, 800]] as const) {
    clock.advance(wait - 1);
    t.false(await settledSoon(delays(n)), `no dial before ${wait} ms`);
    clock.advance(1);
    await delays(n);
  }
  t.deepEqual(await delays(6), [100, 200, 400, 800, 800, 800]);
});

for (const kind of SERVER_KINDS) {
  test(`${kind}: a silent server is noticed by the heartbeat at heartbeatIntervalMs + heartbeatTimeoutMs, and the worker reconnects after its backoff`, async (t) => {
    const server = await startServer(kind);
    t.teardown(() => server.stop());
    const tap = await Tap.start(server.port);
    t.teardown(() => tap.close());
    const clock = new FakeClock();
    const worker = cleanup(t)(
      new Worker({ servers: tap.address, clock, heartbeatIntervalMs: 15_000, heartbeatTimeoutMs: 10_000, keepAliveMs: 0, reconnectDelayMs: 100, reconnectJitter: 0 }),
    );
    const seen = events(worker);
    await worker.register('echo', (job) => job.payload).start();
    tap.freeze();
    const lost = () => seen.find((e) => e.type === 'disconnected');
    clock.advance(15_000); // quiet for the interval: the heartbeat ECHO goes out (into the frozen line)
    clock.advance(9_999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    t.is(lost(), undefined, 'not given up 1 ms before the heartbeat timeout');
    clock.advance(1);
    const gone = await waitFor(lost, 'disconnected event');
    t.regex((gone as { error: Error }).error.message, /did not answer a heartbeat within 10000 ms/);
    t.like(seen.find((e) => e.type === 'reconnecting'), { delayMs: 100 });
    clock.advance(100);
    await waitFor(() => seen.find((e) => e.type === 'connected' && e.reconnect), 'reconnected');
    const client = cleanup(t)(new Client({ servers: server.address }));
    t.is((await client.call('echo', 'after reconnect', { timeoutMs: 5000 })).toString(), 'after reconnect');
  });
}

test('geartrain: past its CAN_DO_TIMEOUT a job is taken back, run again elsewhere, and the first run\'s signal aborts with ERR_TIMEOUT after the grace', async (t) => {
  const clock = new FakeClock();
  const server = await geartrainServer(t, clock);
  let reason: unknown;
  let started = false;
  const first = cleanup(t)(new Worker({ servers: server.address, concurrency: 1, clock }));
  await first
    .register(
      'limited',
      async (_job, ctx) => {
        started = true;
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        reason = ctx.signal.reason;
        return 'too late';
      },
      { timeoutMs: 1000 },
    )
    .start();
  const client = cleanup(t)(new Client({ servers: server.address }));
  const job = client.submit('limited');
  await waitFor(() => started, 'the first run to start');
  const second = cleanup(t)(new Worker({ servers: server.address }));
  await second.register('limited', () => 'second attempt').start();
  clock.advance(999);
  t.false(await settledSoon(job.result), 'the server keeps the job until its timeout');
  clock.advance(1);
  t.is((await job.result).toString(), 'second attempt');
  t.is(reason, undefined, 'the first run is not aborted before the grace has passed');
  clock.advance(clock.nextIn ?? 0);
  await waitFor(() => reason, 'first run aborted');
  t.is((reason as { code?: string }).code, 'ERR_TIMEOUT');
});
