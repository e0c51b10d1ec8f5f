/**
 * TLS on the job server (gearmand's `--ssl`: the whole port speaks TLS) and in geartrain's
 * Client, Worker and AdminClient; plain text meeting TLS either way fails fast with a message
 * that says what to do. Certificates come from `openssl` (helpers/pki.ts).
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import { AdminClient, Client, Worker } from '../../src/client/index.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { waitFor } from '../helpers/ports.ts';
import { clientTls, rawPlain, rawTls, serverTls, startServer } from './helpers/fixture.ts';
import { makePki, type Pki } from './helpers/pki.ts';

const TLS_HINT = 'the server speaks TLS? try --ssl';
const PLAIN_HINT = 'the server speaks plain text? try without --ssl';

let pki: Pki;
test.before(() => {
  pki = makePki(['alice']);
});
test.after.always(() => pki?.remove());

test('a worker, a client and an admin client talk over TLS; a 1 MiB payload crosses TLS records intact', async (t) => {
  const { server, address } = await startServer(t, { tls: serverTls(pki, { withCa: false }) });
  const worker = new Worker({ servers: address, tls: clientTls(pki) });
  t.teardown(() => worker.destroy());
  worker.register('echo', (job) => job.payload);
  await worker.start();
  const client = new Client({ servers: address, tls: clientTls(pki) });
  t.teardown(() => client.destroy());
  const payload = randomBytes(1024 * 1024);
  const result = await client.submit('echo', payload).result;
  t.true(result.equals(payload));

  const admin = new AdminClient({ server: address, tls: clientTls(pki) });
  t.teardown(() => admin.destroy());
  const status = await admin.status();
  t.deepEqual(status.find((s) => s.name === 'echo'), { name: 'echo', total: 0, running: 0, workers: 1 });
  // Every connection the server holds is a TLS socket.
  const sockets = [...server.core.connections].map((c) => c.socket);
  t.is(sockets.length, 3);
  t.true(sockets.every((s) => s instanceof tls.TLSSocket && s.encrypted));
});

test('a plain-text binary peer on the TLS port gets ERROR TLS_REQUIRED, then the server closes', async (t) => {
  const { server, port } = await startServer(t, { tls: serverTls(pki) });
  const peer = await rawPlain(t, port);
  peer.send(T.ECHO_REQ, 'hello');
  const err = await peer.next(T.ERROR);
  t.is(err.text[0], 'TLS_REQUIRED');
  t.true(err.text[1]!.includes(TLS_HINT));
  await peer.closedByServer();
  t.is(server.stats.connectionsRefused, 1);
});

test('a plain-text admin peer on the TLS port gets an ERR TLS_REQUIRED line', async (t) => {
  const { port } = await startServer(t, { tls: serverTls(pki) });
  const peer = await rawPlain(t, port);
  peer.sendRaw('status\n');
  // One ERR line instead of the listing.
  const reply = await peer.readAdminReply('line');
  t.regex(reply, /^ERR TLS_REQUIRED \S+\r\n$/);
  t.true(reply.replace(/\+/g, ' ').includes(TLS_HINT));
  await peer.closedByServer();
});

test("geartrain's plain client, worker and admin client on a TLS port fail at once: 'the server speaks TLS? try --ssl'", async (t) => {
  const { address } = await startServer(t, { tls: serverTls(pki) });
  const client = new Client({ servers: address, connectAttempts: 1 });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.submit('f', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_CONNECTION');
  t.true(err!.message.includes(TLS_HINT), err!.message);

  // A worker's connection is up before the refusal arrives; the refusal counts as a failed dial,
  // so maxReconnectAttempts applies and the worker gives up instead of redialling forever.
  const worker = new Worker({ servers: address, maxReconnectAttempts: 2, reconnectDelayMs: 10 });
  t.teardown(() => worker.destroy());
  worker.register('f', () => 'never');
  const events = worker.status();
  await worker.start();
  const seen: string[] = [];
  for await (const ev of events) {
    seen.push(ev.type);
    if (ev.type === 'disconnected') t.true(ev.error.message.includes(TLS_HINT), ev.error.message);
    if (ev.type === 'gave-up') break;
  }
  t.deepEqual(seen, ['connected', 'disconnected', 'reconnecting', 'connected', 'disconnected', 'gave-up']);

  const admin = new AdminClient({ server: address });
  t.teardown(() => admin.destroy());
  const aerr = await t.throwsAsync(admin.status());
  t.is((aerr as { code?: string }).code, 'ERR_CONNECTION');
  t.true(aerr!.message.includes(TLS_HINT), aerr!.message);
});

test("a TLS client on a plain-text port fails at once: 'the server speaks plain text? try without --ssl'", async (t) => {
  const { address, server } = await startServer(t);
  const client = new Client({ servers: address, tls: clientTls(pki), connectAttempts: 1 });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.submit('f', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_NO_SERVERS');
  t.true(err!.message.includes(PLAIN_HINT), err!.message);

  const admin = new AdminClient({ server: address, tls: clientTls(pki) });
  t.teardown(() => admin.destroy());
  const aerr = await t.throwsAsync(admin.version());
  t.is((aerr as { code?: string }).code, 'ERR_CONNECTION');
  t.true(aerr!.message.includes(PLAIN_HINT), aerr!.message);
  await waitFor(() => server.core.connections.size === 0, 'the plain server to drop both');
});

test('a client that does not trust the server certificate is told to give its CA with --ssl-ca-file', async (t) => {
  const { address } = await startServer(t, { tls: serverTls(pki) });
  const client = new Client({ servers: address, tls: true, connectAttempts: 1 });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.submit('f', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_NO_SERVERS');
  t.regex(err!.message, /certificate is not trusted.*--ssl-ca-file/);
});

test('with a CA, a client certificate from another CA is refused (CERTIFICATE_INVALID); one from the CA is accepted', async (t) => {
  const { server, address } = await startServer(t, { tls: serverTls(pki) });
  const rogue = new Client({ servers: address, tls: clientTls(pki, 'rogue'), connectAttempts: 1 });
  t.teardown(() => rogue.destroy());
  const err = await t.throwsAsync(rogue.submit('f', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_CONNECTION');
  t.regex(err!.message, /refused the connection: CERTIFICATE_INVALID/);
  rogue.destroy();

  const worker = new Worker({ servers: address, tls: clientTls(pki, 'alice') });
  t.teardown(() => worker.destroy());
  worker.register('f', (job) => Buffer.concat([Buffer.from('ok:'), job.payload]));
  await worker.start();
  const good = new Client({ servers: address, tls: clientTls(pki, 'alice') });
  t.teardown(() => good.destroy());
  t.is((await good.submit('f', 'x').result).toString(), 'ok:x');
  // Without requireClientCert, a client with no certificate is served too.
  const anonymous = new Client({ servers: address, tls: clientTls(pki) });
  t.teardown(() => anonymous.destroy());
  t.is((await anonymous.submit('f', 'y').result).toString(), 'ok:y');
  t.true(server.stats.connectionsRefused >= 1);
  t.is(server.core.connections.size, 3, 'worker, good and anonymous: the rogue never got a connection');
});

test('requireClientCert: a client without a certificate is refused with CERTIFICATE_REQUIRED', async (t) => {
  const { port, address } = await startServer(t, { tls: serverTls(pki, { requireClientCert: true }) });
  const client = new Client({ servers: address, tls: clientTls(pki), connectAttempts: 1 });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.submit('f', 'x').result);
  t.regex(err!.message, /CERTIFICATE_REQUIRED.*--ssl-certificate/);
  // A raw TLS admin peer without a certificate reads the reason as an ERR line.
  const peer = await rawTls(t, port, clientTls(pki));
  peer.sendRaw('status\n');
  t.regex(await peer.readAdminReply('line'), /^ERR CERTIFICATE_REQUIRED /);
  await peer.closedByServer();
  const ok = await rawTls(t, port, clientTls(pki, 'alice'));
  t.is(await ok.admin('status'), '.\n');
});

test('a peer that never completes a handshake is dropped after handshakeTimeoutMs', async (t) => {
  const { port, server } = await startServer(t, { tls: { ...serverTls(pki), handshakeTimeoutMs: 200 } });
  const silent = await rawPlain(t, port);
  const partial = await rawPlain(t, port);
  partial.sendRaw(Buffer.from([0x16, 0x03, 0x01])); // a ClientHello that never comes whole
  await silent.closedByServer(5000);
  await partial.closedByServer(5000);
  t.is(server.core.connections.size, 0);
});

test('setTlsCredentials: new connections get the new certificate, open ones keep working', async (t) => {
  const { server, port, address } = await startServer(t, { tls: serverTls(pki) });
  const fingerprint = async () => {
    const s = tls.connect({ host: '127.0.0.1', port, ...clientTls(pki) });
    await new Promise((r) => s.once('secureConnect', r));
    const f = s.getPeerCertificate().fingerprint256;
    s.destroy();
    return f;
  };
  t.is(await fingerprint(), pki.server.fingerprint);
  const admin = new AdminClient({ server: address, tls: clientTls(pki) });
  t.teardown(() => admin.destroy());
  await admin.version();
  server.setTlsCredentials({ cert: pki.read(pki.server2.cert), key: pki.read(pki.server2.key), ca: pki.read(pki.ca) });
  t.is(await fingerprint(), pki.server2.fingerprint);
  t.truthy(await admin.version(), 'the connection opened before the swap still works');
});
