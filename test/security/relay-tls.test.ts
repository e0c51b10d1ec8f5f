/**
 * Relays over TLS (`relayTls` / `--relay-ssl …`): server A takes plain-text clients and relays
 * what no local worker can do to server B, which accepts only TLS with a client certificate.
 * With the CA and a certificate A gets through; without them B turns A away and the client on A
 * is told why.
 */
import test from 'ava';
import { Client, Worker } from '../../src/client/index.ts';
import { geartrain } from '../client/helpers/cli.ts';
import { startServerProcess } from '../helpers/cluster.ts';
import { clientTls, serverTls, startServer } from './helpers/fixture.ts';
import { makePki, type Pki } from './helpers/pki.ts';

let pki: Pki;
test.before(() => {
  pki = makePki(['relay-a', 'worker-b']);
});
test.after.always(() => pki?.remove());

async function secureB(t: Parameters<typeof startServer>[0]) {
  const b = await startServer(t, { tls: serverTls(pki, { requireClientCert: true }) });
  const worker = new Worker({ servers: b.address, tls: clientTls(pki, 'worker-b') });
  t.teardown(() => worker.destroy());
  await worker.register('secure.upper', (job) => job.payload.toString().toUpperCase()).start();
  return b;
}

test('A relays to a TLS-only B with the CA and a client certificate: the result comes back to the plain-text client', async (t) => {
  const b = await secureB(t);
  const a = await startServer(t, { relay: [{ functions: ['secure.*'], servers: [b.address] }], relayTls: clientTls(pki, 'relay-a') });
  const client = new Client({ servers: a.address });
  t.teardown(() => client.destroy());
  t.is((await client.call('secure.upper', 'over tls')).toString(), 'OVER TLS');
  t.like(a.server.core.relay!.stats, { relayed: 1, completed: 1, failed: 0 });
});

test('without relayTls, B turns A away and the job fails on A naming B and the reason', async (t) => {
  const b = await secureB(t);
  const a = await startServer(t, { relay: [{ functions: ['secure.*'], servers: [b.address] }] });
  const client = new Client({ servers: a.address });
  t.teardown(() => client.destroy());
  const err = await t.throwsAsync(client.call('secure.upper', 'plain'));
  t.is((err as { code?: string }).code, 'ERR_JOB_EXCEPTION');
  t.regex(err!.message, new RegExp(`relay to ${b.address} failed.*TLS`));
});

test('geartrain server --relay … --relay-ssl --relay-ssl-ca-file --relay-ssl-certificate --relay-ssl-key relays over TLS', async (t) => {
  const b = await secureB(t);
  const me = pki.clients['relay-a']!;
  const a = await startServerProcess(t, ['-q', 'memory', '-p', '0', '--relay', `secure.*=${b.address}`, '--relay-ssl', '--relay-ssl-ca-file', pki.ca, '--relay-ssl-certificate', me.cert, '--relay-ssl-key', me.key]);
  const client = new Client({ servers: a.address });
  t.teardown(() => client.destroy());
  t.is((await client.call('secure.upper', 'from the cli')).toString(), 'FROM THE CLI');
});

test('--relay-ssl flags: a certificate without its key, TLS without a relay, and an unreadable CA are refused as usage errors (exit 2), naming the flag', async (t) => {
  const cert = pki.clients['relay-a']!.cert;
  const cases: [string[], RegExp][] = [
    [['--relay', 'f=127.0.0.1:1', '--relay-ssl-certificate', cert], /needs both --relay-ssl-certificate and --relay-ssl-key \(--relay-ssl-key is missing\)/],
    [['--relay-ssl'], /--relay-ssl\* flags need --relay/],
    [['--relay', 'f=127.0.0.1:1', '--relay-ssl-ca-file', '/no/such/ca.pem'], /--relay-ssl-ca-file: cannot read \/no\/such\/ca.pem: ENOENT/],
  ];
  for (const [args, says] of cases) {
    const out = await geartrain(['server', '-q', 'memory', '-p', '0', ...args]);
    t.is(out.code, 2, args.join(' '));
    t.regex(out.stderr, says);
    t.is(out.stdout, '', 'nothing listened');
  }
});
