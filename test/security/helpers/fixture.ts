/**
 * Shared set-up of the security tests: an in-process JobServer with TLS (certificates from the
 * openssl-made PKI), TLS options for geartrain's clients, and raw TLS peers that speak packets
 * and admin lines with no session logic in between.
 */
import type { ExecutionContext } from 'ava';
import net from 'node:net';
import tls from 'node:tls';
import { JobServer, type JobServerOptions } from '../../../src/server/index.ts';
import { RawClient } from '../../helpers/raw-client.ts';
import type { Pki } from './pki.ts';

export interface RunningServer {
  readonly server: JobServer;
  readonly port: number;
  /** `127.0.0.1:PORT` */
  readonly address: string;
}

type Teardown = Pick<ExecutionContext, 'teardown'>;

/** Start a server on a free loopback port, destroyed in teardown. */
export async function startServer(t: Teardown, options: JobServerOptions = {}): Promise<RunningServer> {
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory', ...options });
  t.teardown(() => server.destroy());
  const { port } = await server.listen();
  return { server, port, address: `127.0.0.1:${port}` };
}

/** Server TLS options from the PKI: its certificate, and the CA of client certificates. */
export function serverTls(pki: Pki, extra: { requireClientCert?: boolean; withCa?: boolean } = {}): NonNullable<JobServerOptions['tls']> {
  return {
    cert: pki.read(pki.server.cert),
    key: pki.read(pki.server.key),
    ...(extra.withCa === false ? {} : { ca: pki.read(pki.ca) }),
    ...(extra.requireClientCert ? { requireClientCert: true } : {}),
  };
}

/** TLS options for geartrain's Client/Worker/AdminClient: trust the PKI's CA, present `cn`'s certificate. */
export function clientTls(pki: Pki, cn?: string): tls.ConnectionOptions {
  const c = cn === undefined ? undefined : cn === 'rogue' ? pki.rogue : pki.clients[cn];
  if (cn !== undefined && !c) throw new Error(`no client certificate for ${cn}`);
  return { ca: pki.read(pki.ca), ...(c ? { cert: pki.read(c.cert), key: pki.read(c.key) } : {}) };
}

/**
 * A RawClient over TLS. RawClient only dials plain TCP; its constructor takes any connected
 * net.Socket, and a TLSSocket is one.
 */
export async function rawTls(t: Teardown, port: number, options: tls.ConnectionOptions): Promise<RawClient> {
  const socket = tls.connect({ host: '127.0.0.1', port, ...options });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const client = Reflect.construct(RawClient as unknown as new (s: net.Socket) => RawClient, [socket]);
  t.teardown(() => client.close());
  return client;
}

/** A plain-TCP RawClient, closed in teardown. */
export async function rawPlain(t: Teardown, port: number, host = '127.0.0.1'): Promise<RawClient> {
  const client = await RawClient.connect(port, host);
  t.teardown(() => client.close());
  return client;
}
