/**
 * Tenants by TLS client certificate: a tenant's functions live under `<tenant>/` on the server,
 * and its connections see, serve and manage only those, under the names they used. A tenant
 * cannot grab, cancel or observe another tenant's jobs.
 */
import test from 'ava';
import { AdminClient, Client, Worker } from '../../src/client/index.ts';
import { JobServer } from '../../src/server/index.ts';
import { PacketType as T } from '../../src/protocol/packet-types.ts';
import type { TenantsConfigInput } from '../../src/server/tenants.ts';
import type { RawClient } from '../helpers/raw-client.ts';
import { clientTls, rawTls, serverTls, startServer, type RunningServer } from './helpers/fixture.ts';
import { makePki, type Pki } from './helpers/pki.ts';

let pki: Pki;
test.before(() => {
  pki = makePki(['acme-app', 'acme-worker', 'globex-app', 'ops', 'stranger']);
});
test.after.always(() => pki?.remove());

/** acme by common names, globex by certificate fingerprint, ops as operator; `stranger` is in no tenant. */
function tenants(extra: Partial<TenantsConfigInput> = {}, limits: Record<string, object> = {}): TenantsConfigInput {
  return {
    tenants: {
      acme: { cn: ['acme-app', 'acme-worker'], ...limits.acme },
      globex: { fingerprints: [pki.clients['globex-app']!.fingerprint], ...limits.globex },
      ...extra.tenants,
    },
    operators: { cn: ['ops'] },
    ...(extra.default !== undefined ? { default: extra.default } : {}),
  };
}

async function start(t: Parameters<typeof startServer>[0], config = tenants()): Promise<RunningServer> {
  return startServer(t, { tls: serverTls(pki), tenants: config });
}

const raw = (t: Parameters<typeof startServer>[0], s: RunningServer, cn: string) => rawTls(t, s.port, clientTls(pki, cn));

async function submit(c: RawClient, fn: string, unique: string, data: string, type = T.SUBMIT_JOB): Promise<string> {
  c.send(type, fn, unique, data);
  return (await c.next(T.JOB_CREATED)).text[0]!;
}

/** Register `fn` on a raw worker and make sure the server has handled it (ECHO round trip). */
async function canDo(w: RawClient, ...fns: string[]): Promise<void> {
  for (const fn of fns) w.send(T.CAN_DO, fn);
  w.send(T.ECHO_REQ, 'sync');
  await w.next(T.ECHO_RES);
}

test('two tenants use the same function name: each worker gets only its own tenant\'s jobs, under the name it registered', async (t) => {
  const s = await start(t);
  const servers = s.address;
  const seen: Record<string, string[]> = { acme: [], globex: [] };
  const workers = (['acme', 'globex'] as const).map((tenant) => {
    const w = new Worker({ servers, tls: clientTls(pki, tenant === 'acme' ? 'acme-worker' : 'globex-app') });
    t.teardown(() => w.destroy());
    w.register('resize', (job) => {
      seen[tenant]!.push(`${job.function}:${job.payload}`);
      return `${tenant} resized ${job.payload}`;
    });
    return w;
  });
  await Promise.all(workers.map((w) => w.start()));
  const acme = new Client({ servers, tls: clientTls(pki, 'acme-app') });
  const globex = new Client({ servers, tls: clientTls(pki, 'globex-app') });
  t.teardown(() => acme.destroy());
  t.teardown(() => globex.destroy());
  const inputs = ['a', 'b', 'c', 'd', 'e'];
  const [ra, rg] = await Promise.all([
    Promise.all(inputs.map((i) => acme.submit('resize', `acme-${i}`).result)),
    Promise.all(inputs.map((i) => globex.submit('resize', `globex-${i}`).result)),
  ]);
  t.deepEqual(ra.map(String), inputs.map((i) => `acme resized acme-${i}`));
  t.deepEqual(rg.map(String), inputs.map((i) => `globex resized globex-${i}`));
  t.deepEqual(seen.acme!.sort(), inputs.map((i) => `resize:acme-${i}`));
  t.deepEqual(seen.globex!.sort(), inputs.map((i) => `resize:globex-${i}`));
  // On the server the two functions are distinct, each under its tenant's prefix.
  t.deepEqual([...s.server.core.functions.keys()].sort(), ['acme/resize', 'globex/resize']);
});

test('JOB_ASSIGN names the function without the prefix; a tenant cannot reach another\'s function by naming its prefix', async (t) => {
  const s = await start(t);
  const acme = await raw(t, s, 'acme-app');
  const globexWorker = await raw(t, s, 'globex-app');
  const handle = await submit(acme, 'thumb', '', 'pic');
  // globex asks for acme's function by its server-side name: it gets globex/acme/thumb, empty.
  await canDo(globexWorker, 'acme/thumb', 'thumb');
  globexWorker.send(T.GRAB_JOB);
  await globexWorker.next(T.NO_JOB);
  const acmeWorker = await raw(t, s, 'acme-worker');
  await canDo(acmeWorker, 'thumb');
  acmeWorker.send(T.GRAB_JOB_UNIQ);
  const assign = await acmeWorker.next(T.JOB_ASSIGN_UNIQ);
  t.deepEqual(assign.text, [handle, 'thumb', '', 'pic']);
  t.deepEqual([...s.server.core.functions.keys()].sort(), ['acme/thumb', 'globex/acme/thumb', 'globex/thumb']);
});

test('admin views of a tenant list only its functions, connections and jobs, unprefixed; an operator sees everything', async (t) => {
  const s = await start(t);
  const acme = await raw(t, s, 'acme-app');
  const acmeWorker = await raw(t, s, 'acme-worker');
  const globex = await raw(t, s, 'globex-app');
  await canDo(acmeWorker, 'resize');
  const a1 = await submit(acme, 'resize', 'ua1', 'x', T.SUBMIT_JOB_BG);
  const a2 = await submit(acme, 'thumb', 'ua2', 'y', T.SUBMIT_JOB_HIGH_BG);
  const g1 = await submit(globex, 'resize', 'ug1', 'z', T.SUBMIT_JOB_LOW_BG);

  const acmeAdmin = await raw(t, s, 'acme-app');
  t.deepEqual(lines(await acmeAdmin.admin('status')), ['resize\t1\t0\t1', 'thumb\t1\t0\t0', '.']);
  t.deepEqual(lines(await acmeAdmin.admin('prioritystatus')), ['resize\t0\t1\t0\t1', 'thumb\t1\t0\t0\t0', '.']);
  t.deepEqual(lines(await acmeAdmin.admin('show jobs')), [`${a1}\t0\t0\t1`, `${a2}\t0\t0\t1`, '.']);
  t.deepEqual(lines(await acmeAdmin.admin('show unique jobs')), ['ua1', 'ua2', '.']);
  const workers = lines(await acmeAdmin.admin('workers'));
  t.is(workers.length, 4, 'acme-app, acme-worker and the admin connection itself');
  t.true(workers.some((l) => / : resize$/.test(l)));
  t.false(workers.some((l) => l.includes('/')));

  const globexAdmin = await raw(t, s, 'globex-app');
  t.deepEqual(lines(await globexAdmin.admin('status')), ['resize\t1\t0\t0', '.']);
  t.deepEqual(lines(await globexAdmin.admin('show jobs')), [`${g1}\t0\t0\t1`, '.']);
  t.is(lines(await globexAdmin.admin('workers')).length, 3);

  const ops = await raw(t, s, 'ops');
  t.deepEqual(lines(await ops.admin('status')).sort(), ['.', 'acme/resize\t1\t0\t1', 'acme/thumb\t1\t0\t0', 'globex/resize\t1\t0\t0']);
  t.is(lines(await ops.admin('show jobs')).length, 4);
  t.is(lines(await ops.admin('workers')).length, 7, 'six connections and the . line');
});

test('another tenant\'s job is unknown to GET_STATUS, GET_STATUS_UNIQUE and cancel; its WORK_* packets get JOB_NOT_FOUND', async (t) => {
  const s = await start(t);
  const acme = await raw(t, s, 'acme-app');
  const acmeWorker = await raw(t, s, 'acme-worker');
  const globex = await raw(t, s, 'globex-app');
  await canDo(acmeWorker, 'slow');
  const handle = await submit(acme, 'slow', 'secret', 'payload');
  acmeWorker.send(T.GRAB_JOB);
  t.is((await acmeWorker.next(T.JOB_ASSIGN)).text[0], handle);
  acmeWorker.send(T.WORK_STATUS, handle, '1', '4');
  t.deepEqual((await acme.next(T.WORK_STATUS)).text, [handle, '1', '4']);

  acme.send(T.GET_STATUS, handle);
  t.deepEqual((await acme.next(T.STATUS_RES)).text, [handle, '1', '1', '1', '4']);
  globex.send(T.GET_STATUS, handle);
  t.deepEqual((await globex.next(T.STATUS_RES)).text, [handle, '0', '0', '0', '0']);
  globex.send(T.GET_STATUS_UNIQUE, 'secret');
  t.deepEqual((await globex.next(T.STATUS_RES_UNIQUE)).text, ['secret', '0', '0', '0', '0', '0']);
  acme.send(T.GET_STATUS_UNIQUE, 'secret');
  t.deepEqual((await acme.next(T.STATUS_RES_UNIQUE)).text, ['secret', '1', '1', '1', '4', '1']);

  t.is(await globex.admin(`cancel job ${handle}`), 'ERR UNKNOWN_JOB\r\n');
  for (const type of [T.WORK_DATA, T.WORK_STATUS, T.WORK_COMPLETE, T.WORK_FAIL]) {
    if (type === T.WORK_STATUS) globex.send(type, handle, '4', '4');
    else if (type === T.WORK_FAIL) globex.send(type, handle);
    else globex.send(type, handle, 'forged');
    t.is((await globex.next(T.ERROR)).text[0], 'JOB_NOT_FOUND');
  }
  // The owner's job ran on, untouched, and ends with its own worker's result.
  acmeWorker.send(T.WORK_COMPLETE, handle, 'genuine');
  t.deepEqual((await acme.next(T.WORK_COMPLETE)).text, [handle, 'genuine']);
  await acme.expectNothing(100);
});

test('without a client certificate a connection is refused (CERTIFICATE_REQUIRED), and so is a certificate no tenant names (UNKNOWN_TENANT)', async (t) => {
  const s = await start(t);
  const anonymous = new Client({ servers: s.address, tls: clientTls(pki), connectAttempts: 1 });
  t.teardown(() => anonymous.destroy());
  const err = await t.throwsAsync(anonymous.submit('resize', 'x').result);
  t.is((err as { code?: string }).code, 'ERR_CONNECTION');
  t.regex(err!.message, /CERTIFICATE_REQUIRED/);
  const stranger = await raw(t, s, 'stranger');
  stranger.send(T.ECHO_REQ, 'hi');
  const refusal = await stranger.next(T.ERROR);
  t.is(refusal.text[0], 'UNKNOWN_TENANT');
  t.regex(refusal.text[1]!, /CN=stranger/);
  await stranger.closedByServer();
});

test('with a default tenant, connections without a certificate get it', async (t) => {
  const s = await start(t, tenants({ tenants: { public: {} }, default: 'public' }));
  const worker = new Worker({ servers: s.address, tls: clientTls(pki) });
  t.teardown(() => worker.destroy());
  worker.register('resize', (job) => `public:${job.function}:${job.payload}`);
  await worker.start();
  const client = new Client({ servers: s.address, tls: clientTls(pki) });
  t.teardown(() => client.destroy());
  t.is((await client.submit('resize', 'x').result).toString(), 'public:resize:x');
  t.true(s.server.core.functions.has('public/resize'));
  const admin = await rawTls(t, s.port, clientTls(pki));
  t.deepEqual(lines(await admin.admin('status')), ['resize\t0\t0\t1', '.']);
});

test('tenant limits: maxQueue is a ceiling the tenant\'s own maxqueue cannot lift, maxJobs counts all its functions, maxConnections caps its connections', async (t) => {
  const s = await start(t, tenants({}, { acme: { maxQueue: 2, maxJobs: 3, maxConnections: 4 } }));
  const acme = await raw(t, s, 'acme-app');
  await submit(acme, 'f', '', '1', T.SUBMIT_JOB_BG);
  await submit(acme, 'f', '', '2', T.SUBMIT_JOB_BG);
  acme.send(T.SUBMIT_JOB_BG, 'f', '', '3');
  t.deepEqual((await acme.next(T.ERROR)).text, ['QUEUE_ERROR', 'Job queue is full']);
  t.is(await acme.admin('maxqueue f 0'), 'OK\r\n', 'the tenant may set its own maxqueue');
  acme.send(T.SUBMIT_JOB_BG, 'f', '', '3');
  t.deepEqual((await acme.next(T.ERROR)).text, ['QUEUE_ERROR', 'Job queue is full'], 'but not above the ceiling');
  await submit(acme, 'g', '', '1', T.SUBMIT_JOB_BG);
  acme.send(T.SUBMIT_JOB_BG, 'h', '', '1');
  t.deepEqual((await acme.next(T.ERROR)).text, ['QUEUE_ERROR', 'Tenant job limit reached']);
  // globex has no limits.
  const globex = await raw(t, s, 'globex-app');
  for (let i = 0; i < 5; i++) await submit(globex, 'f', '', String(i), T.SUBMIT_JOB_BG);

  // acme already holds one connection; three more reach its limit of 4, the fifth is refused.
  for (let i = 0; i < 3; i++) await (await raw(t, s, 'acme-worker')).admin('version');
  const fifth = await raw(t, s, 'acme-worker');
  fifth.send(T.ECHO_REQ, 'x');
  const refusal = await fifth.next(T.ERROR);
  t.deepEqual(refusal.text, ['TOO_MANY_CONNECTIONS', 'tenant acme is at its limit of 4 connections']);
  await (await raw(t, s, 'globex-app')).admin('version');
});

test('a tenant\'s admin commands act in its namespace: maxqueue, create and drop function; shutdown is refused', async (t) => {
  const s = await start(t);
  const acme = await raw(t, s, 'acme-app');
  const globex = await raw(t, s, 'globex-app');
  await submit(globex, 'f', '', 'g1', T.SUBMIT_JOB_BG);
  t.is(await acme.admin('create function f'), 'OK\r\n');
  t.is(await acme.admin('maxqueue f 1'), 'OK\r\n');
  t.deepEqual(s.server.core.functions.get('acme/f')!.maxQueue, [1, 1, 1]);
  t.deepEqual(s.server.core.functions.get('globex/f')!.maxQueue, [0, 0, 0]);
  await submit(acme, 'f', '', 'a1', T.SUBMIT_JOB_BG);
  acme.send(T.SUBMIT_JOB_BG, 'f', '', 'a2');
  t.is((await acme.next(T.ERROR)).text[0], 'QUEUE_ERROR');
  await submit(globex, 'f', '', 'g2', T.SUBMIT_JOB_BG);
  t.is(await acme.admin('drop function f'), 'OK\r\n');
  t.false(s.server.core.functions.has('acme/f'));
  t.is(s.server.core.functions.get('globex/f')!.total, 2);
  t.is(await acme.admin('drop function f'), 'ERR function not found\r\n');
  t.regex(await acme.admin('shutdown'), /^ERR PERMISSION_DENIED /);
  t.true(s.server.listening);
});

test('an operator certificate sees tenants\' functions under their full names and may serve them', async (t) => {
  const s = await start(t);
  const acme = new Client({ servers: s.address, tls: clientTls(pki, 'acme-app') });
  t.teardown(() => acme.destroy());
  const ops = new Worker({ servers: s.address, tls: clientTls(pki, 'ops') });
  t.teardown(() => ops.destroy());
  ops.register('acme/resize', (job) => `served ${job.function}`);
  await ops.start();
  t.is((await acme.submit('resize', 'x').result).toString(), 'served acme/resize');
  const admin = new AdminClient({ server: s.address, tls: clientTls(pki, 'ops') });
  t.teardown(() => admin.destroy());
  t.deepEqual((await admin.status()).map((f) => f.name), ['acme/resize']);
});

test('the tenants file is validated, errors naming the field; tenants need TLS with a CA', (t) => {
  const bad: [unknown, RegExp][] = [
    [{ tenants: { acme: { cn: 'a' } }, default: 'nobody' }, /default/],
    [{ tenants: { acme: { cn: 'same' }, globex: { cn: ['same'] } } }, /tenants\.globex\.cn\.0.*already given to tenant acme/],
    [{ tenants: { acme: { fingerprints: ['AB:CD'] } } }, /tenants\.acme\.fingerprints\.0.*not a SHA-256 fingerprint/],
    [{ tenants: { 'a/b': {} } }, /tenant name/],
    [{ tenants: { acme: { cn: 'a', maxQueue: -1 } } }, /maxQueue/],
    [{ tenants: {}, extra: 1 }, /extra/],
  ];
  for (const [config, message] of bad) {
    const err = t.throws(() => new JobServer({ tls: serverTls(pki), tenants: config as TenantsConfigInput }));
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    t.regex(err!.message, message);
  }
  const noCa = t.throws(() => new JobServer({ tls: serverTls(pki, { withCa: false }), tenants: tenants() }));
  t.is((noCa as { field?: string }).field, 'tenants');
});

function lines(reply: string): string[] {
  return reply.replace(/\r?\n$/, '').split(/\r?\n/);
}
