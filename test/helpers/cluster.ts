/**
 * Helpers for multi-process tests: temp dirs, `geartrain node` / `geartrain ship` / `geartrain
 * server` as child processes (waiting for their ready lines, killed at teardown), and line counts
 * taken with coreutils, never with the code under test.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import { Client } from '../../src/client/client.ts';
import { parseNodeCatalog, type NodeCatalog } from '../../src/logs/catalog.ts';
import { catalogFunction } from '../../src/logs/log-service.ts';
import { cleanEnv, GEARTRAIN } from '../client/helpers/cli.ts';
import { waitFor } from './ports.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function tempDir(t: ExecutionContext, prefix = 'geartrain-node-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function commandLine(command: string, args: string[]): string[] {
  return [GEARTRAIN, command, ...args];
}

export interface Proc extends ChildProcess {
  stdoutText(): string;
  stderrText(): string;
  /** Resolves with the exit code (null after a signal). */
  exited(): Promise<number | null>;
}

const stateHomes = new WeakMap<ExecutionContext, string>();

/**
 * The XDG_STATE_HOME of the processes a test starts: one directory per test, so the runs of a test
 * share what they remember of its cluster (the next run from the same machine) and no other test
 * sees it, even one whose job server gets the same address.
 */
export function stateHomeOf(t: ExecutionContext): string {
  let dir = stateHomes.get(t);
  if (dir === undefined) {
    dir = tempDir(t, 'geartrain-state-');
    stateHomes.set(t, dir);
  }
  return dir;
}

/** Starts `argv` with piped stdio (in the checkout, or `cwd`); SIGKILLed at teardown if still running. */
export function spawnProcess(t: ExecutionContext, argv: readonly string[], env: Record<string, string> = {}, cwd = ROOT): Proc {
  const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv({ XDG_STATE_HOME: stateHomeOf(t), ...env }) });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('latin1').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  child.stdin!.on('error', () => {});
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { stdoutText: () => stdout, stderrText: () => stderr, exited: () => exit });
}

/**
 * Starts `geartrain <command> …` (spawnProcess). `wrap` is a command that runs the rest and
 * execs it (`ip netns exec NS`, test/helpers/netns.ts), so the child's pid is geartrain's.
 */
export function spawnGeartrain(t: ExecutionContext, command: string, args: string[], env: Record<string, string> = {}, wrap: readonly string[] = []): Proc {
  return spawnProcess(t, [...wrap, process.execPath, ...commandLine(command, args)], env);
}

/** Runs `geartrain <command> …` to its end, with no time limit of its own (a loaded machine may take long): exit code and output. */
export async function runGeartrain(t: ExecutionContext, command: string, args: string[], env: Record<string, string> = {}, wrap: readonly string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnGeartrain(t, command, args, env, wrap);
  const code = await p.exited();
  return { code, stdout: p.stdoutText(), stderr: p.stderrText() };
}

/** Waits for a line matching `re` on stdout; fails with the process's stderr if it exits first. */
export async function waitForLine(p: Proc, re: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpMatchArray> {
  return waitFor(() => {
    const m = p.stdoutText().match(re);
    if (m) return m;
    if (p.exitCode !== null || p.signalCode !== null) throw new Error(`${what} exited (${p.exitCode ?? p.signalCode}): ${p.stderrText()}`);
    return undefined;
  }, what, timeoutMs);
}

export interface NodeOptions {
  name: string;
  servers: string;
  data: string;
  logs?: string[];
  replicas?: number;
  extra?: string[];
  env?: Record<string, string>;
  /** See spawnGeartrain. */
  wrap?: readonly string[];
}

export interface RunningNode extends Proc {
  readonly name: string;
  readonly data: string;
  /** Shards reported on the ready line. */
  readonly readyShards: number;
  /** SIGTERM, then waits for the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `geartrain node` and waits for `node NAME ready (N shards)`. */
export async function startNode(t: ExecutionContext, o: NodeOptions): Promise<RunningNode> {
  const args = ['--name', o.name, '--servers', o.servers, '--data', o.data, '--poll-ms', '200'];
  for (const l of o.logs ?? []) args.push('--logs', l);
  if (o.replicas !== undefined) args.push('--replicas', String(o.replicas));
  args.push(...(o.extra ?? []));
  const p = spawnGeartrain(t, 'node', args, o.env, o.wrap);
  const m = await waitForLine(p, new RegExp(`^node ${o.name} ready \\((\\d+) shards\\)$`, 'm'), `node ${o.name}`);
  return Object.assign(p, {
    name: o.name,
    data: o.data,
    readyShards: Number(m[1]),
    async stop() {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
      return p.exited();
    },
  });
}

export interface ServerProc extends Proc {
  readonly port: number;
  readonly address: string;
}

/** Starts `geartrain server` as a child (so it can be kill -9'd) and waits for its ready line. */
export async function startServerProcess(t: ExecutionContext, args: string[]): Promise<ServerProc> {
  const p = spawnGeartrain(t, 'server', ['-L', '127.0.0.1', '--verbose', 'ERROR', ...args]);
  const m = await waitForLine(p, /^listening on 127\.0\.0\.1:(\d+)$/m, 'geartrain server');
  const port = Number(m[1]);
  return Object.assign(p, { port, address: `127.0.0.1:${port}` });
}

/**
 * Starts `geartrain server -p 0 … ARGS` under `ulimit -n NOFILE` (so few descriptors that tests
 * can reach the limit) and waits for its ready line; SIGKILLed at teardown.
 */
export async function startServerUnderFileLimit(t: ExecutionContext, nofile: number, args: string[] = []): Promise<{ child: ChildProcess; port: number; output(): string }> {
  const quoted = [process.execPath, GEARTRAIN, 'server', '-p', '0', '-q', 'memory', '-L', '127.0.0.1', '--verbose', 'ERROR', ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`);
  const child = spawn('bash', ['-c', `ulimit -n ${nofile} && exec ${quoted.join(' ')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = Number((await waitFor(() => /^listening on 127\.0\.0\.1:(\d+)$/m.exec(out), 'the server to listen', 30_000))[1]);
  return { child, port, output: () => out };
}

/** A client for the test, destroyed at teardown. */
export function testClient(t: ExecutionContext, servers: string): Client {
  const c = new Client({ servers, reconnectDelayMs: 20, maxReconnectDelayMs: 200, timeoutMs: 20_000 });
  t.teardown(() => c.destroy());
  return c;
}

/** Asks a node for its catalogue over the job server and validates it with the exported schema. */
export async function catalogOf(client: Client, node: string, request: object = {}): Promise<NodeCatalog> {
  return parseNodeCatalog(await client.call(catalogFunction(node), JSON.stringify(request)));
}

/** The segment data files of a data directory. */
export function segmentFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'segments');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => path.join(dir, n));
}

/** `cat SEGMENTS | wc -l`: newline-terminated lines in a node's segments, counted by coreutils. */
export function wcLines(files: string[]): number {
  if (files.length === 0) return 0;
  return Number(execFileSync('sh', ['-c', 'cat "$@" | wc -l', 'sh', ...files]).toString().trim());
}

/** `cat SEGMENTS`: the bytes of a node's segments, in file-name order. */
export function catFiles(files: string[]): string {
  if (files.length === 0) return '';
  return execFileSync('cat', files, { maxBuffer: 1 << 28 }).toString('latin1');
}

/** Runs a shell pipeline (for `printf … | gearman …`); resolves with its exit code and output. */
export function sh(script: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The geartrain command line for a shell script (`node bin/geartrain.js CMD`). */
export function geartrainShell(command: string): string {
  return [process.execPath, ...commandLine(command, [])].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/**
 * awk's tally of column `column` (`{c[$N]++}`) over what the shell `input` writes (`cat "$@"`,
 * `zcat "$1"`…, with `args` as its $1…), as an object: `{ '200': 1234, … }`.
 */
export function awkTally(column: number, input: string, ...args: string[]): Record<string, number> {
  const out = execFileSync('sh', ['-c', `{ ${input}; } | awk '{c[$${column}]++} END {for (k in c) print k, c[k]}'`, 'sh', ...args], { maxBuffer: 1 << 28 }).toString();
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, n]) => [k!, Number(n)]),
  );
}

/** A combined-format line with a given time and a marker in the path. */
export function combinedLine(time: Date, marker: string, status = 200): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  const t = `${p2(time.getUTCDate())}/${months[time.getUTCMonth()]}/${time.getUTCFullYear()}:${p2(time.getUTCHours())}:${p2(time.getUTCMinutes())}:${p2(time.getUTCSeconds())} +0000`;
  return `10.0.0.1 - - [${t}] "GET /${marker} HTTP/1.1" ${status} 123 "-" "test-agent"`;
}
