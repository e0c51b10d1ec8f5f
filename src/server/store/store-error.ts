import { StoreError } from '../../errors.ts';

/**
 * Wrap a database failure as a StoreError whose message carries the database's own reason
 * (and its error code when it has one), e.g. `sqlite: add 3 job(s): database or disk is full
 * (SQLITE_FULL)`. A StoreError passes through unchanged.
 */
export function storeError(kind: string, action: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const reason = err instanceof Error ? err.message || err.name : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const suffix = typeof code === 'string' && code !== '' && !reason.includes(code) ? ` (${code})` : '';
  return new StoreError(`${kind}: ${action}: ${reason}${suffix}`, { cause: err });
}
