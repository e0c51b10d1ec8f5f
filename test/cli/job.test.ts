/** `geartrain job` run as a child process, checked against the `gearman` tool and the library. */
import test from 'ava';
import type { GeartrainError } from '../../src/errors.ts';
import { JobFailedError } from '../../src/errors.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS } from '../helpers/servers.ts';
import { exited, geartrain, runProcess, startGeartrain } from '../client/helpers/cli.ts';
import { reverse, rig } from '../client/helpers/setup.ts';

const NO_STACK = /^\s+at /m;

for (const kind of SERVER_KINDS) {
  test(`${kind}: client mode prints what gearman prints, for stdin, arguments and -n`, async (t) => {
    const r = await rig(t, kind);
    await r.worker({ concurrency: 2 }).register('rev', (job) => reverse(job.payload)).start();
    const p = ['-h', '127.0.0.1', '-p', String(r.server.port)];
    const cases: [string[], string][] = [
      [['-f', 'rev'], 'hello world\n'],
      [['-f', 'rev', 'abc', 'def'], ''],
      [['-n', '-f', 'rev'], 'line1\nline2\nlast'],
      [['-N', '-f', 'rev'], 'line1\nline2\n'],
      [['-P', '-f', 'rev', 'xy'], ''],
    ];
    for (const [args, input] of cases) {
      const [ours, theirs] = await Promise.all([geartrain(['job', ...p, ...args], input), runProcess('gearman', [...p, ...args], input)]);
      t.is(theirs.code, 0);
      t.deepEqual(ours, theirs, args.join(' '));
    }
  });

  test(`${kind}: background jobs, verbose handles, and exit status 1 for failures and exceptions`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('fails', () => {
        throw new JobFailedError('no');
      })
      .register('throws', () => {
        throw new Error('disk on fire');
      })
      .start();
    const p = ['-p', String(r.server.port)];
    const bg = await geartrain(['job', ...p, '-b', '-v', '-f', 'nobody_bg', 'payload']);
    t.is(bg.code, 0);
    t.regex(bg.stderr, /^Task created: H:\S+\n$/);
    t.regex(await adminRequest(r.server.port, 'status'), /nobody_bg\t1\t0\t0/);

    const failed = await geartrain(['job', ...p, '-P', '-f', 'fails', 'x']);
    t.deepEqual(failed, { stdout: '', stderr: 'fails: Job failed\n', code: 1 });
    const exception = await geartrain(['job', ...p, '-f', 'throws', 'x']);
    t.deepEqual(exception, { stdout: '', stderr: 'disk on fire\n', code: 1 });
  });

  test(`${kind}: worker mode runs the command per job, -n streams lines, non-zero exit fails the job`, async (t) => {
    const r = await rig(t, kind);
    const p = ['-p', String(r.server.port)];
    const rev = startGeartrain(t, ['job', ...p, '-w', '-f', 'rev', '-c', '2', '--', 'rev']);
    const lines = startGeartrain(t, ['job', ...p, '-w', '-n', '-f', 'lines', '--', 'cat']);
    const bad = startGeartrain(t, ['job', ...p, '-w', '-f', 'bad', '--', 'sh', '-c', 'echo partial; exit 3']);
    await waitFor(async () => {
      const workers = await adminRequest(r.server.port, 'workers');
      return [' rev', ' lines', ' bad'].every((f) => workers.includes(f));
    }, 'three CLI workers registered');
    const client = r.client();
    t.is((await client.call('rev', 'hello\n')).toString(), 'olleh\n');
    t.is((await client.call('rev', 'abc\n')).toString(), 'cba\n');
    t.is(await exited(rev), 0, '-c 2 exits after two jobs');

    const job = client.submit('lines', 'one\ntwo\nthree');
    const data: string[] = [];
    for await (const u of job) if (u.type === 'data') data.push(u.data.toString());
    t.deepEqual(data, ['one\n', 'two\n', 'three']);

    const failing = client.submit('bad', 'x');
    const seen: string[] = [];
    const err = await t.throwsAsync<GeartrainError>(
      (async () => {
        for await (const u of failing) if (u.type === 'data') seen.push(u.data.toString());
      })(),
    );
    t.is(err?.code, 'ERR_JOB_FAILED');
    t.deepEqual(seen, ['partial\n']);

    // The gearman tool as the client of a geartrain CLI worker.
    const viaGearman = await runProcess('gearman', [...p, '-f', 'lines'], 'a\nb\n');
    t.deepEqual(viaGearman, { stdout: 'a\nb\n', stderr: '', code: 0 });
    lines.kill('SIGTERM');
    t.is(await exited(lines), 0, 'SIGTERM closes the worker cleanly');
    bad.kill('SIGTERM');
    await exited(bad);
  });
}

test('unreachable server: one line naming host:port, exit status 1, no stack trace', async (t) => {
  const port = await refusedPort();
  for (const args of [['job', '-p', String(port), '-f', 'x', 'data'], ['job', '-p', String(port), '-w', '-f', 'x']]) {
    const out = await geartrain(args);
    t.is(out.code, 1, args.join(' '));
    t.regex(out.stderr, new RegExp(`^geartrain job: .*127\\.0\\.0\\.1:${port}.*\\n$`));
    t.notRegex(out.stderr, NO_STACK);
  }
  const env = await geartrain(['job', '-f', 'x', 'data'], '', { ...process.env, GEARMAN_SERVERS: `127.0.0.1:${port}` });
  t.regex(env.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`), 'GEARMAN_SERVERS is honoured');
});

test('-H prints help and a bad flag is a usage error', async (t) => {
  const help = await geartrain(['job', '-H']);
  t.is(help.code, 0);
  t.regex(help.stdout, /usage: geartrain job/);
  const bad = await geartrain(['job', '--no-such-flag']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /no-such-flag/);
});
