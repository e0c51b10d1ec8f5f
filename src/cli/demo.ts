/**
 * `geartrain demo` (`npm run demo`): the whole system on one machine in under a minute. A job
 * server in-process with a SQLite queue in a temp dir, three log nodes as separate processes over
 * generated realistic logs, a few thousand live lines shipped through `logger`, a distributed
 * grep and `analyze`, a summary table, report.html; then everything stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PACKAGE_ROOT } from '../dist-mode.ts';
import { ProcessFailedError, TimeoutError } from '../errors.ts';
import { writeLog, generateLog } from '../logs/index.ts';
import { runJob } from '../mapreduce/coordinator.ts';
import { renderReport } from '../report/index.ts';
import { JobServer } from '../server/index.ts';
import { parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';
import { formatBytes, formatDuration } from '../report/format.ts';
import { textTable } from '../report/table.ts';

export const summary = 'run the whole system locally on generated logs (server, 3 nodes, ingestion, grep, analyze, report)';

const BIN = path.join(PACKAGE_ROOT, 'bin', 'geartrain.js');

const HELP = `usage: geartrain demo [--lines N] [--out report.html] [--keep]

  --lines N      lines of generated log per node (default 150000)
  --out FILE     where to write the HTML report (default ./report.html)
  --keep         keep the temp directory (logs, node data) and print its path
  -H, --help     this help
`;

interface Proc {
  child: ChildProcess;
  out: string;
  err: string;
}

function spawnGeartrain(args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', err: '' };
  child.stdout!.on('data', (d) => (p.out += String(d)));
  child.stderr!.on('data', (d) => (p.err += String(d)));
  return p;
}

async function waitForLine(p: Proc, re: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(p.out)) {
    if (p.child.exitCode !== null) throw new ProcessFailedError(`${what} exited: ${p.err.trim()}`);
    if (Date.now() > deadline) throw new TimeoutError(`${what} not ready after ${timeoutMs / 1000} s: ${p.err.trim()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function exited(p: Proc): Promise<number | null> {
  return p.child.exitCode !== null ? Promise.resolve(p.child.exitCode) : new Promise((r) => p.child.once('exit', (code) => r(code)));
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags('geartrain demo', { args: argv, options: { lines: { type: 'string' }, out: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean', short: 'H' } } });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const lines = Number(values.lines ?? 150_000);
  const out = path.resolve(values.out ?? 'report.html');
  const say = (s: string) => io.stdout.write(s + '\n');
  const t0 = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-demo-'));
  const procs: Proc[] = [];
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'sqlite', sqliteDb: path.join(dir, 'queue.sqlite') });
  try {
    const { port } = await server.listen();
    const servers = `127.0.0.1:${port}`;
    say(`job server  listening on ${servers} (SQLite queue in ${dir})`);

    const nodes = ['web1', 'web2', 'web3'];
    await Promise.all(nodes.map((n, i) => writeLog(path.join(dir, `${n}.access.log`), { lines, node: i, seed: 2026 })));
    const bytes = nodes.reduce((s, n) => s + fs.statSync(path.join(dir, `${n}.access.log`)).size, 0);
    say(`logs        ${nodes.length} × ${lines.toLocaleString('en-US')} generated lines (${formatBytes(bytes)}: Zipf URLs, diurnal traffic, bots, dirty lines)`);

    for (const n of nodes) {
      procs.push(spawnGeartrain(['node', '--name', n, '--servers', servers, '--logs', path.join(dir, `${n}.access.log`), '--data', path.join(dir, `data-${n}`), '--concurrency', '1', '--poll-ms', '0']));
    }
    await Promise.all(procs.map((p, i) => waitForLine(p, /ready/, `node ${nodes[i]}`)));
    say(`nodes       ${nodes.join(', ')} ready (separate processes)`);

    // Live lines, as `tail -f access.log | geartrain ship -f logger` would send them.
    const live = 3000;
    const ship = spawnGeartrain(['ship', '-f', 'logger', '--servers', servers], 'pipe');
    for await (const chunk of generateLog({ lines: live, node: 7, seed: 99, start: new Date(Date.UTC(2026, 9, 7)), days: 1 })) {
      if (!ship.child.stdin!.write(chunk)) await new Promise((r) => ship.child.stdin!.once('drain', r));
    }
    ship.child.stdin!.end();
    if ((await exited(ship)) !== 0) throw new ProcessFailedError(`ship failed: ${ship.err.trim()}`);
    say(`ingestion   ${live.toLocaleString('en-US')} live lines shipped through logger into the nodes' segments`);

    const grepStart = Date.now();
    const matches: string[] = [];
    const grep = await runJob({ servers: [servers], job: 'grep', params: { pattern: 'POST /login' }, waitNodes: 3, output: (l) => void (matches.length < 3 && matches.push(l.toString('latin1'))) });
    say(`grep        ${grep.outputLines.toLocaleString('en-US')} lines match 'POST /login' across ${grep.nodes.length} nodes in ${formatDuration(Date.now() - grepStart)}, in time order; first:`);
    for (const m of matches) say(`              ${m.length > 110 ? m.slice(0, 109) + '…' : m}`);

    const analyzeStart = Date.now();
    const report = await runJob({ servers: [servers], job: 'analyze', params: { limit: 10 }, waitNodes: 3 });
    const result = (report.rendered?.json ?? report.result) as { totals: Record<string, number | string | boolean | null>; requests: { rows: { key: string; hits: number }[] }; statusCodes: { classes: { class: string; hits: number }[] } };
    const meta = { counters: report.counters, stats: report.stats, nodes: report.nodes, timings: report.timings, job: report.job, partial: report.partial, missing: report.missing };
    fs.writeFileSync(out, renderReport(result, { ...meta, title: 'geartrain demo' }));
    // The same document `geartrain run analyze --json` prints (`geartrain report` renders it again).
    fs.writeFileSync(out.replace(/\.html?$/, '') + '.json', JSON.stringify({ ...meta, result }, null, 2));
    const lps = Math.round(((report.counters.lines_read ?? 0) / (Date.now() - analyzeStart)) * 1000);
    say(`analyze     ${(report.counters.lines_read ?? 0).toLocaleString('en-US')} lines on ${report.nodes.length} nodes in ${formatDuration(Date.now() - analyzeStart)} (${lps.toLocaleString('en-US')} lines/s), ${report.tiers.length} reduce tier(s)`);
    say('');
    const t = result.totals;
    io.stdout.write(
      textTable({
        title: 'Summary',
        columns: ['measure', 'value'],
        rows: [
          ['requests', Number(t.requests)],
          ['unique visitors (IP+agent)', Number(t.visitors)],
          ['bandwidth', formatBytes(Number(t.bytes))],
          ['bad lines', Number(t.badLines ?? 0)],
          ...result.statusCodes.classes.map((c) => [`status ${c.class}`, c.hits] as [string, number]),
        ],
      }) + '\n',
    );
    io.stdout.write(textTable({ title: 'Top pages', columns: ['page', 'hits'], rows: result.requests.rows.slice(0, 5).map((r) => [r.key, r.hits]) }) + '\n');
    say(`report      ${out} (data: ${out.replace(/\.html?$/, '')}.json)`);
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all(procs.map(exited));
    await server.close({ timeoutMs: 2000 });
    if (values.keep) say(`kept        ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  }
  say(`done        in ${formatDuration(Date.now() - t0)}; everything stopped`);
  return 0;
}
