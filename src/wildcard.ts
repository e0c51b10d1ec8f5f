/**
 * Shell-style wildcards on whole strings, for names and values (not paths: logs/glob.ts keeps
 * `*` inside one directory): `*` matches any run of characters, newlines included, `?` one
 * character, anything else itself.
 */
export function wildcardRegExp(pattern: string): RegExp {
  let re = '^';
  for (const c of pattern) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

/** Whether `text` has a wildcard in it (else it is matched as itself). */
export function hasWildcard(text: string): boolean {
  return /[*?]/.test(text);
}
