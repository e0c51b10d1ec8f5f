/**
 * A server that runs out of file descriptors keeps running: `geartrain server` started with
 * `ulimit -n 96` (and a connection limit above that) gets 300 connections at once; the ones it cannot accept are closed, the ones
 * it holds are served, and once they leave it accepts and answers new peers.
 */
import net from 'node:net';
import test from 'ava';
import { startServerUnderFileLimit } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/ports.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';

test('out of file descriptors: excess connections are closed, the server keeps serving', async (t) => {
  // A limit above the descriptors (the default stays below them: test/security/descriptors.test.ts).
  const { child, port, output } = await startServerUnderFileLimit(t, 96, ['--max-connections', '100000']);

  const sockets = Array.from({ length: 300 }, () => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    return s;
  });
  const closed = new Set<net.Socket>();
  for (const s of sockets) s.on('close', () => closed.add(s));
  // Connections the server could not take are closed by it; the rest stay open.
  await waitFor(() => closed.size > 0, 'the server to close connections it cannot hold', 20_000);
  t.true(closed.size < 300, 'some connections are held');
  t.is(child.exitCode, null, `the server is still running: ${output()}`);

  for (const s of sockets) s.destroy();
  // Until the server has seen those closes it is still at its limit: the kernel completes a new
  // connection's handshake, and the server then closes it. Retry until one is served.
  const peer = await waitFor(
    async () => {
      const c = await RawClient.connect(port).catch(() => undefined);
      if (!c) return undefined;
      try {
        c.send(T.ECHO_REQ, 'still here');
        t.deepEqual((await c.next(T.ECHO_RES)).text, ['still here']);
        return c;
      } catch {
        await c.close();
        return undefined;
      }
    },
    'a new connection served once the others left',
    20_000,
  );
  t.teardown(() => peer.close());
  t.regex(await peer.admin('version'), /^OK /);
  t.is(child.exitCode, null);
});
