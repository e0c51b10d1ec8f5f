/**
 * Bounded memory: a sorted-output job (grep matching nearly every line) over input ten times
 * larger than the nodes' heap limit completes, and the processes' peak RSS (VmHWM) stays far
 * below the input size. Map tasks spill sorted runs and merge them from disk; reducers and the
 * coordinator pull runs chunk by chunk.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';

const HEAP_MB = 40;

function memMb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024;
}
const peakRssMb = (pid: number) => memMb(pid, 'VmHWM');

test.serial(`grep over ${HEAP_MB * 10} MB with nodes limited to a ${HEAP_MB} MB heap: complete output, bounded peak RSS`, async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const files: string[] = [];
  for (let i = 0; i < 2; i++) {
    const file = path.join(dir, `big${i}.log`);
    // ~250 bytes a line: 800,000 lines ≈ 200 MB per node.
    await writeLog(file, { lines: 800_000, node: i, seed: 9 });
    files.push(file);
  }
  const inputMb = files.reduce((n, f) => n + fs.statSync(f).size, 0) / 1e6;
  t.true(inputMb >= HEAP_MB * 10, `input ${inputMb} MB`);
  const env = { NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` };
  const nodes = await Promise.all(
    files.map((file, i) =>
      startNode(t, { name: `big${i}`, servers: server.address, data: path.join(dir, `d${i}`), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0'], env }),
    ),
  );
  // What an idle node holds (two V8 isolates, the modules): the run's input must not add to it.
  const idle = new Map(nodes.map((n) => [n.name, memMb(n.pid!, 'VmRSS')]));
  const out = path.join(dir, 'out.txt');
  const run = spawnGeartrain(
    t,
    'run',
    ['grep', 'HTTP/1.1', '--servers', server.address, '--wait-nodes', '2', '-q', '--out', out, '--memory-budget', String(8 * 1024 * 1024), '--task-timeout', '120'],
    env,
  );
  const peaks = new Map<string, number>();
  const sample = setInterval(() => {
    for (const [name, pid] of [...nodes.map((n) => [n.name, n.pid!] as const), ['coordinator', run.pid!] as const]) {
      try {
        peaks.set(name, peakRssMb(pid));
      } catch {
        // exited
      }
    }
  }, 200);
  const code = await run.exited();
  clearInterval(sample);
  for (const n of nodes) peaks.set(n.name, peakRssMb(n.pid!));
  t.is(code, 0, run.stderrText());
  const expected = Number(execFileSync('sh', ['-c', `cat ${files.map((f) => `'${f}'`).join(' ')} | grep -a -c 'HTTP/1.1'`]).toString());
  const got = Number(execFileSync('wc', ['-l', out]).toString().trim().split(' ')[0]);
  t.is(got, expected);
  t.log(`input ${inputMb.toFixed(0)} MB; peak RSS MB: ${[...peaks].map(([k, v]) => `${k} ${v.toFixed(0)}${idle.has(k) ? ` (idle ${idle.get(k)!.toFixed(0)})` : ''}`).join(', ')}`);
  for (const [name, mb] of peaks) {
    const growth = mb - (idle.get(name) ?? 0);
    // A node grows by at most its two heaps (main thread and task thread) plus fixed buffers
    // (fetch chunks, arena blocks, read chunks): bounded by the budget, not by the input.
    const bound = idle.has(name) ? 2 * HEAP_MB + 64 : inputMb / 2;
    t.true((idle.has(name) ? growth : mb) < bound, `${name} peaked at ${mb.toFixed(0)} MB for ${inputMb.toFixed(0)} MB of input (bound ${bound.toFixed(0)} MB)`);
  }
});
