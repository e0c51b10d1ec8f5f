/**
 * The command line: `geartrain server --ssl …` (gearmand's flags and environment variables),
 * `geartrain job`/`admin` with `-S` and client-certificate flags, the limit flags, and the warning
 * printed when the server listens on a public address without TLS.
 */
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { GEARTRAIN, cleanEnv, geartrain } from '../client/helpers/cli.ts';
import { waitFor } from '../helpers/ports.ts';
import { rawPlain } from './helpers/fixture.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { makePki, type Pki } from './helpers/pki.ts';

let pki: Pki;
test.before(() => {
  pki = makePki(['alice']);
});
test.after.always(() => pki?.remove());

type Teardown = { teardown(fn: () => unknown): void };

interface Started {
  readonly port: number;
  stderr(): string;
  stdout(): string;
  readonly exited: Promise<number | null>;
}

/** Run a long-lived geartrain command (killed in teardown); for a server, wait for its ready line. */
async function startCli(t: Teardown, args: string[], env: Record<string, string> = {}, ready = /listening on \S+:(\d+)\n/): Promise<Started> {
  const child = spawn(process.execPath, [GEARTRAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let port = 0;
  if (ready.source.length > 0) {
    const m = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr}`);
      return ready.exec(stdout);
    }, `ready line of geartrain ${args[0]}`, 20_000);
    port = Number(m[1] ?? 0);
  }
  return { port, stderr: () => stderr, stdout: () => stdout, exited };
}

/** Run a command in this process (no child start-up cost); `stop()` is SIGTERM. */
function inProcess(argv: string[], env: Record<string, string> = {}) {
  const ac = new AbortController();
  let stdout = '';
  let stderr = '';
  const sink = (append: (s: string) => void) => {
    const s = new PassThrough();
    s.setEncoding('utf8').on('data', append);
    return s;
  };
  const io: CliIO = {
    stdin: new PassThrough(),
    stdout: sink((d) => (stdout += d)),
    stderr: sink((d) => (stderr += d)),
    env: cleanEnv(env),
    signal: ac.signal,
  };
  const code = main(argv, io);
  return { code, stdout: () => stdout, stderr: () => stderr, stop: () => ac.abort() };
}

const sslFlags = () => ['--ssl-ca-file', pki.ca, '--ssl-certificate', pki.clients.alice!.cert, '--ssl-key', pki.clients.alice!.key];

test('geartrain server --ssl with certificate files; job -w -S and job -S run `rev` over TLS; admin -S lists it', async (t) => {
  const server = await startCli(t, ['server', '-q', 'memory', '-p', '0', '--ssl', '--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key, '--ssl-ca-file', pki.ca, '--ssl-require-client-cert']);
  const at = ['-h', '127.0.0.1', '-p', String(server.port)];
  await startCli(t, ['job', '-w', '-S', ...sslFlags(), ...at, '-f', 'rev', '--', 'rev'], {}, /(?:)/);
  await waitFor(async () => (await geartrain(['admin', '-S', ...sslFlags(), ...at, '--status'])).stdout.includes('rev\t0\t0\t1'), 'the worker to register');
  const input = 'hello over tls\nsecond line\n';
  const expected = execFileSync('rev', { input, encoding: 'utf8' });
  const ran = await geartrain(['job', '-S', ...sslFlags(), ...at, '-f', 'rev'], input);
  t.is(ran.code, 0, ran.stderr);
  t.is(ran.stdout, expected);
  t.is(server.stderr(), '', 'no warning for a loopback TLS server');
});

test("gearmand's environment variables: GEARMAND_SERVER_PEM/_KEY/_CA_CERTIFICATE for the server, GEARMAND_CA_CERTIFICATE and GEARMAN_CLIENT_PEM/_KEY for -S", async (t) => {
  const server = await startCli(t, ['server', '-q', 'memory', '-p', '0', '--ssl', '--ssl-require-client-cert'], {
    GEARMAND_SERVER_PEM: pki.server.cert,
    GEARMAND_SERVER_KEY: pki.server.key,
    GEARMAND_CA_CERTIFICATE: pki.ca,
  });
  const env = cleanEnv({ GEARMAND_CA_CERTIFICATE: pki.ca, GEARMAN_CLIENT_PEM: pki.clients.alice!.cert, GEARMAN_CLIENT_KEY: pki.clients.alice!.key });
  const ran = await geartrain(['admin', '-S', '-h', '127.0.0.1', '-p', String(server.port), '--server-version'], '', env);
  t.is(ran.code, 0, ran.stderr);
  t.regex(ran.stdout, /^1\.1\.\d+/);
  // The variables alone do not turn TLS on: without -S the client speaks plain text and is told so.
  const plain = await geartrain(['admin', '-h', '127.0.0.1', '-p', String(server.port), '--server-version'], '', env);
  t.is(plain.code, 1);
  t.regex(plain.stderr, /TLS_REQUIRED.*the server speaks TLS\? try --ssl/);
});

test('without -S against a TLS server, job and job -w exit 1 saying "the server speaks TLS? try --ssl"', async (t) => {
  const server = await startCli(t, ['server', '-q', 'memory', '-p', '0', '--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key]);
  const at = ['-h', '127.0.0.1', '-p', String(server.port)];
  const client = await geartrain(['job', ...at, '-f', 'f', 'x']);
  t.is(client.code, 1);
  t.regex(client.stderr, /the server speaks TLS\? try --ssl/);
  const worker = await geartrain(['job', '-w', ...at, '-f', 'f']);
  t.is(worker.code, 1);
  t.regex(worker.stderr, /the server speaks TLS\? try --ssl/);
});

test('listening on a public address without TLS prints a warning; with TLS it does not', async (t) => {
  for (const [flags, warned] of [[[], true], [['--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key], false]] as const) {
    const run = inProcess(['server', '-q', 'memory', '-p', '0', '-L', '0.0.0.0', ...flags]);
    t.teardown(run.stop);
    await waitFor(() => run.stdout().includes('listening on 0.0.0.0:'), 'the ready line');
    if (warned) t.regex(run.stderr(), /^geartrain server: warning: listening on 0\.0\.0\.0 without TLS: anyone who can reach port \d+ can submit jobs/);
    else t.is(run.stderr(), '');
    run.stop();
    t.is(await run.code, 0);
  }
});

test('bad security flags stop the server with a message naming the flag, exit status 2 (usage)', async (t) => {
  const dir = fs.mkdtempSync(path.join(pki.dir, 'flags-'));
  const tenants = path.join(dir, 'tenants.json');
  fs.writeFileSync(tenants, JSON.stringify({ tenants: { acme: { cn: 'alice' } } }));
  const cases: [string[], RegExp][] = [
    [['--ssl', '--ssl-certificate', path.join(dir, 'missing.pem'), '--ssl-key', pki.server.key], /--ssl-certificate: cannot read .*missing\.pem: ENOENT/],
    [['--tenants', tenants, '--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key], /--tenants needs --ssl-ca-file/],
    [['--ssl-require-client-cert', '--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key], /--ssl-require-client-cert needs --ssl-ca-file/],
    [['--admin-token', 'short'], /admin token needs at least 12 characters/],
    [['--max-connections', '0'], /--max-connections must be at least 1/],
  ];
  for (const [flags, message] of cases) {
    const ran = inProcess(['server', '-q', 'memory', '-p', '0', ...flags]);
    t.is(await ran.code, 2, flags.join(' '));
    t.regex(ran.stderr(), message);
  }
  fs.writeFileSync(tenants, JSON.stringify({ tenants: { acme: { cn: 'alice' } }, default: 'nobody' }));
  const bad = inProcess(['server', '-q', 'memory', '-p', '0', '--tenants', tenants, '--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key, '--ssl-ca-file', pki.ca]);
  t.is(await bad.code, 2);
  t.regex(bad.stderr(), /tenants file .*tenants\.json at default: names no tenant of the file: nobody/);
});

test('--max-connections and --max-queue reach the server', async (t) => {
  const run = inProcess(['server', '-q', 'memory', '-p', '0', '--max-connections', '2', '--max-queue', '1']);
  t.teardown(run.stop);
  const port = Number((await waitFor(() => /listening on \S+:(\d+)/.exec(run.stdout()), 'the ready line'))[1]);
  const server = { port };
  const a = await rawPlain(t, server.port);
  a.send(T.SUBMIT_JOB_BG, 'f', '', '1');
  await a.next(T.JOB_CREATED);
  a.send(T.SUBMIT_JOB_BG, 'f', '', '2');
  t.deepEqual((await a.next(T.ERROR)).text, ['QUEUE_ERROR', 'Job queue is full']);
  const b = await rawPlain(t, server.port);
  b.send(T.ECHO_REQ, 'x');
  await b.next(T.ECHO_RES);
  const c = await rawPlain(t, server.port);
  c.send(T.ECHO_REQ, 'x');
  t.is((await c.next(T.ERROR)).text[0], 'TOO_MANY_CONNECTIONS');
});
