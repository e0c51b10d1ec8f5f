/**
 * analyze on one core, no cluster: parse + map over a generated log, beside GoAccess on the same
 * file (GoAccess 1.7 is single-threaded; the log-analyzers study measured 67k lines/s here).
 *
 *   node --import tsx bench/analyze-local.ts [--lines N] [--runs R] [--file PATH] [--keep] [--no-goaccess]
 *
 * Generates a combined log (default 1,000,000 lines, the generator's default dirt) unless --file
 * is given, warms the page cache, then times, best of R runs:
 *   - the parser alone with analyze's fields (the floor under any job);
 *   - parser + analyze's map (the figure to compare with GoAccess);
 *   - encoding the partial, decoding it and finalizing (done once per shard / run, not per line);
 * and `goaccess FILE --log-format=COMBINED --no-global-config -o report.json` once, with LANG=C.
 * Figures are lines/s by wall time and by CPU time of the process doing the work; on a shared
 * machine the CPU figure is the steadier one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import analyze from '../jobs/analyze.ts';
import { compileLogFormat, ParseStats, readLogRange, writeLog, type FieldName } from '../src/logs/index.ts';
import type { MapContext } from '../src/mapreduce/job-definition.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const lines = Number(arg('--lines') ?? 1_000_000);
const runs = Number(arg('--runs') ?? 3);
const keep = process.argv.includes('--keep');
const given = arg('--file');
const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-bench-analyze-'));
const file = given ?? path.join(dir, 'access.log');

interface Timing {
  wall: number;
  cpu: number;
  lines: number;
}

const rows: Array<{ name: string } & Timing> = [];

function show(name: string, t: Timing): void {
  rows.push({ name, ...t });
  const rate = (s: number) => Math.round(t.lines / s).toLocaleString('en').padStart(10);
  console.log(`${name.padEnd(44)} wall ${t.wall.toFixed(3).padStart(7)} s ${rate(t.wall)}/s   cpu ${t.cpu.toFixed(3).padStart(7)} s ${rate(t.cpu)}/s`);
}

async function measure(work: () => Promise<number>): Promise<Timing> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const n = await work();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, lines: n };
}

async function best(name: string, work: () => Promise<number>): Promise<void> {
  let wall = Infinity;
  let cpu = Infinity;
  let n = 0;
  for (let r = 0; r < runs; r++) {
    const t = await measure(work);
    wall = Math.min(wall, t.wall);
    cpu = Math.min(cpu, t.cpu);
    n = t.lines;
  }
  show(name, { wall, cpu, lines: n });
}

const params = analyze.params.parse({});
const format = compileLogFormat('combined');
const fields = (analyze.input(params) as { records: FieldName[] }).records.filter((f) => format.provides(f));
const ctx: MapContext<typeof params> = { params, node: 'bench', file, count: () => {}, accepts: () => true, timeOf: () => undefined };

async function parseOnly(): Promise<number> {
  const parser = format.createParser(fields);
  const stats = new ParseStats();
  let sink = 0;
  for await (const chunk of readLogRange(file, {}, { chunkSize: 1 << 20 })) parser.parseBuffer(chunk, (r) => (sink += r.status as number), stats);
  if (sink === 0) throw new Error('nothing parsed');
  return stats.lines;
}

let lastState: ReturnType<typeof analyze.create> | undefined;
async function parseAndMap(): Promise<number> {
  const parser = format.createParser(fields);
  const stats = new ParseStats();
  const state = analyze.create(params);
  for await (const chunk of readLogRange(file, {}, { chunkSize: 1 << 20 })) parser.parseBuffer(chunk, (r) => analyze.map!(state, r, ctx), stats);
  lastState = state;
  return stats.lines;
}

try {
  console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (!given) {
    const t = await measure(async () => (await writeLog(file, { lines })).lines);
    show('generate (writeLog, default dirt)', t);
  }
  const size = statSync(file).size;
  readFileSync(file); // warm the page cache
  console.log(`file: ${file}, ${(size / 1e6).toFixed(1)} MB`);

  await best('parser alone (analyze fields)', parseOnly);
  await best('parser + analyze map', parseAndMap);
  const mapRow = rows.at(-1)!;

  const t0 = performance.now();
  const encoded = analyze.encode!(lastState!, params);
  const t1 = performance.now();
  const decoded = analyze.decode!(Buffer.from(encoded), params);
  const t2 = performance.now();
  const result = analyze.finalize(decoded, params, { runId: 'bench', nodes: ['bench'], counters: {}, startedAt: 0 });
  const t3 = performance.now();
  console.log(
    `partial: ${(encoded.length / 1e6).toFixed(2)} MB encoded in ${(t1 - t0).toFixed(0)} ms, decoded in ${(t2 - t1).toFixed(0)} ms; finalize ${(t3 - t2).toFixed(0)} ms` +
      ` (${result.totals.requests.toLocaleString('en')} requests, ${result.totals.visitors.toLocaleString('en')} visitors)`,
  );

  if (!process.argv.includes('--no-goaccess')) {
    const version = spawnSync('goaccess', ['--version'], { encoding: 'utf8' });
    if (version.status === 0) {
      const out = path.join(dir, 'report.json');
      // `times` in sh gives the children's user and system time.
      const script = 'goaccess "$1" --log-format=COMBINED --no-global-config -o "$2" >/dev/null 2>&1; s=$?; times >&2; exit $s';
      const w0 = process.hrtime.bigint();
      const g = spawnSync('sh', ['-c', script, 'sh', file, out], { env: { ...process.env, LANG: 'C', LC_ALL: 'C' }, encoding: 'utf8' });
      const wall = Number(process.hrtime.bigint() - w0) / 1e9;
      const secs = [...(g.stderr.trim().split('\n').at(-1) ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
      if (g.status === 0) {
        const goLines = mapRow.lines;
        show(`goaccess ${version.stdout.split('\n')[0]?.replace(/^GoAccess - /, '').replace(/\.$/, '')} -o json`, { wall, cpu: (secs[0] ?? NaN) + (secs[1] ?? NaN), lines: goLines });
        const go = rows.at(-1)!;
        const ratio = (k: 'wall' | 'cpu') => (go[k] / mapRow[k]).toFixed(2);
        console.log(`\nparser + analyze map vs goaccess, one core each: ${ratio('wall')}× by wall time, ${ratio('cpu')}× by CPU time`);
      } else console.log(`goaccess failed (exit ${g.status})`);
    } else console.log('goaccess not installed: skipped');
  }
} finally {
  if (keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
