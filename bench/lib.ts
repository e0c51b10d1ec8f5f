/** Shared pieces of the benchmark scripts: processes, the C load driver, ready lines, tables. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const OUT = path.join(ROOT, 'bench', 'out');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Build bench/loadgen.c against libgearman (needs libgearman-dev) once per checkout. */
export function buildLoadgen(): string {
  fs.mkdirSync(OUT, { recursive: true });
  const bin = path.join(OUT, 'loadgen');
  const src = path.join(ROOT, 'bench', 'loadgen.c');
  if (!fs.existsSync(bin) || fs.statSync(bin).mtimeMs < fs.statSync(src).mtimeMs) {
    execFileSync('cc', ['-O2', '-o', bin, src, '-lgearman'], { stdio: 'inherit' });
  }
  return bin;
}

export interface Proc {
  child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  stop(): Promise<void>;
}

/** Spawn a process and resolve once a line of its stdout matches `ready` (or it answers admin `version`). */
export async function startProcess(cmd: string, args: string[], ready: RegExp | { adminPort: number }, env?: NodeJS.ProcessEnv): Promise<Proc> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${cmd} exited early:\n${out}`);
    if (ready instanceof RegExp ? ready.test(out) : await answersVersion(ready.adminPort)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${cmd} not ready after 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

function answersVersion(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.setTimeout(500);
    s.on('connect', () => s.write('version\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(String(d).startsWith('OK'));
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

export async function startGearmand(threads = 1, extra: string[] = []): Promise<Proc & { port: number }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-gearmand-'));
  const p = await startProcess(
    'gearmand',
    ['--port', String(port), '--listen', '127.0.0.1', '--threads', String(threads), '--log-file', path.join(dir, 'log'), '--pid-file', path.join(dir, 'pid'), ...extra],
    { adminPort: port },
  );
  return {
    ...p,
    port,
    async stop() {
      await p.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Start a Node script that binds port 0 and prints `listening on HOST:PORT`; resolves with the port. */
export async function startListening(args: string[]): Promise<Proc & { port: number }> {
  const LISTENING = /listening on .*:(\d+)/;
  const p = await startProcess(process.execPath, args, LISTENING);
  return { ...p, port: Number(LISTENING.exec(p.output())![1]) };
}

export function startGeartrain(extra: string[] = []): Promise<Proc & { port: number }> {
  return startListening([path.join(ROOT, 'bin', 'geartrain.js'), 'server', '-p', '0', ...extra]);
}

/** Run the load driver and parse its `key=value` line. */
export function loadgen(bin: string, args: string[]): Record<string, string> {
  const line = execFileSync(bin, args, { encoding: 'utf8', timeout: 600_000 }).trim().split('\n').pop()!;
  return Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
}

export function best<T>(runs: T[], score: (r: T) => number): T {
  return runs.reduce((a, b) => (score(b) > score(a) ? b : a));
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n');
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`;
}

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** VmRSS and VmHWM (its peak so far) of a process, in KiB; null once it has ended. */
export function memoryKiB(pid: number): { rss: number; peak: number } | null {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}
