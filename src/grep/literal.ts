/**
 * The prefilter of grep -E: a literal string every match of a regular expression contains, so a
 * byte search finds the few lines worth running the expression on. Conservative by design: a
 * top-level alternation, groups, classes, escapes of letters and digits and optional atoms all
 * end a run of literal characters; the longest run wins.
 */

/** Characters that are literal after a backslash (the syntax characters and a few more). */
const ESCAPED_LITERAL = new Set([...'^$\\.*+?()[]{}|/-,:;=!<>@#%&~`\'" ']);

/** The index just past a group or class that starts at `i` (`(` or `[`), or -1 if unclosed. */
function skipBracketed(src: string, i: number): number {
  let depth = 0;
  let inClass = false;
  for (let k = i; k < src.length; k++) {
    const c = src[k]!;
    if (c === '\\') {
      k++;
      continue;
    }
    if (inClass) {
      if (c === ']') {
        inClass = false;
        if (src[i] === '[') return k + 1;
      }
      continue;
    }
    if (c === '[') {
      inClass = true;
      // In JavaScript `[]` is an empty class: a `]` first closes it.
    } else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return k + 1;
    }
  }
  return -1;
}

/** A quantifier at `i`: how many times the atom before it must occur at least, and where it ends. */
function quantifierAt(src: string, i: number): { min: number; end: number } | null {
  const c = src[i];
  let min: number;
  let end: number;
  if (c === '*' || c === '?') [min, end] = [0, i + 1];
  else if (c === '+') [min, end] = [1, i + 1];
  else if (c === '{') {
    const m = /^\{(\d+)(,\d*)?\}/.exec(src.slice(i));
    if (!m) return null; // a literal `{` in JavaScript's loose syntax
    [min, end] = [Number(m[1]), i + m[0].length];
  } else return null;
  if (src[end] === '?') end++; // lazy
  return { min, end };
}

/**
 * The longest literal (Latin-1 characters, one per byte) that every match of the regular
 * expression `src` contains, or null when none of at least 2 characters is certain. With
 * `ignoreCase`, only ASCII characters count (they fold the same way in a byte search).
 */
export function requiredLiteral(src: string, ignoreCase: boolean): string | null {
  const runs: string[] = [];
  let run = '';
  const cut = () => {
    if (run) runs.push(run);
    run = '';
  };
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    let literal: string | null = null;
    let next = i + 1;
    if (c === '|') return null; // a top-level alternative: no literal is certain
    if (c === '\\') {
      const e = src[i + 1];
      if (e !== undefined && ESCAPED_LITERAL.has(e)) literal = e;
      next = i + 2;
    } else if (c === '(' || c === '[') {
      next = skipBracketed(src, i);
      if (next < 0) return null;
    } else if (c !== '.' && c !== '^' && c !== '$' && c !== ')' && c !== ']' && c !== '{' && c !== '}' && c !== '*' && c !== '+' && c !== '?') {
      literal = c;
    }
    if (literal !== null && ignoreCase && literal.charCodeAt(0) > 127) literal = null;
    const q = quantifierAt(src, next);
    if (q) next = q.end;
    if (literal === null) cut();
    else if (!q) run += literal;
    else {
      if (q.min > 0) run += literal;
      cut();
    }
    i = next;
  }
  cut();
  const best = runs.reduce((a, b) => (b.length > a.length ? b : a), '');
  return best.length >= 2 ? best : null;
}
