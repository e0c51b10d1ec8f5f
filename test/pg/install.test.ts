/**
 * `geartrain pg install` / `uninstall`: install is idempotent (CREATE OR REPLACE), uninstall
 * removes exactly what install created (user objects in the schema, even a same-named overload,
 * survive), a dependent user object stops the uninstall with nothing dropped, `--dry-run`
 * changes nothing and prints a script psql can run to the same result, and a reinstall with new
 * default servers reaches sessions that already loaded the functions.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { run } from '../../src/cli/pg.ts';
import { installGearmanFunctions, PG_FUNCTIONS, quoteIdent, uninstallGearmanFunctions } from '../../src/pg/index.ts';
import { refusedPort } from '../helpers/ports.ts';
import { cliIO, connect, freshSchema, PG_URL, sqlError, uniqueName } from './helpers.ts';

/** Everything in the schema that a catalogue query can see, with function bodies hashed. */
async function snapshot(db: pg.Client, schema: string): Promise<string[]> {
  const { rows } = await db.query<{ o: string }>(
    `SELECT 'function ' || p.proname || '(' || oidvectortypes(p.proargtypes) || ') ' || l.lanname || ' ' || md5(p.prosrc)
              || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '') || ' acl=' || coalesce(p.proacl::text, '') AS o
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
      WHERE n.nspname = $1
     UNION ALL
     SELECT 'relation ' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1
     UNION ALL
     SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1
     ORDER BY 1`,
    [schema],
  );
  return rows.map((r) => r.o);
}

async function extensions(db: pg.Client): Promise<string[]> {
  return (await db.query<{ extname: string }>('SELECT extname FROM pg_extension ORDER BY 1')).rows.map((r) => r.extname);
}

/** `name(args)` of a snapshot line. */
function signatureOf(line: string): string {
  return /^function (\S+\([^)]*\))/.exec(line)?.[1] ?? line;
}

function ourFunctions(snap: string[]): string[] {
  const names = new Set(PG_FUNCTIONS.map((f) => `${f.name}(${f.args})`));
  return snap.filter((o) => names.has(signatureOf(o)));
}

/** psql (an independent client) runs a script and stops at the first error. */
function psql(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', PG_URL, '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    child.stdin.end(script);
  });
}

test('install creates the ten functions, twice in a row gives the same catalogue, uninstall restores the schema exactly', async (t) => {
  const db = await connect(t);
  const schema = await freshSchema(t, 'idem');
  const s = quoteIdent(schema);
  // user objects that must survive, including an overload of an installed name
  await db.query(`CREATE TABLE ${s}.jobs (id int)`);
  await db.query(`CREATE FUNCTION ${s}.gman_do(n integer) RETURNS integer LANGUAGE sql AS 'SELECT n'`);
  const before = await snapshot(db, schema);
  const extensionsBefore = await extensions(db);

  const result = await installGearmanFunctions({ url: PG_URL, schema, servers: '127.0.0.1:4999' });
  t.deepEqual(result.functions, PG_FUNCTIONS.map((f) => `${f.name}(${f.args})`));
  t.is(result.servers, '127.0.0.1:4999');
  const once = await snapshot(db, schema);
  t.is(ourFunctions(once).length, 10);
  t.deepEqual(
    once.filter((o) => !before.includes(o)).map(signatureOf).sort(),
    PG_FUNCTIONS.map((f) => `${f.name}(${f.args})`).sort(),
    'install adds exactly its functions and nothing else to the schema',
  );
  t.deepEqual(
    (await extensions(db)).filter((e) => !extensionsBefore.includes(e)),
    extensionsBefore.includes('plpython3u') ? [] : ['plpython3u'],
    'the only database-wide object install may add is the plpython3u language',
  );

  await installGearmanFunctions({ url: PG_URL, schema, servers: '127.0.0.1:4999' });
  t.deepEqual(await snapshot(db, schema), once, 'a second install changes nothing');

  const dropped = await uninstallGearmanFunctions({ url: PG_URL, schema });
  t.is(dropped.functions.length, 10);
  t.deepEqual(await snapshot(db, schema), before, 'uninstall leaves the schema as it was, user objects included');
  t.true((await extensions(db)).includes('plpython3u'), 'the language stays (other schemas or code may use it)');
  t.is((await db.query(`SELECT ${s}.gman_do(7) AS n`)).rows[0].n, 7, "the user's overload still works");

  const again = await uninstallGearmanFunctions({ url: PG_URL, schema });
  t.deepEqual(again.functions, [], 'a second uninstall is a no-op');
});

test('uninstall stops, dropping nothing, when a user object depends on a function', async (t) => {
  const db = await connect(t);
  const schema = await freshSchema(t, 'dep');
  await installGearmanFunctions({ url: PG_URL, schema });
  const installed = await snapshot(db, schema);
  await db.query(`CREATE VIEW ${quoteIdent(schema)}.servers AS SELECT ${quoteIdent(schema)}.gman_servers() AS s`);
  const err = await uninstallGearmanFunctions({ url: PG_URL, schema }).catch((e: pg.DatabaseError) => e);
  t.is((err as pg.DatabaseError).code, '2BP01', 'dependent_objects_still_exist');
  t.deepEqual(ourFunctions(await snapshot(db, schema)), ourFunctions(installed), 'the transaction rolled back whole');
});

test('install into a schema that does not exist is refused (ERR_INVALID_ARGUMENT, field schema) and creates nothing', async (t) => {
  const db = await connect(t);
  const schema = uniqueName('missing');
  const err = await installGearmanFunctions({ url: PG_URL, schema }).catch((e) => e);
  t.is(err.code, 'ERR_INVALID_ARGUMENT');
  t.is(err.field, 'schema');
  t.regex(err.message, /CREATE SCHEMA/);
  t.is((await db.query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [schema])).rows[0].n, 0);
  const bad = await installGearmanFunctions({ url: PG_URL, schema: 'public', servers: 'h:0' }).catch((e) => e);
  t.is(bad.code, 'ERR_INVALID_ARGUMENT');
  t.is(bad.field, 'servers');
  const unreachable = await installGearmanFunctions({ url: `postgres://postgres@127.0.0.1:${await refusedPort()}/test`, schema }).catch((e) => e);
  t.is(unreachable.code, 'ERR_CONNECTION');
});

test('a reinstall with new default servers reaches a session that already loaded the functions', async (t) => {
  const schema = await freshSchema(t, 'reinstall');
  await installGearmanFunctions({ url: PG_URL, schema, servers: '127.0.0.1:4001' });
  const db = await connect(t);
  const servers = `SELECT ${quoteIdent(schema)}.gman_servers() AS s`;
  t.is((await db.query(servers)).rows[0].s, '127.0.0.1:4001');
  await installGearmanFunctions({ url: PG_URL, schema, servers: '127.0.0.1:4002,127.0.0.1:4003' });
  t.is((await db.query(servers)).rows[0].s, '127.0.0.1:4002,127.0.0.1:4003');
});

test('CLI: pg install / uninstall run in-process; --dry-run changes nothing and prints what psql runs to the same result', async (t) => {
  const db = await connect(t);
  const schema = await freshSchema(t, 'cli');
  const empty = await snapshot(db, schema);

  const dry = cliIO();
  t.is(await run(['install', '--url', PG_URL, '--schema', schema, '--servers', '127.0.0.1:4777', '--dry-run'], dry), 0);
  t.deepEqual(await snapshot(db, schema), empty, '--dry-run touches nothing');
  t.regex(dry.out(), /^BEGIN;/);
  t.regex(dry.out(), /CREATE OR REPLACE FUNCTION/);

  const ran = await psql(dry.out());
  t.is(ran.code, 0, ran.stderr);
  const byPsql = await snapshot(db, schema);
  t.is(ourFunctions(byPsql).length, 10);

  const io = cliIO();
  t.is(await run(['install', '--url', PG_URL, '--schema', schema, '--servers', '127.0.0.1:4777'], io), 0);
  t.regex(io.err(), new RegExp(`^installed 10 functions in schema ${schema} of database \\w+ \\(default servers 127\\.0\\.0\\.1:4777\\)\\n$`));
  t.deepEqual(await snapshot(db, schema), byPsql, 'the script and the installer give the same catalogue');

  const envDefault = cliIO({ DATABASE_URL: PG_URL, GEARMAN_SERVERS: '127.0.0.1:4888' });
  t.is(await run(['install', '--schema', schema], envDefault), 0, 'DATABASE_URL and GEARMAN_SERVERS are the defaults');
  t.is((await db.query(`SELECT ${quoteIdent(schema)}.gman_servers() AS s`)).rows[0].s, '127.0.0.1:4888');

  const dryUn = cliIO();
  t.is(await run(['uninstall', '--url', PG_URL, '--schema', schema, '--dry-run'], dryUn), 0);
  t.is(ourFunctions(await snapshot(db, schema)).length, 10);
  t.is((await psql(dryUn.out())).code, 0);
  t.deepEqual(await snapshot(db, schema), empty);

  const un = cliIO();
  t.is(await run(['uninstall', '--url', PG_URL, '--schema', schema], un), 0);
  t.regex(un.err(), /^nothing to drop/);

  for (const argv of [[], ['reinstall'], ['install', 'extra'], ['uninstall', '--servers', 'h:1']]) {
    const err = await run(argv, cliIO()).catch((e) => e);
    t.is(err.code, 'ERR_INVALID_ARGUMENT', argv.join(' '));
  }
  const help = cliIO();
  t.is(await run(['-H'], help), 0);
  t.regex(help.out(), /geartrain pg install/);
});

test('calling needs no superuser: a role with USAGE on the schema can call the functions, one without cannot (42501)', async (t) => {
  const schema = await freshSchema(t, 'usage');
  await installGearmanFunctions({ url: PG_URL, schema });
  const admin = await connect(t);
  const role = uniqueName('r');
  await admin.query(`CREATE ROLE ${quoteIdent(role)} LOGIN`);
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`DROP OWNED BY ${quoteIdent(role)}; DROP ROLE ${quoteIdent(role)}`).finally(() => c.end());
  });
  const url = new URL(PG_URL);
  url.username = role;
  const asRole = await connect(t, url.toString());
  t.is((await sqlError(asRole, `SELECT ${quoteIdent(schema)}.gman_servers()`)).code, '42501');
  await admin.query(`GRANT USAGE ON SCHEMA ${quoteIdent(schema)} TO ${quoteIdent(role)}`);
  t.is((await asRole.query(`SELECT ${quoteIdent(schema)}.gman_servers() AS s`)).rows[0].s, '127.0.0.1:4730');
});
