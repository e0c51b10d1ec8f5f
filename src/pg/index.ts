/** Public API of the SQL layer: pgGearman's gman_* functions installed into PostgreSQL. */
export { installGearmanFunctions, uninstallGearmanFunctions, installScript, uninstallScript } from './install.ts';
export type { PgInstallOptions, PgInstallResult } from './install.ts';
export { GEARMAN_SQLSTATE, PG_FUNCTIONS, DEFAULT_SCHEMA, quoteIdent } from './sql.ts';
