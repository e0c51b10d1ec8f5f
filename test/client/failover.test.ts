import test from 'ava';
import type { GeartrainError } from '../../src/errors.ts';
import { execFileSync } from 'node:child_process';
import { Client } from '../../src/client/client.ts';
import type { StatusEvent } from '../../src/client/status.ts';
import { Worker } from '../../src/client/worker.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS, startServer } from '../helpers/servers.ts';
import { counter, gate } from './helpers/gate.ts';
import { restartableServer } from './helpers/restartable.ts';
import { cleanup, FAST_RECONNECT } from './helpers/setup.ts';

for (const kind of SERVER_KINDS) {
  test(`${kind}: with one of two servers stopped mid-run, every job still completes`, async (t) => {
    const a = await startServer(kind);
    const b = await startServer(kind);
    t.teardown(() => a.stop());
    t.teardown(() => b.stop());
    const own = cleanup(t);
    const servers = [a.address, b.address];
    const release = gate();
    const holding = counter(4);
    const worker = own(new Worker({ servers, concurrency: 8, ...FAST_RECONNECT }));
    await worker
      .register('job', async (job) => {
        holding.arrive();
        await release.opened;
        return job.payload;
      })
      .start();
    const client = own(new Client({ servers, retry: 2, ...FAST_RECONNECT }));
    const before = Array.from({ length: 4 }, (_, i) => client.submit('job', `before-${i}`));
    await holding.reached;
    t.deepEqual(new Set(before.map((j) => j.server)), new Set(servers), 'jobs were spread over both servers');
    await a.stop();
    release.open();
    const after = Array.from({ length: 6 }, (_, i) => client.submit('job', `after-${i}`));
    const results = await Promise.all([...before, ...after].map((j) => j.result));
    t.deepEqual(results.map(String), [...before.map((_, i) => `before-${i}`), ...after.map((_, i) => `after-${i}`)]);
    t.true(after.every((j) => j.server === b.address), 'new jobs went to the server still up');
  });

  test(`${kind}: without retry a foreground job lost with its server fails with ConnectionError`, async (t) => {
    const a = await startServer(kind);
    t.teardown(() => a.stop());
    const own = cleanup(t);
    const started = gate();
    await own(new Worker({ servers: a.address, ...FAST_RECONNECT }))
      .register('hang', () => {
        started.open();
        return new Promise(() => {});
      })
      .start();
    const job = own(new Client({ servers: a.address, ...FAST_RECONNECT })).submit('hang');
    await started.opened;
    await a.stop();
    const err = await t.throwsAsync<GeartrainError>(job.result);
    t.is(err?.code, 'ERR_CONNECTION');
  });

  test(`${kind}: a worker re-registers after its server restarts on the same port`, async (t) => {
    const server = await restartableServer(kind);
    await server.start();
    t.teardown(() => server.stop());
    const own = cleanup(t);
    const worker = own(new Worker({ servers: server.address, clientId: 'restart-test', ...FAST_RECONNECT }));
    const seen: StatusEvent[] = [];
    void (async () => {
      for await (const e of worker.status()) seen.push(e);
    })();
    await worker.register('echo', (job) => job.payload).start();
    await server.stop();
    await waitFor(() => seen.some((e) => e.type === 'disconnected'), 'disconnected event');
    await server.start();
    await waitFor(() => seen.some((e) => e.type === 'connected' && e.reconnect), 'reconnected event');
    const client = own(new Client({ servers: server.address }));
    t.is((await client.call('echo', 'after restart', { timeoutMs: 5000 })).toString(), 'after restart');
    t.true(seen.some((e) => e.type === 'reconnecting'));
  });

  test(`${kind}: a unique key always lands on the same server, chosen by the Perl client's hash`, async (t) => {
    const a = await startServer(kind);
    const b = await startServer(kind);
    t.teardown(() => a.stop());
    t.teardown(() => b.stop());
    const own = cleanup(t);
    const servers = [a.address, b.address];
    await own(new Worker({ servers, concurrency: 4 })).register('where', () => 'ok').start();
    const client = own(new Client({ servers }));
    const uniques = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];
    // Gearman::Task::hash, computed by Perl itself: (crc32(uniq) >> 16) & 0x7fff, then % servers.
    const perl = execFileSync('perl', ['-MString::CRC32', '-e', 'print((crc32($_) >> 16) & 0x7fff, "\\n") for @ARGV', ...uniques], { encoding: 'utf8' });
    const hashes = perl.trim().split('\n').map(Number);
    t.is(new Set(hashes.map((h) => h % 2)).size, 2, 'the sample keys cover both servers');
    for (const [i, unique] of uniques.entries()) {
      const jobs = [client.submit('where', '', { unique }), client.submit('where', 'x', { unique })];
      await Promise.all(jobs.map((j) => j.result));
      const expected = servers[hashes[i]! % 2];
      t.deepEqual(jobs.map((j) => j.server), [expected, expected], unique);
    }
  });
}

test('all servers unreachable: NoServersError names every host:port', async (t) => {
  const ports = [await refusedPort(), await refusedPort()];
  const servers = ports.map((p) => `127.0.0.1:${p}`);
  const client = cleanup(t)(new Client({ servers, ...FAST_RECONNECT }));
  const err = await t.throwsAsync<GeartrainError>(client.call('f', 'x'));
  t.is(err?.code, 'ERR_NO_SERVERS');
  for (const s of servers) t.true(err!.message.includes(s), s);
  const worker = cleanup(t)(new Worker({ servers, ...FAST_RECONNECT }));
  t.is((await t.throwsAsync<GeartrainError>(worker.register('f', () => '').start()))?.code, 'ERR_NO_SERVERS');
});
