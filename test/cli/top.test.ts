/**
 * `geartrain top`: `--once` snapshots checked against gearadmin on gearmand and on geartrain,
 * `/status` extras against a geartrain server's HTTP port, and the live screen in tmux.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '../../src/client/client.ts';
import { Worker } from '../../src/client/worker.ts';
import { JobServer } from '../../src/server/index.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS } from '../helpers/servers.ts';
import { runProcess, type Ran } from '../client/helpers/cli.ts';
import { gate } from '../client/helpers/gate.ts';
import { rig } from '../client/helpers/setup.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// `top` runs from its module until src/cli/main.ts lists it; then `bin/geartrain.js top` is the same.
const RUNNER = [
  `import { run } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'src/cli/top.ts')).href)};`,
  `import { processIO } from ${JSON.stringify(pathToFileURL(path.join(ROOT, 'src/cli/io.ts')).href)};`,
  'process.exitCode = await run(process.argv.slice(1), processIO());',
].join('\n');
const TOP = [process.execPath, '--import', 'tsx', '--input-type=module', '-e', RUNNER, '--'];

async function top(args: string[]): Promise<Ran> {
  const out = await runProcess(TOP[0]!, [...TOP.slice(1), ...args]);
  // runProcess reads latin1; top writes UTF-8 (the sparkline).
  const utf8 = (s: string) => Buffer.from(s, 'latin1').toString('utf8');
  return { ...out, stdout: utf8(out.stdout), stderr: utf8(out.stderr) };
}

/** The rows of the text table whose header line starts with `first`, as header → cell maps. */
function table(text: string, first: string): Record<string, string>[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(first + ' '));
  if (start === -1) return [];
  const head = lines[start]!.trim().split(/ {2,}/);
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    const cells = line.trim().split(/ {2,}/);
    rows.push(Object.fromEntries(head.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
}

function listing(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l !== '.' && l !== '')
    .map((l) => l.split('\t'));
}

for (const kind of SERVER_KINDS) {
  test(`${kind}: top --once shows what gearadmin shows, and runs from task unique keys`, async (t) => {
    const r = await rig(t, kind);
    await r.worker({ clientId: 'top-worker' }).register('top_fn', () => '').start();
    const client = r.client();
    for (const priority of ['high', 'high', 'low'] as const) await client.submitBackground('top_queued', 'x', { priority });
    await client.submitBackground('geartrain.map@n1', '{}', { unique: 'rtop1:m00000:0' });
    await client.submitBackground('geartrain.map@n2', '{}', { unique: 'rtop1:m00001:0' });
    await client.submitBackground('geartrain.reduce', '{}', { unique: 'rtop1:t1r0a0' });
    const p = ['-h', '127.0.0.1', '-p', String(r.server.port)];

    const out = await top([...p, '--once']);
    t.is(out.stderr, '');
    t.is(out.code, 0);
    t.regex(out.stdout, new RegExp(`^geartrain top  ${r.server.address.replace(/\./g, '\\.')}  version `));
    const [status, priorities, workers] = await Promise.all([
      runProcess('gearadmin', [...p, '--status']),
      runProcess('gearadmin', [...p, '--priority-status']),
      runProcess('gearadmin', [...p, '--workers']),
    ]);
    const rows = table(out.stdout, 'FUNCTION');
    const expected = listing(status.stdout).map(([name, total, running, w]) => ({ name, queued: String(Number(total) - Number(running)), running, workers: w }));
    t.deepEqual(
      rows.map((row) => ({ name: row.FUNCTION, queued: row.QUEUED, running: row.RUNNING, workers: row.WORKERS })),
      expected.sort((a, b) => (a.name! < b.name! ? -1 : 1)),
    );
    for (const [name, high, normal, low] of listing(priorities.stdout)) {
      const row = rows.find((x) => x.FUNCTION === name)!;
      t.deepEqual([row.HIGH, row.NORMAL, row.LOW], [high, normal, low], name);
    }
    const mine = listing(workers.stdout).map((l) => l[0]!).find((l) => l.includes(' top-worker :'))!;
    const fd = mine.split(' ')[0];
    t.deepEqual(table(out.stdout, 'FD').find((w) => w['CLIENT-ID'] === 'top-worker'), { FD: fd!, ADDRESS: '127.0.0.1', 'CLIENT-ID': 'top-worker', FUNCTIONS: 'top_fn' });
    t.deepEqual(table(out.stdout, 'RUN'), [{ RUN: 'rtop1', 'MAP TASKS': '2', 'REDUCE TASKS': '1', 'TASKS DONE': '-', PROGRESS: '-', NODES: '-' }]);

    const json = await top([...p, '--once', '--json']);
    t.is(json.code, 0);
    const view = JSON.parse(json.stdout);
    t.is(view.server, r.server.address);
    t.is(view.error, null);
    t.deepEqual(view.functions.find((f: { name: string }) => f.name === 'top_queued'), {
      name: 'top_queued', queued: 3, high: 2, normal: 0, low: 1, running: 0, workers: 0, doneLastMinute: null,
    });
    t.deepEqual(view.runs, [{ runId: 'rtop1', mapTasks: 2, reduceTasks: 1, tasksDone: null, bytesDone: null, bytesTotal: null, nodes: [] }]);
  });
}

for (const kind of SERVER_KINDS) {
  test(`${kind}: top --once counts a speculative copy (unique key ending in s) as a map task of its run`, async (t) => {
    const r = await rig(t, kind);
    const client = r.client();
    await client.submitBackground('geartrain.map@n1', '{}', { unique: 'rspec1:m00000:0' });
    await client.submitBackground('geartrain.map@n2', '{}', { unique: 'rspec1:m00000:0s' });
    const out = await top(['-h', '127.0.0.1', '-p', String(r.server.port), '--once']);
    t.is(out.code, 0, out.stderr);
    t.deepEqual(table(out.stdout, 'RUN'), [{ RUN: 'rspec1', 'MAP TASKS': '2', 'REDUCE TASKS': '0', 'TASKS DONE': '-', PROGRESS: '-', NODES: '-' }]);
  });
}

test('top --once --http adds throughput and run progress from a geartrain server\'s /status', async (t) => {
  const server = new JobServer({ port: 0, httpPort: 0 });
  t.teardown(() => server.destroy());
  const { port } = await server.listen();
  const h = server.httpAddress()!;
  const own = <T extends { destroy(): void }>(x: T) => (t.teardown(() => x.destroy()), x);
  const release = gate();
  await own(new Worker({ servers: `127.0.0.1:${port}`, concurrency: 2 }))
    .register('http_fn', () => 'ok')
    .register('geartrain.map@n1', async (job, ctx) => {
      if (job.payload.toString() === 'quick') return '{}';
      await ctx.sendStatus(50, 200);
      await release.opened;
      return '{}';
    })
    .start();
  t.teardown(() => release.open());
  const client = own(new Client({ servers: `127.0.0.1:${port}` }));
  for (let i = 0; i < 3; i++) await client.call('http_fn', String(i));
  await client.call('geartrain.map@n1', 'quick', { unique: 'rhttp1:m00001:0' });
  void client.submit('geartrain.map@n1', '{}', { unique: 'rhttp1:m00000:0' }).result.catch(() => {});
  await waitFor(() => {
    const s = server.monitor!.status();
    return s.throughput.completedLastMinute === 4 && s.runs[0]?.bytesTotal === 200;
  }, 'throughput sampled and the task running');

  const out = await top(['-p', String(port), '--http', `http://${h.host}:${h.port}/`, '--once']);
  t.is(out.stderr, '');
  t.is(out.code, 0);
  t.regex(out.stdout, /  done\/min 4  heap after GC \d/);
  t.regex(out.stdout, /^done per second, last \d+ s: [▁-█]+$/m);
  t.is(table(out.stdout, 'FUNCTION').find((r) => r.FUNCTION === 'http_fn')!['DONE/MIN'], '3');
  t.deepEqual(table(out.stdout, 'RUN'), [{ RUN: 'rhttp1', 'MAP TASKS': '1', 'REDUCE TASKS': '0', 'TASKS DONE': '1', PROGRESS: '25.0% of 200 B', NODES: 'n1' }]);
});

test('top --once: an unreachable server is reported and the exit status is 1', async (t) => {
  const port = await refusedPort();
  const out = await top(['-p', String(port), '--once']);
  t.is(out.code, 1);
  t.regex(out.stdout, new RegExp(`127\\.0\\.0\\.1:${port}[^\\n]*\\n  unreachable: .*ECONNREFUSED`));
  const bad = await top(['--http', 'ftp://x', '--once']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /--http: not an http:\/\/ URL/);
  const help = await top(['-H']);
  t.is(help.code, 0);
  t.regex(help.stdout, /--once/);
});

const execFileAsync = promisify(execFile);

test('interactive top in a terminal (tmux) refreshes live and quits on q and on Ctrl-C', async (t) => {
  const server = new JobServer({ port: 0 });
  t.teardown(() => server.destroy());
  const { port } = await server.listen();
  const client = new Client({ servers: `127.0.0.1:${port}` });
  t.teardown(() => client.destroy());
  const socket = `gt-top-${process.pid}`;
  const tmux = (...args: string[]) => execFileAsync('tmux', ['-L', socket, ...args]).then((r) => r.stdout);
  t.teardown(() => tmux('kill-server').catch(() => {}));
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = [...TOP, '-p', String(port), '-d', '0.2'].map(quote).join(' ');
  const screen = () => tmux('capture-pane', '-p', '-t', 'top');

  let queued = 0;
  for (const key of ['q', 'C-c']) {
    await tmux('new-session', '-d', '-s', 'top', '-x', '120', '-y', '30', '-c', ROOT, `${cmd}; echo TOP-EXIT=$?; sleep 60`);
    await client.submitBackground('tmux_fn', 'a');
    queued++;
    const row = async (n: number) => /^tmux_fn +(\d+)/m.exec(await screen())?.[1] === String(n);
    await waitFor(() => row(queued), 'the first snapshot', 15_000).catch(async (err: Error) => {
      throw new Error(`${err.message}; screen:\n${await screen()}`);
    });
    await client.submitBackground('tmux_fn', 'b');
    queued++;
    await waitFor(() => row(queued), 'the screen to follow the queue');
    t.regex(await screen(), /q quits/);
    await tmux('send-keys', '-t', 'top', key);
    const after = await waitFor(async () => {
      const s = await screen();
      return s.includes('TOP-EXIT=') ? s : undefined;
    }, `top to quit on ${key}`);
    t.regex(after, /TOP-EXIT=0/);
    t.notRegex(after, /tmux_fn/, 'the alternate screen is left, the shell screen is back');
    await tmux('kill-session', '-t', 'top');
  }
});
