/**
 * npm run bench:analyze-scale — `geartrain analyze FILE` (one-shot) against GoAccess on generated
 * combined logs of 1M, 3M and 10M lines (≈ 0.25, 0.75, 2.5 GB) whose distinct paths and hosts grow
 * with the log (generator options longTail and maxClients), printing time, lines/s and peak RSS of
 * each beside the other, and the ratios. The question: does time stay linear in lines and memory
 * flat (bounded by --max-keys and the sketches), where GoAccess keeps every key?
 *
 * Peak RSS is the process's high-water mark (VmHWM), read from /proc/PID/status by polling every
 * 20 ms until it exits (task threads are in the same process). Each size is run BENCH_RUNS times
 * (default 3), figures are min / median. BENCH_SIZES=1e6,3e6 picks sizes; BENCH_MAX_KEYS adds a
 * run with that --max-keys; BENCH_DIR puts the files elsewhere (they are deleted at the end).
 *
 * The CLI is built first (npm run build): bin/geartrain.js runs dist/ when it is fresh, as an
 * installed package does, and otherwise the sources through tsx, whose transpiler and module
 * cache in each of the three isolates (main thread, two task threads) added about 110 MB of RSS
 * and seconds of start-up to every figure.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeLog } from '../src/logs/index.ts';
import { machine, median, memoryKiB, ROOT, table } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SIZES = (process.env.BENCH_SIZES ?? '1e6,3e6,1e7').split(',').map(Number);
const MAX_KEYS = process.env.BENCH_MAX_KEYS;
const BIN = path.join(ROOT, 'bin', 'geartrain.js');
const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'bench-analyze-scale-'));

interface Measure {
  seconds: number;
  peakKiB: number;
}


/** Runs a command, polling its VmHWM; rejects on a non-zero exit. */
function measure(cmd: string, args: string[]): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LANG: 'C', LC_ALL: 'C' } });
    let peak = 0;
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const timer = setInterval(() => (peak = Math.max(peak, memoryKiB(p.pid!)?.peak ?? 0)), 20);
    p.on('exit', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) reject(new Error(`${cmd} exited ${code}: ${err.slice(-2000)}`));
      else resolve({ seconds, peakKiB: peak });
    });
  });
}

const mm = (xs: number[], f: (x: number) => string) => `${f(Math.min(...xs))} / ${f(median(xs))}`;
const mb = (kib: number) => (kib / 1024).toFixed(0);

async function main() {
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error('npm run build failed: the figures would be those of the sources run through tsx');
  console.log(`bench:analyze-scale on ${machine()}, ${RUNS} runs per size (min / median)`);
  const rows: (string | number)[][] = [];
  const summary: string[] = [];
  for (const lines of SIZES) {
    const file = path.join(dir, `scale-${lines}.log`);
    const g = await writeLog(file, { lines, seed: 17, days: 30, longTail: 0.3, maxClients: 10_000_000 });
    console.log(`\n${lines.toLocaleString('en-US')} lines, ${(g.bytes / 1e9).toFixed(2)} GB`);
    const tools: [string, string, string[]][] = [
      ['goaccess', 'goaccess', [file, '--log-format=COMBINED', '--no-global-config', '-o', path.join(dir, 'go.json')]],
      ['geartrain analyze', process.execPath, [BIN, 'analyze', file, '--json', '--out', path.join(dir, 'gt.json')]],
    ];
    if (MAX_KEYS) tools.push([`geartrain analyze --max-keys ${MAX_KEYS}`, process.execPath, [BIN, 'analyze', file, '--json', '--max-keys', MAX_KEYS, '--out', path.join(dir, 'gt.json')]]);
    const results = new Map<string, Measure[]>();
    for (let i = 0; i < RUNS; i++) {
      for (const [name, cmd, args] of tools) {
        const m = await measure(cmd, args);
        results.set(name, [...(results.get(name) ?? []), m]);
        console.log(`  ${name}: ${m.seconds.toFixed(1)} s, ${mb(m.peakKiB)} MB peak RSS`);
      }
    }
    const go = results.get('goaccess')!;
    const gt = JSON.parse(fs.readFileSync(path.join(dir, 'gt.json'), 'utf8')) as { result?: { totals?: Record<string, number>; requests?: { exact?: boolean } } };
    const t = gt.result?.totals ?? {};
    summary.push(`${lines.toLocaleString('en-US')} lines: ${t.distinctRequests?.toLocaleString('en-US')} distinct request keys, ${t.distinctHosts?.toLocaleString('en-US')} hosts; requests panel ${gt.result?.requests?.exact === false ? 'approximate' : 'exact'}`);
    for (const [name, ms] of results) {
      const s = ms.map((m) => m.seconds);
      const r = ms.map((m) => m.peakKiB);
      rows.push([
        lines.toLocaleString('en-US'),
        name,
        mm(s, (x) => x.toFixed(1)),
        mm(s.map((x) => lines / x), (x) => Math.round(x).toLocaleString('en-US')),
        mm(r, mb),
        name === 'goaccess' ? '1.00×' : `${(median(go.map((m) => m.seconds)) / median(s)).toFixed(2)}×`,
        name === 'goaccess' ? '1.00×' : `${(median(r) / median(go.map((m) => m.peakKiB))).toFixed(2)}×`,
      ]);
    }
    fs.rmSync(file, { force: true });
  }
  console.log();
  console.log(table(['lines', 'tool', 'seconds', 'lines/s', 'peak RSS MB', 'speed vs GoAccess', 'RSS vs GoAccess'], rows));
  console.log();
  for (const s of summary) console.log(s);
  console.log('(machine shared with other work; speed ratio = GoAccess median time / ours, RSS ratio = ours / GoAccess)');
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
