/**
 * The job server's HTTP port (issue 13, attack 4 and part of 7), attacked with raw HTTP: a request
 * must name the server in its Host header (DNS rebinding gets nothing), slow headers and bodies
 * are cut after a few seconds, and HTTP connections count against --max-connections.
 */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { Worker } from '../../src/client/worker.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { startServerProcess, waitForLine } from '../helpers/cluster.ts';
import { RawClient } from '../helpers/raw-client.ts';

async function serverWithHttp(t: ExecutionContext, extra: string[] = []) {
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0', '--http-port', '0', ...extra]);
  const http = Number((await waitForLine(server, /^http on http:\/\/127\.0\.0\.1:(\d+)\//m, 'the HTTP port'))[1]);
  // A worker that notes every job it gets: nothing may reach it from a refused request.
  const received: string[] = [];
  const worker = new Worker({ servers: server.address });
  worker.register('probe', (job) => {
    received.push(job.payload.toString());
    return 'done';
  });
  await worker.start();
  t.teardown(() => worker.destroy());
  return { server, http, received };
}

interface HttpReply {
  readonly status: number;
  readonly text: string;
}

/** Writes `request` on a new connection and reads until the server closes it. */
function rawHttp(port: number, request: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
  });
}

const post = (host: string, body: string, origin?: string) =>
  `POST /probe HTTP/1.1\r\nHost: ${host}\r\n${origin ? `Origin: ${origin}\r\n` : ''}Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

test('DNS rebinding: a POST /FUNC or GET /status naming another Host is refused (421); the listen address, localhost and --http-host names work', async (t) => {
  const { http, received } = await serverWithHttp(t);
  // After rebinding, the attacker's page and its requests are "same origin" for the browser.
  const rebound = await rawHttp(http, post(`evil.example:${http}`, 'from-a-web-page', `http://evil.example:${http}`));
  t.is(rebound.status, 421);
  t.regex(rebound.text, /Host "evil\.example:\d+" is not a name of this server: it answers to its address, localhost and the names given with --http-host/);
  const status = await rawHttp(http, `GET /status HTTP/1.1\r\nHost: evil.example:${http}\r\nConnection: close\r\n\r\n`);
  t.is(status.status, 421);
  t.false(status.text.includes('probe'), 'the status document is not shown');
  t.deepEqual(received, [], 'no job reached the worker');

  for (const host of [`127.0.0.1:${http}`, `localhost:${http}`, `[::1]:${http}`]) {
    const ok = await rawHttp(http, post(host, `via ${host}`));
    t.is(ok.status, 200, ok.text);
    t.regex(ok.text, /done$/);
  }
  t.is(received.length, 3);

  const named = await serverWithHttp(t, ['--http-host', 'gearman.example.net']);
  for (const host of [`gearman.example.net:${named.http}`, 'GEARMAN.example.net.']) t.is((await rawHttp(named.http, post(host, host))).status, 200, host);
  t.is((await rawHttp(named.http, post(`evil.example:${named.http}`, 'x'))).status, 421);
  t.is(named.received.length, 2);
});

test('slow request headers and slow bodies are cut after a few seconds; the job is never submitted', async (t) => {
  const { http, received } = await serverWithHttp(t);
  const slowHeaders = rawHttp(http, `POST /probe HTTP/1.1\r\nHost: 127.0.0.1:${http}\r\n`);
  const slowBody = rawHttp(http, `POST /probe HTTP/1.1\r\nHost: 127.0.0.1:${http}\r\nContent-Length: 100000\r\n\r\nonly-a-little`);
  const idle = rawHttp(http, '');
  const [a, b, c] = await Promise.all([slowHeaders, slowBody, idle]);
  for (const r of [a, b, c]) t.is(r.status, 408, r.text);
  t.deepEqual(received, []);
});

test('HTTP connections count against --max-connections: at the limit a Gearman peer is refused with a reason, and so is another HTTP peer', async (t) => {
  const { server, http } = await serverWithHttp(t, ['--max-connections', '4']);
  // The probe worker holds one connection; three HTTP connections fill the rest. Each has had an
  // answer (and stays open: keep-alive), so the server has counted it.
  const sockets = await Promise.all(
    Array.from({ length: 3 }, () => new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(http, '127.0.0.1', () => s.write(`GET /status HTTP/1.1\r\nHost: 127.0.0.1:${http}\r\n\r\n`));
      s.once('data', () => resolve(s));
      s.on('error', reject);
    })),
  );
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  const c = await RawClient.connect(server.port);
  t.teardown(() => c.close());
  c.send(T.ECHO_REQ, 'x');
  const peer = await c.next(T.ERROR);
  t.deepEqual(peer.text, ['TOO_MANY_CONNECTIONS', 'the server is at its limit of 4 connections']);
  const extra = await rawHttp(http, `GET /status HTTP/1.1\r\nHost: 127.0.0.1:${http}\r\n\r\n`);
  t.is(extra.status, 503);
  t.regex(extra.text, /the server is at its connection limit/);
});
