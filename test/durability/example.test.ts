/**
 * examples/async-queue runs as its README says: the producer queues sign-up jobs through the
 * geartrain Client, the job server (SQLite queue) is killed -9 half-way and started again on the
 * same port, and in the end every job the producer was promised was carried out exactly once.
 * The expected set of jobs is computed here, not taken from the example.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { freePort, waitFor } from '../helpers/ports.ts';
import { tempDir } from '../store/helpers.ts';
import { startServer } from './helpers/server-process.ts';

const EXAMPLE = fileURLToPath(new URL('../../examples/async-queue/', import.meta.url));
const SIGNUPS = 400;

interface Program {
  readonly child: ChildProcess;
  output(): string;
  /** Exit code, once the process ended and its output was read. */
  readonly exited: Promise<number | null>;
}

/** Run one of the example's programs; resolves once its stdout matches `ready`. */
async function program(t: ExecutionContext, file: string, args: string[], ready: RegExp): Promise<Program> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(EXAMPLE, file), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  // 'close' comes after the output streams ended, so output() is complete by then.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  await waitFor(() => {
    if (ready.test(out)) return true;
    if (child.exitCode !== null) throw new Error(`${file} exited: ${out}`);
    return false;
  }, `${file} to start`, 30_000);
  return { child, output: () => out, exited };
}

const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : []);

test('examples/async-queue: kill -9 of the job server half-way loses no acknowledged job, and the worker carries out each once', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const servers = `127.0.0.1:${port}`;
  const queue = ['-q', 'sqlite', '--sqlite-db', path.join(dir, 'queue.sqlite')];
  const accepted = path.join(dir, 'accepted.log');
  const delivered = path.join(dir, 'delivered.log');

  let server = await startServer(t, queue, { port });
  await program(t, 'worker.ts', ['--servers', servers, '--delivered', delivered, '--work-ms', '5'], /^worker serving/m);
  const producer = await program(t, 'producer.ts', ['--servers', servers, '--simulate', String(SIGNUPS), '--concurrency', '8', '--accepted', accepted], /^producer listening/m);

  await waitFor(() => lines(accepted).length >= (SIGNUPS * 3) / 2, 'half of the jobs to be acknowledged', 30_000);
  await server.kill9();
  server = await startServer(t, queue, { port });

  t.is(await producer.exited, 0, producer.output());
  const expected = Array.from({ length: SIGNUPS }, (_, i) => `user${String(i).padStart(6, '0')}`)
    .flatMap((u) => [`email.verify verify:${u}`, `email.welcome welcome:${u}`, `search.index index:user:${u}`])
    .sort();
  t.deepEqual([...new Set(lines(accepted))].sort(), expected, 'every sign-up was eventually acknowledged');
  await waitFor(() => lines(delivered).length >= expected.length, 'the worker to carry out every job', 30_000);
  const done = lines(delivered);
  t.is(done.length, new Set(done).size, 'no job carried out twice');
  t.deepEqual([...done].sort(), expected);

  const check = await program(t, 'check.ts', ['--accepted', accepted, '--delivered', delivered, '--wait', '5'], /^/);
  t.is(await check.exited, 0, check.output());
  t.regex(check.output(), /^missing: +0$/m);
});
