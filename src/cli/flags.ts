import { InvalidArgumentError } from '../errors.ts';
import { LOG_LEVELS, type LogLevel } from '../logger.ts';

/** Parse an integer flag, naming it in the error. */
export function intFlag(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`--${name} expects an integer, got '${value}'`, { field: name });
  const n = Number(value);
  if (n < min) throw new InvalidArgumentError(`--${name} must be at least ${min}, got ${n}`, { field: name });
  return n;
}

/** Parse `--verbose LEVEL` (gearmand's level names, any case); WARNING when absent. */
export function logLevelFlag(value: string | undefined): LogLevel {
  const level = (value ?? 'WARNING').toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new InvalidArgumentError(`--verbose must be one of ${LOG_LEVELS.join(', ')}`, { field: 'verbose' });
  }
  return level as LogLevel;
}
