/**
 * Descriptors (issue 13, attack 7): by default --max-connections stays below the process's
 * open-files limit, so at the limit new peers are refused with a reason instead of being reset by
 * a process that ran out of descriptors, and an operator on loopback can still use the admin port.
 */
import test from 'ava';
import { runProcess } from '../client/helpers/cli.ts';
import { startServerUnderFileLimit } from '../helpers/cluster.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { defaultMaxConnections } from '../../src/server/limits.ts';

test('with ulimit -n 96 and no --max-connections, every peer past the default limit gets TOO_MANY_CONNECTIONS, and the admin port still answers', async (t) => {
  const { child, port, output } = await startServerUnderFileLimit(t, 96);

  // One peer after the other, each answered before the next connects: none may be left without one.
  const held: RawClient[] = [];
  t.teardown(() => Promise.all(held.map((c) => c.close())));
  const answers: string[] = [];
  for (let i = 0; i < 120; i++) {
    const c = await RawClient.connect(port);
    c.send(T.ECHO_REQ, 'hi');
    const p = await c.next().catch((err: Error) => ({ name: `closed without an answer (${err.message})`, text: [] as string[] }));
    answers.push(p.name === 'ERROR' ? `ERROR ${p.text[0]}` : p.name);
    if (p.name === 'ECHO_RES') held.push(c);
    else await c.close();
  }
  const limit = defaultMaxConnections(96);
  t.deepEqual(answers, [...Array(limit).fill('ECHO_RES'), ...Array(120 - limit).fill('ERROR TOO_MANY_CONNECTIONS')]);

  // At the limit the operator can still look: gearadmin on loopback is served.
  const status = await runProcess('gearadmin', ['-h', '127.0.0.1', '-p', String(port), '--status']);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /^\.$/m);
  t.is(child.exitCode, null, output());
});
