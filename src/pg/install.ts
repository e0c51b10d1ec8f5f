/**
 * Install or remove the gman_* SQL functions in a database over node-postgres, in one
 * transaction each. Checks first what a bare SQL error would leave obscure: the schema exists,
 * and the database server has PL/Python (the package that provides it is named in the error).
 */
import pg from 'pg';
import { z } from 'zod';
import { parseServerList, DEFAULT_SERVER } from '../client/server-address.ts';
import { ConnectionError, InvalidArgumentError } from '../errors.ts';
import { asScript, checkSchemaName, DEFAULT_SCHEMA, installStatements, PG_FUNCTIONS, uninstallStatements } from './sql.ts';

const optionsSchema = z.strictObject({
  /** postgresql://… ; absent: node-postgres' defaults (PGHOST, PGUSER, PGDATABASE, …). */
  url: z.string().min(1).optional(),
  schema: z.string().optional(),
  /** Default job servers baked into the functions (install only). */
  servers: z.union([z.string(), z.array(z.string()).min(1)]).optional(),
  signal: z.instanceof(AbortSignal).optional(),
});

export type PgInstallOptions = z.input<typeof optionsSchema>;

export interface PgInstallResult {
  readonly database: string;
  readonly user: string;
  readonly schema: string;
  /** Functions created or replaced (install) or dropped (uninstall), as `name(args)`. */
  readonly functions: readonly string[];
  /** The installed default servers (install only). */
  readonly servers?: string;
}

interface Resolved {
  readonly url: string | undefined;
  readonly schema: string;
  readonly servers: string;
  readonly signal: AbortSignal | undefined;
}

function resolve(options: PgInstallOptions): Resolved {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? 'options');
    throw new InvalidArgumentError(`pg install: ${field}: ${issue.message}`, { field });
  }
  const o = parsed.data;
  const schema = o.schema ?? DEFAULT_SCHEMA;
  checkSchemaName(schema);
  const servers = parseServerList(o.servers ?? DEFAULT_SERVER, 'servers')
    .map((s) => s.id)
    .join(',');
  return { url: o.url, schema, servers, signal: o.signal };
}

/** The install script for psql, as `--dry-run` prints it. */
export function installScript(options: PgInstallOptions = {}): string {
  const r = resolve(options);
  return asScript(installStatements({ schema: r.schema, defaultServers: r.servers }));
}

/** The uninstall script for psql, as `--dry-run` prints it. */
export function uninstallScript(options: PgInstallOptions = {}): string {
  return asScript(uninstallStatements({ schema: resolve(options).schema }));
}

async function withClient<T>(r: Resolved, body: (client: pg.Client) => Promise<T>): Promise<T> {
  r.signal?.throwIfAborted();
  const client = new pg.Client(r.url === undefined ? {} : { connectionString: r.url });
  client.on('error', () => {}); // a dropped connection surfaces as the failed query
  const abort = () => void client.end().catch(() => {});
  r.signal?.addEventListener('abort', abort, { once: true });
  try {
    try {
      await client.connect();
    } catch (err) {
      const where = r.url ?? 'the database (PG* environment defaults)';
      throw new ConnectionError(`cannot connect to ${where}: ${(err as Error).message}`, { cause: err });
    }
    return await body(client);
  } finally {
    r.signal?.removeEventListener('abort', abort);
    await client.end().catch(() => {});
  }
}

async function identity(client: pg.Client, schema: string): Promise<{ database: string; user: string; schemaExists: boolean }> {
  const { rows } = await client.query<{ database: string; user: string; exists: boolean }>(
    'SELECT current_database() AS database, current_user AS "user", EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists',
    [schema],
  );
  return { database: rows[0]!.database, user: rows[0]!.user, schemaExists: rows[0]!.exists };
}

/** `name(args)` of the install's functions present in the schema now. */
async function presentFunctions(client: pg.Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ sig: string }>(
    `SELECT p.proname || '(' || oidvectortypes(p.proargtypes) || ')' AS sig
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1`,
    [schema],
  );
  const ours = new Set(PG_FUNCTIONS.map((f) => `${f.name}(${f.args})`));
  return rows.map((r) => r.sig).filter((s) => ours.has(s));
}

async function inTransaction(client: pg.Client, statements: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(statements);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** CREATE OR REPLACE the gman_* functions in `schema` (idempotent). */
export async function installGearmanFunctions(options: PgInstallOptions = {}): Promise<PgInstallResult> {
  const r = resolve(options);
  const statements = installStatements({ schema: r.schema, defaultServers: r.servers });
  return withClient(r, async (client) => {
    const who = await identity(client, r.schema);
    if (!who.schemaExists) {
      throw new InvalidArgumentError(`schema ${JSON.stringify(r.schema)} does not exist in database ${who.database} (CREATE SCHEMA it first)`, {
        field: 'schema',
      });
    }
    const { rows } = await client.query<{ available: boolean; major: string }>(
      `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'plpython3u') AS available,
              (current_setting('server_version_num')::int / 10000)::text AS major`,
    );
    if (!rows[0]!.available) {
      throw new InvalidArgumentError(
        `the database server has no PL/Python (plpython3u): install postgresql-plpython3-${rows[0]!.major} on the database host (Debian/Ubuntu: apt-get install postgresql-plpython3-${rows[0]!.major}), then run this again`,
        { field: 'url' },
      );
    }
    r.signal?.throwIfAborted();
    try {
      await inTransaction(client, statements);
    } catch (err) {
      if ((err as { code?: string }).code === '42501') {
        throw new InvalidArgumentError(
          `role ${who.user} may not create PL/Python functions (plpython3u is an untrusted language): install as a superuser (${(err as Error).message})`,
          { field: 'url', cause: err },
        );
      }
      throw err;
    }
    return {
      database: who.database,
      user: who.user,
      schema: r.schema,
      servers: r.servers,
      functions: PG_FUNCTIONS.map((f) => `${f.name}(${f.args})`),
    };
  });
}

/** Drop exactly the functions install creates; nothing else (not the language, not the schema). */
export async function uninstallGearmanFunctions(options: PgInstallOptions = {}): Promise<PgInstallResult> {
  const r = resolve(options);
  return withClient(r, async (client) => {
    const who = await identity(client, r.schema);
    const present = who.schemaExists ? await presentFunctions(client, r.schema) : [];
    r.signal?.throwIfAborted();
    if (present.length > 0) await inTransaction(client, uninstallStatements({ schema: r.schema }));
    return { database: who.database, user: who.user, schema: r.schema, functions: present };
  });
}
