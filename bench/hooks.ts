/**
 * node --import tsx bench/hooks.ts — what an event hook costs the job server, and that a dead one
 * costs it nothing more: foreground jobs/s through `geartrain server -q memory` (a child process),
 * 100 jobs in flight from a Client in this process, one worker process (concurrency 50, empty
 * results), over BENCH_SECONDS after a warm-up, best of BENCH_RUNS, with
 *
 *   - no hook
 *   - a live HTTP receiver (answers 204 at once; a child process), one event per POST and batch=100
 *   - a dead receiver: connection refused (retries=3, backlog=1000)
 *   - a hung receiver: accepts and never answers (timeout=5 s, backlog=1000)
 *
 * and, per line, the job server's CPU time per job (utime + stime from /proc, which other tenants of
 * a shared machine disturb far less than jobs/s) and the hook's counters from admin `hooks` at the
 * end (delivered / failed / dropped).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client, Worker } from '../src/client/index.ts';
import { freePort, machine, startGeartrain, table } from './lib.ts';

// Every server of a run executes the same code: the sources, whatever the state of dist/ (which
// bin/geartrain.js prefers while it is newer than them, and which others may rebuild meanwhile).
process.env.GEARTRAIN_SOURCE ??= '1';
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
const INFLIGHT = 100;

const role = process.argv[2];
if (role === '--worker') {
  const w = new Worker({ servers: process.argv[3]!, concurrency: 50 });
  w.register('hooked', () => '');
  await w.start();
  process.send!('ready');
} else if (role === '--receiver' || role === '--hung') {
  const server =
    role === '--receiver'
      ? http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
          req.resume();
          req.on('end', () => res.writeHead(204).end());
        })
      : net.createServer(() => {});
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as net.AddressInfo).port));
} else {
  await main();
}

async function child(args: string[]): Promise<{ proc: ChildProcess; message: unknown }> {
  const proc = fork(fileURLToPath(import.meta.url), args, { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const message = await new Promise((resolve, reject) => {
    proc.once('message', resolve);
    proc.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  return { proc, message };
}

interface Line {
  name: string;
  /** `--hook` value, or null for none; `PORT` is replaced by the receiver's port. */
  hook: (port: number) => string | null;
  receiver: '--receiver' | '--hung' | 'refused' | null;
}

async function main(): Promise<void> {
  const lines: Line[] = [
    { name: 'no hook', hook: () => null, receiver: null },
    { name: 'live HTTP receiver', hook: (p) => `url=http://127.0.0.1:${p}/ backlog=1000`, receiver: '--receiver' },
    { name: 'live HTTP receiver, batch=100', hook: (p) => `url=http://127.0.0.1:${p}/ backlog=1000 batch=100`, receiver: '--receiver' },
    { name: 'dead receiver (connection refused)', hook: (p) => `url=http://127.0.0.1:${p}/ retries=3 backlog=1000`, receiver: 'refused' },
    { name: 'hung receiver (never answers)', hook: (p) => `url=http://127.0.0.1:${p}/ timeout=5 backlog=1000`, receiver: '--hung' },
  ];
  console.log(`bench hooks on ${machine()}, best of ${RUNS}, ${SECONDS} s each`);
  const best: Record<string, { perSec: number; cpuPerJob: number; counters: string }> = {};
  for (let run = 0; run < RUNS; run++) {
    for (const line of lines) {
      let receiver: ChildProcess | null = null;
      let port = 0;
      if (line.receiver === 'refused') port = await freePort();
      else if (line.receiver !== null) {
        const r = await child([line.receiver]);
        receiver = r.proc;
        port = r.message as number;
      }
      const hook = line.hook(port);
      const server = await startGeartrain(['-q', 'memory', ...(hook ? ['--hook', hook] : [])]);
      const servers = `127.0.0.1:${server.port}`;
      const worker = await child(['--worker', servers]);
      const client = new Client({ servers });
      try {
        await load(client, 1); // warm-up
        const cpu0 = cpuSeconds(server.child.pid!);
        const { perSec, done } = await load(client, SECONDS);
        const cpuPerJob = ((cpuSeconds(server.child.pid!) - cpu0) / done) * 1e6;
        const counters = hook ? hookCounters(await adminListing(server.port, 'hooks')) : '-';
        if (perSec > (best[line.name]?.perSec ?? 0)) best[line.name] = { perSec, cpuPerJob, counters };
      } finally {
        client.destroy();
        worker.proc.kill('SIGKILL');
        receiver?.kill('SIGKILL');
        await server.stop();
      }
    }
  }
  const base = best['no hook']!.perSec;
  console.log();
  console.log(
    table(
      ['hook', `jobs/s (${INFLIGHT} in flight)`, 'vs no hook', 'server CPU per job', 'hook counters at the end'],
      lines.map((l) => {
        const b = best[l.name]!;
        return [l.name, String(Math.round(b.perSec)), `${((b.perSec / base) * 100).toFixed(0)} %`, `${Math.round(b.cpuPerJob)} µs`, b.counters];
      }),
    ),
  );
}

async function load(client: Client, seconds: number): Promise<{ perSec: number; done: number }> {
  const end = Date.now() + seconds * 1000;
  let done = 0;
  const lane = async () => {
    while (Date.now() < end) {
      await client.submit('hooked', 'x', { updates: false }).result;
      done++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: INFLIGHT }, lane));
  return { perSec: done / ((Date.now() - t0) / 1000), done };
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** One admin listing over a plain socket (admin `hooks` is a listing ending in `.`). */
function adminListing(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    s.on('connect', () => s.write(command + '\n'));
    s.on('data', (d) => {
      text += d;
      if (/^\.\r?$/m.test(text)) {
        s.destroy();
        resolve(text);
      }
    });
    s.on('error', reject);
  });
}

function hookCounters(listing: string): string {
  const f = listing.split('\n')[0]!.split('\t');
  return `delivered ${f[4]}, retried ${f[5]}, failed ${f[6]}, dropped ${f[7]}, queued ${f[2]}`;
}
