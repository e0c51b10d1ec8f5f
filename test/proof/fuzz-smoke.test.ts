/**
 * A short seeded fuzz run (the loop of scripts/proof/fuzz.ts, a few hundred cases) against an
 * in-process server: it keeps serving a well-formed peer throughout, and afterwards every fuzz
 * connection is gone and its counters agree with its job table. The full 60-second run with
 * memory checks is `npm run fuzz`.
 */
import test from 'ava';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import { JobServer } from '../../src/server/index.ts';
import { waitFor } from '../helpers/ports.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { runFuzz } from '../../scripts/proof/lib/fuzz-run.ts';
import { stateViolations } from '../../scripts/proof/lib/invariants.ts';

for (const seed of [11, 12]) {
  test(`seed ${seed}: the server survives 400 fuzz cases and stays consistent`, async (t) => {
    // allowShutdown off: the fuzzer sends `shutdown` lines too, which loopback peers may use.
    const server = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory', allowShutdown: false });
    const { port } = await server.listen();
    t.teardown(() => server.destroy());
    const peer = await RawClient.connect(port);
    t.teardown(() => peer.close());

    const fuzz = runFuzz({ port, seed, seconds: 60, maxCases: 400, lanes: 16 });
    // A well-formed peer is answered while the fuzz runs.
    let echoes = 0;
    let done = false;
    void fuzz.finally(() => (done = true));
    while (!done) {
      peer.send(T.ECHO_REQ, `ping ${echoes}`);
      t.deepEqual((await peer.next(T.ECHO_RES)).text, [`ping ${echoes}`]);
      echoes++;
      await new Promise((r) => setTimeout(r, 5));
    }
    const stats = await fuzz;
    t.is(stats.cases, 400);
    t.is(stats.connectErrors, 0, 'every fuzz connection was accepted');
    t.true(echoes > 0);

    await waitFor(() => server.core.connections.size === 1, 'the fuzz connections to be gone');
    t.deepEqual(stateViolations(server.core), []);
    t.regex(await peer.admin('version'), /^OK /);
  });
}
