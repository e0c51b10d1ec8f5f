/**
 * The command line behaves like the tools people know: --version, `help CMD`, -H listed in every
 * help, "did you mean" for commands, jobs and flags, common flags anywhere on the line, `analyze
 * --job J` with J's own arguments, and one set of exit statuses for every command (0 ok, 1 failure,
 * 2 usage, 3 incomplete, 130/143 interrupted). Reference counts come from grep and awk.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { cli } from '../helpers/in-process-cli.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';

const VERSION = (JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

test('--version and -V print the package version and exit 0', async (t) => {
  for (const flag of ['--version', '-V']) {
    const r = await cli([flag]);
    t.is(r.code, 0, flag);
    t.is(r.stdout, `geartrain ${VERSION}\n`, flag);
  }
});

test('every command lists -H, --help in its help, and `geartrain help CMD` prints the same help', async (t) => {
  const list = await cli(['--help']);
  const commands = [...list.stdout.matchAll(/^ {2}([a-z][a-z-]+) {2,}/gm)].map((m) => m[1]!);
  t.true(commands.length >= 12, list.stdout);
  t.regex(list.stdout, /-H, --help/);
  t.regex(list.stdout, /-V, --version/);
  for (const command of commands) {
    const own = await cli([command, '-H']);
    t.is(own.code, 0, `${command} -H: ${own.stderr}`);
    t.regex(own.stdout, /^\s+-H, --help\s+\S/m, `${command} -H lists -H, --help`);
    const viaHelp = await cli(['help', command]);
    t.is(viaHelp.code, 0, `help ${command}`);
    t.is(viaHelp.stdout, own.stdout, `geartrain help ${command} = geartrain ${command} -H`);
  }
});

test('did you mean: a mistyped command, job or flag names the nearest one, with exit status 2', async (t) => {
  const p = ['-p', String(await refusedPort())];
  const cases: [string[], RegExp][] = [
    [['nod'], /unknown command 'nod' \(did you mean node\?\)/],
    [['anlyze'], /did you mean analyze\?/],
    [['run', 'gerp', 'x', ...p], /unknown job 'gerp' \(did you mean grep\?\)/],
    [['run', 'count', '--by', 'status', '--limt', '3', ...p], /unknown flag --limt \(did you mean --limit\?\)/],
    [['server', '--prot', '0'], /unknown flag --prot \(did you mean --port\?\)/],
    [['admin', '--stauts'], /did you mean --status\?/],
    [['job', '--concurency', '2', '-f', 'x'], /did you mean --concurrency\?/],
  ];
  for (const [args, says] of cases) {
    const r = await cli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, says, args.join(' '));
    t.is(r.stdout, '', args.join(' '));
  }
});

test('`run -h` with no value says that -h is the host and -H the help', async (t) => {
  for (const args of [['run', '-h'], ['run', 'grep', 'x', '-h']]) {
    const r = await cli(args);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, /-h is the job server's host .*help is -H or --help/, args.join(' '));
  }
});

test('usage errors exit 2 in every command, run and server included', async (t) => {
  const p = ['-p', String(await refusedPort())];
  const cases: string[][] = [
    ['run', 'count', ...p],
    ['run', 'count', '--by', 'nosuchfield', ...p],
    ['run', 'count', '--by', 'status', '--since', 'yesterday', ...p],
    ['server', '--bogus'],
    ['server', '-q', 'memory', '-p', 'notaport'],
    ['node', '--bogus'],
    ['ship', '--bogus'],
    ['top', '--http', 'ftp://x', '--once'],
    ['report', 'a.json', 'b.json'],
    ['gen-logs'],
    ['job', '--bogus'],
    ['admin', '--bogus'],
    ['analyze', '--bogus', 'x.log'],
  ];
  for (const args of cases) {
    const r = await cli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  }
});

test.serial('common flags anywhere on the line; analyze --job J takes J\'s own arguments; --funnel /,/x needs no =', async (t) => {
  const dir = tempDir(t);
  const log = path.join(dir, 'web1.log');
  await writeLog(log, { lines: 3000, seed: 5, invalidRate: 0, oddRate: 0 });
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  await startNode(t, { name: 'web1', servers: server.address, data: path.join(dir, 'data'), logs: [log], extra: ['--concurrency', '1', '--poll-ms', '0'] });
  const expected = Number(execFileSync('grep', ['-a', '-c', 'GET', log]).toString().trim());

  for (const args of [
    ['run', '-p', String(server.port), 'grep', '-c', 'GET', '--json'],
    ['run', '--servers', server.address, '--json', 'grep', 'GET', '-c'],
    ['run', 'grep', '-p', String(server.port), 'GET', '-c', '--json'],
  ]) {
    const r = await cli(args);
    t.is(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    t.is((JSON.parse(r.stdout) as { result: { total: number } }).result.total, expected, args.join(' '));
  }

  const top = await cli(['analyze', log, '--job', 'top', 'status', '--limit', '3', '--json']);
  t.is(top.code, 0, top.stderr);
  t.notRegex(top.stderr, /wait-nodes/);
  const awk = execFileSync('sh', ['-c', `awk '{c[$9]++} END {for (s in c) print c[s], s}' '${log}' | sort -k1,1nr -k2,2n | head -3`]).toString();
  const rows = (JSON.parse(top.stdout) as { result: { rows: { value: number; count: number }[] } }).result.rows;
  t.deepEqual(rows.map((r) => `${r.count} ${r.value}`).join('\n') + '\n', awk);

  const funnel = await cli(['analyze', log, '--job', 'clicks', '--funnel', '/,/cart', '--json']);
  t.is(funnel.code, 0, funnel.stderr);
  t.deepEqual((JSON.parse(funnel.stdout) as { result: { funnel: { steps: { name: string }[] } } }).result.funnel.steps.map((s) => s.name), ['/', '/cart']);
});

test.serial('a client interrupted by SIGINT exits 130, by SIGTERM 143', async (t) => {
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    // No worker serves the function: the client waits until the signal.
    const fn = `nobody_${signal}`;
    const p = spawnGeartrain(t, 'job', ['-p', String(server.port), '-f', fn, 'data']);
    await waitFor(async () => {
      const r = await cli(['admin', '-p', String(server.port), '--status']);
      return new RegExp(`^${fn}\\t1\\t`, 'm').test(r.stdout);
    }, `the job of ${fn} queued`);
    p.kill(signal);
    t.is(await p.exited(), status, `${signal}: ${p.stderrText()}`);
  }
});
