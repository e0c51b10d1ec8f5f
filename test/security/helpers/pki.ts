/**
 * A throwaway PKI for TLS tests, made with the `openssl` command (never with the code under test):
 * a CA, a server certificate for 127.0.0.1/localhost, client certificates by common name, and a
 * "rogue" CA whose client certificates the server must not trust.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface ClientCert extends CertFiles {
  readonly cn: string;
  /** SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it (AB:CD:…). */
  readonly fingerprint: string;
}

export interface Pki {
  readonly dir: string;
  /** The CA certificate (PEM file) that signed the server and client certificates. */
  readonly ca: string;
  readonly server: CertFiles & { readonly fingerprint: string };
  /** Another server certificate from the same CA (rotation). */
  readonly server2: CertFiles & { readonly fingerprint: string };
  readonly clients: Readonly<Record<string, ClientCert>>;
  /** A client certificate signed by another CA. */
  readonly rogue: ClientCert;
  read(file: string): Buffer;
  remove(): void;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`], dir);
}

function sign(dir: string, ca: string, name: string, cn: string, ext: string): CertFiles {
  openssl(['req', ...KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`], dir);
  return { cert: path.join(dir, `${name}.pem`), key: path.join(dir, `${name}.key`) };
}

function fingerprintOf(file: string, dir: string): string {
  return openssl(['x509', '-in', file, '-noout', '-fingerprint', '-sha256'], dir).trim().replace(/^.*=/, '');
}

function clientCert(dir: string, ca: string, cn: string, file = `client-${cn}`): ClientCert {
  const files = sign(dir, ca, file, cn, 'extendedKeyUsage=clientAuth\n');
  return { ...files, cn, fingerprint: fingerprintOf(files.cert, dir) };
}

/** Make a PKI in a new temp dir with one client certificate per common name. */
export function makePki(clientCns: readonly string[]): Pki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  const s1 = sign(dir, 'ca', 'server', 'localhost', serverExt);
  const s2 = sign(dir, 'ca', 'server2', 'localhost', serverExt);
  const server = { ...s1, fingerprint: fingerprintOf(s1.cert, dir) };
  const server2 = { ...s2, fingerprint: fingerprintOf(s2.cert, dir) };
  const clients: Record<string, ClientCert> = {};
  for (const cn of clientCns) clients[cn] = clientCert(dir, 'ca', cn);
  // Same common name as the first client: only the CA tells them apart.
  const rogue = clientCert(dir, 'rogue-ca', clientCns[0] ?? 'rogue', 'rogue-client');
  return {
    dir,
    ca: path.join(dir, 'ca.pem'),
    server,
    server2,
    clients,
    rogue,
    read: (file) => fs.readFileSync(file),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
