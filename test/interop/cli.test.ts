/**
 * The real Gearman command-line tools (Debian's `gearman` and `gearadmin` 1.1.20) against each
 * server kind: `gearman` as worker and as client (-b -n -I -L -u), and every gearadmin option
 * users reach for. Every spawned process is killed in teardown; registration is awaited by
 * polling `status`, never by sleeping.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { SERVER_KINDS, startServer, type ServerKind } from '../helpers/servers.ts';
import type { RunningServer } from '../helpers/gearmand.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { waitFor } from '../helpers/ports.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';

interface Ctx {
  kind: ServerKind;
  server: RunningServer;
  /** Admin connection (raw) for checks. */
  admin(line: string): Promise<string>;
  raw(): Promise<RawClient>;
  /** Arguments that point a tool at this server. */
  at: string[];
}

async function setup(t: ExecutionContext, kind: ServerKind): Promise<Ctx> {
  const server = await startServer(kind);
  const open: RawClient[] = [];
  t.teardown(() => server.stop());
  t.teardown(async () => {
    await Promise.all(open.map((c) => c.close()));
  });
  const raw = async () => {
    const c = await RawClient.connect(server.port, server.host);
    open.push(c);
    return c;
  };
  let adminConn: RawClient | null = null;
  return {
    kind,
    server,
    raw,
    async admin(line) {
      adminConn ??= await raw();
      return adminConn.admin(line);
    },
    at: ['-h', server.host, '-p', String(server.port)],
  };
}

/** Start a long-running process that is killed (and awaited) in teardown. */
function spawnTracked(t: ExecutionContext, cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  child.on('error', () => {}); // surfaced through the exit code / missing output
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return child;
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion (killed after `timeoutMs`), feeding `input` on stdin. */
function run(t: ExecutionContext, cmd: string, args: string[], input?: string, timeoutMs = 10_000): Promise<RunResult> {
  const child = spawnTracked(t, cmd, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('latin1').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  if (input !== undefined) child.stdin!.end(input);
  else child.stdin!.end();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${timeoutMs} ms; stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function statusRow(text: string, fn: string): number[] | undefined {
  const line = text.split('\n').find((l) => l.split('\t')[0] === fn);
  return line?.split('\t').slice(1).map(Number);
}

/** Poll `status` until `fn` has at least `n` registered workers. */
async function workersRegistered(c: Ctx, fn: string, n = 1): Promise<void> {
  await waitFor(async () => (statusRow(await c.admin('status'), fn)?.[2] ?? 0) >= n, `${n} worker(s) for ${fn}`);
}

/**
 * A raw worker for `fn` that records each workload and completes it with `reply(workload)`.
 * It runs until its connection is closed in teardown.
 */
async function rawWorker(c: Ctx, fn: string, reply: (workload: Buffer) => Buffer | string): Promise<{ workloads: Buffer[]; uniques: string[] }> {
  const w = await c.raw();
  const seen = { workloads: [] as Buffer[], uniques: [] as string[] };
  w.send(T.CAN_DO, fn);
  void (async () => {
    for (;;) {
      w.send(T.GRAB_JOB_UNIQ);
      const p = await w.next(undefined, 60_000);
      if (p.type === T.NO_JOB) {
        w.send(T.PRE_SLEEP);
        await w.next(T.NOOP, 60_000);
        continue;
      }
      if (p.type !== T.JOB_ASSIGN_UNIQ) continue;
      seen.uniques.push(p.text[2]!);
      seen.workloads.push(p.args[3]!);
      w.send(T.WORK_COMPLETE, p.args[0]!, reply(p.args[3]!));
    }
  })().catch(() => {}); // ends when the connection closes
  await workersRegistered(c, fn);
  return seen;
}

function cli(title: string, body: (t: ExecutionContext, c: Ctx) => Promise<void>): void {
  for (const kind of SERVER_KINDS) {
    test(`${kind}: ${title}`, async (t) => body(t, await setup(t, kind)));
  }
}

cli('gearman -w -f rev -- rev serves `echo hello | gearman -f rev` → olleh', async (t, c) => {
  spawnTracked(t, 'gearman', [...c.at, '-w', '-f', 'rev', '--', 'rev']);
  await workersRegistered(c, 'rev');
  const r = await run(t, 'gearman', [...c.at, '-f', 'rev'], 'hello\n');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'olleh\n');
  // Each trailing argument is a job of its own.
  const r2 = await run(t, 'gearman', [...c.at, '-f', 'rev', 'abc', 'xyz']);
  t.is(r2.code, 0, r2.stderr);
  t.is(r2.stdout, 'cbazyx');
});

cli('gearman -w -f rev -c 1 exits after one job', async (t, c) => {
  const worker = spawnTracked(t, 'gearman', [...c.at, '-w', '-c', '1', '-f', 'rev', '--', 'rev']);
  const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
  await workersRegistered(c, 'rev');
  const r = await run(t, 'gearman', [...c.at, '-f', 'rev'], 'once\n');
  t.is(r.stdout, 'ecno\n');
  t.is(await exited, 0);
});

cli('gearman -n sends one job per line', async (t, c) => {
  const seen = await rawWorker(c, 'lines', (w) => w.toString('latin1').toUpperCase());
  const r = await run(t, 'gearman', [...c.at, '-n', '-f', 'lines'], 'one\ntwo\nthree\n');
  t.is(r.code, 0, r.stderr);
  t.deepEqual(seen.workloads.map((b) => b.toString('latin1')), ['one\n', 'two\n', 'three\n']);
  t.is(r.stdout, 'ONE\nTWO\nTHREE\n');
});

cli('gearman -b queues a background job and returns at once', async (t, c) => {
  const r = await run(t, 'gearman', [...c.at, '-b', '-f', 'later'], 'bg payload\n');
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.deepEqual(statusRow(await c.admin('status'), 'later'), [1, 0, 0]);
  const seen = await rawWorker(c, 'later', () => 'done');
  await waitFor(() => seen.workloads.length === 1, 'the background job to run');
  t.is(seen.workloads[0]!.toString('latin1'), 'bg payload\n');
});

cli('gearman -I and -L submit at HIGH and LOW priority (background and foreground)', async (t, c) => {
  t.is((await run(t, 'gearman', [...c.at, '-b', '-I', '-f', 'p', 'high'])).code, 0);
  t.is((await run(t, 'gearman', [...c.at, '-b', '-L', '-f', 'p', 'low'])).code, 0);
  t.true((await c.admin('prioritystatus')).split('\n').includes('p\t1\t0\t1\t0'));
  // A foreground -I job waits in the HIGH column until a worker takes it.
  const fg = run(t, 'gearman', [...c.at, '-I', '-f', 'pf', 'urgent']);
  await waitFor(async () => (await c.admin('prioritystatus')).split('\n').includes('pf\t1\t0\t0\t0'), 'the -I job to be queued');
  await rawWorker(c, 'pf', (w) => `got ${w.toString('latin1')}`);
  const r = await fg;
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'got urgent');
});

cli('gearman -u sets the unique key, and a second submit with it coalesces', async (t, c) => {
  t.is((await run(t, 'gearman', [...c.at, '-b', '-u', 'my-unique', '-f', 'u', 'one'])).code, 0);
  t.is((await run(t, 'gearman', [...c.at, '-b', '-u', 'my-unique', '-f', 'u', 'two'])).code, 0);
  t.true((await c.admin('show unique jobs')).split('\n').includes('my-unique'));
  t.deepEqual(statusRow(await c.admin('status'), 'u'), [1, 0, 0]);
  const seen = await rawWorker(c, 'u', () => '');
  await waitFor(() => seen.uniques.length === 1, 'the job to run');
  t.deepEqual(seen.uniques, ['my-unique']);
  t.is(seen.workloads[0]!.toString('latin1'), 'one');
});

cli('gearadmin --status and --workers show a registered gearman worker', async (t, c) => {
  spawnTracked(t, 'gearman', [...c.at, '-w', '-f', 'rev', '--', 'rev']);
  await workersRegistered(c, 'rev');
  const status = await run(t, 'gearadmin', [...c.at, '--status']);
  t.is(status.code, 0);
  t.true(status.stdout.split('\n').includes('rev\t0\t0\t1'), status.stdout);
  t.true(status.stdout.endsWith('.\n'));
  const workers = await run(t, 'gearadmin', [...c.at, '--workers']);
  t.true(workers.stdout.split('\n').some((l) => /^\d+ 127\.0\.0\.1 \S+ : rev$/.test(l)), workers.stdout);
});

cli('gearadmin --show-jobs, --priority-status and --cancel-job', async (t, c) => {
  const client = await c.raw();
  client.send(T.SUBMIT_JOB_LOW_BG, 'victim', 'v', 'x');
  const handle = (await client.next(T.JOB_CREATED)).text[0]!;
  const jobs = await run(t, 'gearadmin', [...c.at, '--show-jobs']);
  t.true(jobs.stdout.split('\n').some((l) => l.startsWith(`${handle}\t0\t0\t`)), jobs.stdout);
  const prio = await run(t, 'gearadmin', [...c.at, '--priority-status']);
  t.true(prio.stdout.split('\n').includes('victim\t0\t0\t1\t0'), prio.stdout);
  const cancel = await run(t, 'gearadmin', [...c.at, '--cancel-job', handle]);
  t.is(cancel.code, 0);
  t.is(cancel.stdout, 'OK\n');
  const w = await c.raw();
  w.send(T.CAN_DO, 'victim');
  w.send(T.GRAB_JOB);
  t.is((await w.next()).type, T.NO_JOB);
  // An unknown handle: gearadmin prints the error but still exits 0.
  const unknown = await run(t, 'gearadmin', [...c.at, '--cancel-job', 'H:nowhere:1']);
  t.is(unknown.code, 0);
  t.regex(unknown.stdout + unknown.stderr, /Error: UNKNOWN_JOB/);
});

cli('gearadmin --show-unique-jobs lists a gearman -u job', async (t, c) => {
  t.is((await run(t, 'gearman', [...c.at, '-b', '-u', 'listed-unique', '-f', 'q', 'x'])).code, 0);
  const r = await run(t, 'gearadmin', [...c.at, '--show-unique-jobs']);
  t.true(r.stdout.split('\n').includes('listed-unique'), r.stdout);
});

cli('gearadmin --getpid and --server-version', async (t, c) => {
  const pid = await run(t, 'gearadmin', [...c.at, '--getpid']);
  t.is(pid.stdout, `${c.server.pid}\n`);
  const version = await run(t, 'gearadmin', [...c.at, '--server-version']);
  t.regex(version.stdout, /^\d+\.\d+\.\d+\S*( .*)?\n$/);
  if (c.kind === 'gearmand') t.is(version.stdout, '1.1.20+ds\n');
  else t.regex(version.stdout, /geartrain/);
});

cli('gearadmin --create-function, --drop-function and --server-verbose', async (t, c) => {
  const created = await run(t, 'gearadmin', [...c.at, '--create-function', 'made-by-gearadmin']);
  t.is(created.stdout, 'OK\n', created.stderr);
  // gearadmin ends its lines with CRLF, so the name arrives whole on both servers.
  t.deepEqual(statusRow(await c.admin('status'), 'made-by-gearadmin'), [0, 0, 0]);
  const dropped = await run(t, 'gearadmin', [...c.at, '--drop-function', 'made-by-gearadmin']);
  t.is(dropped.stdout, 'OK\n', dropped.stderr);
  t.is(statusRow(await c.admin('status'), 'made-by-gearadmin'), undefined);
  const missing = await run(t, 'gearadmin', [...c.at, '--drop-function', 'made-by-gearadmin']);
  t.is(missing.code, 0);
  t.regex(missing.stdout + missing.stderr, /Error: function not found/);
  const verbose = await run(t, 'gearadmin', [...c.at, '--server-verbose']);
  t.regex(verbose.stdout, /^(FATAL|ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG)\n$/);
});
