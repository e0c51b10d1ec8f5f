/**
 * Limits with safe defaults: connections (the next one is refused with a reason), jobs per
 * function (a server-wide default for `maxqueue`), and output pending for a peer that never reads
 * (cut off, not buffered forever).
 */
import fs from 'node:fs';
import test from 'ava';
import net from 'node:net';
import { Client, Worker } from '../../src/client/index.ts';
import { JobServer } from '../../src/server/index.ts';
import { DEFAULT_MAX_PENDING_OUTPUT } from '../../src/server/options.ts';
import { ADMIN_RESERVE, defaultMaxConnections } from '../../src/server/limits.ts';
import { request } from '../../src/protocol/encoder.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { waitFor } from '../helpers/ports.ts';
import { clientTls, rawPlain, rawTls, serverTls, startServer } from './helpers/fixture.ts';
import { makePki, type Pki } from './helpers/pki.ts';

let pki: Pki;
test.before(() => {
  pki = makePki(['alice']);
});
test.after.always(() => pki?.remove());

test('defaults: connections up to the open-files limit less a reserve, 256 MiB of pending output per peer, no maxqueue', (t) => {
  const o = new JobServer().options;
  const limit = Number(/^Max open files\s+(\d+)/m.exec(fs.readFileSync('/proc/self/limits', 'utf8'))![1]);
  t.is(o.maxConnections, defaultMaxConnections(limit));
  t.true(o.maxConnections < limit);
  // An eighth (at least 32) for files, a sixteenth (at most 256) for refused peers, 4 for admin peers.
  t.is(defaultMaxConnections(1024), 1024 - 128 - 64 - 4);
  t.is(defaultMaxConnections(96), 96 - 32 - 6 - 4);
  t.is(defaultMaxConnections(1_048_576), 1_048_576 - 131_072 - 256 - 4);
  t.is(defaultMaxConnections(null), 100_000);
  t.is(o.maxPendingOutput, DEFAULT_MAX_PENDING_OUTPUT);
  t.is(DEFAULT_MAX_PENDING_OUTPUT, 256 * 1024 * 1024);
  t.is(o.maxQueue, 0);
});

test('maxConnections: the next connection is refused with TOO_MANY_CONNECTIONS in its own dialect (past the admin reserve for loopback text peers); a freed slot is usable again', async (t) => {
  const { server, port, address } = await startServer(t, { maxConnections: 3 });
  const peers = [await rawPlain(t, port), await rawPlain(t, port), await rawPlain(t, port)];
  for (const p of peers) {
    p.send(T.ECHO_REQ, 'in');
    await p.next(T.ECHO_RES);
  }
  const binary = await rawPlain(t, port);
  binary.send(T.ECHO_REQ, 'one too many');
  t.deepEqual((await binary.next(T.ERROR)).text, ['TOO_MANY_CONNECTIONS', 'the server is at its limit of 3 connections']);
  await binary.closedByServer();
  // An operator on loopback can still look: up to ADMIN_RESERVE text peers are served beyond the limit.
  const operators = [];
  for (let i = 0; i < ADMIN_RESERVE; i++) {
    const op = await rawPlain(t, port);
    op.sendRaw('version\n');
    t.regex(await op.readAdminReply('line'), /^OK /);
    operators.push(op);
  }
  const text = await rawPlain(t, port);
  text.sendRaw('version\n');
  t.is(await text.readAdminReply('line'), 'ERR TOO_MANY_CONNECTIONS the+server+is+at+its+limit+of+3+connections\r\n');
  for (const op of operators) await op.close();
  const client = new Client({ servers: address, connectAttempts: 1 });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.submit('f', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_CONNECTION');
  t.regex(err!.message, /refused the connection: TOO_MANY_CONNECTIONS/);
  client.destroy();
  t.true(server.stats.connectionsRefused >= 3);
  // The three admitted connections were never disturbed.
  for (const p of peers) {
    p.send(T.ECHO_REQ, 'still here');
    t.is((await p.next(T.ECHO_RES)).text[0], 'still here');
  }
  await peers[0]!.close();
  await waitFor(() => server.core.connections.size === 2, 'the server to see the close');
  const again = await rawPlain(t, port);
  again.send(T.ECHO_REQ, 'back in');
  t.is((await again.next(T.ECHO_RES)).text[0], 'back in');
});

test('maxConnections on a TLS port: connections still in their handshake count; the next peer is closed before any handshake', async (t) => {
  const { server, port, address } = await startServer(t, { maxConnections: 2, tls: serverTls(pki) });
  const admitted = await rawTls(t, port, clientTls(pki));
  t.is(await admitted.admin('status'), '.\n');
  // Connected, has sent nothing yet: it holds the second slot.
  const handshaking = await rawPlain(t, port);
  const client = new Client({ servers: address, tls: clientTls(pki), connectAttempts: 1 });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.submit('f', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_NO_SERVERS');
  t.regex(err!.message, /closed the connection during the TLS handshake/);
  t.is(server.core.connections.size, 1);
  await handshaking.close();
});

test('maxQueue: a server-wide default maxqueue for every function, new ones included; admin maxqueue still sets one function', async (t) => {
  const { port } = await startServer(t, { maxQueue: 2 });
  const c = await rawPlain(t, port);
  const admin = await rawPlain(t, port);
  for (const fn of ['f', 'later']) {
    for (const data of ['1', '2']) {
      c.send(T.SUBMIT_JOB_BG, fn, '', data);
      await c.next(T.JOB_CREATED);
    }
    c.send(T.SUBMIT_JOB_BG, fn, '', '3');
    t.deepEqual((await c.next(T.ERROR)).text, ['QUEUE_ERROR', 'Job queue is full']);
  }
  t.is(await admin.admin('maxqueue f 3'), 'OK\r\n');
  c.send(T.SUBMIT_JOB_BG, 'f', '', '3');
  await c.next(T.JOB_CREATED);
  c.send(T.SUBMIT_JOB_BG, 'later', '', '3');
  t.is((await c.next(T.ERROR)).text[0], 'QUEUE_ERROR');
  t.is(await admin.admin('maxqueue later 0'), 'OK\r\n');
  c.send(T.SUBMIT_JOB_BG, 'later', '', '3');
  await c.next(T.JOB_CREATED);
});

test('a client that never reads its results is cut off at maxPendingOutput; the server keeps serving everyone else', async (t) => {
  const maxPendingOutput = 1024 * 1024;
  const { server, port, address } = await startServer(t, { maxPendingOutput, outputHighWater: 64 * 1024 });
  const result = Buffer.alloc(256 * 1024, 'r');
  const worker = new Worker({ servers: address, concurrency: 4 });
  t.teardown(() => worker.destroy());
  let served = 0;
  worker.register('big', () => {
    served++;
    return result;
  });
  await worker.start();

  // A raw socket nobody reads from: 200 jobs would owe it 50 MiB of results.
  const deaf = net.connect(port, '127.0.0.1');
  t.teardown(() => deaf.destroy());
  deaf.pause();
  deaf.on('error', () => {});
  await new Promise((r) => deaf.once('connect', r));
  const jobs = 200;
  deaf.write(Buffer.concat(Array.from({ length: jobs }, (_, i) => request(T.SUBMIT_JOB, 'big', '', String(i)))));

  await waitFor(() => server.stats.connectionsCutOff === 1, 'the deaf client to be cut off', 20_000);
  t.is(server.core.connections.size, 1, 'only the worker is left');
  t.true(served < jobs, `cut off after ${served} results, not after all ${jobs}`);
  // Everyone else is served as before.
  const client = new Client({ servers: address });
  t.teardown(() => client.destroy());
  t.true((await client.submit('big', 'x').result).equals(result));
});
