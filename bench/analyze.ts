/**
 * npm run bench:analyze — `analyze` over a generated 2,000,000-line combined log split over 3
 * local nodes, against `goaccess --log-format=COMBINED -o report.json` on the same lines, in one
 * run: lines/s each and the ratio (best of 3). Also the one-shot `geartrain analyze` on the same
 * files, and DuckDB computing the same panels in SQL over the same files (bench/duckdb-analyze.ts),
 * with a sanity line: DuckDB's request count and status counts must equal geartrain's.
 * The single-core parse + map figure is in bench/analyze-local.ts.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeLog } from '../src/logs/index.ts';
import { duckdbAnalyze, type DuckDbAnalysis } from './duckdb-analyze.ts';
import { machine, median, ROOT, startGeartrain, startProcess, table, type Proc } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LINES = Number(process.env.BENCH_LINES ?? 2_000_000);
const BIN = path.join(ROOT, 'bin', 'geartrain.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-analyze-'));

function runCli(args: string[]): Promise<{ seconds: number; out: string }> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? resolve({ seconds: Number(process.hrtime.bigint() - t0) / 1e9, out }) : reject(new Error(`geartrain ${args[0]} exited ${code}: ${err}`))));
  });
}

/** DuckDB's request count and status counts against geartrain's. */
function sanity(result: { totals: { requests: number; visitors: number }; statusCodes: { rows: { code: number; hits: number }[] } }, d: DuckDbAnalysis): string {
  const ours = new Map(result.statusCodes.rows.map((r) => [r.code, r.hits]));
  const codes = [...new Set([...ours.keys(), ...d.statuses.keys()])].sort((a, b) => a - b);
  const diff = codes.filter((c) => ours.get(c) !== d.statuses.get(c)).map((c) => `${c}: geartrain ${ours.get(c) ?? 0}, duckdb ${d.statuses.get(c) ?? 0}`);
  const same = result.totals.requests === d.requests && diff.length === 0;
  return (
    `sanity: ${same ? 'OK' : 'MISMATCH'}: requests geartrain ${result.totals.requests}, duckdb ${d.requests}; ${codes.length} status codes${diff.length ? ` differ: ${diff.join('; ')}` : ' equal'}` +
    `; visitors geartrain ${result.totals.visitors} (HyperLogLog), duckdb ${d.visitors} (exact)`
  );
}

async function main() {
  // bin/geartrain.js runs dist/ when it is fresh, else the sources through tsx, which then compiles
  // every module again in each process and task thread (seconds of CPU that are not analyze's).
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { stdio: 'ignore' });
  console.log(`bench:analyze on ${machine()}, best of ${RUNS}`);
  const per = Math.ceil(LINES / 3);
  const files: string[] = [];
  for (let i = 0; i < 3; i++) {
    const f = path.join(dir, `web${i}.log`);
    await writeLog(f, { lines: per, node: i, seed: 3 });
    files.push(f);
  }
  const all = path.join(dir, 'all.log');
  execFileSync('sh', ['-c', `cat ${files.map((f) => `'${f}'`).join(' ')} > '${all}'`]);
  const lines = per * 3;
  const bytes = fs.statSync(all).size;
  console.log(`input: ${lines.toLocaleString('en-US')} combined lines, ${(bytes / 1e6).toFixed(0)} MB, in 3 files (GoAccess reads their concatenation)`);

  let go = Infinity;
  const gos: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('goaccess', [all, '--log-format=COMBINED', '--no-global-config', '-o', path.join(dir, 'go.json')], { env: { ...process.env, LANG: 'C', LC_ALL: 'C' }, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`goaccess exited ${r.status}`);
    gos.push(Number(process.hrtime.bigint() - t0) / 1e9);
    go = Math.min(go, gos.at(-1)!);
  }

  const server = await startGeartrain(['-q', 'memory']);
  const nodes: Proc[] = [];
  let dist = Infinity;
  const dists: number[] = [];
  let timings: Record<string, number> = {};
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(await startProcess(process.execPath, [BIN, 'node', '--name', `web${i}`, '--servers', `127.0.0.1:${server.port}`, '--logs', files[i]!, '--data', path.join(dir, `d${i}`), '--concurrency', '1', '--poll-ms', '0'], /ready/));
    }
    for (let i = 0; i < RUNS; i++) {
      const r = await runCli(['run', 'analyze', '--servers', `127.0.0.1:${server.port}`, '--wait-nodes', '3', '--json', '-q']);
      dists.push(r.seconds);
      if (r.seconds < dist) {
        dist = r.seconds;
        timings = JSON.parse(r.out).timings;
      }
    }
  } finally {
    for (const n of nodes) await n.stop();
    await server.stop();
  }
  let oneShot = Infinity;
  let oneShotOut = '';
  const oneShots: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await runCli(['analyze', ...files, '--json']);
    oneShots.push(r.seconds);
    if (r.seconds < oneShot) [oneShot, oneShotOut] = [r.seconds, r.out];
  }
  let duck = Infinity;
  let duckResult: DuckDbAnalysis | undefined;
  const ducks: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const d = await duckdbAnalyze(files);
    ducks.push(d.seconds);
    if (d.seconds < duck) [duck, duckResult] = [d.seconds, d];
  }

  const lps = (s: number) => Math.round(lines / s).toLocaleString('en-US');
  console.log();
  console.log(
    table(
      ['', 'seconds', 'lines/s', 'vs GoAccess'],
      [
        ['goaccess -o json (1 process)', go.toFixed(2), lps(go), '1.00×'],
        ['geartrain run analyze, 3 nodes (end to end)', dist.toFixed(2), lps(dist), `${(go / dist).toFixed(2)}×`],
        ['geartrain analyze FILE… (one-shot, embedded)', oneShot.toFixed(2), lps(oneShot), `${(go / oneShot).toFixed(2)}×`],
        ['duckdb read_csv + SQL panels (all cores)', duck.toFixed(2), lps(duck), `${(go / duck).toFixed(2)}×`],
      ],
    ),
  );
  console.log(`\nratios: one-shot vs DuckDB ${(duck / oneShot).toFixed(2)}× (median ${(median(ducks) / median(oneShots)).toFixed(2)}×), run analyze vs DuckDB ${(duck / dist).toFixed(2)}×, run analyze vs GoAccess ${(go / dist).toFixed(2)}×`);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  console.log(`runs (s): goaccess ${list(gos)}; run analyze ${list(dists)}; one-shot ${list(oneShots)}; duckdb ${list(ducks)}`);
  console.log(sanity(JSON.parse(oneShotOut).result, duckResult!));
  console.log(`\ndistributed time split (ms): plan ${timings.plan}, map ${timings.map}, reduce ${timings.reduce}, merge ${timings.merge}, total ${timings.total}`);
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
