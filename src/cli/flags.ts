import { InvalidArgumentError } from '../errors.ts';

/** Parse an integer flag, naming it in the error. */
export function intFlag(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`--${name} expects an integer, got '${value}'`, { field: name });
  const n = Number(value);
  if (n < min) throw new InvalidArgumentError(`--${name} must be at least ${min}, got ${n}`, { field: name });
  return n;
}
