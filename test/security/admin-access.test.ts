/**
 * Admin commands that change state (`cancel job`, `create function`, `drop function`, `maxqueue`,
 * `shutdown`) are accepted from loopback, after `auth TOKEN` when the server has an admin token,
 * or from a peer whose client certificate the tenants file names; read-only commands are open.
 *
 * A non-loopback peer is this host talking to itself through its first non-internal IPv4
 * address: the server sees that address, not 127.0.0.1, as the peer.
 */
import test from 'ava';
import os from 'node:os';
import type tls from 'node:tls';
import { AdminClient } from '../../src/client/index.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { cleanEnv, geartrain, runProcess } from '../client/helpers/cli.ts';
import { clientTls, rawPlain, rawTls, serverTls, startServer } from './helpers/fixture.ts';
import { makePki, type Pki } from './helpers/pki.ts';

const TOKEN = 'correct-horse-battery-staple';

function externalIPv4(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('these tests need a non-loopback IPv4 interface');
}

const HOST = externalIPv4();

let pki: Pki;
test.before(() => {
  pki = makePki(['acme-app']);
});
test.after.always(() => pki?.remove());

/** Read-only first, then every state-changing command, from one connection. */
async function tryAll(peer: Awaited<ReturnType<typeof rawPlain>>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  out.status = await peer.admin('status');
  out.version = await peer.admin('version');
  for (const line of ['create function f', 'maxqueue f 5', 'cancel job H:x:1', 'drop function f', 'shutdown']) {
    out[line] = await peer.admin(line);
  }
  return out;
}

test('from a non-loopback peer without a token, state-changing commands get ERR PERMISSION_DENIED; read-only ones work', async (t) => {
  const { server, port } = await startServer(t, { host: '0.0.0.0' });
  const remote = await rawPlain(t, port, HOST);
  const replies = await tryAll(remote);
  t.is(replies.status, '.\n');
  t.regex(replies.version!, /^OK /);
  for (const cmd of ['create', 'maxqueue', 'cancel', 'drop', 'shutdown']) {
    const line = Object.keys(replies).find((l) => l.startsWith(cmd))!;
    t.is(replies[line], `ERR PERMISSION_DENIED ${cmd}+needs+loopback\r\n`);
  }
  t.is(await remote.admin('auth anything'), 'ERR PERMISSION_DENIED no+admin+token+is+configured\r\n');
  t.false(server.core.functions.has('f'));
  t.true(server.listening);
  // The same commands from loopback are accepted (shutdown is left out: it would stop the server).
  const local = await rawPlain(t, port, '127.0.0.1');
  t.is(await local.admin('create function f'), 'OK\r\n');
  t.is(await local.admin('maxqueue f 5'), 'OK\r\n');
  t.deepEqual(server.core.functions.get('f')!.maxQueue, [5, 5, 5]);
});

test('auth TOKEN unlocks them for that connection only; a wrong token is refused and the connection closed', async (t) => {
  const { server, port } = await startServer(t, { host: '0.0.0.0', adminToken: TOKEN });
  const authed = await rawPlain(t, port, HOST);
  t.is(await authed.admin(`auth ${TOKEN}`), 'OK\r\n');
  t.is(await authed.admin('create function f'), 'OK\r\n');
  t.is(await authed.admin('maxqueue f 5'), 'OK\r\n');
  const other = await rawPlain(t, port, HOST);
  t.is(await other.admin('drop function f'), 'ERR PERMISSION_DENIED drop+needs+loopback+or+auth+TOKEN\r\n');
  const job = await rawPlain(t, port, HOST);
  job.send(T.SUBMIT_JOB_BG, 'f', '', 'x');
  const handle = (await job.next(T.JOB_CREATED)).text[0]!;
  t.is(await authed.admin(`cancel job ${handle}`), 'OK\r\n');
  t.is(await authed.admin('drop function f'), 'OK\r\n');

  const wrong = await rawPlain(t, port, HOST);
  t.is(await wrong.admin('auth not-the-token'), 'ERR PERMISSION_DENIED wrong+admin+token\r\n');
  await wrong.closedByServer();
  const shutdown = new Promise<boolean>((resolve) => server.onShutdownRequest((graceful) => resolve(graceful)));
  t.is(await authed.admin('shutdown graceful'), 'OK\r\n');
  t.true(await shutdown);
});

test("AdminClient's adminToken and `geartrain admin --admin-token` send auth first; gearadmin, which cannot, is refused", async (t) => {
  const { server, port } = await startServer(t, { host: '0.0.0.0', adminToken: TOKEN });
  const address = `${HOST}:${port}`;
  const admin = new AdminClient({ server: address, adminToken: TOKEN });
  t.teardown(() => admin.destroy());
  await admin.createFunction('lib');
  t.true(server.core.functions.has('lib'));
  const badToken = new AdminClient({ server: address, adminToken: 'wrong-token-0123' });
  t.teardown(() => badToken.destroy());
  const err = await t.throwsAsync(badToken.status());
  t.is((err as { code?: string }).code, 'ERR_ADMIN');
  t.regex(err!.message, /wrong\+admin\+token/);

  const withFlag = await geartrain(['admin', '-h', HOST, '-p', String(port), '--admin-token', TOKEN, '--create-function', 'cli']);
  t.is(withFlag.code, 0, withFlag.stderr);
  t.is(withFlag.stdout, 'OK\n');
  const withEnv = await geartrain(['admin', '-h', HOST, '-p', String(port), '--drop-function', 'cli'], '', cleanEnv({ GEARTRAIN_ADMIN_TOKEN: TOKEN }));
  t.is(withEnv.code, 0, withEnv.stderr);
  t.false(server.core.functions.has('cli'));
  const without = await geartrain(['admin', '-h', HOST, '-p', String(port), '--create-function', 'nope']);
  t.is(without.code, 1);
  t.is(without.stderr, 'Error: PERMISSION_DENIED create+needs+loopback+or+auth+TOKEN\n');

  const gearadmin = await runProcess('gearadmin', ['-h', HOST, '-p', String(port), '--create-function', 'nope']);
  t.regex(gearadmin.stderr + gearadmin.stdout, /PERMISSION_DENIED create\+needs\+loopback\+or\+auth\+TOKEN/);
  t.false(server.core.functions.has('nope'));
});

test('from afar, a tenant certificate may change state in its namespace; the certificate-less default tenant may not', async (t) => {
  const { server, port } = await startServer(t, {
    host: '0.0.0.0',
    tls: serverTls(pki),
    tenants: { tenants: { acme: { cn: 'acme-app' }, public: {} }, default: 'public' },
  });
  // The server certificate names 127.0.0.1 and localhost; the address is checked elsewhere.
  const remote = (o: tls.ConnectionOptions) => ({ ...o, host: HOST, checkServerIdentity: () => undefined });
  const acme = await rawTls(t, port, remote(clientTls(pki, 'acme-app')));
  t.is(await acme.admin('create function f'), 'OK\r\n');
  t.is(await acme.admin('maxqueue f 2'), 'OK\r\n');
  t.deepEqual(server.core.functions.get('acme/f')!.maxQueue, [2, 2, 2]);
  const anonymous = await rawTls(t, port, remote(clientTls(pki)));
  t.is(await anonymous.admin('create function f'), 'ERR PERMISSION_DENIED create+needs+loopback\r\n');
  t.false(server.core.functions.has('public/f'));
  const local = await rawTls(t, port, clientTls(pki));
  t.is(await local.admin('create function f'), 'OK\r\n', 'the default tenant from loopback');
  t.true(server.core.functions.has('public/f'));
});
