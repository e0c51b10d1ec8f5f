/**
 * The worker pool that drains the sign-up jobs: `email.verify`, `email.welcome`, `search.index`.
 *
 *   node --import tsx examples/async-queue/worker.ts [--servers H:P] [--concurrency N]
 *        [--work-ms MS] [--delivered FILE]
 *
 * A persistent queue runs each job *at least* once: a job that was running, or had just
 * finished, when the job server died is handed out again after its restart. So the handlers
 * are idempotent — each job's unique key is recorded in the `--delivered` ledger once its work
 * is done, and a key found there is skipped. The ledger then holds every job exactly once.
 */
import { parseArgs } from 'node:util';
import { Worker, type WorkerJob } from '../../src/client/index.ts';
import { keyOf, Ledger, readLedger } from './ledger.ts';

const { values: args } = parseArgs({
  options: {
    servers: { type: 'string', default: process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730' },
    concurrency: { type: 'string', default: '8' },
    'work-ms': { type: 'string', default: '2' },
    delivered: { type: 'string', default: 'delivered.log' },
  },
});
const workMs = Number(args['work-ms']);

const ledger = new Ledger(args.delivered!);
const done = new Set(readLedger(args.delivered!).map(keyOf));
const running = new Map<string, Promise<void>>();
const counts: Record<string, number> = { 'email.verify': 0, 'email.welcome': 0, 'search.index': 0 };
let duplicates = 0;

/** Stand-ins for the real work: an SMTP call, a search-engine update. */
const work: Record<string, (payload: { to?: string; template?: string; id?: string }) => Promise<void>> = {
  'email.verify': () => pause(workMs),
  'email.welcome': () => pause(workMs),
  'search.index': () => pause(workMs),
};

async function handle(job: WorkerJob): Promise<string> {
  const key = keyOf({ fn: job.function, unique: job.unique });
  if (done.has(key)) {
    duplicates++;
    return 'already done';
  }
  const inProgress = running.get(key);
  if (inProgress) {
    // The same job handed out again while an earlier run of it still works (the job server
    // restarted meanwhile): that run records it.
    duplicates++;
    await inProgress;
    return 'already done';
  }
  const run = (async () => {
    await work[job.function]!(JSON.parse(job.payload.toString('utf8')));
    // The work is done: record it before telling the job server, so a repeat is recognised.
    ledger.append({ fn: job.function, unique: job.unique });
    done.add(key);
    counts[job.function]!++;
  })();
  running.set(key, run);
  try {
    await run;
  } finally {
    running.delete(key);
  }
  return 'ok';
}

const worker = new Worker({
  servers: args.servers!.split(','),
  concurrency: Number(args.concurrency),
  reconnectDelayMs: 100,
  maxReconnectDelayMs: 1000,
});
for (const fn of Object.keys(work)) worker.register(fn, handle);
await worker.start();
console.log(`worker serving ${Object.keys(work).join(', ')} on ${args.servers}, ${args.concurrency} at a time; ${done.size} job(s) already in ${args.delivered}`);

let last = '';
const report = () => {
  const line = `delivered: ${Object.entries(counts)
    .map(([fn, n]) => `${fn} ${n}`)
    .join(', ')}; total ${done.size}, repeats skipped ${duplicates}`;
  if (line !== last) console.log(line);
  last = line;
};
const timer = setInterval(report, 1000);

const stop = async () => {
  clearInterval(timer);
  await worker.close();
  last = '';
  report();
  ledger.close();
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
