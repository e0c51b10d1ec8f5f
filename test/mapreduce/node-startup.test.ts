/**
 * The name check of a starting node (src/mapreduce/node-startup.ts) against a real job server: a
 * namesake listed there is probed with `info` through NodeClient, signed with the starting node's
 * cluster secret, so a live namesake with that secret serves the probe; one that refuses it (the
 * prober has no secret, or another one) has answered all the same, and counts as live.
 */
import test, { type ExecutionContext } from 'ava';
import { Worker } from '../../src/client/index.ts';
import { NodeNameTakenError } from '../../src/errors.ts';
import { ensureNameIsFree, waitForJobServers } from '../../src/mapreduce/node-startup.ts';
import { sealerFor, TaskGuard } from '../../src/mapreduce/task-auth.ts';
import { JobServer } from '../../src/server/index.ts';
import { fetchFunction } from '../../src/wire-names.ts';

const SECRET = 'startup-test-secret-0123456789';

/**
 * A job server and a stand-in for a live node `web1` that has the cluster secret: it opens each
 * request as a node does (TaskGuard) and notes whether it served or refused it.
 */
async function liveNamesake(t: ExecutionContext): Promise<{ server: string; probes: string[] }> {
  const jobServer = new JobServer({ host: '127.0.0.1', port: 0, queue: 'memory' });
  t.teardown(() => jobServer.destroy());
  const server = `127.0.0.1:${(await jobServer.listen()).port}`;
  const guard = new TaskGuard({ node: 'web1', secret: SECRET });
  const probes: string[] = [];
  const worker = new Worker({ servers: server, clientId: 'web1:service' });
  t.teardown(() => worker.destroy());
  worker.register(fetchFunction('web1'), (job) => {
    try {
      guard.open(fetchFunction('web1'), job.payload);
    } catch (err) {
      probes.push(`refused: ${(err as Error).message}`);
      throw err;
    }
    probes.push('served');
    return JSON.stringify({ node: 'web1', slots: 1, allowCode: false, allowExec: false, version: 'test', tzOffset: null });
  });
  await worker.start();
  return { server, probes };
}

test('a node with the cluster secret signs its probe of a listed namesake: the live namesake serves it, and the name is taken', async (t) => {
  const { server, probes } = await liveNamesake(t);
  const { listings } = await waitForJobServers([server], { signal: AbortSignal.timeout(10_000) });
  const err = await t.throwsAsync(ensureNameIsFree('web1', listings, { seal: sealerFor(SECRET) }), { instanceOf: NodeNameTakenError });
  t.is(err.message, `a live node named web1 is already registered on ${server} from 127.0.0.1 (client ids web1:service); stop it, or give this node another --name`);
  t.deepEqual(probes, ['served']);
});

test('a node without the secret probes unsigned: the namesake refuses the probe, which is an answer, and the name is taken all the same', async (t) => {
  const { server, probes } = await liveNamesake(t);
  const { listings } = await waitForJobServers([server], { signal: AbortSignal.timeout(10_000) });
  await t.throwsAsync(ensureNameIsFree('web1', listings), { instanceOf: NodeNameTakenError });
  t.is(probes.length, 1);
  t.regex(probes[0]!, /^refused: node web1 takes only tasks signed with the cluster secret/);
});
