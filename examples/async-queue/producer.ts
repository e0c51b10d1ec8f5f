/**
 * A web-style producer: an HTTP endpoint `POST /signup?user=NAME` that answers at once and
 * leaves the slow work to background jobs on the job server —
 *
 *   email.verify   HIGH    the verification link the new user is waiting for
 *   email.welcome  NORMAL  the welcome e-mail
 *   search.index   LOW     add the user to the search index
 *
 * Each job carries a unique key derived from the user (`verify:alice`, …). The endpoint answers
 * 202 once the job server has acknowledged all three jobs — with a persistent queue that means
 * they are stored — and 503 if it could not, so the caller retries. Retrying is safe: a job
 * still queued under the same key is not queued twice, and the worker skips keys it has
 * already carried out.
 *
 *   node --import tsx examples/async-queue/producer.ts [--servers H:P] [--http-port N]
 *        [--simulate N] [--concurrency C] [--accepted FILE]
 *
 * `--simulate N` plays N sign-ups against its own endpoint (retrying 503s) and exits when all
 * are accepted. `--accepted FILE` appends `<function> <unique>` for every acknowledged job.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Client } from '../../src/client/index.ts';
import { Ledger } from './ledger.ts';

const { values: args } = parseArgs({
  options: {
    servers: { type: 'string', default: process.env.GEARMAN_SERVERS ?? '127.0.0.1:4730' },
    'http-port': { type: 'string', default: '0' },
    simulate: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    accepted: { type: 'string' },
    'retry-ms': { type: 'string', default: '250' },
  },
});

const client = new Client({
  servers: args.servers!.split(','),
  // Fail a submission fast while the job server is away, so the HTTP caller gets its 503.
  timeoutMs: 3000,
  reconnectDelayMs: 100,
  maxReconnectDelayMs: 1000,
});
const ledger = args.accepted ? new Ledger(args.accepted) : null;

interface Task {
  readonly fn: string;
  readonly unique: string;
  readonly priority: 'high' | 'normal' | 'low';
  readonly payload: object;
}

function tasksFor(user: string): Task[] {
  const to = `${user}@example.com`;
  return [
    { fn: 'email.verify', unique: `verify:${user}`, priority: 'high', payload: { to, template: 'verify' } },
    { fn: 'email.welcome', unique: `welcome:${user}`, priority: 'normal', payload: { to, template: 'welcome' } },
    { fn: 'search.index', unique: `index:user:${user}`, priority: 'low', payload: { type: 'user', id: user } },
  ];
}

/** Queue one sign-up's jobs; resolves once the job server acknowledged every one of them. */
async function queueSignup(user: string): Promise<string[]> {
  const tasks = tasksFor(user);
  const results = await Promise.allSettled(
    tasks.map(async (task) => {
      const handle = await client.submitBackground(task.fn, JSON.stringify(task.payload), { unique: task.unique, priority: task.priority });
      ledger?.append({ fn: task.fn, unique: task.unique });
      return handle;
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<string>).value);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const user = url.searchParams.get('user');
  if (req.method !== 'POST' || url.pathname !== '/signup' || !user || !/^[\w.-]{1,40}$/.test(user)) {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"POST /signup?user=NAME"}\n');
    return;
  }
  queueSignup(user).then(
    (handles) => res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ user, queued: handles }) + '\n'),
    (err: Error) => res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ user, error: err.message }) + '\n'),
  );
});

await new Promise<void>((resolve) => server.listen(Number(args['http-port']), '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
console.log(`producer listening on http://127.0.0.1:${port} (job servers ${args.servers})`);

if (args.simulate !== undefined) {
  await simulate(Number(args.simulate), Number(args.concurrency), Number(args['retry-ms']));
  server.close();
  ledger?.close();
  await client.close();
}

/** Play `count` sign-ups against our own endpoint, `concurrency` at a time, retrying refusals. */
async function simulate(count: number, concurrency: number, retryMs: number): Promise<void> {
  let next = 0;
  let accepted = 0;
  let refused = 0;
  let lastError = '';
  const started = Date.now();
  const progress = setInterval(() => {
    console.log(`signups accepted ${accepted}/${count}, refused ${refused}${lastError ? ` (last: ${lastError})` : ''}`);
    lastError = '';
  }, 1000);
  const signupLoop = async () => {
    while (next < count) {
      const user = `user${String(next++).padStart(6, '0')}`;
      for (;;) {
        const res = await fetch(`http://127.0.0.1:${port}/signup?user=${user}`, { method: 'POST' });
        const body = (await res.json()) as { error?: string };
        if (res.status === 202) break;
        refused++;
        lastError = body.error ?? String(res.status);
        await new Promise((r) => setTimeout(r, retryMs));
      }
      accepted++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, signupLoop));
  clearInterval(progress);
  const seconds = (Date.now() - started) / 1000;
  console.log(`done: ${accepted} signups (${accepted * 3} jobs) accepted in ${seconds.toFixed(1)} s, ${refused} refused and retried`);
}
