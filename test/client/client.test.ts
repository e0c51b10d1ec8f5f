import test from 'ava';
import type { GeartrainError } from '../../src/errors.ts';
import { AbortError } from '../../src/errors.ts';
import type { JobUpdate } from '../../src/client/job.ts';
import { JobFailedError } from '../../src/errors.ts';
import { waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS } from '../helpers/servers.ts';
import { counter, gate } from './helpers/gate.ts';
import { cleanup, reverse, rig } from './helpers/setup.ts';
import { Tap } from './helpers/tap.ts';
import { Client } from '../../src/client/client.ts';

for (const kind of SERVER_KINDS) {
  test(`${kind}: a job submitted in each priority returns the worker's result`, async (t) => {
    const r = await rig(t, kind);
    const worker = r.worker().register('rev', (job) => reverse(job.payload));
    await worker.start();
    const client = r.client();
    for (const priority of ['high', 'normal', 'low'] as const) {
      const result = await client.call('rev', `abc-${priority}`, { priority });
      t.is(result.toString(), `${[...priority].reverse().join('')}-cba`);
    }
    const job = client.submit('rev', Buffer.from([0, 1, 2, 0]));
    t.regex(await job.created, /^H:/);
    t.deepEqual([...(await job.result)], [0, 2, 1, 0], 'binary payloads with NULs survive both ways');
  });

  test(`${kind}: queued jobs run high, then normal, then low`, async (t) => {
    const r = await rig(t, kind);
    const client = r.client();
    const jobs = [
      client.submit('prio', 'low-1', { priority: 'low' }),
      client.submit('prio', 'normal-1', { priority: 'normal' }),
      client.submit('prio', 'high-1', { priority: 'high' }),
      client.submit('prio', 'low-2', { priority: 'low' }),
      client.submit('prio', 'high-2', { priority: 'high' }),
    ];
    await Promise.all(jobs.map((j) => j.created));
    const order: string[] = [];
    r.worker({ concurrency: 1 })
      .register('prio', (job) => void order.push(job.payload.toString()))
      .start();
    await Promise.all(jobs.map((j) => j.result));
    t.deepEqual(order, ['high-1', 'high-2', 'normal-1', 'low-1', 'low-2']);
  });

  test(`${kind}: background job status by handle and by unique key follows the worker`, async (t) => {
    const r = await rig(t, kind);
    const client = r.client();
    const unique = `bg-${process.pid}-${Date.now()}`;
    const handle = await client.submitBackground('slow', 'x', { unique });
    const queued = await client.getStatus(handle);
    t.like(queued, { handle, known: true, running: false, numerator: 0, denominator: 0, server: r.server.address });
    t.like(await client.getStatusUnique(unique), { unique, known: true, running: false, clientCount: 0 });

    const release = gate();
    r.worker()
      .register('slow', async (_job, ctx) => {
        await ctx.sendStatus(3, 10);
        await release.opened;
      })
      .start();
    const running = await waitFor(async () => {
      const s = await client.getStatus(handle);
      return s.running && s.numerator === 3 ? s : undefined;
    }, 'job running at 3/10');
    t.like(running, { known: true, running: true, numerator: 3, denominator: 10 });
    t.like(await client.getStatusUnique(unique), { known: true, running: true, numerator: 3, denominator: 10 });
    release.open();
    await waitFor(async () => !(await client.getStatus(handle)).known, 'job gone after completion');
    t.false((await client.getStatusUnique(unique)).known);
  });

  test(`${kind}: data, warnings and status arrive in the order the worker sent them`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('stream', async (_job, ctx) => {
        for (let i = 1; i <= 5; i++) {
          await ctx.sendData(`d${i}`);
          if (i === 2) await ctx.sendWarning('careful');
          await ctx.sendStatus(i, 5);
        }
        return 'done';
      })
      .start();
    const job = r.client().submit('stream');
    const seen: string[] = [];
    for await (const u of job as AsyncIterable<JobUpdate>) {
      seen.push(u.type === 'status' ? `status ${u.numerator}/${u.denominator}` : `${u.type} ${u.data.toString()}`);
    }
    const expected = [1, 2, 3, 4, 5].flatMap((i) => [`data d${i}`, ...(i === 2 ? ['warning careful'] : []), `status ${i}/5`]);
    t.deepEqual(seen, expected);
    t.is((await job.result).toString(), 'done');
  });

  test(`${kind}: an exception arrives with its payload when the client asked for exceptions`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('boom', () => {
        throw new Error('disk on fire');
      })
      .start();
    const err = await t.throwsAsync<GeartrainError>(r.client().call('boom', 'x'));
    t.is(err?.code, 'ERR_JOB_EXCEPTION');
    t.is((err as unknown as { payload: Buffer }).payload.toString(), 'disk on fire');
  });

  test(`${kind}: without OPTION_REQ exceptions the server turns an exception into a failure`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('boom', () => {
        throw new Error('disk on fire');
      })
      .start();
    const err = await t.throwsAsync<GeartrainError>(r.client({ exceptions: false }).call('boom', 'x'));
    t.is(err?.code, 'ERR_JOB_FAILED');
  });

  test(`${kind}: a handler throwing JobFailedError fails the job with WORK_FAIL`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('nope', () => {
        throw new JobFailedError('no');
      })
      .start();
    const job = r.client().submit('nope');
    const err = await t.throwsAsync<GeartrainError>(job.result);
    t.is(err?.code, 'ERR_JOB_FAILED');
    t.is((err as unknown as { handle: string }).handle, job.handle!);
  });

  // Call timeouts run on a fake clock in timers.test.ts.
  test(`${kind}: a job nobody serves aborts with the caller's signal`, async (t) => {
    const r = await rig(t, kind);
    const client = r.client();
    const ac = new AbortController();
    const job = client.submit('nobody', 'x', { signal: ac.signal });
    await job.created;
    ac.abort();
    t.is((await t.throwsAsync<GeartrainError>(job.result))?.code, 'ERR_ABORTED');

    const already = await t.throwsAsync<GeartrainError>(client.call('nobody', 'x', { signal: AbortSignal.abort() }));
    t.true(already instanceof AbortError);
    t.is(client.pending, 0, 'aborted jobs are no longer tracked');
    t.is((await client.echo('still there')).toString(), 'still there', 'the connection stays usable after an abort');
  });

  test(`${kind}: two clients with the same unique key share one run of the job`, async (t) => {
    const r = await rig(t, kind);
    const release = gate();
    const started = counter(1);
    let runs = 0;
    await r
      .worker({ concurrency: 4 })
      .register('once', async (job) => {
        runs++;
        started.arrive();
        await release.opened;
        return `ran ${job.unique}`;
      })
      .start();
    const a = r.client().submit('once', 'payload', { unique: 'same-key' });
    await started.reached;
    const b = r.client().submit('once', 'other payload', { unique: 'same-key' });
    const c = r.client().submit('once', 'payload', { unique: 'same-key' });
    t.is(await b.created, await a.created, 'the server answers with the running job\'s handle');
    t.is(await c.created, await a.created);
    release.open();
    t.deepEqual((await Promise.all([a.result, b.result, c.result])).map(String), ['ran same-key', 'ran same-key', 'ran same-key']);
    t.is(runs, 1);
  });

  test(`${kind}: a past epoch job runs as a background job`, async (t) => {
    const r = await rig(t, kind);
    const ran = gate();
    let payload = '';
    await r
      .worker()
      .register('later', (job) => {
        payload = job.payload.toString();
        ran.open();
      })
      .start();
    const job = r.client().submit('later', 'tick', { epoch: new Date(Date.now() - 10_000) });
    t.true(job.background);
    t.regex(await job.created, /^H:/);
    await ran.opened;
    t.is(payload, 'tick');
  });

  test(`${kind}: a reduce job reaches the worker with its reducer and unique key`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('split', (job) => JSON.stringify({ reducer: job.reducer, unique: job.unique, payload: job.payload.toString() }))
      .register('plain', (job) => JSON.stringify({ reducer: job.reducer ?? null }))
      .start();
    const client = r.client();
    const got = JSON.parse((await client.call('split', 'a b c', { reducer: 'count', unique: 'mr-1' })).toString());
    t.deepEqual(got, { reducer: 'count', unique: 'mr-1', payload: 'a b c' });
    t.deepEqual(JSON.parse((await client.call('plain', 'x')).toString()), { reducer: null });
  });

  test(`${kind}: a result that arrives in the same chunk as JOB_CREATED is not lost`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('fast', async (job, ctx) => {
        await ctx.sendData('early');
        return job.payload;
      })
      .start();
    const tap = await Tap.start(r.server.port);
    t.teardown(() => tap.close());
    const client = cleanup(t)(new Client({ servers: tap.address }));
    await client.connect();
    tap.holdReplies();
    const job = client.submit('fast', 'quick');
    await waitFor(() => tap.received.some((p) => p.name === 'WORK_COMPLETE'), 'the whole exchange held back');
    tap.releaseReplies();
    const updates: string[] = [];
    for await (const u of job) if (u.type === 'data') updates.push(u.data.toString());
    t.deepEqual(updates, ['early']);
    t.is((await job.result).toString(), 'quick');
  });

  test(`${kind}: close() waits for jobs in flight; past its timeout it destroys them`, async (t) => {
    const r = await rig(t, kind);
    const release = gate();
    await r
      .worker({ concurrency: 2 })
      .register('wait', async () => {
        await release.opened;
        return 'done';
      })
      .start();
    const client = r.client();
    const job = client.submit('wait');
    await job.created;
    const closing = client.close();
    t.is(t.throws<GeartrainError>(() => client.submit('wait'))?.code, 'ERR_CLOSED');
    release.open();
    t.is((await job.result).toString(), 'done');
    await closing;
    t.is(await client.closed(), undefined);

    const other = r.client();
    const stuck = other.submit('nobody_serves');
    await stuck.created;
    await other.close({ timeoutMs: 50 });
    t.is((await t.throwsAsync<GeartrainError>(stuck.result))?.code, 'ERR_TIMEOUT');
    t.is(((await other.closed()) as GeartrainError | undefined)?.code, 'ERR_TIMEOUT');
  });

  test(`${kind}: bad arguments are refused before anything is sent`, async (t) => {
    const r = await rig(t, kind);
    const client = r.client();
    t.is(t.throws<GeartrainError>(() => client.submit(''))?.code, 'ERR_INVALID_ARGUMENT');
    t.is(t.throws<GeartrainError>(() => client.submit('f', 'x', { unique: 'u'.repeat(65) }))?.code, 'ERR_INVALID_ARGUMENT');
    t.is(t.throws<GeartrainError>(() => client.submit('f', 'x', { epoch: Date.now() / 1000, background: false }))?.code, 'ERR_INVALID_ARGUMENT');
    t.is(t.throws<GeartrainError>(() => client.submit('f', 'x', { reducer: 'r', priority: 'high' }))?.code, 'ERR_INVALID_ARGUMENT');
    await client.close();
    t.is(t.throws<GeartrainError>(() => client.submit('f'))?.code, 'ERR_CLOSED');
  });
}
