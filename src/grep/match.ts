/**
 * grep's matching over raw log bytes: which lines of a chunk are selected (any of the patterns
 * matches, or none with -v), and for -o the matching parts of a line. Lines are matched as Latin-1
 * text (one character per byte), so positions are byte offsets whatever the encoding of the logs.
 */

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
  const fixed = !o.regex && !o.ignoreCase;
  if (fixed && o.patterns.includes('')) {
    // The empty pattern matches every line (as in GNU grep); with -v none.
    return o.invert ? () => {} : forEachLine;
  }
  if (fixed && !o.invert) {
    // Hot path: byte searches over the raw chunk, no per-line work for lines that do not match.
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
