/**
 * `geartrain server` as a child process (`node bin/geartrain.js server -p 0 …`), so a test can
 * kill -9 it exactly as a crash would, and start it again on the same store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';

const BIN = fileURLToPath(new URL('../../../bin/geartrain.js', import.meta.url));
const READY = /^listening on (\S+):(\d+)$/m;
const READY_TIMEOUT_MS = 30_000;

export interface ServerProcess {
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Whether the process is still running. */
  readonly alive: boolean;
  /** SIGKILL: no flush, no close, nothing but what the kernel already has. Resolves on exit. */
  kill9(): Promise<void>;
  /** Send a signal (e.g. SIGTERM for an orderly stop); see `exited`. */
  signal(name: NodeJS.Signals): void;
  /** Resolves with the exit code (null when killed by a signal) once the process has ended. */
  readonly exited: Promise<number | null>;
}

/**
 * Start `geartrain server -p <port, default 0> <args>` and resolve once it prints `listening on
 * HOST:PORT` (after the replay of its queue). The process is killed in teardown if it still runs.
 */
export async function startServer(t: ExecutionContext, args: readonly string[], opts: { port?: number } = {}): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'server', '-p', String(opts.port ?? 0), '-L', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let exited = false;
  const exitCode = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  const gone = exitCode.then(() => {});
  const kill9 = async () => {
    if (!exited) child.kill('SIGKILL');
    await gone;
  };
  t.teardown(kill9);

  const address = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`geartrain server ${args.join(' ')} not ready after ${READY_TIMEOUT_MS} ms:\n${out}`));
    }, READY_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      out += String(d);
      const m = READY.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ host: m[1]!, port: Number(m[2]) });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += String(d)));
    void gone.then(() => {
      clearTimeout(timer);
      reject(new Error(`geartrain server ${args.join(' ')} exited before it was ready:\n${out}`));
    });
  });

  return {
    ...address,
    pid: child.pid!,
    output: () => out,
    get alive() {
      return !exited;
    },
    kill9,
    signal: (name) => {
      if (!exited) child.kill(name);
    },
    exited: exitCode,
  };
}
