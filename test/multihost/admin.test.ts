/**
 * Admin commands that change state, sent from another host: a job server refuses them from a
 * peer that is not on loopback unless it sent `auth TOKEN`. Every process runs in its own
 * network namespace (10.213.1.0/24); the peer's address is a real other host's.
 */
import test from 'ava';
import { TestBed } from '../helpers/netns.ts';

const TOKEN = 'multihost-admin-token-0001';

test.serial('from another host, cancel job, drop function and shutdown are refused with PERMISSION_DENIED; the job, the function and the server stay; with --admin-token they are accepted', async (t) => {
  const bed = await TestBed.create(t, 1, ['srv', 'ops']);
  const server = await bed.startServer(t, 'srv', ['--admin-token', TOKEN]);
  const [host, port] = server.address.split(':') as [string, string];
  const admin = (args: string[]) => bed.runGeartrain(t, 'ops', 'admin', ['-h', host, '-p', port, ...args]);

  const submitted = await bed.runGeartrain(t, 'ops', 'job', ['-h', host, '-p', port, '-f', 'reports', '-b', '-v', 'payload']);
  t.is(submitted.code, 0, submitted.stderr);
  const handle = /Task created: (\S+)/.exec(submitted.stderr)?.[1];
  t.truthy(handle, submitted.stderr);

  const workers = await admin(['--workers']);
  t.regex(workers.stdout, new RegExp(`^\\d+ ${bed.address('ops').replace(/\./g, '\\.')} `, 'm'), 'the server sees the admin peer at its own address');

  for (const [flag, value, cmd] of [
    ['--cancel-job', handle!, 'cancel'],
    ['--drop-function', 'reports', 'drop'],
    ['--shutdown', undefined, 'shutdown'],
  ] as const) {
    const r = await admin(value === undefined ? [flag] : [flag, value]);
    t.is(r.code, 1, `${flag}: ${r.stdout}`);
    t.is(r.stderr, `Error: PERMISSION_DENIED ${cmd}+needs+loopback+or+auth+TOKEN\n`, flag);
  }
  const gearadmin = bed.spawn(t, 'ops', ['gearadmin', '-h', host, '-p', port, '--drop-function', 'reports']);
  await gearadmin.exited();
  t.regex(gearadmin.stdoutText() + gearadmin.stderrText(), /PERMISSION_DENIED drop\+needs\+loopback\+or\+auth\+TOKEN/, 'gearadmin is refused too');

  // Nothing changed: the server answers, the job is still queued under its function.
  t.is(server.exitCode, null);
  const jobs = await admin(['--show-jobs']);
  t.is(jobs.code, 0, jobs.stderr);
  t.regex(jobs.stdout, new RegExp(`^${handle!.replace(/[.:]/g, '\\$&')}\\t`, 'm'));
  const status = await admin(['--status']);
  t.regex(status.stdout, /^reports\t1\t0\t0$/m);

  // The same peer with the token: accepted.
  const cancelled = await admin(['--admin-token', TOKEN, '--cancel-job', handle!]);
  t.is(cancelled.code, 0, cancelled.stderr);
  t.is(cancelled.stdout, 'OK\n');
  const dropped = await admin(['--admin-token', TOKEN, '--drop-function', 'reports']);
  t.is(dropped.code, 0, dropped.stderr);
  t.notRegex((await admin(['--status'])).stdout, /^reports\t/m);
  const shutdown = await admin(['--admin-token', TOKEN, '--shutdown']);
  t.is(shutdown.code, 0, shutdown.stderr);
  t.is(await server.exited(), 0);
});

test.serial('without an admin token configured, another host cannot unlock them: auth is refused and shutdown stays refused', async (t) => {
  const bed = await TestBed.create(t, 1, ['srv', 'ops']);
  const server = await bed.startServer(t, 'srv');
  const [host, port] = server.address.split(':') as [string, string];
  const r = await bed.runGeartrain(t, 'ops', 'admin', ['-h', host, '-p', port, '--admin-token', TOKEN, '--shutdown']);
  t.is(r.code, 1);
  t.is(r.stderr, 'Error: PERMISSION_DENIED no+admin+token+is+configured\n');
  const plain = await bed.runGeartrain(t, 'ops', 'admin', ['-h', host, '-p', port, '--shutdown']);
  t.is(plain.code, 1);
  t.is(plain.stderr, 'Error: PERMISSION_DENIED shutdown+needs+loopback\n');
  const version = await bed.runGeartrain(t, 'ops', 'admin', ['-h', host, '-p', port, '--server-version']);
  t.is(version.code, 0, version.stderr);
  t.regex(version.stdout, /^1\.1\.\d+ \(geartrain /);
  t.is(server.exitCode, null);
});
