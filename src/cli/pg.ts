/**
 * `geartrain pg install|uninstall`: put pgGearman's SQL functions (gman_do, gman_do_background, …)
 * into a PostgreSQL database, or take them out. docs/sql.md is the guide.
 */
import { InvalidArgumentError } from '../errors.ts';
import { installGearmanFunctions, installScript, uninstallGearmanFunctions, uninstallScript, type PgInstallOptions } from '../pg/index.ts';
import { parseFlags } from './conventions.ts';
import type { CliIO } from './io.ts';
import { resolveServers } from './servers.ts';

export const summary = 'install or remove the gman_* SQL functions (Gearman from PostgreSQL)';

const HELP = `usage: geartrain pg install   [--url URL] [--schema NAME] [--servers H:P[,H:P…]] [--dry-run]
       geartrain pg uninstall [--url URL] [--schema NAME] [--dry-run]

  install    CREATE OR REPLACE gman_servers_set, gman_timeout_set, gman_do[_high|_low]
             and gman_do[_high|_low]_background (PL/Python; run it again to update)
  uninstall  drop exactly those functions (not the schema, not the plpython3u language)

  --url URL            postgresql://user@host:port/db (else DATABASE_URL, else PGHOST, PGUSER…)
  --schema NAME        schema to install into; it must exist (default public)
  --servers H:P[,H:P]  job servers used when a session sets none (else GEARMAN_SERVERS /
                       GEARMAN_SERVER, else 127.0.0.1:4730); geartrain.servers overrides it
  --dry-run            print the SQL script (for psql -f) instead of running it
  -H, --help           this help
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags('geartrain pg', {
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      schema: { type: 'string' },
      servers: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'H' },
    },
  });
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const [action, ...extra] = positionals;
  if ((action !== 'install' && action !== 'uninstall') || extra.length > 0) {
    throw new InvalidArgumentError('expected `install` or `uninstall` (geartrain pg -H)', { field: 'action' });
  }
  if (action === 'uninstall' && values.servers !== undefined) {
    throw new InvalidArgumentError('--servers applies to install only', { field: 'servers' });
  }
  const url = values.url ?? (io.env.DATABASE_URL || undefined);
  const opts: PgInstallOptions = {
    ...(url !== undefined ? { url } : {}),
    ...(values.schema !== undefined ? { schema: values.schema } : {}),
    ...(action === 'install' ? { servers: resolveServers({ servers: values.servers }, io.env) } : {}),
    signal: io.signal,
  };
  if (values['dry-run']) {
    io.stdout.write(action === 'install' ? installScript(opts) : uninstallScript(opts));
    return 0;
  }
  if (action === 'install') {
    const r = await installGearmanFunctions(opts);
    io.stderr.write(`installed ${r.functions.length} functions in schema ${r.schema} of database ${r.database} (default servers ${r.servers})\n`);
  } else {
    const r = await uninstallGearmanFunctions(opts);
    io.stderr.write(
      r.functions.length > 0
        ? `dropped ${r.functions.length} functions from schema ${r.schema} of database ${r.database}\n`
        : `nothing to drop: no geartrain functions in schema ${r.schema} of database ${r.database}\n`,
    );
  }
  return 0;
}
