/** A geartrain JobServer inside the test process (its live state readable through `core`), and raw clients of it. */
import type { ExecutionContext } from 'ava';
import { JobServer } from '../../src/server/index.ts';
import { RawClient } from './raw-client.ts';

/** A memory-queue server on a free loopback port, destroyed when the test ends. */
export async function inProcessServer(t: ExecutionContext): Promise<JobServer> {
  const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory' });
  await server.listen();
  t.teardown(() => server.destroy());
  return server;
}

/** A raw-socket client of `server`, closed when the test ends. */
export async function rawClientOf(t: ExecutionContext, server: JobServer): Promise<RawClient> {
  const c = await RawClient.connect(server.address().port);
  t.teardown(() => c.close());
  return c;
}
