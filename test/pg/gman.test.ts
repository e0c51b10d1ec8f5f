/**
 * pgGearman's interface from SQL, against a real PostgreSQL and each job server (geartrain's and
 * Debian's gearmand): gman_do and its priorities return the worker's result; the background
 * variants return a handle the server knows and the job runs; a trigger queues background work
 * on INSERT with the row's data; and the server list comes from gman_servers_set, the
 * geartrain.servers setting (session or role default) or the installed default, in that order.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { Client, type WorkerJob } from '../../src/client/index.ts';
import { installGearmanFunctions, quoteIdent } from '../../src/pg/index.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS, type ServerKind } from '../helpers/servers.ts';
import { connect, functionStatus, PG_URL, setupGman, sqlError, uniqueName } from './helpers.ts';

function both(title: string, body: (t: ExecutionContext, kind: ServerKind) => Promise<void>): void {
  for (const kind of SERVER_KINDS) test(`${kind}: ${title}`, (t) => body(t, kind));
}

const reverse = (job: WorkerJob) => [...job.payload.toString('utf8')].reverse().join('');

both("SELECT gman_do('reverse', 'Hello World!') returns the worker's result", async (t, kind) => {
  const g = await setupGman(t, kind, 'do');
  const seen: string[] = [];
  await g.worker({
    reverse: (job) => {
      seen.push(job.payload.toString('utf8'));
      return reverse(job);
    },
  });
  const db = await g.session();
  const { rows } = await db.query(`SELECT ${g.fn('gman_do')}('reverse', 'Hello World!') AS r`);
  t.is(rows[0].r, '!dlroW olleH');
  const text = 'héllo wörld ✓ 日本語 🚂';
  const again = await db.query(`SELECT ${g.fn('gman_do')}('reverse', $1) AS r`, [text]);
  t.is(again.rows[0].r, [...text].reverse().join(''));
  t.deepEqual(seen, ['Hello World!', text], 'the worker got the workload byte for byte');
});

both('gman_do joins WORK_DATA chunks and the WORK_COMPLETE payload into one text result', async (t, kind) => {
  const g = await setupGman(t, kind, 'chunks');
  await g.worker({
    chunks: async function* (job) {
      for (const part of job.payload.toString().split(',')) yield `<${part}>`;
    },
  });
  const db = await g.session();
  const { rows } = await db.query(`SELECT ${g.fn('gman_do')}('chunks', 'a,b,c') AS r`);
  t.is(rows[0].r, '<a><b><c>');
});

both('gman_do_high and gman_do_low submit at their priority: a waiting worker takes high, normal, low', async (t, kind) => {
  const g = await setupGman(t, kind, 'prio');
  const calls = [
    ['gman_do_low', 'low'],
    ['gman_do', 'normal'],
    ['gman_do_high', 'high'],
  ] as const;
  const pending: Promise<pg.QueryResult>[] = [];
  for (const [fn, data] of calls) {
    const db = await g.session();
    pending.push(db.query(`SELECT ${g.fn(fn)}('prio', $1) AS r`, [data]));
    // each session's job is queued before the next is submitted, so arrival order is low, normal, high
    await waitFor(async () => (await functionStatus(g.server, 'prio'))?.queued === pending.length, `${pending.length} queued`);
  }
  const order: string[] = [];
  await g.worker({
    prio: (job) => {
      order.push(job.payload.toString());
      return `done ${job.payload.toString()}`;
    },
  });
  const results = await Promise.all(pending);
  t.deepEqual(order, ['high', 'normal', 'low']);
  t.deepEqual(
    results.map((r) => r.rows[0].r),
    ['done low', 'done normal', 'done high'],
    'each session gets its own job result',
  );
});

both('the background variants return a handle GET_STATUS knows, and the jobs run at their priority', async (t, kind) => {
  const g = await setupGman(t, kind, 'bg');
  const db = await g.session();
  const handles: string[] = [];
  for (const [fn, data] of [
    ['gman_do_background', 'normal'],
    ['gman_do_low_background', 'low'],
    ['gman_do_high_background', 'high'],
  ]) {
    const { rows } = await db.query(`SELECT ${g.fn(fn!)}('bg', $1) AS h`, [data]);
    handles.push(rows[0].h);
  }
  t.is(new Set(handles).size, 3);
  const client = new Client({ servers: g.server.address });
  t.teardown(() => client.destroy());
  for (const handle of handles) {
    const status = await client.getStatus(handle);
    t.true(status.known, `${handle} is known to the server`);
    t.false(status.running);
  }
  const order: string[] = [];
  await g.worker({ bg: (job) => void order.push(job.payload.toString()) });
  await waitFor(() => order.length === 3, 'three background jobs');
  t.deepEqual(order, ['high', 'normal', 'low']);
  for (const handle of handles) {
    await waitFor(async () => !(await client.getStatus(handle)).known, `${handle} finished`);
  }
});

both("a trigger queues background work on INSERT that a worker receives with the row's data", async (t, kind) => {
  const g = await setupGman(t, kind, 'trig');
  const db = await g.session();
  const table = `${quoteIdent(g.schema)}.orders`;
  await db.query(`CREATE TABLE ${table} (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL)`);
  await db.query(`
    CREATE FUNCTION ${quoteIdent(g.schema)}.order_created() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM ${g.fn('gman_do_background')}('order_created', row_to_json(NEW)::text);
      RETURN NEW;
    END $$`);
  await db.query(`CREATE TRIGGER order_created AFTER INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${quoteIdent(g.schema)}.order_created()`);
  const received: string[] = [];
  await g.worker({ order_created: (job) => void received.push(job.payload.toString('utf8')) });
  await db.query(`INSERT INTO ${table} (item, qty) VALUES ('crème brûlée', 2), ('tea', 1), ('scones', 12)`);
  // the reference is PostgreSQL's own rendering of the stored rows
  const { rows } = await db.query(`SELECT row_to_json(o)::text AS j FROM ${table} o ORDER BY id`);
  await waitFor(() => received.length === rows.length, 'a job per inserted row');
  t.deepEqual([...received].sort(), rows.map((r) => r.j as string).sort());
  t.deepEqual(
    received.map((j) => JSON.parse(j).item),
    ['crème brûlée', 'tea', 'scones'],
  );
});

both('a background job queued in a transaction that rolls back is still queued (Gearman is not transactional)', async (t, kind) => {
  const g = await setupGman(t, kind, 'rollback');
  const db = await g.session();
  await db.query('BEGIN');
  await db.query(`SELECT ${g.fn('gman_do_background')}('after_rollback', 'x')`);
  await db.query('ROLLBACK');
  const got: string[] = [];
  await g.worker({ after_rollback: (job) => void got.push(job.payload.toString()) });
  await waitFor(() => got.length === 1, 'the job');
  t.deepEqual(got, ['x']);
});

test('servers: gman_servers_set and SET geartrain.servers override the installed default, per session', async (t) => {
  const g = await setupGman(t, 'geartrain', 'servers');
  await g.worker({ reverse });
  const deadAddress = `127.0.0.1:${await refusedPort()}`;
  const db = await g.session();
  t.is((await db.query(`SELECT ${g.fn('gman_servers')}() AS s`)).rows[0].s, g.server.address, 'installed default');

  t.true((await db.query(`SELECT ${g.fn('gman_servers_set')}($1) AS ok`, [deadAddress])).rows[0].ok);
  t.is((await db.query(`SELECT current_setting('geartrain.servers', true) AS s`)).rows[0].s, deadAddress);
  t.is((await sqlError(db, `SELECT ${g.fn('gman_do')}('reverse', 'ab')`)).code, 'YG001', 'the session setting is used, not the default');

  const other = await g.session();
  t.is((await other.query(`SELECT ${g.fn('gman_do')}('reverse', 'ab') AS r`)).rows[0].r, 'ba', 'another session is unaffected');

  await db.query(`SET geartrain.servers = '${deadAddress}, ${g.server.address}'`);
  t.is((await db.query(`SELECT ${g.fn('gman_servers')}() AS s`)).rows[0].s, `${deadAddress},${g.server.address}`);
  for (let i = 0; i < 4; i++) {
    t.is((await db.query(`SELECT ${g.fn('gman_do')}('reverse', 'xy') AS r`)).rows[0].r, 'yx', 'an unreachable server is skipped');
  }
  await db.query('RESET geartrain.servers');
  t.is((await db.query(`SELECT ${g.fn('gman_do')}('reverse', 'cd') AS r`)).rows[0].r, 'dc', 'back to the installed default');
});

test('servers: a role default (ALTER ROLE … SET geartrain.servers) is used by that role, below a session setting', async (t) => {
  const g = await setupGman(t, 'geartrain', 'role');
  await g.worker({ reverse });
  const admin = await connect(t);
  const role = uniqueName('role');
  await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN`);
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP OWNED BY ${quoteIdent(role)}; DROP ROLE ${quoteIdent(role)}`).finally(() => c.end());
  });
  await admin.query(`GRANT USAGE ON SCHEMA ${quoteIdent(g.schema)} TO ${quoteIdent(role)}`);
  // the installed default points nowhere, so a success proves the role default was used
  const dead = `127.0.0.1:${await refusedPort()}`;
  await installGearmanFunctions({ url: PG_URL, schema: g.schema, servers: dead });
  await admin.query(`ALTER ROLE ${quoteIdent(role)} SET geartrain.servers = '${g.server.address}'`);

  const url = new URL(PG_URL);
  url.username = role;
  const asRole = await connect(t, url.toString());
  t.is((await asRole.query(`SELECT ${g.fn('gman_servers')}() AS s`)).rows[0].s, g.server.address);
  t.is((await asRole.query(`SELECT ${g.fn('gman_do')}('reverse', 'role') AS r`)).rows[0].r, 'elor', 'a non-superuser can call the functions');
  await asRole.query(`SELECT ${g.fn('gman_servers_set')}($1)`, [dead]);
  t.is((await sqlError(asRole, `SELECT ${g.fn('gman_do')}('reverse', 'x')`)).code, 'YG001', 'the session beats the role');
  const bySuperuser = await g.session();
  t.is((await bySuperuser.query(`SELECT ${g.fn('gman_servers')}() AS s`)).rows[0].s, dead, 'other roles keep the installed default');
});

both("a worker's WORK_WARNING reaches the SQL session as a NOTICE; the call still returns the result", async (t, kind) => {
  const g = await setupGman(t, kind, 'warn');
  await g.worker({
    careful: async (job, ctx) => {
      await ctx.sendWarning('disk 91% full');
      return job.payload;
    },
  });
  const db = await g.session();
  const notices: string[] = [];
  db.on('notice', (n) => notices.push(n.message ?? ''));
  t.is((await db.query(`SELECT ${g.fn('gman_do')}('careful', 'ok') AS r`)).rows[0].r, 'ok');
  t.is(notices.length, 1);
  t.regex(notices[0]!, /^gearman: warning from job \S+ \(careful\): disk 91% full$/);
});

both('a workload and a result of 4 MiB cross intact in both directions', async (t, kind) => {
  const g = await setupGman(t, kind, 'big');
  let received = 0;
  await g.worker({
    upper: (job) => {
      received = job.payload.length;
      return job.payload.toString('latin1').toUpperCase();
    },
  });
  const db = await g.session();
  const size = 4 * 1024 * 1024;
  const { rows } = await db.query(`SELECT md5(${g.fn('gman_do')}('upper', repeat('abcdefgh', $1))) AS h, md5(repeat('ABCDEFGH', $1)) AS want`, [size / 8]);
  t.is(received, size);
  t.is(rows[0].h, rows[0].want);
});

/** stdout of `cmd` fed `input` on stdin (asynchronously: a job server runs in this process). */
function pipeThrough(cmd: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
    child.stdin.end(input);
  });
}

both("any worker will do: gman_do against gearman's own CLI worker (gearman -w -f rev -- rev)", async (t, kind) => {
  const g = await setupGman(t, kind, 'cliworker');
  const worker = spawn('gearman', ['-w', '-h', g.server.host, '-p', String(g.server.port), '-f', 'rev', '--', 'rev'], { stdio: 'ignore' });
  t.teardown(() => void worker.kill('SIGKILL'));
  await waitFor(async () => (await functionStatus(g.server, 'rev'))?.workers ?? 0, 'the gearman worker');
  const db = await g.session();
  const { rows } = await db.query(`SELECT ${g.fn('gman_do')}('rev', 'Hello World!') AS r`);
  t.is(rows[0].r, await pipeThrough('rev', [], 'Hello World!'));
});
