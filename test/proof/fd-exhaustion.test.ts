/**
 * A server that runs out of file descriptors keeps running: `geartrain server` started with
 * `ulimit -n 96` gets 300 connections at once; the ones it cannot accept are closed, the ones
 * it holds are served, and once they leave it accepts and answers new peers.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import test from 'ava';
import { GEARTRAIN } from '../client/helpers/cli.ts';
import { waitFor } from '../helpers/ports.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';

test('out of file descriptors: excess connections are closed, the server keeps serving', async (t) => {
  const child = spawn('bash', ['-c', `ulimit -n 96 && exec "${process.execPath}" "${GEARTRAIN}" server -p 0 -q memory -L 127.0.0.1 --verbose ERROR`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = Number((await waitFor(() => /^listening on 127\.0\.0\.1:(\d+)$/m.exec(out), 'the server to listen', 30_000))[1]);

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
  t.is(child.exitCode, null, `the server is still running: ${out}`);

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
