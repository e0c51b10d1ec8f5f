/**
 * Names that become paths on a node: run ids, task ids, partial names and keys, cache keys. One
 * type for all of them, checked where a task arrives (wire.ts) and again where a path is made
 * (PartialStore, PartialCache), so no name from a client can leave the directory it is meant for:
 * letters, digits, `.`, `_` and `-`, not starting with a dot (no `.`, `..` or hidden files), and
 * the resolved path must still lie under its root.
 */
import path from 'node:path';
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';

const STORE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const STORE_NAME_RULE = "1-128 letters, digits, '.', '_' or '-', not starting with '.'";

export function isStoreName(value: string): boolean {
  return STORE_NAME.test(value);
}

/** A run id, task id or partial name as it arrives in a task. */
export const storeNameSchema = z.string().regex(STORE_NAME, STORE_NAME_RULE);

/** A partial's key: `<runId>/<name>`. */
export const partialKeySchema = z.string().refine((k) => splitPartialKey(k) !== null, `expected <runId>/<name>, each ${STORE_NAME_RULE}`);

/** The run id and name of a partial key, or null when it is not one. */
export function splitPartialKey(key: string): { runId: string; name: string } | null {
  const parts = key.split('/');
  if (parts.length !== 2 || !isStoreName(parts[0]!) || !isStoreName(parts[1]!)) return null;
  return { runId: parts[0]!, name: parts[1]! };
}

/** Throws InvalidArgumentError naming `field` unless `value` is a store name. */
export function checkStoreName(value: string, field: string): string {
  if (!isStoreName(value)) throw new InvalidArgumentError(`bad ${field} ${JSON.stringify(value)}: ${STORE_NAME_RULE}`, { field });
  return value;
}

/**
 * `root/<names…>` after checking every name, and that the resolved path stays under `root` (the
 * second check holds even if the first one is ever loosened).
 */
export function pathUnder(root: string, names: readonly string[], field: string): string {
  for (const n of names) checkStoreName(n, field);
  const base = path.resolve(root);
  const full = path.resolve(base, ...names);
  if (!full.startsWith(base + path.sep)) throw new InvalidArgumentError(`bad ${field} ${JSON.stringify(names.join('/'))}: it leaves ${base}`, { field });
  return full;
}
