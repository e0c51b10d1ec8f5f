import test from 'ava';
import type { GeartrainError, ServerError } from '../../src/errors.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS } from '../helpers/servers.ts';
import { runProcess } from './helpers/cli.ts';
import { rig } from './helpers/setup.ts';

/**
 * gearadmin's own output, split by the test (the reference the typed results are checked against).
 * Asynchronous: a geartrain server may run in this very process.
 */
async function gearadmin(port: number, ...flags: string[]): Promise<string[][]> {
  const { stdout } = await runProcess('gearadmin', ['-h', '127.0.0.1', '-p', String(port), ...flags]);
  return stdout
    .split('\n')
    .filter((l) => l.length > 0 && l !== '.')
    .map((l) => l.split('\t'));
}

const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => a.name.localeCompare(b.name));

for (const kind of SERVER_KINDS) {
  test(`${kind}: status, priority status and workers agree with gearadmin`, async (t) => {
    const r = await rig(t, kind);
    await r.worker({ clientId: 'adm-worker' }).register('adm_fn', () => '').start();
    const client = r.client();
    await client.submitBackground('queued_fn', 'h', { priority: 'high' });
    await client.submitBackground('queued_fn', 'n');
    await client.submitBackground('queued_fn', 'l', { priority: 'low' });
    await client.submitBackground('queued_fn', 'l2', { priority: 'low' });
    const admin = r.admin();

    const status = await admin.status();
    const expectedStatus = (await gearadmin(r.server.port, '--status')).map(([name, total, running, workers]) => ({
      name: name!,
      total: Number(total),
      running: Number(running),
      workers: Number(workers),
    }));
    t.deepEqual(byName(status), byName(expectedStatus));
    t.like(status.find((s) => s.name === 'queued_fn'), { total: 4, running: 0, workers: 0 });
    t.like(status.find((s) => s.name === 'adm_fn'), { workers: 1 });

    const prio = await admin.priorityStatus();
    const expectedPrio = (await gearadmin(r.server.port, '--priority-status')).map(([name, high, normal, low, workers]) => ({
      name: name!,
      high: Number(high),
      normal: Number(normal),
      low: Number(low),
      workers: Number(workers),
    }));
    t.deepEqual(byName(prio), byName(expectedPrio));
    t.like(prio.find((p) => p.name === 'queued_fn'), { high: 1, normal: 1, low: 2 });

    const workers = await admin.workers();
    const mine = workers.find((w) => w.clientId === 'adm-worker');
    t.deepEqual(mine?.functions, ['adm_fn']);
    const line = (await gearadmin(r.server.port, '--workers')).map((cols) => cols.join('\t')).find((l) => l.includes(' adm-worker '));
    t.is(line, `${mine!.fd} ${mine!.ip} adm-worker : adm_fn`);
  });

  test(`${kind}: version and pid are the server's`, async (t) => {
    const r = await rig(t, kind);
    const admin = r.admin();
    const expected = (await runProcess('gearadmin', ['-h', '127.0.0.1', '-p', String(r.server.port), '--server-version'])).stdout.trim();
    t.is(await admin.version(), expected);
    t.is(await admin.getPid(), r.server.pid!);
  });

  test(`${kind}: show jobs, show unique jobs and cancel job`, async (t) => {
    const r = await rig(t, kind);
    const client = r.client();
    const h1 = await client.submitBackground('later_fn', 'a', { unique: 'uniq-one' });
    const h2 = await client.submitBackground('later_fn', 'b', { unique: 'uniq-two' });
    const admin = r.admin();
    const jobs = await admin.showJobs();
    t.deepEqual(jobs.map((j) => j.handle).sort(), [h1, h2].sort());
    t.true(jobs.every((j) => j.retries === 0 && !j.ignore));
    t.deepEqual((await admin.showUniqueJobs()).sort(), ['uniq-one', 'uniq-two']);
    await admin.cancelJob(h1);
    await waitFor(async () => !(await admin.showJobs()).some((j) => j.handle === h1 && !j.ignore), 'cancelled job gone');
    const err = await t.throwsAsync<GeartrainError>(admin.cancelJob('H:nowhere:999999'));
    t.is(err?.code, 'ERR_ADMIN');
    t.regex(err!.message, /UNKNOWN_JOB/);
  });

  test(`${kind}: create function, drop function and maxqueue`, async (t) => {
    const r = await rig(t, kind);
    const admin = r.admin();
    await admin.createFunction('made_fn');
    t.true((await admin.status()).some((s) => s.name === 'made_fn'));
    await admin.dropFunction('made_fn');
    t.false((await admin.status()).some((s) => s.name === 'made_fn'));
    t.is((await t.throwsAsync<GeartrainError>(admin.dropFunction('never_was_fn')))?.code, 'ERR_ADMIN');

    const client = r.client();
    await client.submitBackground('capped_fn', 'first');
    await admin.maxQueue('capped_fn', 1);
    const err = await t.throwsAsync<ServerError>(client.submitBackground('capped_fn', 'second'));
    t.is(err?.code, 'ERR_SERVER');
    t.is(err?.serverCode, 'QUEUE_ERROR');
    await admin.maxQueue('capped_fn', 0);
    t.regex(await client.submitBackground('capped_fn', 'third'), /^H:/);
    t.regex(await adminRequest(r.server.port, 'status'), /capped_fn\t2\t0\t0/);
  });

  test(`${kind}: shutdown is refused by gearmand 1.1 and honoured by geartrain`, async (t) => {
    const r = await rig(t, kind);
    const admin = r.admin();
    if (kind === 'gearmand') {
      const err = await t.throwsAsync<GeartrainError>(admin.shutdown());
      t.is(err?.code, 'ERR_ADMIN');
      t.regex(await admin.version(), /^1\.1\./);
    } else {
      await admin.shutdown();
      await waitFor(async () => {
        try {
          await adminRequest(r.server.port, 'version', '127.0.0.1', 500);
          return false;
        } catch {
          return true;
        }
      }, 'server stopped');
      t.pass();
    }
  });
}
