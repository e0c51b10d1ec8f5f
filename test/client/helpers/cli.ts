/** Run a command as a child process with input, and collect its output and exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const GEARTRAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/geartrain.js');

export interface Ran {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

let stateHome: string | undefined;

/**
 * A state directory of this test process's own (removed when it exits), so what `geartrain run`
 * remembers of a cluster (members-*.json) is shared by the runs of one test file and never by
 * other files, nor left in the user's ~/.local/state.
 */
function testStateHome(): string {
  if (stateHome === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-state-'));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    stateHome = dir;
  }
  return stateHome;
}

/**
 * Environment without GEARMAN_SERVER(S) and GEARTRAIN_NODES, so only the flags a test passes
 * choose the server and the nodes expected, and with XDG_STATE_HOME in a directory of the test
 * process's own (testStateHome).
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_STATE_HOME: testStateHome(), ...extra };
  if (!('GEARMAN_SERVERS' in extra)) delete env.GEARMAN_SERVERS;
  if (!('GEARMAN_SERVER' in extra)) delete env.GEARMAN_SERVER;
  if (!('GEARTRAIN_NODES' in extra)) delete env.GEARTRAIN_NODES;
  return env;
}

export function runProcess(cmd: string, args: string[], input = '', env = cleanEnv(), timeoutMs = 20_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('latin1').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('latin1').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

export function geartrain(args: string[], input = '', env = cleanEnv()): Promise<Ran> {
  return runProcess(process.execPath, [GEARTRAIN, ...args], input, env);
}

/** Start a long-running geartrain command; killed at teardown. */
export function startGeartrain(t: { teardown(f: () => unknown): void }, args: string[]): ChildProcess & { output(): Ran } {
  const child = spawn(process.execPath, [GEARTRAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('latin1').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('latin1').on('data', (d: string) => (stderr += d));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { output: () => ({ stdout, stderr, code: child.exitCode }) });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
