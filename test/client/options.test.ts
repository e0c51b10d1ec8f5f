/** Option validation, server lists and backoff: pure functions, no server involved. */
import test from 'ava';
import type { InvalidArgumentError } from '../../src/errors.ts';
import { parseAdminOptions, parseClientOptions, parseWorkerOptions } from '../../src/client/options.ts';
import { parseServerList } from '../../src/client/server-address.ts';
import { backoffDelay } from '../../src/client/server-pool.ts';
import { resolveServers } from '../../src/cli/servers.ts';

test('options: defaults are filled in and the result is frozen', (t) => {
  const o = parseClientOptions();
  t.deepEqual(o.servers.map((s) => s.id), ['127.0.0.1:4730']);
  t.true(o.exceptions);
  t.is(o.retry, 0);
  t.true(Object.isFrozen(o));
  t.is(parseWorkerOptions({ concurrency: 8 }).concurrency, 8);
});

test('options: a bad, unknown or renamed key is refused, naming it', (t) => {
  const cases: [() => unknown, string, RegExp][] = [
    [() => parseWorkerOptions({ concurrency: 0 }), 'concurrency', /concurrency/],
    [() => parseClientOptions({ timeoutMs: -1 }), 'timeoutMs', /timeoutMs/],
    [() => parseClientOptions({ colour: 'red' } as never), 'colour', /unknown option/],
    [() => parseClientOptions({ timeout: 5 } as never), 'timeout', /use 'timeoutMs'/],
    [() => parseWorkerOptions({ maxJobs: 2 } as never), 'maxJobs', /use 'concurrency'/],
    [() => parseClientOptions({ servers: 'host:99999' }), 'servers', /bad port/],
    [() => parseClientOptions({ reconnectDelayMs: 500, maxReconnectDelayMs: 100 }), 'maxReconnectDelayMs', /reconnectDelayMs/],
    [() => parseAdminOptions({ servers: 'a:1' } as never), 'servers', /use 'server'/],
  ];
  for (const [fn, field, message] of cases) {
    const err = t.throws<InvalidArgumentError>(fn);
    t.is(err?.code, 'ERR_INVALID_ARGUMENT');
    t.is(err?.field, field);
    t.regex(err!.message, message);
  }
});

test('server lists: commas, IPv6 brackets, default port, duplicates dropped', (t) => {
  t.deepEqual(
    parseServerList('a:1, b ,[::1]:7,[::1]:7,::1').map((s) => s.id),
    ['a:1', 'b:4730', '[::1]:7', '[::1]:4730'],
  );
  t.is(t.throws<InvalidArgumentError>(() => parseServerList(' , '))?.code, 'ERR_INVALID_ARGUMENT');
});

test('CLI server flags: --servers, then -h/-p, then GEARMAN_SERVERS/GEARMAN_SERVER, then the default', (t) => {
  const env = { GEARMAN_SERVERS: 'e1:1,e2:2', GEARMAN_SERVER: 'x:9' };
  t.deepEqual(resolveServers({ servers: 's:1,s:2' }, env), ['s:1', 's:2']);
  t.deepEqual(resolveServers({ port: '5000' }, env), ['127.0.0.1:5000']);
  t.deepEqual(resolveServers({ host: 'h' }, env), ['h:4730']);
  t.deepEqual(resolveServers({}, env), ['e1:1', 'e2:2']);
  t.deepEqual(resolveServers({}, { GEARMAN_SERVER: 'x:9' }), ['x:9']);
  t.deepEqual(resolveServers({}, {}), ['127.0.0.1:4730']);
  t.is(t.throws<InvalidArgumentError>(() => resolveServers({ servers: 'a:1', port: '2' }, {}))?.code, 'ERR_INVALID_ARGUMENT');
});

test('backoff doubles per failure up to the cap, scaled by the jitter', (t) => {
  const r = { reconnectDelayMs: 100, maxReconnectDelayMs: 1000, reconnectJitter: 0.5, maxReconnectAttempts: -1, connectAttempts: 3 };
  const mid = () => 0.5;
  t.deepEqual([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, r, mid)), [100, 200, 400, 800, 1000, 1000]);
  t.is(backoffDelay(0, r, () => 0), 50);
  t.is(backoffDelay(0, r, () => 1), 150);
});
