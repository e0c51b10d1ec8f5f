/**
 * geartrain's library against libgearman's own peers: the `gearman` CLI as a worker serving a
 * geartrain Client, and as a client of a geartrain Worker.
 */
import test from 'ava';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GeartrainError } from '../../src/errors.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS } from '../helpers/servers.ts';
import { rig } from './helpers/setup.ts';

const run = promisify(execFile);

/** `gearman` with the server's host and port, its output as text; never rejects on exit code. */
async function gearman(port: number, args: string[], input?: string): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('gearman', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code: code ?? -1 });
    });
    child.stdin.end(input ?? '');
  });
}

/** Start `gearman -w` and wait until the server lists it for `fn`. */
async function gearmanWorker(t: { teardown(f: () => unknown): void }, port: number, fn: string, args: string[]): Promise<void> {
  const child = spawn('gearman', ['-h', '127.0.0.1', '-p', String(port), '-w', '-f', fn, ...args], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  await waitFor(async () => (await adminRequest(port, 'workers')).includes(` ${fn}`), `gearman -w for ${fn}`);
}

for (const kind of SERVER_KINDS) {
  test(`${kind}: a gearman -w worker serves a geartrain client (whole output, per line, failure)`, async (t) => {
    const r = await rig(t, kind);
    await gearmanWorker(t, r.server.port, 'rev', ['--', 'rev']);
    await gearmanWorker(t, r.server.port, 'lines', ['-n', '--', 'cat']);
    await gearmanWorker(t, r.server.port, 'false', ['--', 'sh', '-c', 'echo partial; exit 3']);
    const client = r.client();
    t.is((await client.call('rev', 'hello\nworld\n', { timeoutMs: 5000 })).toString(), 'olleh\ndlrow\n');

    const job = client.submit('lines', 'one\ntwo\nthree\n', { timeoutMs: 5000 });
    const data: string[] = [];
    for await (const u of job) if (u.type === 'data') data.push(u.data.toString());
    // gearman 1.1.20's -n worker never clears its line buffer (bin/gearman.cc _worker_cb), so each
    // WORK_DATA repeats the lines before it; what matters here is that each arrives as an update.
    t.deepEqual(data, ['one\n', 'one\ntwo\n', 'one\ntwo\nthree\n']);

    const failing = client.submit('false', 'x', { timeoutMs: 5000 });
    const seen: string[] = [];
    const err = await t.throwsAsync<GeartrainError>(
      (async () => {
        for await (const u of failing) if (u.type === 'data') seen.push(u.data.toString());
      })(),
    );
    t.is(err?.code, 'ERR_JOB_FAILED');
    t.deepEqual(seen, ['partial\n'], 'the output of a failed command arrives as data before the failure');
  });

  test(`${kind}: a geartrain worker serves the gearman CLI client`, async (t) => {
    const r = await rig(t, kind);
    await r
      .worker()
      .register('rev', (job) => Buffer.from([...job.payload.toString()].reverse().join('')))
      .register('progress', async (_job, ctx) => {
        await ctx.sendData('part1 ');
        await ctx.sendStatus(1, 2);
        await ctx.sendWarning('careful\n');
        return 'end\n';
      })
      .start();
    // gearmand 1.1 forwards WORK_EXCEPTION to a client without OPTION `exceptions` (the gearman
    // CLI) as a WORK_FAIL whose handle keeps its NUL, which libgearman cannot match: the CLI then
    // waits forever. A worker meant for such clients reports errors as WORK_FAIL.
    await r
      .worker({ onError: 'fail' })
      .register('boom', () => {
        throw new Error('no way');
      })
      .start();
    const port = r.server.port;
    t.deepEqual(await gearman(port, ['-f', 'rev'], 'hello'), { stdout: 'olleh', stderr: '', code: 0 });
    t.deepEqual(await gearman(port, ['-n', '-f', 'rev'], 'ab\ncd\n'), { stdout: '\nba\ndc', stderr: '', code: 0 });
    const progress = await gearman(port, ['-f', 'progress', '-s']);
    // gearman writes data with write(2) and status with printf, so their order on a pipe is not kept.
    t.is(progress.stdout.replace('50% Complete\n', ''), 'part1 end\n');
    t.true(progress.stdout.includes('50% Complete\n'));
    t.like(progress, { stderr: 'careful\n', code: 0 });
    const failed = await gearman(port, ['-f', 'boom', 'x']);
    t.is(failed.stderr, 'Job failed\n', 'gearman never asks for exceptions, so it sees a failure');
    t.not(failed.code, 0);
    const bg = await run('gearman', ['-h', '127.0.0.1', '-p', String(port), '-b', '-f', 'rev', 'background']);
    t.is(bg.stdout, '');
  });
}
