/**
 * gearmand-style HTTP job submission on the job server's HTTP port: `POST /FUNC` with
 * X-Gearman-Unique / -Background / -Priority, answered with X-Gearman-Job-Handle and the result.
 * Each test checks the jobs through other doors too: a TCP client, gearadmin, the worker itself.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AdminClient } from '../../src/client/admin-client.ts';
import { Client } from '../../src/client/client.ts';
import { Worker } from '../../src/client/worker.ts';
import { JobFailedError } from '../../src/errors.ts';
import { JobServer, type JobServerOptions } from '../../src/server/index.ts';
import { waitFor } from '../helpers/ports.ts';
import { runProcess } from '../client/helpers/cli.ts';
import { gate } from '../client/helpers/gate.ts';

interface Rig {
  server: JobServer;
  port: number;
  http: string;
  client(): Client;
  worker(concurrency?: number): Worker;
  post(fn: string, body: string | Buffer, headers?: Record<string, string>): Promise<Response>;
  gearadmin(...flags: string[]): Promise<string>;
}

async function rig(t: ExecutionContext, options: JobServerOptions = {}): Promise<Rig> {
  const server = new JobServer({ port: 0, httpPort: 0, ...options });
  t.teardown(() => server.destroy());
  const { port } = await server.listen();
  const h = server.httpAddress()!;
  const http = `http://${h.host}:${h.port}`;
  const own = <T extends { destroy(): void }>(x: T) => (t.teardown(() => x.destroy()), x);
  return {
    server,
    port,
    http,
    client: () => own(new Client({ servers: `127.0.0.1:${port}` })),
    worker: (concurrency = 1) => own(new Worker({ servers: `127.0.0.1:${port}`, concurrency })),
    post: (fn, body, headers = {}) => fetch(`${http}/${fn}`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers }),
    async gearadmin(...flags) {
      const out = await runProcess('gearadmin', ['-p', String(port), ...flags]);
      if (out.code !== 0) throw new Error(out.stderr);
      return out.stdout;
    },
  };
}

const HANDLE = /^H:[^:]+:\d+$/;

test('foreground POST returns the worker\'s WORK_DATA and result as the body, with the job handle', async (t) => {
  const r = await rig(t);
  await r.worker()
    .register('hs_rev', async (job, ctx) => {
      await ctx.sendData('partial:');
      return Buffer.from(job.payload.toString().split('').reverse().join(''));
    })
    .register('hs_echo', (job) => job.payload)
    .start();
  const res = await r.post('hs_rev', 'hello');
  t.is(res.status, 200);
  t.regex(res.headers.get('x-gearman-job-handle')!, HANDLE);
  t.is(res.headers.get('x-gearman-command'), 'WORK_COMPLETE');
  t.is(await res.text(), 'partial:olleh');

  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const bin = await r.post('hs_echo', bytes);
  t.deepEqual(Buffer.from(await bin.arrayBuffer()), bytes, 'binary workloads and results pass unchanged');
  t.is(Number(bin.headers.get('content-length')), 256);

  // A function name that needs percent-encoding in a path.
  await r.worker().register('hs echo/ü', (job) => job.payload).start();
  const enc = await fetch(`${r.http}/${encodeURIComponent('hs echo/ü')}`, { method: 'PUT', body: 'put works' });
  t.is(enc.status, 200);
  t.is(await enc.text(), 'put works');
});

test('background POST returns a handle that GET_STATUS knows, and the job runs later', async (t) => {
  const r = await rig(t);
  const res = await r.post('hs_bg', 'later', { 'X-Gearman-Background': 'true' });
  t.is(res.status, 200);
  t.is(res.headers.get('x-gearman-command'), 'JOB_CREATED');
  t.is(await res.text(), '');
  const handle = res.headers.get('x-gearman-job-handle')!;
  t.regex(handle, HANDLE);
  const client = r.client();
  const st = await client.getStatus(handle);
  t.true(st.known);
  t.false(st.running);
  t.is(await r.gearadmin('--status'), 'hs_bg\t1\t0\t0\n.\n');

  const seen: string[] = [];
  await r.worker().register('hs_bg', (job) => void seen.push(job.payload.toString())).start();
  await waitFor(async () => !(await client.getStatus(handle)).known, 'the background job to finish');
  t.deepEqual(seen, ['later']);
  t.is(r.server.monitor!.status().counters.httpSubmitted, 1);
});

test('X-Gearman-Priority orders jobs as SUBMIT_JOB_HIGH/LOW do', async (t) => {
  const r = await rig(t);
  for (const [body, priority] of [['L', 'low'], ['N', undefined], ['H', 'HIGH'], ['L2', 'Low']] as const) {
    const headers: Record<string, string> = { 'X-Gearman-Background': 'TRUE' };
    if (priority) headers['X-Gearman-Priority'] = priority;
    t.is((await r.post('hs_prio', body, headers)).status, 200);
  }
  t.is(await r.gearadmin('--priority-status'), 'hs_prio\t1\t1\t2\t0\n.\n');
  const order: string[] = [];
  const all = gate();
  await r.worker(1)
    .register('hs_prio', (job) => {
      order.push(job.payload.toString());
      if (order.length === 4) all.open();
    })
    .start();
  await all.opened;
  t.deepEqual(order, ['H', 'N', 'L', 'L2']);
});

test('the same X-Gearman-Unique coalesces, with HTTP and TCP clients alike', async (t) => {
  const r = await rig(t);
  const release = gate();
  let runs = 0;
  await r.worker(4)
    .register('hs_co', async (job) => {
      runs++;
      await release.opened;
      return `ran ${job.payload.toString()}`;
    })
    .start();
  const first = r.post('hs_co', 'one', { 'X-Gearman-Unique': 'same-key' });
  await waitFor(() => runs === 1, 'the first job to start');
  const second = r.post('hs_co', 'two', { 'X-Gearman-Unique': 'same-key' });
  const tcp = r.client().submit('hs_co', 'three', { unique: 'same-key' });
  const tcpHandle = await tcp.created;
  // Both HTTP submissions were acknowledged (they share the gateway's one connection, so the
  // server counts two waiting connections: the gateway and the TCP client).
  await waitFor(() => r.server.monitor!.status().counters.httpSubmitted === 2, 'both HTTP submissions created');
  t.is((await r.client().getStatusUnique('same-key')).clientCount, 2);
  release.open();
  const [a, b] = await Promise.all([first, second]);
  t.is(a.headers.get('x-gearman-job-handle'), b.headers.get('x-gearman-job-handle'));
  t.is(a.headers.get('x-gearman-job-handle'), tcpHandle);
  t.is(await a.text(), 'ran one');
  t.is(await b.text(), 'ran one');
  t.is((await tcp.result).toString(), 'ran one');
  t.is(runs, 1);

  // Background submissions coalesce on the key too: one stored job, one handle.
  const bg1 = await r.post('hs_co_bg', 'x', { 'X-Gearman-Unique': 'bg-key', 'X-Gearman-Background': 'true' });
  const bg2 = await r.post('hs_co_bg', 'y', { 'X-Gearman-Unique': 'bg-key', 'X-Gearman-Background': 'true' });
  t.is(bg1.headers.get('x-gearman-job-handle'), bg2.headers.get('x-gearman-job-handle'));
  t.is(await r.gearadmin('--show-unique-jobs'), 'bg-key\n.\n');
  // Without the header nothing coalesces, even with equal bodies (gearmand would use `-`).
  const n1 = await r.post('hs_co_bg', 'same', { 'X-Gearman-Background': 'true' });
  const n2 = await r.post('hs_co_bg', 'same', { 'X-Gearman-Background': 'true' });
  t.not(n1.headers.get('x-gearman-job-handle'), n2.headers.get('x-gearman-job-handle'));
});

test('WORK_FAIL and WORK_EXCEPTION answer 500 with X-Gearman-Command; a refused job 503', async (t) => {
  const r = await rig(t);
  await r.worker()
    .register('hs_fail', () => {
      throw new JobFailedError();
    })
    .register('hs_boom', () => {
      throw new Error('boom');
    })
    .start();
  const fail = await r.post('hs_fail', 'x');
  t.is(fail.status, 500);
  t.is(fail.headers.get('x-gearman-command'), 'WORK_FAIL');
  t.regex(fail.headers.get('x-gearman-job-handle')!, HANDLE);
  const boom = await r.post('hs_boom', 'x');
  t.is(boom.status, 500);
  t.is(boom.headers.get('x-gearman-command'), 'WORK_EXCEPTION');
  t.regex(await boom.text(), /boom/);

  const admin = new AdminClient({ server: `127.0.0.1:${r.port}` });
  t.teardown(() => admin.destroy());
  await admin.createFunction('hs_full');
  await admin.maxQueue('hs_full', 1);
  t.is((await r.post('hs_full', 'a', { 'X-Gearman-Background': 'true' })).status, 200);
  const full = await r.post('hs_full', 'b', { 'X-Gearman-Background': 'true' });
  t.is(full.status, 503);
  t.is(full.headers.get('x-gearman-error'), 'QUEUE_ERROR');
});

test('bad requests: no function, GET on a job path, unknown method, body over the packet limit', async (t) => {
  const r = await rig(t, { maxPacketSize: 4096 });
  const none = await fetch(`${r.http}/`, { method: 'POST', body: 'x' });
  t.is(none.status, 400);
  const get = await fetch(`${r.http}/hs_fn`);
  t.is(get.status, 404, 'GET never submits: GET paths are the monitor\'s');
  const del = await fetch(`${r.http}/hs_fn`, { method: 'DELETE' });
  t.is(del.status, 405);
  t.is(del.headers.get('allow'), 'GET, HEAD, POST, PUT');
  const big = await r.post('hs_fn', Buffer.alloc(8192, 1));
  t.is(big.status, 413);
  const longUnique = await r.post('hs_fn', 'x', { 'X-Gearman-Unique': 'u'.repeat(65), 'X-Gearman-Background': 'true' });
  t.is(longUnique.status, 400);
  const crossSite = await r.post('hs_fn', 'x', { Origin: 'http://evil.example', 'X-Gearman-Background': 'true' });
  t.is(crossSite.status, 403, 'a page from another site cannot submit through a browser');
  const ownPage = await r.post('hs_own', 'x', { Origin: r.http, 'X-Gearman-Background': 'true' });
  t.is(ownPage.status, 200, 'the monitor\'s own origin may');
  t.is(await r.gearadmin('--status'), 'hs_own\t1\t0\t0\n.\n', 'none of the others reached the job server');
});

test('destroy() fails a waiting HTTP submission instead of leaving it hanging', async (t) => {
  const r = await rig(t);
  const pending = r.post('hs_nobody', 'x');
  await waitFor(() => r.server.core.functions.get('hs_nobody')?.queuedTotal === 1, 'the job to be queued');
  r.server.destroy();
  const res = await pending;
  t.is(res.status, 503);
  t.regex(await res.text(), /closed|destroyed/);
});

test('close() lets a running HTTP job finish and answer before the port closes', async (t) => {
  const r = await rig(t);
  const release = gate();
  let started = false;
  await r.worker()
    .register('hs_drain', async () => {
      started = true;
      await release.opened;
      return 'finished';
    })
    .start();
  const pending = r.post('hs_drain', 'x');
  await waitFor(() => started, 'the job to start');
  const closing = r.server.close();
  release.open();
  const res = await pending;
  t.is(res.status, 200);
  t.is(await res.text(), 'finished');
  await closing;
  await t.throwsAsync(fetch(`${r.http}/status`));
});

test('close() called the moment the last job ends still delivers that job\'s HTTP answer', async (t) => {
  const r = await rig(t);
  await r.worker().register('hs_last', async () => 'done').start();
  // The job has left the server's tables but its WORK_COMPLETE has not reached the HTTP side yet.
  let closing: Promise<void> | undefined;
  r.server.core.onJobEnd(() => queueMicrotask(() => (closing ??= r.server.close())));
  const res = await r.post('hs_last', 'x');
  t.is(res.status, 200);
  t.is(await res.text(), 'done');
  t.truthy(closing);
  await closing;
});

test('odd request targets neither crash the server nor submit elsewhere', async (t) => {
  const r = await rig(t);
  const { port } = r.server.httpAddress()!;
  const raw = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const sock = net.connect(port, '127.0.0.1');
      let text = '';
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => (text += d));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
      sock.write(`${line}\r\nHost: 127.0.0.1\r\nX-Gearman-Background: true\r\nContent-Length: 1\r\nConnection: close\r\n\r\nz`);
    });
  t.regex(await raw('POST //hs_slashes?x=1 HTTP/1.1'), /^HTTP\/1\.1 200 OK[\s\S]*X-Gearman-Command: JOB_CREATED/m, 'leading slashes go, as in gearmand');
  t.regex(await raw('POST /%zz HTTP/1.1'), /^HTTP\/1\.1 400 /);
  t.regex(await raw('GET http://[bad HTTP/1.1'), /^HTTP\/1\.1 (400|404) /);
  t.is((await fetch(`${r.http}/status`)).status, 200, 'still serving');
  t.is(await r.gearadmin('--status'), 'hs_slashes\t1\t0\t0\n.\n');
});

test('with TLS on the job port, HTTP submission is refused (the monitor stays readable)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-http-tls-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const r = await rig(t, { tls: { cert: fs.readFileSync(cert), key: fs.readFileSync(key) } });
  const res = await r.post('hs_tls', 'x', { 'X-Gearman-Background': 'true' });
  t.is(res.status, 403);
  t.regex(await res.text(), /TLS/);
  t.is((await fetch(`${r.http}/status`)).status, 200);
  t.deepEqual(r.server.monitor!.status().functions, [], 'nothing was submitted');
});
