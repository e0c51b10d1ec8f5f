import { InvalidArgumentError } from '../../errors.ts';

/**
 * Table names are spliced into SQL, so they are restricted to plain identifiers (letters, digits,
 * underscore; not starting with a digit; at most 63 characters, PostgreSQL's limit) and always
 * double-quoted. This also rules out schema-qualified names.
 */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function checkTableName(name: string, field = 'table'): string {
  if (!IDENTIFIER.test(name)) {
    throw new InvalidArgumentError(
      `invalid ${field} '${name}': use letters, digits and '_' (not starting with a digit, at most 63 characters)`,
      { field },
    );
  }
  return name;
}

/** `"name"`; safe only for names that passed checkTableName. */
export function quoteIdentifier(name: string): string {
  return `"${name}"`;
}

/** Redis key prefixes: any non-empty string without whitespace or control characters. */
const KEY_PREFIX = /^[^\s\p{Cc}]{1,200}$/u;

export function checkKeyPrefix(prefix: string, field = 'table'): string {
  if (!KEY_PREFIX.test(prefix)) {
    throw new InvalidArgumentError(`invalid Redis key prefix '${prefix}': 1 to 200 characters, no spaces or control characters`, { field });
  }
  return prefix;
}
