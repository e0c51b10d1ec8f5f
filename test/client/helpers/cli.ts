/** Run a command as a child process with input, and collect its output and exit code. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const GEARTRAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/geartrain.js');

export interface Ran {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** Environment without GEARMAN_SERVER(S), so only the flags a test passes choose the server. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('GEARMAN_SERVERS' in extra)) delete env.GEARMAN_SERVERS;
  if (!('GEARMAN_SERVER' in extra)) delete env.GEARMAN_SERVER;
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
