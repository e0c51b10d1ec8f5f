/**
 * PHP (`GearmanClient`, php-gearman over libgearman 1.1.20) and Perl (`Gearman::Client` 2.004)
 * clients served by a geartrain `Worker`, on both job servers. Each test names what crosses the
 * language boundary: payload bytes (UTF-8 and binary), WORK_DATA chunks in order, WORK_STATUS
 * numerator/denominator, WORK_WARNING, WORK_FAIL, WORK_EXCEPTION (PHP always asks for exceptions;
 * Perl only with `exceptions => 1`), background jobs and their status, HIGH/LOW priority.
 * The peers' scripts are in peers/; every process is killed in teardown.
 */
import test, { type ExecutionContext } from 'ava';
import { JobFailedError } from '../../src/errors.ts';
import { Worker } from '../../src/client/index.ts';
import type { RunningServer } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS, startServer, type ServerKind } from '../helpers/servers.ts';
import { gate, type Gate } from '../client/helpers/gate.ts';
import { eventsAsText, jobsQueued, priorityStatusOf, runPeerClient, workersFor, type ClientSpec, type Lang, type PeerRun } from './peers/harness.ts';

/** UTF-8 in several scripts, plus NUL, 0xff and a lone continuation byte: every byte must survive. */
const BYTES = Buffer.concat([Buffer.from('héllo wörld ✓ 日本語 🚂\n', 'utf8'), Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x80, 0x0a, 0x00])]);

interface Ctx {
  readonly kind: ServerKind;
  readonly server: RunningServer;
  /** Jobs the `gt.order` function ran, in order. */
  readonly order: string[];
  /** Opened by the test to let `gt.hold` finish. */
  readonly hold: Gate;
  run(lang: Lang, spec: ClientSpec): Promise<PeerRun>;
  /** Start the geartrain worker (concurrency 1) and wait until it is registered. */
  startWorker(): Promise<Worker>;
}

async function setup(t: ExecutionContext, kind: ServerKind): Promise<Ctx> {
  const server = await startServer(kind);
  t.teardown(() => server.stop());
  const order: string[] = [];
  const hold = gate();
  const ctx: Ctx = {
    kind,
    server,
    order,
    hold,
    run: (lang, spec) => runPeerClient(t, lang, server.host, server.port, spec),
    async startWorker() {
      const worker = new Worker({ servers: server.address, concurrency: 1 });
      t.teardown(() => worker.destroy());
      worker
        .register('gt.echo', (job) => job.payload)
        .register('gt.stream', async (_job, ctx) => {
          for (const [i, line] of ['a', 'b', 'c'].entries()) {
            await ctx.sendData(`${i + 1}:${line}`);
            await ctx.sendStatus(i + 1, 3);
          }
          await ctx.sendWarning('geartrain warning');
          return '3 lines';
        })
        .register('gt.fail', () => {
          throw new JobFailedError();
        })
        .register('gt.exception', (job) => {
          throw new Error(`geartrain says no: ${job.payload.toString('utf8')}`);
        })
        .register('gt.hold', async (_job, ctx) => {
          await ctx.sendStatus(1, 3);
          await hold.opened;
          return 'held';
        })
        .register('gt.order', (job) => {
          order.push(job.payload.toString('utf8'));
          return job.payload;
        });
      await worker.start();
      const failing = new Worker({ servers: server.address, onError: 'fail' });
      t.teardown(() => failing.destroy());
      failing.register('gt.exception-as-fail', () => {
        throw new Error('reported as WORK_FAIL');
      });
      await failing.start();
      await workersFor(server.port, 'gt.order');
      await workersFor(server.port, 'gt.exception-as-fail');
      return worker;
    },
  };
  return ctx;
}

function both(title: string, body: (t: ExecutionContext, c: Ctx) => Promise<void>): void {
  for (const kind of SERVER_KINDS) test(`${kind}: ${title}`, async (t) => body(t, await setup(t, kind)));
}

// ---- PHP GearmanClient ----

both('PHP client → geartrain worker: payload bytes (UTF-8, NUL, 0xff) cross both ways unchanged', async (t, c) => {
  await c.startWorker();
  const task = await c.run('php', { op: 'run', fn: 'gt.echo', payload: BYTES });
  t.is(task.code, 0, task.stderr);
  t.deepEqual(task.events.map((e) => e.event), ['created', 'complete', 'end']);
  t.deepEqual((task.events[1] as { data: Buffer }).data, BYTES);
  const done = await c.run('php', { op: 'do', fn: 'gt.echo', payload: BYTES });
  t.true(done.end.success, done.stderr);
  t.deepEqual(Buffer.from(done.end.data as string, 'base64'), BYTES);
});

both('PHP client → geartrain worker: WORK_DATA chunks, WORK_STATUS n/d and WORK_WARNING arrive in order', async (t, c) => {
  await c.startWorker();
  const r = await c.run('php', { op: 'run', fn: 'gt.stream', payload: 'x' });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(eventsAsText(r), [
    { event: 'created' },
    { event: 'data', data: '1:a' },
    { event: 'status', numerator: 1, denominator: 3 },
    { event: 'data', data: '2:b' },
    { event: 'status', numerator: 2, denominator: 3 },
    { event: 'data', data: '3:c' },
    { event: 'status', numerator: 3, denominator: 3 },
    { event: 'warning', data: 'geartrain warning' },
    { event: 'complete', data: '3 lines' },
  ]);
});

both('PHP client → geartrain worker: WORK_FAIL reaches the fail callback', async (t, c) => {
  await c.startWorker();
  const r = await c.run('php', { op: 'run', fn: 'gt.fail', payload: 'x' });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(eventsAsText(r), [{ event: 'created' }, { event: 'fail' }]);
});

both('PHP client → geartrain worker: a thrown error reaches the exception callback with its message', async (t, c) => {
  await c.startWorker();
  const r = await c.run('php', { op: 'run', fn: 'gt.exception', payload: 'für dich' });
  t.is(r.code, 0, r.stderr);
  // libgearman asks for OPTION exceptions on every connection, so WORK_EXCEPTION arrives as such,
  // and it is the task's only end (no fail callback after it).
  t.deepEqual(eventsAsText(r), [{ event: 'created' }, { event: 'exception', data: 'geartrain says no: für dich' }]);
  t.is(r.end.ok, true);
});

both('PHP client → geartrain worker: background job, jobStatus while it runs (1/3) and after it ends', async (t, c) => {
  await c.startWorker();
  const bg = await c.run('php', { op: 'bg', fn: 'gt.hold', payload: 'bg' });
  t.true(bg.end.success, bg.stderr);
  const handle = bg.end.handle as string;
  t.regex(handle, /^H:/);
  const running = await waitFor(async () => {
    const s = (await c.run('php', { op: 'status', handle })).end.status as unknown[];
    return s[2] === 1 ? s : undefined;
  }, 'the PHP client to see status 1/3');
  t.deepEqual(running, [true, true, 1, 3]);
  c.hold.open();
  const after = await waitFor(async () => {
    const s = (await c.run('php', { op: 'status', handle })).end.status as unknown[];
    return s[0] === false ? s : undefined;
  }, 'the job to end');
  t.deepEqual(after, [false, false, 0, 0]);
});

both('PHP client → geartrain worker: HIGH and LOW jobs (background and foreground) run in priority order', async (t, c) => {
  for (const p of ['low', 'normal', 'high'] as const) {
    const r = await c.run('php', { op: 'bg', fn: 'gt.order', payload: `bg-${p}`, priority: p });
    t.true(r.end.success, r.stderr);
  }
  t.deepEqual(await priorityStatusOf(c.server.port, 'gt.order'), [1, 1, 1, 0]);
  const fgLow = c.run('php', { op: 'do', fn: 'gt.order', payload: 'fg-low', priority: 'low' });
  await jobsQueued(c.server.port, 'gt.order', 4);
  const fgHigh = c.run('php', { op: 'do', fn: 'gt.order', payload: 'fg-high', priority: 'high' });
  await jobsQueued(c.server.port, 'gt.order', 5);
  t.deepEqual(await priorityStatusOf(c.server.port, 'gt.order'), [2, 1, 2, 0]);
  await c.startWorker();
  const [low, high] = await Promise.all([fgLow, fgHigh]);
  t.is(Buffer.from(low.end.data as string, 'base64').toString(), 'fg-low');
  t.is(Buffer.from(high.end.data as string, 'base64').toString(), 'fg-high');
  // FIFO within a priority.
  t.deepEqual(c.order, ['bg-high', 'fg-high', 'bg-normal', 'bg-low', 'fg-low']);
});

// ---- Perl Gearman::Client ----

both('Perl client → geartrain worker: payload bytes (UTF-8, NUL, 0xff) cross both ways unchanged', async (t, c) => {
  await c.startWorker();
  const r = await c.run('perl', { op: 'run', fn: 'gt.echo', payload: BYTES });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.events.map((e) => e.event), ['complete', 'end']);
  t.deepEqual((r.events[0] as { data: Buffer }).data, BYTES);
});

both('Perl client → geartrain worker: WORK_DATA chunks, WORK_STATUS n/d and WORK_WARNING arrive in order', async (t, c) => {
  await c.startWorker();
  const r = await c.run('perl', { op: 'run', fn: 'gt.stream', payload: 'x' });
  t.is(r.code, 0, r.stderr);
  // Gearman::Client hands status on as the strings it split out of the packet.
  t.deepEqual(eventsAsText(r), [
    { event: 'data', data: '1:a' },
    { event: 'status', numerator: '1', denominator: '3' },
    { event: 'data', data: '2:b' },
    { event: 'status', numerator: '2', denominator: '3' },
    { event: 'data', data: '3:c' },
    { event: 'status', numerator: '3', denominator: '3' },
    { event: 'warning', data: 'geartrain warning' },
    { event: 'complete', data: '3 lines' },
  ]);
});

both('Perl client → geartrain worker: WORK_FAIL reaches on_fail', async (t, c) => {
  await c.startWorker();
  const r = await c.run('perl', { op: 'run', fn: 'gt.fail', payload: 'x' });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(eventsAsText(r), [{ event: 'fail' }]);
});

both('Perl client → geartrain worker: a thrown error is on_exception with `exceptions => 1`', async (t, c) => {
  await c.startWorker();
  const r = await c.run('perl', { op: 'run', fn: 'gt.exception', payload: 'für dich', exceptions: true });
  t.is(r.code, 0, r.stderr);
  // Gearman::Task::exception does not finish the task, so on_fail is not called after it.
  t.deepEqual(eventsAsText(r), [{ event: 'exception', data: 'geartrain says no: für dich' }]);
});

both('Perl client without `exceptions` → geartrain worker: a thrown error is on_fail (on gearmand only with onError: fail)', async (t, c) => {
  await c.startWorker();
  const plain = await c.run('perl', { op: 'run', fn: 'gt.exception', payload: 'x' });
  if (c.kind === 'geartrain') {
    t.is(plain.code, 0, plain.stderr);
    t.deepEqual(eventsAsText(plain), [{ event: 'fail' }], 'the server turns the exception into WORK_FAIL for this client');
  } else {
    // gearmand 1.1 builds that WORK_FAIL with the handle's NUL still attached (server.cc
    // `_server_queue_work_data`); Gearman::Client cannot match it and croaks.
    t.is(plain.code, 255);
    t.regex(plain.stderr, /Got work_fail for unknown handle/);
  }
  // A worker that reports errors as WORK_FAIL serves such clients on either server.
  const r = await c.run('perl', { op: 'run', fn: 'gt.exception-as-fail', payload: 'x' });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(eventsAsText(r), [{ event: 'fail' }]);
});

both('Perl client → geartrain worker: background job, get_status while it runs (1/3) and after it ends', async (t, c) => {
  await c.startWorker();
  const bg = await c.run('perl', { op: 'bg', fn: 'gt.hold', payload: 'bg' });
  t.is(bg.code, 0, bg.stderr);
  const handle = bg.end.handle as string;
  t.regex(handle, new RegExp(`^127\\.0\\.0\\.1:${c.server.port}//H:`));
  const running = await waitFor(async () => {
    const s = (await c.run('perl', { op: 'status', handle })).end.status as [number, number, string[] | null];
    return s[2]?.[1] === '3' ? s : undefined;
  }, 'the Perl client to see status 1/3');
  t.deepEqual(running, [1, 1, ['1', '3']]);
  c.hold.open();
  const after = await waitFor(async () => {
    const s = (await c.run('perl', { op: 'status', handle })).end.status as unknown[];
    return s[0] === 0 ? s : undefined;
  }, 'the job to end');
  t.deepEqual(after, [0, 0, ['0', '0']]);
});

both('Perl client → geartrain worker: HIGH and LOW background jobs run in priority order', async (t, c) => {
  for (const p of ['low', 'normal', 'high'] as const) {
    const r = await c.run('perl', { op: 'bg', fn: 'gt.order', payload: `bg-${p}`, priority: p });
    t.is(r.code, 0, r.stderr);
  }
  t.deepEqual(await priorityStatusOf(c.server.port, 'gt.order'), [1, 1, 1, 0]);
  await c.startWorker();
  await waitFor(() => c.order.length === 3, 'the three jobs to run');
  t.deepEqual(c.order, ['bg-high', 'bg-normal', 'bg-low']);
});
