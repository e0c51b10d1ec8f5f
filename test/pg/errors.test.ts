/**
 * Every way a gman_* call can go wrong ends as an SQL error that says why, with a stable SQLSTATE
 * (GEARMAN_SQLSTATE) and a message `gearman: …` naming the function; a call never hangs the
 * backend (geartrain.timeout_ms, and query cancel / statement_timeout work while it waits); and
 * the session stays usable afterwards.
 */
import test, { type ExecutionContext } from 'ava';
import { JobFailedError } from '../../src/errors.ts';
import { GEARMAN_SQLSTATE } from '../../src/pg/index.ts';
import { refusedPort, waitFor } from '../helpers/ports.ts';
import { SERVER_KINDS, type ServerKind } from '../helpers/servers.ts';
import { setupGman, sqlError } from './helpers.ts';

function both(title: string, body: (t: ExecutionContext, kind: ServerKind) => Promise<void>): void {
  for (const kind of SERVER_KINDS) test(`${kind}: ${title}`, (t) => body(t, kind));
}

test('no server: "gearman: cannot connect to HOST:PORT" (YG001), for the foreground and background calls', async (t) => {
  const g = await setupGman(t, 'geartrain', 'noserver');
  const db = await g.session();
  const dead = `127.0.0.1:${await refusedPort()}`;
  await db.query(`SELECT ${g.fn('gman_servers_set')}($1)`, [dead]);
  for (const fn of ['gman_do', 'gman_do_high_background']) {
    const err = await sqlError(db, `SELECT ${g.fn(fn)}('reverse', 'x')`);
    t.is(err.code, GEARMAN_SQLSTATE.connection);
    t.is(err.message, `gearman: cannot connect to ${dead}`);
    t.regex(err.detail ?? '', /refused/i);
    t.regex(err.hint ?? '', /gman_servers_set/);
  }
  const dead2 = `127.0.0.1:${await refusedPort()}`;
  await db.query(`SELECT ${g.fn('gman_servers_set')}($1)`, [`${dead},${dead2}`]);
  const err = await sqlError(db, `SELECT ${g.fn('gman_do')}('reverse', 'x')`);
  t.is(err.code, GEARMAN_SQLSTATE.connection);
  t.is(err.message, `gearman: cannot connect to ${dead}, ${dead2}`, 'every server tried is named');
  t.is((await db.query('SELECT 1 AS one')).rows[0].one, 1, 'the session is still usable');
});

both('job failed: a worker that sends WORK_FAIL gives "gearman: job failed (FN)" (YG002)', async (t, kind) => {
  const g = await setupGman(t, kind, 'fail');
  await g.worker({
    reverse: () => {
      throw new JobFailedError();
    },
  });
  const db = await g.session();
  const err = await sqlError(db, `SELECT ${g.fn('gman_do')}('reverse', 'Hello World!')`);
  t.is(err.code, GEARMAN_SQLSTATE.jobFailed);
  t.is(err.message, 'gearman: job failed (reverse)');
  t.regex(err.detail ?? '', new RegExp(`^job \\S+ on ${g.server.address}$`));
});

both("job exception: a worker that throws gives \"gearman: job failed (FN): its message\" (YG003)", async (t, kind) => {
  const g = await setupGman(t, kind, 'exc');
  await g.worker({
    resize: () => {
      throw new Error('disk full');
    },
  });
  const db = await g.session();
  const err = await sqlError(db, `SELECT ${g.fn('gman_do_low')}('resize', 'img.png')`);
  t.is(err.code, GEARMAN_SQLSTATE.jobException);
  t.is(err.message, 'gearman: job failed (resize): disk full');
});

both('timeout: with gman_timeout_set(ms) and no worker, "gearman: timed out after MS ms (FN)" (YG004); the session recovers', async (t, kind) => {
  const g = await setupGman(t, kind, 'timeout');
  const db = await g.session();
  t.true((await db.query(`SELECT ${g.fn('gman_timeout_set')}(300) AS ok`)).rows[0].ok);
  t.is((await db.query(`SELECT current_setting('geartrain.timeout_ms') AS v`)).rows[0].v, '300');
  const err = await sqlError(db, `SELECT ${g.fn('gman_do')}('nobody_serves_this', 'x')`);
  t.is(err.code, GEARMAN_SQLSTATE.timeout);
  t.is(err.message, 'gearman: timed out after 300 ms (nobody_serves_this)');
  t.regex(err.detail ?? '', /^waiting for the result of job /);
  await g.worker({ echo: (job) => job.payload });
  t.is((await db.query(`SELECT ${g.fn('gman_do')}('echo', 'still here') AS r`)).rows[0].r, 'still here');
  await db.query(`SET geartrain.timeout_ms = '200'`);
  t.is((await sqlError(db, `SELECT ${g.fn('gman_do')}('nobody_serves_this', 'x')`)).message, 'gearman: timed out after 200 ms (nobody_serves_this)', 'the setting is the same knob');
});

test('query cancel: statement_timeout ends a waiting call with 57014 even when geartrain.timeout_ms is long', async (t) => {
  const g = await setupGman(t, 'geartrain', 'cancel');
  const db = await g.session();
  await db.query(`SELECT ${g.fn('gman_timeout_set')}(600000)`);
  await db.query(`SET statement_timeout = 300`);
  const err = await sqlError(db, `SELECT ${g.fn('gman_do')}('nobody_serves_this', 'x')`);
  t.is(err.code, GEARMAN_SQLSTATE.canceled);
  t.is(err.message, 'gearman: canceling statement due to statement timeout (nobody_serves_this)');
  await db.query('RESET statement_timeout');
  const other = await g.session();
  const pid = (await db.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const waiting = sqlError(db, `SELECT ${g.fn('gman_do')}('nobody_serves_this', 'y')`);
  await waitFor(async () => (await other.query(`SELECT state FROM pg_stat_activity WHERE pid = $1`, [pid])).rows[0]?.state === 'active', 'the call to start');
  await other.query('SELECT pg_cancel_backend($1)', [pid]);
  const cancelled = await waiting;
  t.is(cancelled.code, GEARMAN_SQLSTATE.canceled);
  t.is(cancelled.message, 'gearman: canceling statement due to user request (nobody_serves_this)');
});

both('connection lost while waiting: "gearman: connection to HOST:PORT lost (FN)" (YG001)', async (t, kind) => {
  const g = await setupGman(t, kind, 'lost');
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  await g.worker({ hang: (_job, ctx) => (started(), new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))) });
  const db = await g.session();
  const waiting = sqlError(db, `SELECT ${g.fn('gman_do')}('hang', 'x')`);
  await running;
  await g.server.stop();
  const err = await waiting;
  t.is(err.code, GEARMAN_SQLSTATE.connection);
  t.is(err.message, `gearman: connection to ${g.server.address} lost (hang)`);
});

test('bad arguments: NULL function or workload (22004), a bad server list or timeout (22023)', async (t) => {
  const g = await setupGman(t, 'geartrain', 'args');
  const db = await g.session();
  const nullFn = await sqlError(db, `SELECT ${g.fn('gman_do')}(NULL, 'x')`);
  t.is(nullFn.code, GEARMAN_SQLSTATE.nullValue);
  t.is(nullFn.message, 'gearman: function name cannot be NULL');
  const nullData = await sqlError(db, `SELECT ${g.fn('gman_do_background')}('f', NULL)`);
  t.is(nullData.code, GEARMAN_SQLSTATE.nullValue);
  t.is(nullData.message, 'gearman: workload cannot be NULL (f)');
  const empty = await sqlError(db, `SELECT ${g.fn('gman_do')}('', 'x')`);
  t.is(empty.code, GEARMAN_SQLSTATE.invalidArgument);
  for (const bad of ['h:0', 'h:99999', 'h:x', '[::1', ' , ']) {
    const err = await sqlError(db, `SELECT ${g.fn('gman_servers_set')}($1)`, [bad]);
    t.is(err.code, GEARMAN_SQLSTATE.invalidArgument, bad);
    t.regex(err.message, /^gearman: /);
  }
  t.is((await db.query(`SELECT ${g.fn('gman_servers')}() AS s`)).rows[0].s, g.server.address, 'a rejected list changes nothing');
  for (const ms of ['0', '-5', 'NULL']) {
    t.is((await sqlError(db, `SELECT ${g.fn('gman_timeout_set')}(${ms})`)).code, GEARMAN_SQLSTATE.invalidArgument, ms);
  }
  await db.query(`SET geartrain.timeout_ms = 'soon'`);
  const badSetting = await sqlError(db, `SELECT ${g.fn('gman_do')}('f', 'x')`);
  t.is(badSetting.code, GEARMAN_SQLSTATE.invalidArgument);
  t.is(badSetting.message, "gearman: geartrain.timeout_ms must be a positive number of milliseconds, not 'soon'");
});

test('a result that is not UTF-8 text is an error (22021), not mangled text', async (t) => {
  const g = await setupGman(t, 'geartrain', 'bytes');
  await g.worker({ bytes: () => Buffer.from([0x61, 0xff, 0xfe, 0x62]) });
  const db = await g.session();
  const err = await sqlError(db, `SELECT ${g.fn('gman_do')}('bytes', '')`);
  t.is(err.code, GEARMAN_SQLSTATE.badText);
  t.is(err.message, 'gearman: result of the job is not valid UTF-8 (bytes)');
});
