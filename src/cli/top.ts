/**
 * `geartrain top`: the monitor page's live view in a terminal. Reads the admin protocol
 * (`status`, `prioritystatus`, `workers`, `show unique jobs`), so it works against gearmand
 * too, and, with `--http URL`, a geartrain server's `/status` for throughput, runs' progress,
 * clients and memory. `--once` prints one snapshot and exits; otherwise the screen refreshes
 * until `q`, Ctrl-C or SIGTERM.
 */
import { AdminClient } from '../client/admin-client.ts';
import type { FunctionStatus, PriorityStatus, WorkerInfo } from '../protocol/admin.ts';
import type { StatusJson } from '../server/http/status.ts';
import { ConnectionError, InvalidArgumentError } from '../errors.ts';
import { isTaskFunction, parseTaskUnique } from '../wire-names.ts';
import { parseFlags } from './conventions.ts';
import { formatCliError, type CliIO } from './io.ts';
import { formatBytes } from '../report/format.ts';
import { resolveServers, SERVER_FLAGS_HELP, SERVER_OPTIONS } from './servers.ts';

export const summary = 'live view of job servers: functions, workers, throughput, map/reduce runs';

const HELP = `usage: geartrain top [flags]

${SERVER_FLAGS_HELP}
  --http URL[,URL…]     also read URL/status of a geartrain server started with --http-port
                        (throughput, run progress, clients, memory); matched to a server by port
  -d, --interval S      seconds between refreshes (default 2)
  --once                print one snapshot and exit (exit status 1 if a server is unreachable)
  --json                with --once: the snapshot as JSON
  -H, --help            this help

Keys: q or Ctrl-C quits.
`;

const OPTIONS = {
  ...SERVER_OPTIONS,
  ssl: { type: 'boolean', short: 'S' },
  http: { type: 'string', multiple: true },
  interval: { type: 'string', short: 'd' },
  once: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'H' },
} as const;

/** How long one refresh may wait for a server. */
const QUERY_TIMEOUT_MS = 5000;
const SPARK = '▁▂▃▄▅▆▇█';

export interface FunctionRow {
  readonly name: string;
  /** Queued (not running) jobs: admin status total - running. */
  readonly queued: number;
  readonly high: number | null;
  readonly normal: number | null;
  readonly low: number | null;
  readonly running: number;
  readonly workers: number;
  /** From /status only. */
  readonly doneLastMinute: number | null;
}

export interface RunRow {
  readonly runId: string;
  /** Queued or running. */
  readonly mapTasks: number;
  readonly reduceTasks: number;
  /** From /status only: tasks ended so far. */
  readonly tasksDone: number | null;
  /** From /status only: running tasks' bytes done / total. */
  readonly bytesDone: number | null;
  readonly bytesTotal: number | null;
  readonly nodes: readonly string[];
}

export interface ServerView {
  readonly server: string;
  readonly error: string | null;
  readonly version: string | null;
  readonly functions: FunctionRow[];
  /** Connections that registered at least one function. */
  readonly workers: WorkerInfo[];
  /** Connections that registered none (clients, admin tools, this command). */
  readonly otherConnections: number;
  readonly runs: RunRow[];
  /** From /status: completed per second, oldest first (last 60 s). */
  readonly completedPerSecond: number[] | null;
  readonly heapUsedAfterGc: number | null;
  readonly rss: number | null;
  readonly httpError: string | null;
}

/** Above this many jobs on a server, `show unique jobs` is not asked for (runs are not shown). */
const MAX_LISTED_JOBS = 50_000;

function listing(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line === '.') break;
    if (line.length > 0) out.push(line);
  }
  return out;
}

async function fetchStatus(url: string, signal: AbortSignal): Promise<StatusJson> {
  const res = await fetch(new URL('status', url.endsWith('/') ? url : url + '/'), { signal });
  if (!res.ok) throw new ConnectionError(`${url}status: HTTP ${res.status}`, { server: url });
  return (await res.json()) as StatusJson;
}

/** One server's picture: admin protocol first, /status on top when there is one. */
export async function collectView(server: string, admin: AdminClient, httpUrl: string | null, signal?: AbortSignal): Promise<ServerView> {
  const sig = signal ? AbortSignal.any([signal, AbortSignal.timeout(QUERY_TIMEOUT_MS)]) : AbortSignal.timeout(QUERY_TIMEOUT_MS);
  const statusReq = httpUrl ? fetchStatus(httpUrl, sig).then((s) => ({ s, e: null }), (e: Error) => ({ s: null, e: e.message })) : null;
  let status: FunctionStatus[];
  let workers: WorkerInfo[];
  let priorities: PriorityStatus[] | null = null;
  let uniques: string[] = [];
  let version: string | null = null;
  try {
    [status, workers] = await Promise.all([admin.status({ signal: sig }), admin.workers({ signal: sig })]);
    // The unique keys name the runs; the listing holds every job, so it is skipped when no task
    // function has jobs, or when there are too many jobs to list every refresh.
    const tasks = status.filter((f) => isTaskFunction(f.name)).reduce((n, f) => n + f.total, 0);
    const jobs = status.reduce((n, f) => n + f.total, 0);
    const listUniques = httpUrl === null && tasks > 0 && jobs <= MAX_LISTED_JOBS;
    // Optional commands: an old server answering ERR must not blank the view.
    [priorities, uniques, version] = await Promise.all([
      admin.priorityStatus({ signal: sig }).catch(() => null),
      listUniques ? admin.command('show unique jobs', { signal: sig }).then(listing, () => []) : Promise.resolve([]),
      admin.version({ signal: sig }).catch(() => null),
    ]);
  } catch (err) {
    await statusReq;
    return emptyView(server, formatCliError('', err).replace(/^: /, ''));
  }
  const http = statusReq ? await statusReq : null;
  const st = http?.s ?? null;
  const byPriority = new Map((priorities ?? []).map((p) => [p.name, p]));
  const fromHttp = new Map((st?.functions ?? []).map((f) => [f.name, f]));
  const functions = status
    .map((f): FunctionRow => {
      const p = byPriority.get(f.name);
      return {
        name: f.name,
        queued: Math.max(0, f.total - f.running),
        high: p ? p.high : null,
        normal: p ? p.normal : null,
        low: p ? p.low : null,
        running: f.running,
        workers: f.workers,
        doneLastMinute: fromHttp.get(f.name)?.completedLastMinute ?? null,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  let runs: RunRow[];
  if (st) {
    runs = st.runs
      .filter((r) => r.active)
      .map((r) => ({
        runId: r.runId,
        mapTasks: r.map.queued + r.map.running,
        reduceTasks: r.reduce.queued + r.reduce.running,
        tasksDone: r.map.done + r.reduce.done,
        bytesDone: r.bytesDone,
        bytesTotal: r.bytesTotal,
        nodes: r.nodes,
      }));
  } else {
    const tally = new Map<string, { map: number; reduce: number }>();
    for (const u of uniques) {
      // `show unique jobs` gives no function names: the unique key alone tells run and kind.
      const r = parseTaskUnique(u);
      if (!r) continue;
      const t = tally.get(r.runId) ?? { map: 0, reduce: 0 };
      t[r.kind]++;
      tally.set(r.runId, t);
    }
    runs = [...tally].map(([runId, t]) => ({ runId, mapTasks: t.map, reduceTasks: t.reduce, tasksDone: null, bytesDone: null, bytesTotal: null, nodes: [] }));
  }
  runs.sort((a, b) => (a.runId < b.runId ? -1 : 1));

  return {
    server,
    error: null,
    version,
    functions,
    workers: workers.filter((w) => w.functions.length > 0),
    otherConnections: workers.filter((w) => w.functions.length === 0).length,
    runs,
    completedPerSecond: st ? st.throughput.completed.slice(-60) : null,
    heapUsedAfterGc: st?.memory.heapUsedAfterLastGc ?? null,
    rss: st?.memory.rss ?? null,
    httpError: http?.e ?? null,
  };
}

function emptyView(server: string, error: string): ServerView {
  return {
    server,
    error,
    version: null,
    functions: [],
    workers: [],
    otherConnections: 0,
    runs: [],
    completedPerSecond: null,
    heapUsedAfterGc: null,
    rss: null,
    httpError: null,
  };
}

/** Left-aligned text columns, right-aligned where `numeric`. */
function columns(head: string[], rows: string[][], numeric: boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)];
}

function sparkline(values: number[]): string {
  const max = Math.max(1, ...values);
  return values.map((v) => SPARK[Math.min(SPARK.length - 1, Math.round((v / max) * (SPARK.length - 1)))]).join('');
}

const dash = (v: number | null) => (v === null ? '-' : String(v));

/** The text of one snapshot, one element per line. */
export function renderViews(views: readonly ServerView[], now = new Date()): string[] {
  const out: string[] = [];
  for (const v of views) {
    if (out.length > 0) out.push('');
    const clock = now.toTimeString().slice(0, 8);
    out.push(`geartrain top  ${v.server}${v.version ? `  version ${v.version}` : ''}  ${clock}`);
    if (v.error) {
      out.push(`  unreachable: ${v.error}`);
      continue;
    }
    const queued = v.functions.reduce((s, f) => s + f.queued, 0);
    const running = v.functions.reduce((s, f) => s + f.running, 0);
    let summaryLine = `functions ${v.functions.length}  queued ${queued}  running ${running}  workers ${v.workers.length}  other connections ${v.otherConnections}`;
    if (v.completedPerSecond) {
      const last10 = v.completedPerSecond.slice(-10);
      const rate = last10.length > 0 ? last10.reduce((a, b) => a + b, 0) / last10.length : 0;
      const minute = v.completedPerSecond.reduce((a, b) => a + b, 0);
      summaryLine += `  done/s ${rate.toFixed(1)}  done/min ${minute}`;
    }
    if (v.heapUsedAfterGc !== null) summaryLine += `  heap after GC ${formatBytes(v.heapUsedAfterGc)}`;
    out.push(summaryLine);
    if (v.httpError) out.push(`  (/status unavailable: ${v.httpError})`);
    if (v.completedPerSecond && v.completedPerSecond.length > 0) out.push(`done per second, last ${v.completedPerSecond.length} s: ${sparkline(v.completedPerSecond)}`);

    out.push('');
    if (v.functions.length === 0) out.push('no functions');
    else {
      out.push(
        ...columns(
          ['FUNCTION', 'QUEUED', 'HIGH', 'NORMAL', 'LOW', 'RUNNING', 'WORKERS', 'DONE/MIN'],
          v.functions.map((f) => [f.name, String(f.queued), dash(f.high), dash(f.normal), dash(f.low), String(f.running), String(f.workers), dash(f.doneLastMinute)]),
          [false, true, true, true, true, true, true, true],
        ),
      );
    }

    out.push('');
    if (v.workers.length === 0) out.push('no workers');
    else {
      out.push(
        ...columns(
          ['FD', 'ADDRESS', 'CLIENT-ID', 'FUNCTIONS'],
          v.workers.map((w) => [String(w.fd), w.ip, w.clientId, w.functions.join(' ')]),
          [true, false, false, false],
        ),
      );
    }

    if (v.runs.length > 0) {
      out.push('');
      out.push(
        ...columns(
          ['RUN', 'MAP TASKS', 'REDUCE TASKS', 'TASKS DONE', 'PROGRESS', 'NODES'],
          v.runs.map((r) => [
            r.runId,
            String(r.mapTasks),
            String(r.reduceTasks),
            dash(r.tasksDone),
            r.bytesTotal ? `${((100 * (r.bytesDone ?? 0)) / r.bytesTotal).toFixed(1)}% of ${formatBytes(r.bytesTotal)}` : '-',
            r.nodes.join(',') || '-',
          ]),
          [false, true, true, true, true, false],
        ),
      );
    }
  }
  return out;
}

/** Pair each server with the /status URL that reports the same port (or the only URL, for one server). */
async function matchHttp(servers: string[], urls: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (urls.length === 0) return out;
  if (servers.length === 1 && urls.length === 1) {
    out.set(servers[0]!, urls[0]!);
    return out;
  }
  for (const url of urls) {
    try {
      const st = await fetchStatus(url, AbortSignal.timeout(QUERY_TIMEOUT_MS));
      const port = st.server.address?.port;
      const server = servers.find((s) => Number(s.slice(s.lastIndexOf(':') + 1)) === port);
      if (server && !out.has(server)) out.set(server, url);
    } catch {
      // An unreachable URL is reported as such when no server claims it.
    }
  }
  return out;
}

function checkUrl(u: string): string {
  const url = URL.canParse(u) ? new URL(u) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new InvalidArgumentError(`--http: not an http:// URL: ${JSON.stringify(u)}`, { field: 'http' });
  return url.href;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const flags = parseFlags('geartrain top', { args: argv, options: OPTIONS }).values;
  if (flags.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const intervalS = flags.interval === undefined ? 2 : Number(flags.interval);
  if (!Number.isFinite(intervalS) || intervalS < 0.1) throw new InvalidArgumentError(`--interval must be at least 0.1 seconds, got '${flags.interval}'`, { field: 'interval' });
  const servers = resolveServers(flags, io.env);
  const urls = (flags.http ?? []).flatMap((v) => v.split(',')).filter((v) => v.length > 0).map(checkUrl);
  const httpFor = await matchHttp(servers, urls);
  const admins = servers.map((server) => new AdminClient({ server, tls: flags.ssl === true, timeoutMs: QUERY_TIMEOUT_MS }));
  const snapshot = (signal: AbortSignal) => Promise.all(servers.map((s, i) => collectView(s, admins[i]!, httpFor.get(s) ?? null, signal)));
  try {
    if (flags.once) {
      const views = await snapshot(io.signal);
      if (flags.json) io.stdout.write(JSON.stringify(views.length === 1 ? views[0] : views) + '\n');
      else io.stdout.write(renderViews(views).join('\n') + '\n');
      return views.some((v) => v.error) ? 1 : 0;
    }
    if (flags.json) throw new InvalidArgumentError('--json needs --once', { field: 'json' });
    await live(io, snapshot, intervalS * 1000);
    return 0;
  } finally {
    for (const a of admins) a.destroy();
  }
}

type Tty = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
type Out = CliIO['stdout'] & { columns?: number; rows?: number };

/** Refresh until q / Ctrl-C / the io signal. Full-screen on a terminal, successive snapshots otherwise. */
async function live(io: CliIO, snapshot: (signal: AbortSignal) => Promise<ServerView[]>, intervalMs: number): Promise<void> {
  const stdout = io.stdout as Out;
  const stdin = io.stdin as Tty;
  const tty = stdout.isTTY === true;
  const stop = new AbortController();
  const quit = () => stop.abort();
  io.signal.addEventListener('abort', quit, { once: true });
  const onKey = (chunk: Buffer | string) => {
    const s = typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    if (/[qQ\x03\x04]/.test(s)) quit();
  };
  const rawCapable = stdin.isTTY === true && typeof stdin.setRawMode === 'function';
  if (rawCapable) stdin.setRawMode!(true);
  stdin.on('data', onKey);
  stdin.resume();
  let last: string[] = [];
  const draw = (lines: string[]) => {
    if (!tty) {
      stdout.write(lines.join('\n') + '\n\n');
      return;
    }
    const width = stdout.columns ?? 80;
    const height = stdout.rows ?? 24;
    let shown = lines.map((l) => (l.length > width ? l.slice(0, width - 1) + '…' : l));
    const footer = 'q quits';
    if (shown.length > height - 1) {
      const hidden = shown.length - (height - 2);
      shown = [...shown.slice(0, height - 2), `… ${hidden} more line(s)`];
    }
    stdout.write('\x1b[H' + [...shown, footer].map((l) => l + '\x1b[K').join('\r\n') + '\x1b[J');
  };
  const onResize = () => draw(last);
  if (tty) {
    stdout.write('\x1b[?1049h\x1b[?25l');
    (stdout as unknown as NodeJS.EventEmitter).on('resize', onResize);
  }
  try {
    while (!stop.signal.aborted) {
      const views = await snapshot(AbortSignal.any([io.signal, stop.signal])).catch((err: Error) => [emptyView('-', err.message)]);
      if (stop.signal.aborted) break;
      last = renderViews(views);
      draw(last);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, intervalMs);
        function done() {
          clearTimeout(t);
          stop.signal.removeEventListener('abort', done);
          resolve();
        }
        stop.signal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    io.signal.removeEventListener('abort', quit);
    stdin.off('data', onKey);
    if (rawCapable) stdin.setRawMode!(false);
    stdin.pause();
    if (tty) {
      (stdout as unknown as NodeJS.EventEmitter).off('resize', onResize);
      stdout.write('\x1b[?25h\x1b[?1049l');
    }
  }
}
