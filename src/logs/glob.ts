/**
 * Log paths by glob (Node 20 has no fs.glob), with tinyglobby (walking) and picomatch (matching):
 * `*`, `?`, `[abc]`, `[!a-z]`, `{a,b}` and `**` (any number of directories). `*` and `?` never
 * match `/`, nor a leading `.`; symbolic links to directories are followed (the node checks where
 * each file really is: file-shards.ts).
 */
import path from 'node:path';
import picomatch from 'picomatch';
import { glob } from 'tinyglobby';
import { AbortError } from '../errors.ts';

/** Only the syntax above: parentheses, `+` and `@` in a log path are plain characters. */
const SYNTAX = { dot: false, extglob: false } as const;

/** Whether `file` matches a full glob pattern (used for tests and filters, not for walking). */
export function matchGlob(pattern: string, file: string): boolean {
  return picomatch.isMatch(file, pattern, { dot: SYNTAX.dot, noextglob: !SYNTAX.extglob });
}

/**
 * The directory a pattern lists files in: the part before its first wildcard, or the named
 * file's directory (`/srv/logs/site-?/access.log` and `/srv/logs/{a,b}/x.log` → `/srv/logs`).
 */
export function globBase(pattern: string): string {
  const scan = picomatch.scan(pattern);
  return scan.isGlob ? scan.base || '.' : path.dirname(pattern);
}

/**
 * Natural order: runs of digits compare as numbers, the rest by character. (Intl.Collator would
 * do it too, but loading ICU's collation data costs a node 2.4 MiB of resident memory.)
 */
function naturalCompare(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    if (isDigitCode(ca) && isDigitCode(cb)) {
      let ei = i;
      let ej = j;
      while (ei < a.length && isDigitCode(a.charCodeAt(ei))) ei++;
      while (ej < b.length && isDigitCode(b.charCodeAt(ej))) ej++;
      const na = a.slice(i, ei).replace(/^0+(?=\d)/, '');
      const nb = b.slice(j, ej).replace(/^0+(?=\d)/, '');
      if (na.length !== nb.length) return na.length - nb.length;
      if (na !== nb) return na < nb ? -1 : 1;
      i = ei;
      j = ej;
    } else {
      if (ca !== cb) return ca - cb;
      i++;
      j++;
    }
  }
  return a.length - i - (b.length - j);
}

const isDigitCode = (c: number) => c >= 48 && c <= 57;

/**
 * The regular files matching one or more glob patterns, deduplicated and in natural order
 * (`access.log`, `access.log.1`, `access.log.2.gz`, …, `access.log.10.gz`). A pattern without
 * wildcards names a file directly; a trailing `**` is every file below. Absolute patterns give
 * absolute paths, relative ones paths relative to the working directory. Patterns that match
 * nothing contribute nothing.
 */
export async function listLogFiles(patterns: string | readonly string[], options: { signal?: AbortSignal } = {}): Promise<string[]> {
  const all = typeof patterns === 'string' ? [patterns] : patterns;
  const out = new Set<string>();
  for (const absolute of [true, false]) {
    const some = all.filter((p) => path.isAbsolute(p) === absolute);
    if (some.length === 0) continue;
    const found = await glob(some, { ...SYNTAX, absolute, onlyFiles: true, expandDirectories: false, followSymbolicLinks: true, ...(options.signal ? { signal: options.signal } : {}) });
    if (options.signal?.aborted) throw new AbortError();
    for (const f of found) out.add(path.normalize(f));
  }
  return [...out].sort(naturalCompare);
}
