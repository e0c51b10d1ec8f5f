/**
 * Child processes of the proof scripts: TypeScript helpers forked with an IPC channel, and
 * `geartrain server` as a real process (so it can be kill -9'd and restarted on its port).
 * Every child is killed when the parent exits, however it exits.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const GEARTRAIN_BIN = path.join(ROOT, 'bin', 'geartrain.js');

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Environment for children: no GEARMAN_SERVER(S) leaking in from the caller's shell. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.GEARMAN_SERVERS;
  delete env.GEARMAN_SERVER;
  return env;
}

export interface Helper<In, Out> {
  readonly child: ChildProcess;
  readonly pid: number;
  send(message: In): void;
  /** The next message that satisfies `match` (rejects when the child exits first or after `timeoutMs`). */
  next<T extends Out>(match: (m: Out) => m is T, timeoutMs?: number): Promise<T>;
  /** All messages received so far. */
  readonly messages: Out[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly alive: boolean;
  kill9(): Promise<void>;
  stderr(): string;
}

const bundles = new Map<string, string>();

/**
 * `scripts/proof/<script>` and everything it imports as one plain-JavaScript file (esbuild), for
 * helpers started again and again: node starts it in tens of milliseconds instead of a second
 * of TypeScript loading, which matters on a small machine killing workers every 250 ms.
 */
function bundled(script: string): string {
  let out = bundles.get(script);
  if (out) return out;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-proof-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  out = path.join(dir, script.replace(/\.ts$/, '.mjs'));
  buildSync({
    entryPoints: [path.join(ROOT, 'scripts', 'proof', script)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  // Dependencies stay in node_modules: resolve them from the repository.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  bundles.set(script, out);
  return out;
}

/** Fork `scripts/proof/<script>` (under tsx, or bundled) with an IPC channel. */
export function forkHelper<In, Out>(
  script: string,
  opts: { args?: string[]; env?: Record<string, string>; execArgv?: string[]; bundle?: boolean } = {},
): Helper<In, Out> {
  const entry = opts.bundle ? bundled(script) : path.join(ROOT, 'scripts', 'proof', script);
  const child = fork(entry, opts.args ?? [], {
    execArgv: [...(opts.execArgv ?? []), ...(opts.bundle ? [] : ['--import', 'tsx'])],
    cwd: ROOT,
    env: childEnv(opts.env),
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    // Structured clone: typed arrays (latency samples) cross without JSON.
    serialization: 'advanced',
  });
  track(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-10_000);
  });
  const messages: Out[] = [];
  const waiters = new Set<{ match: (m: Out) => boolean; resolve: (m: Out) => void }>();
  child.on('message', (m) => {
    messages.push(m as Out);
    for (const w of [...waiters]) {
      if (w.match(m as Out)) {
        waiters.delete(w);
        w.resolve(m as Out);
      }
    }
  });
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    }),
  );
  return {
    child,
    pid: child.pid!,
    messages,
    exited,
    get alive() {
      return alive;
    },
    send(message: In) {
      if (alive && child.connected) child.send(message as object);
    },
    next<T extends Out>(match: (m: Out) => m is T, timeoutMs = 60_000): Promise<T> {
      const already = messages.find(match);
      if (already) {
        messages.splice(messages.indexOf(already), 1);
        return Promise.resolve(already);
      }
      return new Promise<T>((resolve, reject) => {
        const w = {
          match: match as (m: Out) => boolean,
          resolve: (m: Out) => {
            clearTimeout(timer);
            messages.splice(messages.indexOf(m), 1);
            resolve(m as T);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`${script}: no expected message within ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
        }, timeoutMs);
        waiters.add(w);
        void exited.then(({ code, signal }) => {
          if (!waiters.has(w)) return;
          waiters.delete(w);
          clearTimeout(timer);
          reject(new Error(`${script} exited (${code ?? signal}) before the expected message; stderr: ${stderr.slice(-2000)}`));
        });
      });
    },
    async kill9() {
      if (alive) child.kill('SIGKILL');
      await exited;
    },
    stderr: () => stderr,
  };
}

export interface ServerChild {
  readonly port: number;
  readonly pid: number;
  readonly address: string;
  readonly exited: Promise<number | null>;
  readonly alive: boolean;
  output(): string;
  kill9(): Promise<void>;
  /** SIGTERM and wait (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

/** `geartrain server -L 127.0.0.1 -p PORT ARGS`, resolved once it prints `listening on HOST:PORT`. */
export async function startServerChild(args: string[], port = 0, readyTimeoutMs = 30_000): Promise<ServerChild> {
  const child = spawn(process.execPath, [GEARTRAIN_BIN, 'server', '-L', '127.0.0.1', '-p', String(port), '--verbose', 'ERROR', ...args], {
    cwd: ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.length > 50_000) out = out.slice(-20_000);
  });
  let alive = true;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      alive = false;
      resolve(code);
    }),
  );
  const deadline = Date.now() + readyTimeoutMs;
  let m: RegExpExecArray | null = null;
  while (!(m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(out))) {
    if (!alive) throw new Error(`geartrain server ${args.join(' ')} exited before it was ready:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`geartrain server ${args.join(' ')} not ready after ${readyTimeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const boundPort = Number(m[1]);
  return {
    port: boundPort,
    pid: child.pid!,
    address: `127.0.0.1:${boundPort}`,
    exited,
    get alive() {
      return alive;
    },
    output: () => out,
    async kill9() {
      if (alive) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!alive) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A TCP port that was free on 127.0.0.1 a moment ago (for a server restarted on the same port). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** This process's open-files limit (soft), from /proc; Node raises the soft limit to the hard one at startup. */
export function openFilesLimit(): number {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = line?.trim().split(/\s+/)[3];
    return soft === 'unlimited' ? Infinity : Number(soft);
  } catch {
    return NaN;
  }
}

/**
 * Make sure this process (and the children it starts from now on) may open `needed` files:
 * raise the limit with prlimit(1) when it is lower (which needs root, or a hard limit high
 * enough). Returns the limit in force afterwards.
 */
export function ensureOpenFiles(needed: number): number {
  const now = openFilesLimit();
  if (now >= needed) return now;
  const want = Math.max(needed, 65536);
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${want}:${want}`], { stdio: 'ignore' });
  } catch {
    // not allowed: the caller reports the limit it got
  }
  return openFilesLimit();
}

/** Poll `check` until truthy or the deadline passes (then throw naming `what`). */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
