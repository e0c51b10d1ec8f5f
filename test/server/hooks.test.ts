/**
 * Event hooks (`hooks` / `--hook on=… function=… url=…|command=…`): each job that ends produces
 * one JSON event (handle, function, unique, status, timing) for every hook whose outcomes and
 * functions match, POSTed to a URL or piped to a command; failed deliveries are retried; a hook
 * that cannot deliver keeps at most `backlog` events and drops (and counts) the rest, and never
 * holds up a job.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { AdminClient, Client, Worker } from '../../src/client/index.ts';
import { JobFailedError } from '../../src/errors.ts';
import type { JobServerOptions } from '../../src/server/index.ts';
import { parseHookSpec, type JobEndEvent } from '../../src/server/hooks-spec.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';
import { rawPlain, startServer } from '../security/helpers/fixture.ts';

type Ctx = ExecutionContext;

interface Receiver {
  readonly url: string;
  readonly events: JobEndEvent[];
  /** Requests received, answered or not. */
  requests: number;
}

/** A local HTTP receiver on port 0; `answer(n)` gives the status of the n-th request (1-based). */
async function receiver(t: Ctx, answer: (n: number) => number = () => 204): Promise<Receiver> {
  const r: Receiver = { url: '', events: [], requests: 0 };
  const server = http.createServer((req, res) => {
    const n = ++r.requests;
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const status = answer(n);
      if (status >= 200 && status < 300) {
        t.is(req.method, 'POST');
        t.is(req.headers['content-type'], 'application/json');
        r.events.push(JSON.parse(body) as JobEndEvent);
      }
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  (r as { url: string }).url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/events`;
  return r;
}

/** A TCP server that accepts connections and never answers (a hung receiver). */
async function silentReceiver(t: Ctx): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
}

async function start(t: Ctx, hooks: NonNullable<JobServerOptions['hooks']>) {
  return startServer(t, { hooks });
}

/** Worker: `ok` completes, `no` fails, `boom` raises an exception; returns per-function call counts. */
async function worker(t: Ctx, servers: string, fns: string[]): Promise<void> {
  const w = new Worker({ servers, concurrency: 8 });
  t.teardown(() => w.destroy());
  for (const fn of fns) {
    w.register(fn, (job) => {
      const p = job.payload.toString();
      if (p === 'no') throw new JobFailedError('no');
      if (p === 'boom') throw new Error('boom');
      return `done ${p}`;
    });
  }
  await w.start();
}

function client(t: Ctx, servers: string): Client {
  const c = new Client({ servers });
  t.teardown(() => c.destroy());
  return c;
}

test('an HTTP hook receives one event per ended job, with its handle, function, unique, status and timing', async (t) => {
  const all = await receiver(t);
  const failsOnly = await receiver(t);
  const s = await start(t, [
    { url: all.url, functions: ['img.*'] },
    { url: failsOnly.url, on: ['fail'] },
  ]);
  await worker(t, s.address, ['img.resize', 'img.thumb', 'other']);
  const c = client(t, s.address);
  const before = Date.now();
  const ok = c.submit('img.resize', 'ok', { unique: 'u-ok' });
  const no = c.submit('img.thumb', 'no', { unique: 'u-no' });
  const boom = c.submit('img.resize', 'boom');
  const other = c.submit('other', 'no', { unique: 'u-other' });
  await ok.result;
  for (const j of [no, boom, other]) await t.throwsAsync(j.result);
  const bg = await c.submitBackground('img.thumb', 'ok', { unique: 'u-bg' });

  await waitFor(() => all.events.length === 4, 'four events for img.*');
  await waitFor(() => failsOnly.events.length === 2, 'two fail events');
  const byHandle = new Map(all.events.map((e) => [e.handle, e]));
  t.is(byHandle.size, 4, 'one event per job');
  const expect = [
    [ok.handle, 'img.resize', 'u-ok', 'complete', false],
    [no.handle, 'img.thumb', 'u-no', 'fail', false],
    [boom.handle, 'img.resize', '', 'exception', false],
    [bg, 'img.thumb', 'u-bg', 'complete', true],
  ] as const;
  for (const [handle, fn, unique, status, background] of expect) {
    const e = byHandle.get(handle!);
    t.truthy(e, `an event for ${handle}`);
    t.like(e, { event: 'job.end', server: s.server.core.serverId, function: fn, unique, status, background, tenant: null, retries: 0 });
    const [submitted, started, ended] = [Date.parse(e!.submitted), Date.parse(e!.started!), Date.parse(e!.ended)];
    t.true(before - 5 <= submitted && submitted <= started && started <= ended && ended <= Date.now(), `submitted <= started <= ended for ${handle}`);
  }
  t.deepEqual(failsOnly.events.map((e) => e.function).sort(), ['img.thumb', 'other'], 'on=fail: only WORK_FAIL ends, of any function');
});

test('a job cancelled before it started ends with status fail, reason cancelled, and no start time', async (t) => {
  const r = await receiver(t);
  const s = await start(t, [{ url: r.url }]);
  const c = client(t, s.address);
  const handle = await c.submitBackground('nobody', 'x', { unique: 'c1' });
  const admin = new AdminClient({ server: s.address });
  t.teardown(() => admin.close());
  await admin.cancelJob(handle);
  await waitFor(() => r.events.length === 1, 'the event');
  t.like(r.events[0], { handle, status: 'fail', reason: 'cancelled', started: null, background: true });
});

test('a command hook gets the event as JSON on stdin, and its status in the environment', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-hooks-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'events');
  const s = await start(t, [{ command: `read -r line; printf '%s %s\\n' "$GEARTRAIN_HOOK_STATUS" "$line" >> '${out}'`, functions: ['cmd'] }]);
  await worker(t, s.address, ['cmd']);
  const c = client(t, s.address);
  const a = c.submit('cmd', 'ok', { unique: 'a' });
  const b = c.submit('cmd', 'no', { unique: 'b' });
  await a.result;
  await t.throwsAsync(b.result);
  const lines = await waitFor(() => {
    const l = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter((x) => x !== '') : [];
    return l.length === 2 ? l : undefined;
  }, 'two lines from the command');
  const parsed = lines.map((l) => ({ env: l.slice(0, l.indexOf(' ')), event: JSON.parse(l.slice(l.indexOf(' ') + 1)) as JobEndEvent }));
  parsed.sort((x, y) => x.event.unique.localeCompare(y.event.unique));
  t.like(parsed[0], { env: 'complete', event: { handle: a.handle, unique: 'a', status: 'complete', function: 'cmd' } });
  t.like(parsed[1], { env: 'fail', event: { handle: b.handle, unique: 'b', status: 'fail', function: 'cmd' } });
});

test('a failed delivery is retried: 503 then 200 delivers the event once', async (t) => {
  const r = await receiver(t, (n) => (n === 1 ? 503 : 200));
  const s = await start(t, [{ url: r.url, retries: 2 }]);
  await worker(t, s.address, ['f']);
  await client(t, s.address).call('f', 'ok');
  // The receiver records the event before it answers: wait for the server to see the answer.
  await waitFor(() => s.server.core.hooks!.stats()[0]!.delivered === 1, 'the retried delivery');
  t.is(r.requests, 2);
  t.is(r.events.length, 1);
  t.like(s.server.core.hooks!.stats()[0], { delivered: 1, retried: 1, failed: 0, dropped: 0 });
});

test('a refused connection is retried, then the event is counted as failed', async (t) => {
  const url = `http://127.0.0.1:${await refusedPort()}/`;
  const s = await start(t, [{ url, retries: 1 }]);
  await worker(t, s.address, ['f']);
  await client(t, s.address).call('f', 'ok');
  await waitFor(() => s.server.core.hooks!.stats()[0]!.failed === 1, 'the event to fail after its retry');
  t.like(s.server.core.hooks!.stats()[0], { delivered: 0, retried: 1, failed: 1, queued: 0, inFlight: 0 });
});

test('a receiver that never answers: jobs all finish, the backlog stays bounded, and the overflow is dropped and counted', async (t) => {
  const url = await silentReceiver(t);
  const s = await start(t, [{ url, concurrency: 1, backlog: 5, retries: 0, timeoutMs: 60_000 }]);
  await worker(t, s.address, ['f']);
  const c = client(t, s.address);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.call('f', `ok${i}`)));
  t.is(results.length, 20, 'every job completed while the hook was stuck');
  // One event is stuck in its delivery, five wait, fourteen were dropped.
  await waitFor(() => s.server.core.hooks!.stats()[0]!.dropped === 14, 'the dropped count');
  t.like(s.server.core.hooks!.stats()[0], { inFlight: 1, queued: 5, delivered: 0, failed: 0, dropped: 14 });
  // Admin `hooks` is a listing (src/protocol/admin.ts replyShape must say so: see docs/server-extras.md).
  const raw = await rawPlain(t, s.port);
  raw.sendRaw('hooks\n');
  t.is(await raw.readAdminReply('listing'), `1\t${url}\t5\t1\t0\t0\t0\t14\n.\n`);
});

test('a graceful close lets hooks deliver what they hold (a slow receiver is waited for, briefly)', async (t) => {
  const r = await receiver(t);
  // The receiver answers only 300 ms after the request: the event is in flight when close() starts.
  const slow = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.writeHead(204).end(), 300));
  });
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    slow.closeAllConnections();
    slow.close();
  });
  const url = `http://127.0.0.1:${(slow.address() as net.AddressInfo).port}/`;
  const s = await start(t, [{ url }, { url: r.url }]);
  await worker(t, s.address, ['f']);
  const c = client(t, s.address);
  await c.call('f', 'ok');
  c.destroy();
  await s.server.close();
  t.like(s.server.core.hooks!.stats()[0], { delivered: 1, dropped: 0 });
  t.is(r.events.length, 1);
});

test('batch=N: events that waited go out together, as a JSON array (a command gets one line each)', async (t) => {
  const bodies: unknown[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      bodies.push(JSON.parse(body));
      if (bodies.length === 1) await gate;
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
  const s = await start(t, [{ url, batch: 10, concurrency: 1 }]);
  await worker(t, s.address, ['f']);
  const c = client(t, s.address);
  await c.call('f', 'ok', { unique: 'first' });
  await waitFor(() => bodies.length === 1, 'the first delivery');
  // While the first delivery hangs, four more jobs end: their events wait, then leave in one POST.
  await Promise.all(['a', 'b', 'c', 'd'].map((u) => c.call('f', 'ok', { unique: u })));
  release();
  await waitFor(() => s.server.core.hooks!.stats()[0]!.delivered === 5, 'five events delivered');
  t.is(bodies.length, 2);
  t.true(Array.isArray(bodies[0]) && (bodies[0] as JobEndEvent[]).length === 1);
  t.deepEqual((bodies[1] as JobEndEvent[]).map((e) => e.unique).sort(), ['a', 'b', 'c', 'd']);
});

test('--hook values: one word or several, command= takes the rest; bad values name the field', (t) => {
  t.like(parseHookSpec(['on=complete,fail function=resize*,thumb url=http://h:1/x retries=5 timeout=2.5 backlog=10 batch=50']), {
    on: ['complete', 'fail'],
    functions: ['resize*', 'thumb'],
    url: 'http://h:1/x',
    retries: 5,
    timeoutMs: 2500,
    backlog: 10,
    batch: 50,
  });
  t.like(parseHookSpec(['on=exception', 'command=logger -t gearman "job ended"', 'function=f']), {
    on: ['exception'],
    command: 'logger -t gearman "job ended"',
    functions: ['f'],
  });
  t.like(parseHookSpec(['function=f command=cat >> /tmp/x on=fail']), { functions: ['f'], command: 'cat >> /tmp/x on=fail' });
  const cases: [string[], RegExp, string][] = [
    [['url=http://x/ colour=red'], /unknown field "colour"/, 'hook.colour'],
    [['url=http://x/ command=true'], /exactly one of url= or command=/, 'hook.url'],
    [['on=complete'], /exactly one of url= or command=/, 'hook.url'],
    [['on=done url=http://x/'], /on=/, 'hook.on'],
    [['url=ftp://x/'], /url=: expected an http/, 'hook.url'],
    [['retries=-1 url=http://x/'], /retries=/, 'hook.retries'],
  ];
  for (const [words, message, field] of cases) {
    const err = t.throws(() => parseHookSpec(words), undefined, words.join(' '));
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    t.regex(err!.message, message);
    t.is((err as { field?: string }).field, field);
  }
});

test('`geartrain server --hook on=complete function=f url=…` (several words) posts events', async (t) => {
  const r = await receiver(t);
  const child = spawn(process.execPath, ['bin/geartrain.js', 'server', '-q', 'memory', '-p', '0', '--hook', 'on=complete', 'function=f', `url=${r.url}`, '--verbose', 'ERROR'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const m = await waitFor(() => /listening on 127\.0\.0\.1:(\d+)\n/.exec(out), 'ready line', 20_000);
  const servers = `127.0.0.1:${m[1]}`;
  await worker(t, servers, ['f', 'g']);
  const c = client(t, servers);
  await c.call('g', 'ok');
  await c.call('f', 'ok', { unique: 'cli' });
  await waitFor(() => r.events.length === 1, 'the event of f');
  t.like(r.events[0], { function: 'f', unique: 'cli', status: 'complete' });
});
