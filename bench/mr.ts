/**
 * npm run bench:mr — distributed `grep -c` of a fixed string over 3 local nodes on a generated
 * log of ≥ 1 GB, against GNU `grep -c` on the same files, in one run: lines/s, MB/s and the ratio,
 * end to end (coordinator process start to result) and for the scan phase alone (map tasks), with
 * the time split (plan, map, reduce, merge). Best of 3.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeLog } from '../src/logs/index.ts';
import { machine, ROOT, startGeartrain, startProcess, table, type Proc } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LINES_PER_NODE = Number(process.env.BENCH_LINES ?? 1_400_000);
const PATTERN = 'POST /login';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mr-'));
const BIN = path.join(ROOT, 'bin', 'geartrain.js');

function time<T>(f: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const r = f();
  return [r, Number(process.hrtime.bigint() - t0) / 1e9];
}

async function main() {
  console.log(`bench:mr on ${machine()}, best of ${RUNS}`);
  const files: string[] = [];
  for (let i = 0; i < 3; i++) {
    const f = path.join(dir, `web${i}.log`);
    await writeLog(f, { lines: LINES_PER_NODE, node: i, seed: 77 });
    files.push(f);
  }
  const bytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
  const lines = LINES_PER_NODE * 3;
  console.log(`input: 3 files, ${lines.toLocaleString('en-US')} lines, ${(bytes / 1e9).toFixed(2)} GB (page cache warm after the first read)`);
  execFileSync('cat', files, { stdio: ['ignore', 'ignore', 'ignore'], maxBuffer: 1 << 30 });

  // GNU grep, one process over the same files.
  let grepBest = Infinity;
  let grepCount = 0;
  for (let i = 0; i < RUNS; i++) {
    const [out, s] = time(() => execFileSync('grep', ['-c', PATTERN, ...files], { encoding: 'utf8' }));
    grepCount = out.trim().split('\n').reduce((n, l) => n + Number(l.split(':').pop()), 0);
    grepBest = Math.min(grepBest, s);
  }

  const server = await startGeartrain(['-q', 'memory']);
  const nodes: Proc[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startProcess(process.execPath, [BIN, 'node', '--name', `web${i}`, '--servers', `127.0.0.1:${server.port}`, '--logs', files[i]!, '--data', path.join(dir, `d${i}`), '--concurrency', '1', '--poll-ms', '0'], /ready/),
      );
    }
    let best: { total: number; timings: Record<string, number>; count: number } | null = null;
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, [BIN, 'run', 'grep', '-c', PATTERN, '--servers', `127.0.0.1:${server.port}`, '--wait-nodes', '3', '--json', '-q'], { stdio: ['ignore', 'pipe', 'inherit'] });
        let s = '';
        p.stdout.on('data', (d) => (s += d));
        p.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`run exited ${code}`))));
      });
      const total = Number(process.hrtime.bigint() - t0) / 1e9;
      const report = JSON.parse(out);
      if (!best || total < best.total) best = { total, timings: report.timings, count: report.result.total };
    }
    if (best!.count !== grepCount) throw new Error(`geartrain counted ${best!.count}, grep ${grepCount}`);
    const scan = best!.timings.map! / 1000;
    const mb = (s: number) => (bytes / 1e6 / s).toFixed(0);
    const lps = (s: number) => Math.round(lines / s).toLocaleString('en-US');
    console.log();
    console.log(
      table(
        ['', 'seconds', 'lines/s', 'MB/s', 'vs GNU grep'],
        [
          ['GNU grep -c (1 process)', grepBest.toFixed(2), lps(grepBest), mb(grepBest), '1.00×'],
          ['geartrain grep -c, end to end (3 nodes)', best!.total.toFixed(2), lps(best!.total), mb(best!.total), `${(grepBest / best!.total).toFixed(2)}×`],
          ['geartrain grep -c, scan phase (map tasks)', scan.toFixed(2), lps(scan), mb(scan), `${(grepBest / scan).toFixed(2)}×`],
        ],
      ),
    );
    const t = best!.timings;
    console.log(`\ntime split (ms): plan ${t.plan}, map ${t.map}, reduce ${t.reduce}, merge ${t.merge}, total in coordinator ${t.total}; process start and discovery ${(best!.total * 1000 - t.total!).toFixed(0)}`);
    console.log(`matching lines: ${grepCount.toLocaleString('en-US')} (equal)`);
  } finally {
    for (const n of nodes) await n.stop();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
