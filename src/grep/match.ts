/**
 * grep's matching over raw log bytes: which lines of a chunk are selected (any of the patterns
 * matches, or none with -v), and for -o the matching parts of a line. Lines are matched as Latin-1
 * text (one character per byte), so positions are byte offsets whatever the encoding of the logs.
 */

import { findable, findPerLine, type BytePattern } from '../byte-scan.ts';
import { requiredLiteral } from './literal.ts';

export interface PatternOptions {
  /** Fixed strings, or regular expressions with `regex`; a line matches if any of them does. */
  readonly patterns: readonly string[];
  readonly regex: boolean;
  readonly ignoreCase: boolean;
  readonly invert: boolean;
}

/** Calls `onLine(start, end)` for every selected line of a chunk, in order (`end` excludes the `\n`). */
export type LineSelector = (chunk: Buffer, onLine: (start: number, end: number) => void) => void;

function lineEnd(chunk: Buffer, from: number): number {
  const nl = chunk.indexOf(10, from);
  return nl < 0 ? chunk.length : nl;
}

function lineStart(chunk: Buffer, at: number): number {
  return at === 0 ? 0 : chunk.lastIndexOf(10, at - 1) + 1;
}

/** Every line of a chunk, `[start, end)` without the `\n`. */
export function forEachLine(chunk: Buffer, onLine: (start: number, end: number) => void): void {
  let start = 0;
  while (start < chunk.length) {
    const end = lineEnd(chunk, start);
    onLine(start, end);
    start = end + 1;
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A pattern as Latin-1 regex source: UTF-8 bytes of the pattern, one character per byte. */
function latin1(source: string): string {
  return Buffer.from(source, 'utf8').toString('latin1');
}

/**
 * One regular expression for all patterns. Fixed strings go longest first, so that at a given
 * position the longest one matches, as grep -F -o prints it.
 */
function combinedSource(o: PatternOptions): string {
  if (o.regex) return o.patterns.map((p) => `(?:${latin1(p)})`).join('|');
  return [...o.patterns]
    .sort((a, b) => Buffer.byteLength(b) - Buffer.byteLength(a))
    .map((p) => escapeRegExp(latin1(p)))
    .join('|');
}

/** Refuses a regular expression JavaScript cannot compile, naming it. */
export function checkPatterns(o: PatternOptions): string | undefined {
  if (!o.regex) return undefined;
  for (const p of o.patterns) {
    try {
      new RegExp(latin1(p));
    } catch (err) {
      return `bad regular expression '${p}': ${(err as Error).message}`;
    }
  }
  return undefined;
}

export function lineSelector(o: PatternOptions): LineSelector {
  const fixed = !o.regex;
  if (fixed && !o.ignoreCase && o.patterns.includes('')) {
    // The empty pattern matches every line (as in GNU grep); with -v none.
    return o.invert ? () => {} : forEachLine;
  }
  if (fixed && o.patterns.length === 1) {
    const bytes = Buffer.from(o.patterns[0]!, 'utf8');
    if (findable(bytes, o.ignoreCase)) return literalSelector({ bytes, ignoreCase: o.ignoreCase }, null, o.invert);
  }
  if (fixed && !o.ignoreCase && !o.invert) {
    // Several fixed strings: byte searches over the raw chunk, no per-line work for lines that do not match.
    const needles = o.patterns.map((p) => Buffer.from(p, 'utf8'));
    return (chunk, onLine) => {
      const next = needles.map((n) => chunk.indexOf(n));
      for (;;) {
        let pos = -1;
        for (const p of next) if (p >= 0 && (pos < 0 || p < pos)) pos = p;
        if (pos < 0) return;
        const start = lineStart(chunk, pos);
        const end = lineEnd(chunk, pos);
        onLine(start, end);
        if (end >= chunk.length) return;
        for (let k = 0; k < next.length; k++) if (next[k]! >= 0 && next[k]! <= end) next[k] = chunk.indexOf(needles[k]!, end + 1);
      }
    };
  }
  const re = new RegExp(combinedSource(o), o.ignoreCase ? 'i' : '');
  if (o.regex && o.patterns.length === 1) {
    // A literal every match contains: the regex runs only on the lines that hold it.
    const literal = requiredLiteral(latin1(o.patterns[0]!), o.ignoreCase);
    const bytes = literal === null ? null : Buffer.from(literal, 'latin1');
    if (bytes && findable(bytes, o.ignoreCase)) return literalSelector({ bytes, ignoreCase: o.ignoreCase }, re, o.invert);
  }
  return (chunk, onLine) => {
    const text = chunk.toString('latin1');
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      if (re.test(text.slice(start, end)) !== o.invert) onLine(start, end);
      start = end + 1;
    }
  };
}

/**
 * Lines holding `literal` (found by the SIMD byte scan, one hit per line), and of those only the
 * ones `re` matches when there is one; with `invert`, every other line.
 */
function literalSelector(literal: BytePattern, re: RegExp | null, invert: boolean): LineSelector {
  const matches = (chunk: Buffer, start: number, end: number) => re === null || re.test(latin1Slice(chunk, start, end));
  if (!invert) {
    return (chunk, onLine) => {
      const hits = findPerLine(chunk, literal);
      for (let i = 0; i < hits.length; i++) {
        const at = hits[i]!;
        const start = lineStart(chunk, at);
        const end = lineEnd(chunk, at);
        if (matches(chunk, start, end)) onLine(start, end);
      }
    };
  }
  return (chunk, onLine) => {
    const hits = findPerLine(chunk, literal);
    let h = 0;
    let start = 0;
    while (start < chunk.length) {
      const end = lineEnd(chunk, start);
      let hit = false;
      while (h < hits.length && hits[h]! < end) {
        if (hits[h]! >= start) hit = true;
        h++;
      }
      if (!hit || !matches(chunk, start, end)) onLine(start, end);
      start = end + 1;
    }
  };
}

const latin1Slice = (b: Buffer, start: number, end: number) => b.toString('latin1', start, end);

/** grep -o: the non-empty matching parts of a line, `[start, end)` byte positions, left to right. */
export function partsMatcher(o: PatternOptions): (line: Buffer) => [number, number][] {
  const re = new RegExp(combinedSource(o), o.ignoreCase ? 'gi' : 'g');
  return (line) => {
    const text = line.toString('latin1');
    const parts: [number, number][] = [];
    re.lastIndex = 0;
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      parts.push([m.index, m.index + m[0].length]);
    }
    return parts;
  };
}
