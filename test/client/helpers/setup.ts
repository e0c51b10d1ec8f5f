/** Per-test server, clients and workers, all torn down with the test. */
import type { ExecutionContext } from 'ava';
import { AdminClient } from '../../../src/client/admin-client.ts';
import { Client } from '../../../src/client/client.ts';
import type { AdminClientOptions, ClientOptions, WorkerOptions } from '../../../src/client/options.ts';
import { Worker } from '../../../src/client/worker.ts';
import type { RunningServer } from '../../helpers/gearmand.ts';
import { startServer, type ServerKind, type StartOptions } from '../../helpers/servers.ts';

export interface Rig {
  readonly server: RunningServer;
  client(opts?: ClientOptions): Client;
  worker(opts?: WorkerOptions): Worker;
  admin(opts?: AdminClientOptions): AdminClient;
}

/** Fast reconnects so tests about failures do not wait for production backoff. */
export const FAST_RECONNECT = { reconnectDelayMs: 20, maxReconnectDelayMs: 200 } as const;

export function cleanup(t: ExecutionContext): <T extends { destroy(): void }>(x: T) => T {
  return (x) => {
    t.teardown(() => x.destroy());
    return x;
  };
}

export async function rig(t: ExecutionContext, kind: ServerKind, opts: StartOptions = {}): Promise<Rig> {
  const server = await startServer(kind, opts);
  t.teardown(() => server.stop());
  const own = cleanup(t);
  return {
    server,
    client: (o) => own(new Client({ servers: server.address, ...FAST_RECONNECT, ...o })),
    worker: (o) => own(new Worker({ servers: server.address, ...FAST_RECONNECT, ...o })),
    admin: (o) => own(new AdminClient({ server: server.address, ...o })),
  };
}

export const reverse = (b: Buffer) => Buffer.from(b.toString('utf8').split('').reverse().join(''));
