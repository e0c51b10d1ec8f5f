/**
 * npm run bench:mr — grep over a generated log of ≥ 1 GB (3 files, page cache warm), every figure
 * beside its reference from the same run:
 *
 * 1. The scan on one core: Buffer.indexOf over the bytes in memory (the rate to reach), grep -c's
 *    map task (read + count lines + match, as a task thread runs it), ripgrep `-j1` (the ceiling)
 *    and GNU grep, in GB/s of CPU time; and a regular expression with a literal prefilter.
 * 2. End to end: `geartrain run grep -c` on 3 local nodes (one task thread each) against GNU
 *    `grep -c` over the same files, alternating; wall time, the time split, and the CPU time of
 *    the coordinator, the nodes and the job server.
 * 3. Node footprint: each node's RSS right after it starts, its peak during the runs, right after
 *    them, and 30 s later (task threads end after 10 s idle).
 *
 * BENCH_RUNS (default 5) end-to-end runs each; BENCH_LINES lines per file (default 1.4 M). The
 * machine's load average is printed: wall times on a shared machine are noisy, CPU times less so.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeLog } from '../src/logs/index.ts';
import { importJobFile } from '../src/mapreduce/job-loader.ts';
import { executeMapTask } from '../src/mapreduce/map-executor.ts';
import { PartialStore } from '../src/mapreduce/partial-store.ts';
import type { MapTask } from '../src/mapreduce/wire.ts';
import { machine, median, memoryKiB, ROOT, startGeartrain, startProcess, table, type Proc } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const LINES_PER_NODE = Number(process.env.BENCH_LINES ?? 1_400_000);
const PATTERN = 'POST /login';
const REGEX = 'POST /api/v1/(cart|orders)';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mr-'));
const BIN = path.join(ROOT, 'bin', 'geartrain.js');
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

interface Timed {
  wall: number;
  /** User + system CPU seconds of the process (and its children). */
  cpu: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time for its wall and CPU time. */
function timed(cmd: string, args: string[]): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn('/usr/bin/time', ['-f', 'TIMED %U %S', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const m = /TIMED ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
      if (code !== 0 && code !== 1) return reject(new Error(`${cmd} exited ${code}: ${stderr}`));
      resolve({ wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN, stdout });
    });
  });
}

/** CPU seconds a process has used so far (/proc/PID/stat utime + stime). */
function cpuOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * TICK_MS) / 1000;
}

/** VmRSS and VmHWM (its peak so far) of a process, in MiB. */
function rssOf(pid: number): { rss: number; peak: number } {
  const m = memoryKiB(pid);
  if (m === null) throw new Error(`process ${pid} has ended`);
  return { rss: m.rss / 1024, peak: m.peak / 1024 };
}

/** Whether bin/geartrain.js runs the bundle (dist/ newer than every source), as it decides. */
function distIsFresh(): boolean {
  const newest = (d: string): number =>
    fs.readdirSync(d, { withFileTypes: true }).reduce((m, e) => Math.max(m, e.isDirectory() ? newest(path.join(d, e.name)) : fs.statSync(path.join(d, e.name)).mtimeMs), 0);
  try {
    const built = fs.statSync(path.join(ROOT, 'dist', 'BUILT')).mtimeMs;
    return built >= newest(path.join(ROOT, 'src')) && built >= newest(path.join(ROOT, 'jobs'));
  } catch {
    return false;
  }
}

const gbps = (bytes: number, s: number) => (bytes / 1e9 / s).toFixed(2);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(' ');

/** A grep map task over whole files, as a node's task thread runs it, on this thread. */
async function mapTaskScan(files: string[], params: Record<string, unknown>, store: PartialStore, id: string): Promise<{ cpu: number; matched: number }> {
  const job = await importJobFile(path.join(ROOT, 'jobs', 'grep.ts'));
  const task: MapTask = {
    v: 1,
    kind: 'map',
    runId: 'bench',
    taskId: id,
    job: { type: 'builtin', name: 'grep' },
    params: { patterns: [], regex: false, ignoreCase: false, invert: false, count: true, filesWithMatches: false, onlyMatching: false, withNode: false, withFilename: false, ...params },
    shards: files.map((f, i) => ({ id: `s${i}`, path: f, start: 0, end: null, format: 'combined', gzip: false })),
    filter: {},
  };
  const c0 = process.cpuUsage();
  const result = await executeMapTask(task, { node: 'bench', store, job });
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, matched: result.counters.matched ?? 0 };
}

async function scanOnOneCore(files: string[], bytes: number, grepCount: number): Promise<void> {
  console.log(`\n## The scan on one core (CPU time; load average ${load()})\n`);
  const data = files.map((f) => fs.readFileSync(f));
  const needle = Buffer.from(PATTERN);
  let indexOfCpu = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage();
    let n = 0;
    for (const b of data) for (let p = b.indexOf(needle); p >= 0; p = b.indexOf(needle, p + 1)) n++;
    const c = process.cpuUsage(c0);
    if (n !== grepCount) throw new Error(`Buffer.indexOf found ${n}, grep ${grepCount}`);
    indexOfCpu = Math.min(indexOfCpu, (c.user + c.system) / 1e6);
  }
  data.length = 0;
  const store = new PartialStore(path.join(dir, 'scan'), 'bench');
  let taskCpu = Infinity;
  let regexCpu = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const fixed = await mapTaskScan(files, { pattern: PATTERN }, store, `m${r}`);
    if (fixed.matched !== grepCount) throw new Error(`the map task counted ${fixed.matched}, grep ${grepCount}`);
    taskCpu = Math.min(taskCpu, fixed.cpu);
    regexCpu = Math.min(regexCpu, (await mapTaskScan(files, { pattern: REGEX, regex: true }, store, `e${r}`)).cpu);
  }
  let rg = { cpu: Infinity, wall: Infinity };
  let gnu = { cpu: Infinity, wall: Infinity };
  let rgRegex = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const a = await timed('rg', ['-c', '-j1', '-F', PATTERN, ...files]);
    rg = { cpu: Math.min(rg.cpu, a.cpu), wall: Math.min(rg.wall, a.wall) };
    const b = await timed('grep', ['-c', '-F', PATTERN, ...files]);
    gnu = { cpu: Math.min(gnu.cpu, b.cpu), wall: Math.min(gnu.wall, b.wall) };
    rgRegex = Math.min(rgRegex, (await timed('rg', ['-c', '-j1', REGEX, ...files])).cpu);
  }
  console.log(
    table(
      ['', 'CPU s', 'GB/s of CPU', 'vs Buffer.indexOf'],
      [
        [`Buffer.indexOf('${PATTERN}') over the bytes in memory`, indexOfCpu.toFixed(3), gbps(bytes, indexOfCpu), '1.00×'],
        [`geartrain grep -c map task (read, count lines, match)`, taskCpu.toFixed(3), gbps(bytes, taskCpu), `${(indexOfCpu / taskCpu).toFixed(2)}×`],
        [`ripgrep rg -c -j1 -F (the ceiling)`, rg.cpu.toFixed(3), gbps(bytes, rg.cpu), `${(indexOfCpu / rg.cpu).toFixed(2)}×`],
        [`GNU grep -c -F`, gnu.cpu.toFixed(3), gbps(bytes, gnu.cpu), `${(indexOfCpu / gnu.cpu).toFixed(2)}×`],
        [`geartrain grep -c -E '${REGEX}' map task (prefilter '${'POST /api/v1/'}')`, regexCpu.toFixed(3), gbps(bytes, regexCpu), `${(indexOfCpu / regexCpu).toFixed(2)}×`],
        [`ripgrep rg -c -j1 -e '${REGEX}'`, rgRegex.toFixed(3), gbps(bytes, rgRegex), `${(indexOfCpu / rgRegex).toFixed(2)}×`],
      ],
    ),
  );
  console.log(`\ngrep -c map task / Buffer.indexOf: ${((indexOfCpu / taskCpu) * 100).toFixed(0)} % (target ≥ 80 %); wall times of the tools: rg ${rg.wall.toFixed(3)} s, GNU grep ${gnu.wall.toFixed(3)} s`);
}

interface RunFigures {
  wall: number;
  coordinatorCpu: number;
  nodesCpu: number;
  serverCpu: number;
  timings: Record<string, number>;
  count: number;
}

async function endToEnd(files: string[], bytes: number, grepCount: number): Promise<void> {
  console.log(`\n## End to end: run grep -c on 3 nodes (load average ${load()})\n`);
  const server = await startGeartrain(['-q', 'memory']);
  const nodes: Proc[] = [];
  const footprint: { node: string; idle: number; peak: number; after: number; later: number }[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await startProcess(process.execPath, [BIN, 'node', '--name', `web${i}`, '--servers', `127.0.0.1:${server.port}`, '--logs', files[i]!, '--data', path.join(dir, `d${i}`), '--concurrency', '1', '--poll-ms', '0'], /ready/),
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    const idle = nodes.map((n) => rssOf(n.child.pid!));
    const runs: RunFigures[] = [];
    let grepBest = Infinity;
    let grepCpu = Infinity;
    for (let i = 0; i < RUNS; i++) {
      // Alternate with GNU grep, so both see the same machine.
      const g = await timed('grep', ['-c', '-F', PATTERN, ...files]);
      grepBest = Math.min(grepBest, g.wall);
      grepCpu = Math.min(grepCpu, g.cpu);
      const before = nodes.map((n) => cpuOf(n.child.pid!));
      const serverBefore = cpuOf(server.child.pid!);
      const r = await timed(process.execPath, [BIN, 'run', 'grep', '-c', PATTERN, '--servers', `127.0.0.1:${server.port}`, '--wait-nodes', '3', '--json', '-q']);
      const report = JSON.parse(r.stdout);
      runs.push({
        wall: r.wall,
        coordinatorCpu: r.cpu,
        nodesCpu: nodes.reduce((s, n, k) => s + cpuOf(n.child.pid!) - before[k]!, 0),
        serverCpu: cpuOf(server.child.pid!) - serverBefore,
        timings: report.timings,
        count: report.result.total,
      });
      if (report.result.total !== grepCount) throw new Error(`geartrain counted ${report.result.total}, grep ${grepCount}`);
    }
    const after = nodes.map((n) => rssOf(n.child.pid!));
    console.log(`waiting 30 s for the task threads to end (idle 10 s)…`);
    await new Promise((r) => setTimeout(r, 30_000));
    const later = nodes.map((n) => rssOf(n.child.pid!));
    for (let i = 0; i < 3; i++) footprint.push({ node: `web${i}`, idle: idle[i]!.rss, peak: after[i]!.peak, after: after[i]!.rss, later: later[i]!.rss });

    const first = runs[0]!;
    const best = runs.slice(1).reduce((a, b) => (b.wall < a.wall ? b : a), runs[1] ?? first);
    const mb = (s: number) => (bytes / 1e6 / s).toFixed(0);
    const warmMedian = median((runs.length > 1 ? runs.slice(1) : runs).map((r) => r.wall));
    console.log(
      table(
        ['', 'seconds', 'MB/s', 'GNU grep time / this'],
        [
          ['GNU grep -c (1 process), best', grepBest.toFixed(3), mb(grepBest), '1.00×'],
          ['geartrain run grep -c, best warm run (threads started)', best.wall.toFixed(3), mb(best.wall), `${(grepBest / best.wall).toFixed(2)}×`],
          ['geartrain run grep -c, median of the warm runs', warmMedian.toFixed(3), mb(warmMedian), `${(grepBest / warmMedian).toFixed(2)}×`],
          ['geartrain run grep -c, first run (task threads start)', first.wall.toFixed(3), mb(first.wall), `${(grepBest / first.wall).toFixed(2)}×`],
          ['geartrain map phase of the best run', (best.timings.map! / 1000).toFixed(3), mb(best.timings.map! / 1000), `${((grepBest * 1000) / best.timings.map!).toFixed(2)}×`],
        ],
      ),
    );
    const t = best.timings;
    const outside = best.wall * 1000 - t.total!;
    console.log(
      `\ntime split of the best run (ms): process start, CLI and job loading, exit ${outside.toFixed(0)}; discovery, catalogues and plan ${t.plan}; map ${t.map}; reduce ${t.reduce}; output ${t.merge}`,
    );
    console.log(
      `CPU of the best run (s): coordinator ${best.coordinatorCpu.toFixed(2)}, 3 nodes ${best.nodesCpu.toFixed(2)}, job server ${best.serverCpu.toFixed(2)}, total ${(best.coordinatorCpu + best.nodesCpu + best.serverCpu).toFixed(2)} (GNU grep ${grepCpu.toFixed(2)}; first run: nodes ${first.nodesCpu.toFixed(2)})`,
    );
    console.log(`every run (s): ${runs.map((r) => r.wall.toFixed(3)).join(', ')}; GNU grep best ${grepBest.toFixed(3)}`);
    console.log(`matching lines: ${grepCount.toLocaleString('en-US')} (equal)`);

    console.log(`\n## Node footprint (RSS, MiB; load average ${load()})\n`);
    console.log(
      table(
        ['node', 'idle after start', 'peak during the runs', 'right after the runs', '30 s later'],
        footprint.map((f) => [f.node, f.idle.toFixed(1), f.peak.toFixed(1), f.after.toFixed(1), f.later.toFixed(1)]),
      ),
    );
    console.log(`targets: idle ≤ 64 MiB, 30 s after a run ≤ 96 MiB`);
  } finally {
    for (const n of nodes) await n.stop();
    await server.stop();
  }
}

async function main() {
  console.log(`bench:mr on ${machine()}; ${RUNS} runs of each; load average ${load()}`);
  console.log(`nodes and coordinator run ${distIsFresh() ? 'the bundle in dist/' : 'the TypeScript sources through tsx (dist/ is older: npm run build)'}`);
  if (spawnSync('rg', ['--version']).status !== 0) throw new Error('ripgrep (rg) is needed');
  const files: string[] = [];
  for (let i = 0; i < 3; i++) {
    const f = path.join(dir, `web${i}.log`);
    await writeLog(f, { lines: LINES_PER_NODE, node: i, seed: 77 });
    files.push(f);
  }
  const bytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
  console.log(`input: 3 files, ${(LINES_PER_NODE * 3).toLocaleString('en-US')} lines, ${(bytes / 1e9).toFixed(2)} GB (page cache warm after the first read)`);
  execFileSync('cat', files, { stdio: ['ignore', 'ignore', 'ignore'] });
  const grepOut = (await timed('grep', ['-c', '-F', PATTERN, ...files])).stdout;
  const grepCount = grepOut.trim().split('\n').reduce((n, l) => n + Number(l.split(':').pop()), 0);
  try {
    await scanOnOneCore(files, bytes, grepCount);
    await endToEnd(files, bytes, grepCount);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
