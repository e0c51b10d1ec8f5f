/**
 * Bad input from users, over every sub-command (`geartrain --help` lists them): malformed
 * arguments, unknown job names, invalid job parameters, files that are not what they should be.
 * Each gets one line on stderr that names the command and says what to do, a non-zero exit
 * status, nothing on stdout and no stack trace. A run over a node serving a log file of binary
 * garbage fails (exit 1) and reports its lines as bad (counted and sampled).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { main } from '../../src/cli/main.ts';
import { cleanEnv, geartrain, type Ran } from '../client/helpers/cli.ts';
import { startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { refusedPort } from '../helpers/ports.ts';

const STACK = /^\s+at .+:\d+/m;
/** How to list a command's flags: the hint for an unknown or incomplete flag. */
const helpHint = (cmd: string) => new RegExp(`geartrain ${cmd}( \\w+)? (-H|--help)`);

interface Case {
  readonly args: readonly string[];
  /** What the line must say (what to do, or what is expected). */
  readonly says: RegExp;
  readonly input?: string;
}

/** The command run in this process (as bin/geartrain.js runs it), with its output captured. */
async function cli(args: readonly string[], input = ''): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough().setEncoding('latin1');
  const err = new PassThrough().setEncoding('latin1');
  out.on('data', (d: string) => (stdout += d));
  err.on('data', (d: string) => (stderr += d));
  const code = await main([...args], { stdin: Readable.from([input]), stdout: out, stderr: err, env: cleanEnv(), signal: new AbortController().signal });
  await new Promise((r) => setImmediate(r));
  return { stdout, stderr, code };
}

function expectOneLineError(t: ExecutionContext, c: Case, out: Ran): void {
  const what = `geartrain ${c.args.join(' ')}`;
  t.not(out.code, 0, `${what}: exit status`);
  t.is(out.stdout, '', `${what}: nothing on stdout`);
  t.notRegex(out.stderr, STACK, `${what}: no stack trace`);
  const lines = out.stderr.split('\n').filter((l) => l.length > 0);
  t.is(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(out.stderr)}`);
  t.regex(lines[0] ?? '', new RegExp(`^geartrain( ${c.args[0]})?: `), `${what}: the line names the command`);
  t.regex(lines[0] ?? '', c.says, `${what}: the line says what to do`);
}

async function expectAll(t: ExecutionContext, cases: readonly Case[]): Promise<void> {
  for (const c of cases) expectOneLineError(t, c, await cli(c.args, c.input ?? ''));
}

test('as a process: an unknown command, an unknown flag and a bad value each end with one line and status 1 or 2', async (t) => {
  const cases: Case[] = [
    { args: ['frobnicate'], says: /--help/ },
    { args: ['server', '--bogus'], says: helpHint('server') },
    { args: ['gen-logs', '/tmp/x.log', '--lines', 'abc'], says: /--lines expects a number/ },
  ];
  const ran = await Promise.all(cases.map((c) => geartrain([...c.args])));
  cases.forEach((c, i) => {
    expectOneLineError(t, c, ran[i]!);
    t.true(ran[i]!.code === 1 || ran[i]!.code === 2, `exit status ${ran[i]!.code}`);
  });
});

test('an unknown command points to --help', async (t) => {
  await expectAll(t, [{ args: ['frobnicate'], says: /--help/ }]);
});

test('server: unknown flags, bad numbers, unknown queue and log level', async (t) => {
  // -q memory: a refused start must not leave a queue file behind in the working directory.
  await expectAll(t, [
    { args: ['server', '--bogus'], says: helpHint('server') },
    { args: ['server', '-q', 'memory', '-p', 'notaport'], says: /--port.*integer/ },
    { args: ['server', '-q', 'memory', '-p', '99999'], says: /port.*65535/ },
    { args: ['server', '-j', '-1'], says: /-j|--job-retries/ },
    { args: ['server', '-q', 'nosuch'], says: /memory, sqlite, postgres, redis/ },
    { args: ['server', '-q', 'memory', '--verbose', 'LOUD'], says: /one of FATAL/ },
    { args: ['server', '-q', 'memory', '--max-packet-size', '12'], says: /1024/ },
    { args: ['server', 'stray-argument'], says: helpHint('server') },
  ]);
});

test('server: a refused start with the default SQLite queue leaves no data directory behind', async (t) => {
  const data = path.join(tempDir(t), 'not-yet');
  await expectAll(t, [
    { args: ['server', '--data', data, '-p', 'notaport'], says: /--port.*integer/ },
    { args: ['server', '--data', data, '--max-packet-size', '12'], says: /1024/ },
  ]);
  t.false(fs.existsSync(data), `${data} was created`);
});

test('job: unknown flags, missing values and bad numbers', async (t) => {
  const port = String(await refusedPort());
  await expectAll(t, [
    { args: ['job', '--bogus'], says: helpHint('job') },
    { args: ['job', '-f'], says: helpHint('job') },
    { args: ['job', '-p', port], says: /-f FUNC/ },
    { args: ['job', '-p', port, '-t', 'abc', '-f', 'x', 'y'], says: /-t: expected an integer/ },
    { args: ['job', '-p', 'abc', '-f', 'x', 'y'], says: /-p: bad port/ },
    { args: ['job', '-w', '-p', port, '-f', 'x', '-c', 'many'], says: /-c: expected an integer/ },
  ]);
});

test('admin: unknown flags, missing values, no command', async (t) => {
  await expectAll(t, [
    { args: ['admin', '--bogus'], says: helpHint('admin') },
    { args: ['admin', '--cancel-job'], says: helpHint('admin') },
    { args: ['admin'], says: /--status/ },
    { args: ['admin', '--drop-function', 'two words', '-p', '1'], says: /one word/ },
  ]);
});

test('run: unknown jobs, missing and invalid job parameters, bad flags', async (t) => {
  // Nothing listens there: parameters must be refused before any connection is tried.
  const p = ['-p', String(await refusedPort())];
  await expectAll(t, [
    { args: ['run', 'nosuchjob', ...p], says: /built-in jobs: .*count/ },
    { args: ['run', './no/such/job.ts', ...p], says: /does not exist/ },
    { args: ['run', 'count', ...p], says: /--by/ },
    { args: ['run', 'count', '--by', 'nosuchfield', ...p], says: /unknown field 'nosuchfield' .*geartrain fields/ },
    { args: ['run', 'count', '--by', 'status', '--limit', 'abc', ...p], says: /--limit expects a number/ },
    { args: ['run', 'count', '--by', 'status', '--limit', '-3', ...p], says: /--limit/ },
    { args: ['run', 'count', '--by', 'status', '--since', 'yesterday', ...p], says: /ISO 8601/ },
    { args: ['run', 'count', '--by', 'status', '--where', 'status >>> 5', ...p], says: /--where/ },
    { args: ['run', 'count', '--by', 'status', '--fan-in', '1', ...p], says: /--fan-in must be at least 2/ },
    { args: ['run', 'count', '--by', 'status', '--bogus', ...p], says: helpHint('run') },
    { args: ['run', 'top', ...p], says: /FIELD/ },
    { args: ['run', 'grep', ...p], says: /PATTERN|pattern/ },
  ]);
});

test('node: unknown flags, bad numbers, a LogFormat that does not compile', async (t) => {
  const p = ['-p', String(await refusedPort())];
  await expectAll(t, [
    { args: ['node', '--bogus'], says: helpHint('node') },
    { args: ['node', '--name', 'x', '--concurrency', '0', ...p], says: /--concurrency must be at least 1/ },
    { args: ['node', '--name', 'x', '--verbose', 'LOUD', ...p], says: /one of FATAL/ },
    { args: ['node', '--name', 'x', '--format', '%{bogus', ...p], says: /--format/ },
  ]);
});

test('ship: no function, unknown flags, bad numbers', async (t) => {
  const p = ['-p', String(await refusedPort())];
  await expectAll(t, [
    { args: ['ship', ...p], says: /-f logger/ },
    { args: ['ship', '--bogus'], says: helpHint('ship') },
    { args: ['ship', '-f', 'logger', '--batch-lines', '0', ...p], says: /--batch-lines must be at least 1/ },
  ]);
});

test('report: wrong number of files, a missing file, a file that is not JSON', async (t) => {
  const dir = tempDir(t, 'geartrain-bad-input-');
  const garbage = path.join(dir, 'garbage.json');
  // Binary bytes with a newline early on: the error must not echo them across lines.
  fs.writeFileSync(garbage, Buffer.from([0x61, 0x62, 0x0a, 0x63, 0x00, 0xff, 0x7b, 0x0a, 0x1b, 0x5b, 0x32, 0x4a]));
  const notReport = path.join(dir, 'other.json');
  fs.writeFileSync(notReport, '{"hello": "world"}\n');
  await expectAll(t, [
    { args: ['report', 'a.json', 'b.json'], says: /RESULT\.json|-H/ },
    { args: ['report', '--bogus'], says: helpHint('report') },
    { args: ['report', path.join(dir, 'missing.json')], says: /missing\.json/ },
    { args: ['report', garbage], says: /--json/ },
    { args: ['report', notReport], says: /--json/ },
  ]);
});

test('gen-logs: no file, bad numbers, unknown format, a directory that does not exist', async (t) => {
  const dir = tempDir(t, 'geartrain-bad-input-');
  const out = path.join(dir, 'x.log');
  await expectAll(t, [
    { args: ['gen-logs'], says: /FILE/ },
    { args: ['gen-logs', out, '--lines', 'abc'], says: /--lines expects a number/ },
    { args: ['gen-logs', out, '--days', '-1'], says: /--days/ },
    { args: ['gen-logs', out, '--format', 'nosuch', '--lines', '10'], says: /combined/ },
    { args: ['gen-logs', path.join(dir, 'no', 'such', 'dir', 'x.log'), '--lines', '10'], says: /no[/\\]such[/\\]dir/ },
    { args: ['gen-logs', out, '--bogus'], says: helpHint('gen-logs') },
  ]);
});

/** Deterministic binary garbage (xorshift), with NULs, CRs and LFs among other bytes. */
function garbageBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  if (b[n - 1] === 0x0a) b[n - 1] = 0x41;
  return b;
}

test('a log file of binary garbage: run count fails (exit 1), printing no table but the bad lines counted and sampled', async (t) => {
  const dir = tempDir(t, 'geartrain-bad-input-');
  const log = path.join(dir, 'access.log');
  fs.writeFileSync(log, garbageBytes(300_000, 20261001));
  // Reference from coreutils: newline-terminated lines, plus the unterminated last one.
  const lines = Number(execFileSync('wc', ['-l', log]).toString().trim().split(/\s+/)[0]) + 1;
  const server = await startServerProcess(t, ['-p', '0', '-q', 'memory']);
  await startNode(t, { name: 'junk', servers: server.address, data: path.join(dir, 'node'), logs: [log] });

  const text = await geartrain(['run', 'count', '--by', 'status', '--servers', server.address]);
  t.is(text.code, 1, text.stderr);
  t.is(text.stdout, '');
  t.notRegex(text.stderr, STACK);
  t.regex(text.stderr, new RegExp(`^geartrain run: ${lines} of ${lines} lines \\(100%\\) are not valid log lines \\(`), `stderr says how many lines were bad: ${JSON.stringify(text.stderr)}`);
  t.regex(text.stderr, /^geartrain run: none of the known formats .* parses the samples: these are not access logs, or start the nodes with --format '...'/m);

  // The JSON report is still written, for what it says about the input.
  const json = await geartrain(['run', 'count', '--by', 'status', '--servers', server.address, '--json']);
  t.is(json.code, 1, json.stderr);
  const report = JSON.parse(json.stdout) as {
    result: { total: number };
    counters: { bad_lines: number; records: number };
    stats: { samples: { reason: string; source: string; offset: number }[] };
  };
  t.is(report.counters.bad_lines, lines);
  t.is(report.counters.records, 0);
  t.is(report.result.total, 0);
  t.true(report.stats.samples.length > 0, 'bad lines are sampled');
  for (const s of report.stats.samples) {
    t.is(s.source, `junk:${log}`);
    t.true(Number.isInteger(s.offset) && s.offset >= 0 && s.offset < 300_000);
  }
});
