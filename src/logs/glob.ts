import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { AbortError } from '../errors.ts';

/**
 * A small glob for log paths (Node 20 has no fs.glob): `*`, `?`, `[abc]`, `[!a-z]`, `{a,b}` and
 * `**` (any number of directories). `*` and `?` never match `/`, nor a leading `.` unless the
 * pattern segment starts with one.
 */

const MAGIC = /[*?[{]/;

/** Expands `{a,b}` alternatives (not nested) into separate patterns. */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  const close = pattern.indexOf('}', open);
  if (close < 0) return [pattern];
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  return pattern
    .slice(open + 1, close)
    .split(',')
    .flatMap((alt) => expandBraces(head + alt + tail));
}

/** A regular expression matching one path segment against a glob segment. */
export function segmentRegExp(segment: string): RegExp {
  let re = '^';
  if (!segment.startsWith('.')) re += '(?!\\.)';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** Whether `name` matches a full glob pattern (used for tests and filters, not for walking). */
export function matchGlob(pattern: string, file: string): boolean {
  const fileParts = file.split('/');
  return expandBraces(pattern).some((p) => matchParts(p.split('/'), 0, fileParts, 0));
}

function matchParts(pat: string[], i: number, parts: string[], j: number): boolean {
  if (i === pat.length) return j === parts.length;
  if (pat[i] === '**') {
    for (let k = j; k <= parts.length; k++) if (matchParts(pat, i + 1, parts, k)) return true;
    return false;
  }
  if (j === parts.length) return false;
  const seg = pat[i]!;
  const ok = MAGIC.test(seg) ? segmentRegExp(seg).test(parts[j]!) : seg === parts[j];
  return ok && matchParts(pat, i + 1, parts, j + 1);
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function entries(dir: string): Promise<{ name: string; dir: boolean }[]> {
  try {
    const list = await readdir(dir, { withFileTypes: true });
    const out: { name: string; dir: boolean }[] = [];
    for (const e of list) {
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        try {
          isDir = (await stat(path.join(dir, e.name))).isDirectory();
        } catch {
          continue;
        }
      }
      out.push({ name: e.name, dir: isDir });
    }
    return out;
  } catch {
    return [];
  }
}

async function walk(base: string, segs: string[], i: number, out: Set<string>, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new AbortError();
  if (i === segs.length) {
    if (await isFile(base)) out.add(base);
    return;
  }
  const seg = segs[i]!;
  if (seg === '**') {
    await walk(base, segs, i + 1, out, signal);
    for (const e of await entries(base)) {
      if (e.dir && !e.name.startsWith('.')) await walk(path.join(base, e.name), segs, i, out, signal);
    }
    return;
  }
  if (!MAGIC.test(seg)) {
    await walk(path.join(base, seg), segs, i + 1, out, signal);
    return;
  }
  const re = segmentRegExp(seg);
  const last = i === segs.length - 1;
  for (const e of await entries(base)) {
    if (!re.test(e.name)) continue;
    if (last ? !e.dir : e.dir) await walk(path.join(base, e.name), segs, i + 1, out, signal);
  }
}

/**
 * The directories a pattern lists files in, one per brace alternative: the part before its first
 * wildcard segment, or the named file's directory (`/srv/logs/site-?/access.log` → `/srv/logs`).
 */
export function globDirectories(pattern: string): string[] {
  return expandBraces(pattern).map((p) => {
    const segs = p.split('/');
    const first = segs.findIndex((s) => MAGIC.test(s));
    return first < 0 ? path.dirname(p) : segs.slice(0, first).join('/') || '/';
  });
}

const collator = new Intl.Collator('en', { numeric: true });

/**
 * The regular files matching one or more glob patterns, deduplicated and in natural order
 * (`access.log`, `access.log.1`, `access.log.2.gz`, …, `access.log.10.gz`). A pattern without
 * wildcards names a file directly. Patterns that match nothing contribute nothing.
 */
export async function listLogFiles(patterns: string | readonly string[], options: { signal?: AbortSignal } = {}): Promise<string[]> {
  const out = new Set<string>();
  for (const raw of typeof patterns === 'string' ? [patterns] : patterns) {
    for (const pattern of expandBraces(raw)) {
      const absolute = path.isAbsolute(pattern);
      const segs = pattern.split('/').filter((s, k) => s !== '' || k === 0);
      const start = absolute ? '/' : '.';
      const rel = absolute ? segs.slice(1) : segs;
      if (rel.at(-1) === '**') rel.push('*'); // `logs/**`: every file below
      const found = new Set<string>();
      await walk(start, rel, 0, found, options.signal);
      for (const f of found) out.add(absolute ? f : path.relative('.', f) || f);
    }
  }
  return [...out].sort(collator.compare);
}
