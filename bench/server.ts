/**
 * npm run bench:server — geartrain's job server against gearmand on the same machine, driven by
 * the same libgearman load driver (bench/loadgen.c), best of 3:
 *   1. foreground round trips: 2 clients × 100 jobs in flight, 2 workers, 16-byte payloads
 *   2. background submit-then-drain: 100,000 jobs
 *   3. 1,000,000 queued 100-byte background jobs with unique keys: submits/s and resident memory
 * Runs alternate between the two servers. BENCH_RUNS, BENCH_QUEUE_JOBS, BENCH_ONLY=fg,bg,queue.
 */
import path from 'node:path';
import { best, buildLoadgen, loadgen, machine, startGearmand, startGeartrain, startListening, table } from './lib.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const QUEUE_JOBS = Number(process.env.BENCH_QUEUE_JOBS ?? 1_000_000);
const bin = buildLoadgen();

type Server = Awaited<ReturnType<typeof startGeartrain>>;
const servers: Record<string, () => Promise<Server>> = {
  geartrain: () => startGeartrain(['-q', 'memory']),
  'gearmand -t 1': () => startGearmand(1),
  // What Node's sockets allow at all (fg and bg only): see bench/node-floor-server.mjs.
  'bare Node server': () => startListening([path.join(import.meta.dirname, 'node-floor-server.mjs'), '0']),
};
const FLOOR = 'bare Node server';

const modes: Record<string, { args: (port: number, pid: number) => string[]; score: string }> = {
  fg: { args: (port) => ['fg', '-p', String(port), '-c', '2', '-w', '2', '-n', '100', '-s', '16', '-d', '5'], score: 'jobs_per_sec' },
  bg: { args: (port) => ['bg', '-p', String(port), '-c', '2', '-w', '2', '-n', '100', '-s', '16', '-j', '100000'], score: 'jobs_per_sec' },
  queue: {
    args: (port, pid) => ['queue', '-p', String(port), '-c', '2', '-n', '100', '-s', '100', '-j', String(QUEUE_JOBS), '-S', String(pid)],
    score: 'submits_per_sec',
  },
};
// BENCH_ONLY=fg,bg runs some of the measures (the 1M-job queue takes minutes on gearmand).
const only = (process.env.BENCH_ONLY ?? Object.keys(modes).join(',')).split(',').filter((m) => m in modes);

const ratio = (a?: string, b?: string) => (Number(a) / Number(b)).toFixed(2) + '×';
const mb = (kb?: string) => (Number(kb) / 1024).toFixed(0) + ' MiB';

console.log(`bench:server on ${machine()}, best of ${RUNS}, runs alternating between the servers`);
const results: Record<string, Record<string, Record<string, string>>> = { geartrain: {}, 'gearmand -t 1': {}, [FLOOR]: {} };
for (const mode of only) {
  const runs: Record<string, Record<string, string>[]> = {};
  // Alternate the servers run by run, so a change in the machine's load hits both alike.
  for (let i = 0; i < RUNS; i++) {
    for (const [name, start] of Object.entries(servers)) {
      if (name === FLOOR && mode === 'queue') continue;
      const server = await start();
      try {
        (runs[name] ??= []).push(loadgen(bin, modes[mode]!.args(server.port, server.child.pid!)));
      } finally {
        await server.stop();
      }
    }
  }
  for (const name of Object.keys(servers)) if (runs[name]) results[name]![mode] = best(runs[name]!, (r) => Number(r[modes[mode]!.score]));
  // Every run, so a reader can take the median as well as the best (rates move with the machine's load; RSS does not).
  for (const [name, rs] of Object.entries(runs)) {
    const rss = mode === 'queue' ? `; last 10 % ${rs.map((r) => r.tail_submits_per_sec).join(', ')}; server RSS queued ${rs.map((r) => mb(r.rss_kb_queued)).join(', ')}` : '';
    console.log(`  ${mode}, ${name}: ${modes[mode]!.score} ${rs.map((r) => r[modes[mode]!.score]).join(', ')}${rss}`);
  }
}
const g = results.geartrain!;
const d = results['gearmand -t 1']!;
const f = results[FLOOR]!;
/** One table row: a measure of `mode` for the three servers (the bare Node server has no queue run). */
const row = (label: string, mode: string, key: string, show = (v?: string) => v ?? '-') => {
  const floor = f[mode];
  return [label, show(g[mode]![key]), show(d[mode]![key]), ratio(g[mode]![key], d[mode]![key]), floor ? show(floor[key]) : '-', floor ? ratio(floor[key], d[mode]![key]) : '-'];
};
const rows: string[][] = [];
if (g.fg && d.fg) rows.push(row('foreground jobs/s (2 clients × 100 in flight, 2 workers, 16 B)', 'fg', 'jobs_per_sec'));
if (g.bg && d.bg) {
  rows.push(
    row('background submit+drain jobs/s (100k)', 'bg', 'jobs_per_sec'),
    row('  background submits/s', 'bg', 'submits_per_sec'),
    row('  background drains/s', 'bg', 'drains_per_sec'),
  );
}
if (g.queue && d.queue) {
  rows.push(
    row(`${QUEUE_JOBS} uniquely keyed 100 B jobs: submits/s`, 'queue', 'submits_per_sec'),
    row('  submits/s over the last 10% (deepest queue)', 'queue', 'tail_submits_per_sec'),
    row('  server RSS with the queue full', 'queue', 'rss_kb_queued', mb),
  );
}
console.log();
console.log(table(['measure', 'geartrain', 'gearmand -t 1', 'geartrain / gearmand', 'bare Node server', 'bare Node / gearmand'], rows));
console.log(
  '\nbare Node server: bench/node-floor-server.mjs, the least a Gearman server in Node can do for this load (no admin,\n' +
    'coalescing, priorities or limits): what Node\'s sockets and event loop allow on this machine.',
);
