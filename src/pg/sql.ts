/**
 * The SQL that `geartrain pg install` / `uninstall` run: pgGearman's functions (`gman_do`,
 * `gman_do_background`, …) in one schema, written in PL/Python over the client in
 * plpython-client.ts. Pure text generation; install.ts runs it. docs/sql.md is the user's guide.
 *
 * Objects: `_gman_source()` holds the Python module once; every PL/Python function loads it on
 * first use in a session into `GD` under a key naming the schema and a hash of the source, so a
 * reinstall (new code or new default servers) takes effect in open sessions at their next call.
 * Uninstall drops exactly the signatures in PG_FUNCTIONS, without CASCADE: a user object that
 * depends on one of them stops the uninstall rather than being dropped with it.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';
import { GEARTRAIN_VERSION } from '../version.ts';
import { GEARMAN_CLIENT_PY } from './plpython-client.ts';

/** SQLSTATEs of the errors the functions raise (class YG: implementation-defined, "Gearman"). */
export const GEARMAN_SQLSTATE = Object.freeze({
  /** No job server reachable, or the connection was lost during the call. */
  connection: 'YG001',
  /** The job ended with WORK_FAIL. */
  jobFailed: 'YG002',
  /** The job ended with WORK_EXCEPTION; the worker's text is in the message. */
  jobException: 'YG003',
  /** `geartrain.timeout_ms` passed before the result (or, for background, JOB_CREATED). */
  timeout: 'YG004',
  /** The job server answered with an ERROR packet. */
  serverError: 'YG005',
  /** Bytes from the server that are not a Gearman response. */
  protocol: 'YG006',
  /** A bad server list or timeout (PostgreSQL's invalid_parameter_value). */
  invalidArgument: '22023',
  /** A NULL function name, workload or server list (null_value_not_allowed). */
  nullValue: '22004',
  /** The job's result is not UTF-8 text (character_not_in_repertoire). */
  badText: '22021',
  /** Query cancel or statement_timeout while waiting (query_canceled). */
  canceled: '57014',
});

/** Every function install creates, by name and argument types (what DROP FUNCTION needs). */
export const PG_FUNCTIONS: readonly { readonly name: string; readonly args: string }[] = Object.freeze([
  { name: '_gman_source', args: '' },
  { name: 'gman_servers_set', args: 'text' },
  { name: 'gman_servers', args: '' },
  { name: 'gman_timeout_set', args: 'integer' },
  { name: 'gman_do', args: 'text, text' },
  { name: 'gman_do_high', args: 'text, text' },
  { name: 'gman_do_low', args: 'text, text' },
  { name: 'gman_do_background', args: 'text, text' },
  { name: 'gman_do_high_background', args: 'text, text' },
  { name: 'gman_do_low_background', args: 'text, text' },
]);

/** Both installer transactions take this lock, so parallel installs (and CREATE EXTENSION) queue. */
const INSTALL_LOCK_KEY = 'geartrain.pg.install';

const BODY_TAG = '$geartrain$';
const SOURCE_TAG = '$gman_py$';

export const DEFAULT_SCHEMA = 'public';

/** `"name"` with embedded quotes doubled, as quote_ident would write it. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

export function checkSchemaName(schema: string): void {
  if (schema.length === 0) throw new InvalidArgumentError('schema name must not be empty', { field: 'schema' });
  if (schema.includes('\0')) throw new InvalidArgumentError('schema name must not contain NUL', { field: 'schema' });
  if (Buffer.byteLength(schema) > 63) throw new InvalidArgumentError('schema name is longer than 63 bytes (PostgreSQL NAMEDATALEN)', { field: 'schema' });
  if (schema.includes(BODY_TAG) || schema.includes(SOURCE_TAG)) {
    throw new InvalidArgumentError(`schema name must not contain ${BODY_TAG} or ${SOURCE_TAG}`, { field: 'schema' });
  }
}

export interface SqlOptions {
  /** Schema that receives the functions (must exist; default public). */
  readonly schema: string;
  /** Job servers used when neither gman_servers_set nor geartrain.servers says otherwise: `h:p,h:p`. */
  readonly defaultServers: string;
}

/** The Python module as stored: the installed default servers, then the client. */
export function pythonSource(defaultServers: string): string {
  return `# geartrain ${GEARTRAIN_VERSION}: Gearman client for PL/Python (geartrain pg install)\nDEFAULT_SERVERS = ${JSON.stringify(defaultServers)}\n${GEARMAN_CLIENT_PY}`;
}

function pythonBody(schema: string, source: string, call: string): string {
  const key = `geartrain.pg:${createHash('sha256').update(source).digest('hex').slice(0, 16)}:${schema}`;
  const load = `SELECT ${quoteIdent(schema)}._gman_source() AS s`;
  return [
    `lib = GD.get(${JSON.stringify(key)})`,
    'if lib is None:',
    "    lib = {'plpy': plpy, '__name__': 'geartrain_gearman'}",
    `    exec(compile(plpy.execute(${JSON.stringify(load)})[0]['s'], 'geartrain-gearman', 'exec'), lib)`,
    `    GD[${JSON.stringify(key)}] = lib`,
    `return ${call}`,
  ].join('\n');
}

interface FunctionDef {
  readonly name: string;
  readonly params: string;
  readonly returns: string;
  readonly language: 'plpython3u' | 'plpgsql' | 'sql';
  readonly volatility?: 'IMMUTABLE';
  readonly body: string;
  readonly comment: string;
}

const SUBMITTERS: readonly [name: string, mode: 'fg' | 'bg', priority: 'normal' | 'high' | 'low', what: string][] = [
  ['gman_do', 'fg', 'normal', 'run a Gearman job and return its result'],
  ['gman_do_high', 'fg', 'high', 'run a high-priority Gearman job and return its result'],
  ['gman_do_low', 'fg', 'low', 'run a low-priority Gearman job and return its result'],
  ['gman_do_background', 'bg', 'normal', 'queue a background Gearman job and return its handle'],
  ['gman_do_high_background', 'bg', 'high', 'queue a high-priority background Gearman job and return its handle'],
  ['gman_do_low_background', 'bg', 'low', 'queue a low-priority background Gearman job and return its handle'],
];

function functionDefs(opts: SqlOptions): FunctionDef[] {
  const source = pythonSource(opts.defaultServers);
  if (source.includes(BODY_TAG) || source.includes(SOURCE_TAG)) throw new InvalidArgumentError(`the default servers contain a dollar-quote tag (${BODY_TAG} or ${SOURCE_TAG})`, { field: 'servers' });
  const py = (call: string) => pythonBody(opts.schema, source, call);
  return [
    {
      name: '_gman_source',
      params: '',
      returns: 'text',
      language: 'sql',
      volatility: 'IMMUTABLE',
      body: `SELECT ${SOURCE_TAG}${source}${SOURCE_TAG}::text`,
      comment: 'the Python Gearman client the gman_* functions load (internal)',
    },
    {
      name: 'gman_servers_set',
      params: 'servers text',
      returns: 'boolean',
      language: 'plpython3u',
      body: py("lib['servers_set'](servers)"),
      comment: "set this session's job servers ('host:port,...'); same as SET geartrain.servers",
    },
    {
      name: 'gman_servers',
      params: '',
      returns: 'text',
      language: 'plpython3u',
      body: py("lib['effective_servers']()"),
      comment: 'the job servers the gman_* functions use now (geartrain.servers, else the installed default)',
    },
    {
      name: 'gman_timeout_set',
      params: 'ms integer',
      returns: 'boolean',
      language: 'plpgsql',
      body: [
        'BEGIN',
        '  IF ms IS NULL OR ms < 1 THEN',
        "    RAISE EXCEPTION 'gearman: timeout must be a positive number of milliseconds, not %', coalesce(ms::text, 'NULL')",
        "      USING ERRCODE = '22023';",
        '  END IF;',
        "  PERFORM set_config('geartrain.timeout_ms', ms::text, false);",
        '  RETURN true;',
        'END',
      ].join('\n'),
      comment: "set this session's limit for one gman_* call in ms; same as SET geartrain.timeout_ms",
    },
    ...SUBMITTERS.map(([name, mode, priority, what]) => ({
      name,
      params: 'function_name text, workload text',
      returns: 'text',
      language: 'plpython3u' as const,
      body: py(`lib['call'](${JSON.stringify(mode)}, ${JSON.stringify(priority)}, function_name, workload)`),
      comment: what,
    })),
  ];
}

function signature(schema: string, name: string, args: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}(${args})`;
}

/** The statements of install, without BEGIN/COMMIT (install.ts wraps them in one transaction). */
export function installStatements(opts: SqlOptions): string {
  checkSchemaName(opts.schema);
  const parts = [
    `SELECT pg_advisory_xact_lock(hashtext(${quoteLiteral(INSTALL_LOCK_KEY)}));`,
    'CREATE EXTENSION IF NOT EXISTS plpython3u;',
  ];
  for (const f of functionDefs(opts)) {
    const args = PG_FUNCTIONS.find((p) => p.name === f.name)!.args;
    parts.push(
      `CREATE OR REPLACE FUNCTION ${quoteIdent(opts.schema)}.${quoteIdent(f.name)}(${f.params})\n` +
        `  RETURNS ${f.returns} LANGUAGE ${f.language}${f.volatility ? ` ${f.volatility}` : ''}\n` +
        `AS ${BODY_TAG}\n${f.body}\n${BODY_TAG};`,
      `COMMENT ON FUNCTION ${signature(opts.schema, f.name, args)} IS ${quoteLiteral(`geartrain ${GEARTRAIN_VERSION}: ${f.comment}`)};`,
    );
  }
  return parts.join('\n\n') + '\n';
}

/** The statements of uninstall, without BEGIN/COMMIT. */
export function uninstallStatements(opts: Pick<SqlOptions, 'schema'>): string {
  checkSchemaName(opts.schema);
  return (
    [
      `SELECT pg_advisory_xact_lock(hashtext(${quoteLiteral(INSTALL_LOCK_KEY)}));`,
      ...PG_FUNCTIONS.map((f) => `DROP FUNCTION IF EXISTS ${signature(opts.schema, f.name, f.args)};`),
    ].join('\n') + '\n'
  );
}

/** A whole script for psql (`--dry-run`): the statements inside one transaction. */
export function asScript(statements: string): string {
  return `BEGIN;\n\n${statements}\nCOMMIT;\n`;
}
