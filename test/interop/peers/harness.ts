/**
 * Running the PHP (php-gearman over libgearman) and Perl (Gearman::Client/Worker 2.004) peers of
 * the interop tests: long-running workers killed in teardown, one-shot clients whose JSON-lines
 * output becomes a list of events, and readiness by polling admin `status` (never by sleeping).
 * Every process is spawned asynchronously: the geartrain server may run in the test's process.
 */
import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminRequest } from '../../helpers/gearmand.ts';
import { waitFor } from '../../helpers/ports.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export type Lang = 'php' | 'perl';

const INTERPRETER: Record<Lang, string> = { php: 'php', perl: 'perl' };
const SCRIPT: Record<Lang, Record<'client' | 'worker', string>> = {
  php: { client: path.join(HERE, 'php-client.php'), worker: path.join(HERE, 'php-worker.php') },
  perl: { client: path.join(HERE, 'perl-client.pl'), worker: path.join(HERE, 'perl-worker.pl') },
};

/** What a peer client saw, in order. Binary data is decoded from the script's base64. */
export type PeerEvent =
  | { event: 'created' }
  | { event: 'data' | 'warning' | 'complete' | 'exception'; data: Buffer }
  | { event: 'status'; numerator: number | string | null; denominator: number | string | null }
  | { event: 'fail' }
  | { event: 'end'; [key: string]: unknown };

export interface PeerRun {
  readonly events: PeerEvent[];
  /** The final `end` event's fields. */
  readonly end: Record<string, unknown>;
  readonly code: number | null;
  readonly stderr: string;
}

export interface PeerProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

type Teardown = Pick<ExecutionContext, 'teardown'>;

function spawnTracked(t: Teardown, cmd: string, args: string[]): PeerProcess & { stdout(): string } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.on('error', (err) => (stderr += String(err)));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return { child, exited, stderr: () => stderr, stdout: () => stdout };
}

/** Start a peer worker (killed in teardown); wait with `workersFor` before using it. */
export function startPeerWorker(t: Teardown, lang: Lang, host: string, port: number): PeerProcess {
  return spawnTracked(t, INTERPRETER[lang], [SCRIPT[lang].worker, JSON.stringify({ host, port })]);
}

export interface ClientSpec {
  readonly op: 'run' | 'do' | 'bg' | 'status';
  readonly fn?: string;
  readonly payload?: Buffer | string;
  readonly priority?: 'normal' | 'high' | 'low';
  readonly unique?: string;
  readonly handle?: string;
  /** Perl only: ask for OPTION_REQ exceptions. */
  readonly exceptions?: boolean;
  /** The client library's own timeout (default 10 s). */
  readonly timeoutMs?: number;
}

/** Run a peer client once and collect its events; rejects if it does not end within `timeoutMs`. */
export async function runPeerClient(t: Teardown, lang: Lang, host: string, port: number, spec: ClientSpec, timeoutMs = 20_000): Promise<PeerRun> {
  const json = {
    host,
    port,
    ...spec,
    payload: spec.payload === undefined ? undefined : Buffer.from(spec.payload).toString('base64'),
    exceptions: spec.exceptions ? 1 : 0,
  };
  const p = spawnTracked(t, INTERPRETER[lang], [SCRIPT[lang].client, JSON.stringify(json)]);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    p.exited,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        p.child.kill('SIGKILL');
        reject(new Error(`${lang} client ${JSON.stringify(spec)} did not end in ${timeoutMs} ms; stdout ${JSON.stringify(p.stdout())} stderr ${JSON.stringify(p.stderr())}`));
      }, timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
  const events = p
    .stdout()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      if (typeof e.data === 'string' && e.event !== 'end') e.data = Buffer.from(e.data, 'base64');
      return e as PeerEvent;
    });
  const last = events.at(-1);
  const end = last?.event === 'end' ? (last as Record<string, unknown>) : {};
  return { events, end, code, stderr: p.stderr() };
}

/** Events without the final `end`, with data as text: the shape tests compare. */
export function eventsAsText(run: PeerRun): Record<string, unknown>[] {
  return run.events
    .filter((e) => e.event !== 'end')
    .map((e) => ('data' in e && Buffer.isBuffer(e.data) ? { ...e, data: e.data.toString('utf8') } : { ...e }));
}

/** `status` rows of the server as [queued, running, workers] per function. */
export async function statusOf(port: number, fn: string): Promise<number[] | undefined> {
  const text = await adminRequest(port, 'status');
  const line = text.split('\n').find((l) => l.split('\t')[0] === fn);
  return line?.split('\t').slice(1).map(Number);
}

/** `prioritystatus` row for `fn`: [high, normal, low, workers]. */
export async function priorityStatusOf(port: number, fn: string): Promise<number[] | undefined> {
  const text = await adminRequest(port, 'prioritystatus');
  const line = text.split('\n').find((l) => l.split('\t')[0] === fn);
  return line?.split('\t').slice(1).map((s) => Number(s.trim()));
}

/** Poll admin `status` until `fn` has at least `n` workers registered. */
export async function workersFor(port: number, fn: string, n = 1, peer?: PeerProcess): Promise<void> {
  await waitFor(async () => {
    if (peer && peer.child.exitCode !== null) throw new Error(`peer exited (${peer.child.exitCode}): ${peer.stderr()}`);
    return ((await statusOf(port, fn))?.[2] ?? 0) >= n;
  }, `${n} worker(s) for ${fn}`);
}

/** Poll admin `status` until `fn` has `n` jobs queued or running. */
export async function jobsQueued(port: number, fn: string, n: number): Promise<void> {
  await waitFor(async () => ((await statusOf(port, fn))?.[0] ?? 0) === n, `${n} job(s) of ${fn} queued`);
}
