/**
 * TLS against independent implementations: Perl's Gearman::Client/Worker over IO::Socket::SSL
 * (with client certificates, as tenants), `openssl s_client` as an admin client, and Debian's
 * gearmand 1.1.20 tools, whose build has no TLS: `gearmand --ssl` and `gearman -S` /
 * `gearadmin -S` all speak plain text (gearmand #207), which geartrain reports clearly.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/client/index.ts';
import { startGearmand } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { runProcess } from '../client/helpers/cli.ts';
import { clientTls, serverTls, startServer } from './helpers/fixture.ts';
import { makePki, type Pki } from './helpers/pki.ts';

const PERL_TLS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'peers', 'perl-tls.pl');

let pki: Pki;
test.before(() => {
  pki = makePki(['acme-app', 'globex-app']);
});
test.after.always(() => pki?.remove());

type Teardown = { teardown(fn: () => unknown): void };

function perlSpec(port: number, cn: string, extra: object): string {
  const c = pki.clients[cn]!;
  return JSON.stringify({ host: '127.0.0.1', port, ca_file: pki.ca, cert_file: c.cert, key_file: c.key, ...extra });
}

function perlWorker(t: Teardown, port: number, cn: string, fn: string, prefix: string): void {
  const child = spawn('perl', [PERL_TLS, perlSpec(port, cn, { role: 'worker', fn, prefix })], { stdio: 'ignore' });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
}

async function perlClient(port: number, cn: string, fn: string, payload: string): Promise<unknown[]> {
  const ran = await runProcess('perl', [PERL_TLS, perlSpec(port, cn, { role: 'client', fn, payload })]);
  return ran.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown);
}

test('Perl Gearman::Worker and Gearman::Client over TLS with client certificates, as two tenants sharing a function name', async (t) => {
  const { server, port } = await startServer(t, {
    tls: serverTls(pki, { requireClientCert: true }),
    tenants: { tenants: { acme: { cn: 'acme-app' }, globex: { cn: 'globex-app' } } },
  });
  perlWorker(t, port, 'acme-app', 'rev', 'acme:');
  perlWorker(t, port, 'globex-app', 'rev', 'globex:');
  await waitFor(() => server.core.functions.get('acme/rev')?.workers.size === 1 && server.core.functions.get('globex/rev')?.workers.size === 1, 'both Perl workers');
  const [acme, globex] = await Promise.all([perlClient(port, 'acme-app', 'rev', 'hello'), perlClient(port, 'globex-app', 'rev', 'hello')]);
  t.deepEqual(acme, [{ event: 'complete', data: 'acme:hello' }, { event: 'end' }]);
  t.deepEqual(globex, [{ event: 'complete', data: 'globex:hello' }, { event: 'end' }]);
});

test('openssl s_client as an admin client: `workers` over TLS lists the TLS client', async (t) => {
  const { port } = await startServer(t, { tls: serverTls(pki) });
  const c = pki.clients['acme-app']!;
  const child = spawn('openssl', ['s_client', '-quiet', '-connect', `127.0.0.1:${port}`, '-CAfile', pki.ca, '-cert', c.cert, '-key', c.key, '-verify_return_error'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
  child.stdin.write('workers\n');
  await waitFor(() => out.endsWith('.\n'), 'the workers listing');
  t.regex(out, /^\d+ 127\.0\.0\.1 - :\n\.\n$/);
});

test("Debian's gearman -S / gearadmin -S (libgearman without TLS) send plain text: geartrain's TLS port answers TLS_REQUIRED", async (t) => {
  const { port } = await startServer(t, { tls: serverTls(pki) });
  const env = { ...process.env, GEARMAND_CA_CERTIFICATE: pki.ca, GEARMAN_CLIENT_PEM: pki.clients['acme-app']!.cert, GEARMAN_CLIENT_KEY: pki.clients['acme-app']!.key };
  const client = await runProcess('gearman', ['-S', '-h', '127.0.0.1', '-p', String(port), '-f', 'f', 'x'], '', env);
  t.regex(client.stderr, /TLS_REQUIRED:this port speaks TLS \(the server speaks TLS\? try --ssl\)/);
  const admin = await runProcess('gearadmin', ['-S', '-h', '127.0.0.1', '-p', String(port), '--status'], '', env);
  t.regex(admin.stderr, /^Error: TLS_REQUIRED this\+port\+speaks\+TLS/);
});

test("geartrain's TLS client against Debian's `gearmand --ssl` (plain text in that build) is told to try without --ssl", async (t) => {
  const gearmand = await startGearmand(['--ssl', '--ssl-certificate', pki.server.cert, '--ssl-key', pki.server.key, '--ssl-ca-file', pki.ca]);
  t.teardown(() => gearmand.stop());
  // startGearmand's readiness check is a plain-text `version`: this gearmand answered it.
  const client = new Client({ servers: gearmand.address, tls: clientTls(pki), connectAttempts: 1, connectTimeoutMs: 1000 });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.submit('f', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_NO_SERVERS');
  t.true(err!.message.includes('the server speaks plain text? try without --ssl'), err!.message);
});
