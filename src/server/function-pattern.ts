/**
 * Function-name patterns shared by the result cache, the relay rules and the event hooks:
 * `*` matches any run of characters (a tenant's `/` included), `?` one character, anything else
 * itself. A pattern matches a function by its server-side name (`acme/resize`) or by the name
 * its tenant knows it by (`resize`), so `resize` covers every tenant's `resize`.
 */
import { hasWildcard, wildcardRegExp } from '../wildcard.ts';
import type { FunctionEntry } from './function-entry.ts';

/** A predicate over functions, memoised per FunctionEntry (it is asked once per job). */
export function functionMatcher(patterns: readonly string[]): (fn: FunctionEntry) => boolean {
  const exact = new Set(patterns.filter((p) => !hasWildcard(p)));
  const globs = patterns.filter(hasWildcard).map(wildcardRegExp);
  const memo = new WeakMap<FunctionEntry, boolean>();
  const test = (name: string) => exact.has(name) || globs.some((re) => re.test(name));
  return (fn) => {
    let hit = memo.get(fn);
    if (hit === undefined) {
      hit = test(fn.name) || (fn.localName !== fn.name && test(fn.localName));
      memo.set(fn, hit);
    }
    return hit;
  };
}

/** `a,b*, c` → ['a', 'b*', 'c']. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
