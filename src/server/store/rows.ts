import type { Logger } from '../../logger.ts';
import type { StoredJob, StoredPriority } from './types.ts';

/** A row as the SQL stores read it (also rows written by gearmand, where the extra columns are NULL). */
export interface JobRow {
  readonly unique_key: string | Buffer | null;
  readonly function_name: string | Buffer | null;
  readonly priority: number | string | null;
  readonly data: Buffer | string | null;
  readonly when_to_run: number | string | null;
  readonly reducer: string | null;
  readonly seq: number | string | null;
}

/**
 * Turn a stored row into a StoredJob. Rows gearmand wrote have no seq (reported as 0, and
 * ordered by insertion by the query). A priority outside HIGH/NORMAL/LOW is replayed as NORMAL
 * with a warning rather than aborting the whole replay (gearmand #216); a row without a
 * function name cannot be run and is skipped with a warning.
 */
export function storedJobFromRow(row: JobRow, logger: Logger, kind: string): StoredJob | null {
  const functionName = text(row.function_name);
  const unique = text(row.unique_key);
  if (functionName === '') {
    logger.warn(`${kind} queue: skipping a stored row without a function name (unique '${unique}')`);
    return null;
  }
  let priority = Number(row.priority);
  if (!(priority === 0 || priority === 1 || priority === 2)) {
    logger.warn(`${kind} queue: job ${functionName}/${unique} has priority ${String(row.priority)}; replaying it as NORMAL`);
    priority = 1;
  }
  return {
    unique,
    functionName,
    priority: priority as StoredPriority,
    data: row.data === null ? Buffer.alloc(0) : Buffer.isBuffer(row.data) ? row.data : Buffer.from(row.data, 'utf8'),
    whenToRun: row.when_to_run === null ? 0 : Number(row.when_to_run),
    reducer: row.reducer,
    seq: row.seq === null ? 0 : Number(row.seq),
  };
}

function text(value: string | Buffer | null): string {
  if (value === null) return '';
  return typeof value === 'string' ? value : value.toString('utf8');
}
