import test from 'ava';
import type { GeartrainError } from '../../src/errors.ts';
import { setTimeout as delay } from 'node:timers/promises';
import type { StatusEvent } from '../../src/client/status.ts';
import { Worker } from '../../src/client/worker.ts';
import { JobFailedError } from '../../src/errors.ts';
import { request } from '../../src/protocol/encoder.ts';
import { PacketType } from '../../src/protocol/packet-types.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS } from '../helpers/servers.ts';
import { counter, gate } from './helpers/gate.ts';
import { cleanup, rig } from './helpers/setup.ts';
import { Tap } from './helpers/tap.ts';

const TERMINALS = ['WORK_COMPLETE', 'WORK_FAIL', 'WORK_EXCEPTION'];

/** Collect a worker's status events until the test ends. */
function events(w: Worker): StatusEvent[] {
  const seen: StatusEvent[] = [];
  void (async () => {
    for await (const e of w.status()) seen.push(e);
  })();
  return seen;
}

async function queued(port: number, fn: string, n: number): Promise<void> {
  await waitFor(async () => {
    const line = (await adminRequest(port, 'status')).split('\n').find((l) => l.startsWith(`${fn}\t`));
    return line !== undefined && Number(line.split('\t')[1]) >= n;
  }, `${n} ${fn} jobs queued`);
}

for (const kind of SERVER_KINDS) {
  test(`${kind}: a worker never runs more jobs than its concurrency`, async (t) => {
    const r = await rig(t, kind);
    const client = r.client();
    const jobs = Array.from({ length: 10 }, (_, i) => client.submit('work', String(i)));
    await queued(r.server.port, 'work', 10);
    let now = 0;
    let peak = 0;
    // The first jobs wait until three run at once (or 2 s pass, when the worker holds fewer):
    // the peak is then exactly what the worker allows, whatever the machine's load.
    let filled!: () => void;
    const full = new Promise<void>((resolve) => (filled = resolve));
    await r
      .worker({ concurrency: 3 })
      .register('work', async (job) => {
        now++;
        peak = Math.max(peak, now);
        if (now >= 3) filled();
        await Promise.race([full, delay(2000)]);
        now--;
        return job.payload;
      })
      .start();
    t.deepEqual((await Promise.all(jobs.map((j) => j.result))).map(String), jobs.map((_, i) => String(i)));
    t.is(peak, 3);
  });

  test(`${kind}: close() lets a running job finish and send its result before disconnecting`, async (t) => {
    const r = await rig(t, kind);
    const release = gate();
    const started = gate();
    const worker = r.worker();
    await worker
      .register('slow', async () => {
        started.open();
        await release.opened;
        return 'finished';
      })
      .start();
    const job = r.client().submit('slow');
    await started.opened;
    let closed = false;
    const closing = worker.close().then(() => (closed = true));
    await delay(50);
    t.false(closed, 'close() waits for the running job');
    release.open();
    t.is((await job.result).toString(), 'finished');
    await closing;
    t.is(await worker.closed(), undefined);
    await waitFor(async () => !(await adminRequest(r.server.port, 'workers')).includes(' slow'), 'worker gone from the server');
    t.is((await t.throwsAsync<GeartrainError>(worker.start()))?.code, 'ERR_CLOSED');
  });

  test(`${kind}: every job gets exactly one terminal packet, whatever the handler does`, async (t) => {
    const r = await rig(t, kind);
    const tap = await Tap.start(r.server.port);
    t.teardown(() => tap.close());
    const worker = cleanup(t)(new Worker({ servers: tap.address, concurrency: 4 }));
    await worker
      .register('value', () => 'v')
      .register('stream', async function* () {
        yield 'a';
        yield 'b';
      })
      .register('throws', () => {
        throw new Error('bad');
      })
      .register('fails', () => {
        throw new JobFailedError('no');
      })
      .register('data-then-throw', async (_job, ctx) => {
        await ctx.sendData('partial');
        throw new Error('late');
      })
      .start();
    const client = r.client();
    const jobs = ['value', 'stream', 'throws', 'fails', 'data-then-throw'].map((fn) => client.submit(fn));
    const settled = await Promise.allSettled(jobs.map((j) => j.result));
    t.deepEqual(
      settled.map((s) => (s.status === 'fulfilled' ? s.value.toString() : (s.reason as { code: string }).code)),
      ['v', '', 'ERR_JOB_EXCEPTION', 'ERR_JOB_FAILED', 'ERR_JOB_EXCEPTION'],
    );
    await worker.close();
    const terminal = (h: string) => tap.sent.filter((p) => TERMINALS.includes(p.name) && p.args[0] === h).map((p) => p.name);
    t.deepEqual(
      jobs.map((j) => terminal(j.handle!)),
      [['WORK_COMPLETE'], ['WORK_COMPLETE'], ['WORK_EXCEPTION'], ['WORK_FAIL'], ['WORK_EXCEPTION']],
    );
    t.is(tap.count('GRAB_JOB'), 0, 'the worker grabs with GRAB_JOB_ALL');
    t.true(tap.count('GRAB_JOB_ALL') >= 5);
  });

  test(`${kind}: destroy() aborts a running job and the server gives it to another worker`, async (t) => {
    const r = await rig(t, kind);
    const first = r.worker();
    let reason: unknown;
    const started = gate();
    await first
      .register('job', async (_job, ctx) => {
        started.open();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        reason = ctx.signal.reason;
        return 'from the first worker';
      })
      .start();
    const job = r.client().submit('job', 'x');
    await started.opened;
    await r
      .worker()
      .register('job', () => 'from the second worker')
      .start();
    first.destroy();
    t.is((await job.result).toString(), 'from the second worker');
    t.is((reason as { code?: string }).code, 'ERR_CLOSED');
  });

  // Real time against gearmand (its own timer); geartrain's side runs on a fake clock in timers.test.ts.
  if (kind === 'gearmand') test(`${kind}: past its CAN_DO_TIMEOUT a job is taken back, run again elsewhere, and its signal aborts`, async (t) => {
    const r = await rig(t, kind);
    const tap = await Tap.start(r.server.port);
    t.teardown(() => tap.close());
    const first = cleanup(t)(new Worker({ servers: tap.address, concurrency: 1 }));
    const started = gate();
    let reason: unknown;
    await first
      .register(
        'limited',
        async (_job, ctx) => {
          started.open();
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          reason = ctx.signal.reason;
          return 'too late';
        },
        { timeoutMs: 1000 },
      )
      .start();
    const job = r.client().submit('limited');
    await started.opened;
    await r
      .worker()
      .register('limited', () => 'second attempt')
      .start();
    t.is((await job.result).toString(), 'second attempt');
    t.true(tap.sent.some((p) => p.name === 'CAN_DO_TIMEOUT' && p.args[0] === 'limited' && p.args[1] === '1000'));
    await waitFor(() => reason, 'first run aborted');
    t.is((reason as { code?: string }).code, 'ERR_TIMEOUT');
  });

  test(`${kind}: an ERROR packet on a worker connection is reported and the worker keeps serving`, async (t) => {
    const r = await rig(t, kind);
    const tap = await Tap.start(r.server.port);
    t.teardown(() => tap.close());
    const worker = cleanup(t)(new Worker({ servers: tap.address }));
    const seen = events(worker);
    await worker.register('echo', (job) => job.payload).start();
    tap.inject(request(PacketType.WORK_COMPLETE, 'H:nowhere:1', 'stray'));
    const err = await waitFor(() => seen.find((e) => e.type === 'server-error'), 'server-error event');
    t.like(err, { type: 'server-error', code: 'JOB_NOT_FOUND', server: tap.address });
    t.is((await r.client().call('echo', 'still serving')).toString(), 'still serving');
  });

  // The heartbeat and reconnect backoff run on a fake clock in timers.test.ts.

  test(`${kind}: functions registered after start are served; async iterables stream as data`, async (t) => {
    const r = await rig(t, kind);
    const worker = r.worker();
    await worker.register('first', () => '1').start();
    worker.register('later', async function* (job) {
      for (const part of job.payload.toString().split(' ')) yield part;
    });
    const job = r.client().submit('later', 'x y z');
    const chunks: string[] = [];
    for await (const u of job) if (u.type === 'data') chunks.push(u.data.toString());
    t.deepEqual(chunks, ['x', 'y', 'z']);
    t.is((await job.result).length, 0);
    t.deepEqual(worker.functions, ['first', 'later']);
  });

  test(`${kind}: a worker serving two servers holds at most its concurrency in all`, async (t) => {
    const a = await rig(t, kind);
    const b = await rig(t, kind);
    const jobs = [a, b].flatMap((s) => {
      const c = s.client();
      return Array.from({ length: 6 }, (_, i) => c.submit('both', `${s.server.port}-${i}`));
    });
    await queued(a.server.port, 'both', 6);
    await queued(b.server.port, 'both', 6);
    let now = 0;
    let peak = 0;
    const servers = new Set<string>();
    const all = counter(12);
    const worker = cleanup(t)(new Worker({ servers: [a.server.address, b.server.address], concurrency: 2 }));
    await worker
      .register('both', async (job) => {
        now++;
        peak = Math.max(peak, now);
        servers.add(job.server);
        await delay(10);
        now--;
        all.arrive();
        return job.payload;
      })
      .start();
    await Promise.all(jobs.map((j) => j.result));
    t.is(all.count, 12);
    t.is(peak, 2);
    t.deepEqual([...servers].sort(), [a.server.address, b.server.address].sort());
  });
}
