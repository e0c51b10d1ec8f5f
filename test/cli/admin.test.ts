/** `geartrain admin` run as a child process, checked against gearadmin on the same server. */
import test from 'ava';
import { refusedPort } from '../helpers/ports.ts';
import { SERVER_KINDS } from '../helpers/servers.ts';
import { geartrain, runProcess } from '../client/helpers/cli.ts';
import { rig } from '../client/helpers/setup.ts';

for (const kind of SERVER_KINDS) {
  test(`${kind}: text output is gearadmin's, byte for byte`, async (t) => {
    const r = await rig(t, kind);
    await r.worker({ clientId: 'cli-admin' }).register('served_fn', () => '').start();
    const client = r.client();
    await client.submitBackground('queued_fn', 'a', { priority: 'high' });
    await client.submitBackground('queued_fn', 'b', { unique: 'the-unique' });
    const p = ['-h', '127.0.0.1', '-p', String(r.server.port)];
    for (const flags of [['--status'], ['--priority-status'], ['--server-version'], ['--show-unique-jobs'], ['--status', '--server-version', '--getpid']]) {
      const [ours, theirs] = await Promise.all([geartrain(['admin', ...p, ...flags]), runProcess('gearadmin', [...p, ...flags])]);
      t.is(theirs.code, 0);
      t.deepEqual(ours, theirs, flags.join(' '));
    }
  });

  test(`${kind}: --json gives typed results; ERR replies go to stderr with exit status 1`, async (t) => {
    const r = await rig(t, kind);
    await r.worker({ clientId: 'json-worker' }).register('json_fn', () => '').start();
    const p = ['-p', String(r.server.port)];
    const out = await geartrain(['admin', ...p, '--status', '--workers', '--getpid', '--json']);
    t.is(out.code, 0);
    const json = JSON.parse(out.stdout);
    t.is(json.server, r.server.address);
    t.deepEqual(json.status, [{ name: 'json_fn', total: 0, running: 0, workers: 1 }]);
    t.deepEqual(json.workers.find((w: { clientId: string }) => w.clientId === 'json-worker').functions, ['json_fn']);
    t.is(json.getpid, r.server.pid);

    const [ours, theirs] = await Promise.all([
      geartrain(['admin', ...p, '--cancel-job', 'H:nowhere:1']),
      runProcess('gearadmin', [...p, '--cancel-job', 'H:nowhere:1']),
    ]);
    t.is(ours.stderr.replace(/\r/g, ''), theirs.stderr.replace(/\r/g, ''), 'same error text as gearadmin');
    t.regex(ours.stderr, /^Error: UNKNOWN_JOB/);
    t.is(ours.code, 1, 'unlike gearadmin, an ERR reply is a failure');

    const created = await geartrain(['admin', ...p, '--create-function', 'new_fn']);
    t.deepEqual(created, { stdout: 'OK\n', stderr: '', code: 0 });
  });
}

test('admin: unreachable server and usage errors', async (t) => {
  const port = await refusedPort();
  const down = await geartrain(['admin', '-p', String(port), '--status']);
  t.is(down.code, 1);
  t.regex(down.stderr, new RegExp(`^geartrain admin: .*127\\.0\\.0\\.1:${port}.*\\n$`));
  t.notRegex(down.stderr, /^\s+at /m);
  const none = await geartrain(['admin', '-p', String(port)]);
  t.is(none.code, 2);
  const help = await geartrain(['admin', '-H']);
  t.is(help.code, 0);
  t.regex(help.stdout, /--show-unique-jobs/);
});
