/**
 * Parser throughput on one core against wc -l and GoAccess, on the same generated file.
 *
 *   node --import tsx bench/parse.ts [--lines N] [--runs R] [--keep]
 *
 * Generates a combined log (default 1,000,000 lines, the generator's default dirt rates) in a temp
 * dir, then times: `wc -l`; reading + line splitting alone; the parser with every field; the
 * parser with the fields a typical job asks for (status, path, bytes, time); and
 * `goaccess FILE --log-format=COMBINED -o report.json`. The page cache is warm.
 *
 * Each figure is given by wall time and by CPU time (user + system of the process doing the work,
 * children included). On a shared machine the CPU figure is the steadier one. Parser figures are
 * the best of R runs; wc and goaccess run once each (goaccess takes a while).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileLogFormat, countLines, ParseStats, readLogRange, writeLog, type FieldName } from '../src/logs/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const lines = arg('--lines', 1_000_000);
const runs = arg('--runs', 3);
const keep = process.argv.includes('--keep');
const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-bench-'));
const file = path.join(dir, 'access.log');

interface Timing {
  wall: number;
  cpu: number;
  lines: number;
}

const results: Array<{ name: string } & Timing> = [];

function report(name: string, t: Timing): void {
  results.push({ name, ...t });
  const rate = (s: number) => Math.round(t.lines / s).toLocaleString('en').padStart(11);
  console.log(`${name.padEnd(40)} wall ${t.wall.toFixed(3).padStart(7)} s ${rate(t.wall)}/s   cpu ${t.cpu.toFixed(3).padStart(7)} s ${rate(t.cpu)}/s`);
}

/** Times work done in this process. */
async function measure(run: () => Promise<number>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const n = await run();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, lines: n };
}

async function best(name: string, run: () => Promise<number>): Promise<void> {
  let wall = Infinity;
  let cpu = Infinity;
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const t = await measure(run);
    wall = Math.min(wall, t.wall);
    cpu = Math.min(cpu, t.cpu);
    n = t.lines;
  }
  report(name, { wall, cpu, lines: n });
}

/** Times a command through sh, whose `times` builtin gives the children's user and system time. */
function command(args: string[], env: NodeJS.ProcessEnv = process.env): { timing: Omit<Timing, 'lines'>; stdout: string; ok: boolean; stderr: string } {
  const script = '"$@" > "$OUT" 2> "$ERR"; status=$?; times >&2; exit $status';
  const out = path.join(dir, 'cmd.out');
  const err = path.join(dir, 'cmd.err');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', script, 'sh', ...args], { env: { ...env, OUT: out, ERR: err }, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const children = r.stderr.trim().split('\n').at(-1) ?? '';
  const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  const read = (f: string) => execFileSync('cat', [f]).toString();
  return { timing: { wall, cpu: (secs[0] ?? NaN) + (secs[1] ?? NaN) }, stdout: read(out), stderr: read(err), ok: r.status === 0 };
}

async function parseWith(fields: readonly FieldName[] | 'all'): Promise<number> {
  const format = compileLogFormat('combined');
  const parser = fields === 'all' ? format.createParser('all') : format.createParser(fields);
  const stats = new ParseStats();
  let sink = 0;
  for await (const chunk of readLogRange(file, {}, { chunkSize: 1 << 20 })) {
    parser.parseBuffer(chunk, (r) => { sink += (r as { status?: number }).status ?? 1; }, stats);
  }
  if (sink === 0) throw new Error('nothing parsed');
  return stats.lines;
}

try {
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  report('generate (writeLog, default dirt)', await measure(async () => (await writeLog(file, { lines })).lines));
  const size = statSync(file).size;
  console.log(`file: ${file}, ${lines.toLocaleString('en')} lines, ${(size / 1e6).toFixed(1)} MB`);

  execFileSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] }); // warm the page cache
  const wc = command(['wc', '-l', file]);
  report('wc -l', { ...wc.timing, lines: Number(wc.stdout.trim().split(/\s+/)[0]) });

  await best('read + split lines (no parsing)', async () => {
    let n = 0;
    for await (const chunk of readLogRange(file, {}, { chunkSize: 1 << 20 })) n += countLines(chunk);
    return n;
  });
  await best('parser, all fields', () => parseWith('all'));
  await best('parser, status+path+bytes+time', () => parseWith(['status', 'path', 'bytes', 'time']));
  await best('parser, status only', () => parseWith(['status']));

  const version = spawnSync('goaccess', ['--version'], { encoding: 'utf8' });
  if (version.status === 0) {
    const name = `goaccess ${version.stdout.split('\n')[0]?.replace(/^GoAccess - /, '').replace(/\.$/, '')} -o json`;
    const env = { ...process.env, LANG: 'C', LC_ALL: 'C' };
    const g = command(['goaccess', file, '--log-format=COMBINED', '--no-global-config', '-o', path.join(dir, 'report.json')], env);
    if (g.ok) report(name, { ...g.timing, lines });
    else console.log(`goaccess failed: ${g.stderr.slice(0, 500)}`);
  } else {
    console.log('goaccess not installed: skipped');
  }

  const typical = results.find((r) => r.name.startsWith('parser, status+path'))!;
  console.log('\nratios, typical parser (status+path+bytes+time) to each (lines/s by wall | by cpu):');
  for (const r of results) {
    if (r === typical) continue;
    const ratio = (k: 'wall' | 'cpu') => (typical.lines / typical[k] / (r.lines / r[k])).toFixed(2);
    console.log(`  / ${r.name.padEnd(38)} ${ratio('wall').padStart(7)} | ${ratio('cpu')}`);
  }
} finally {
  if (keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
