/** Character-level helpers of the line parser. */

export const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as unknown as { latin1Slice?: unknown }).latin1Slice === 'function'
    ? (buf, start, end) => (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end);

export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 11 && c !== 12) return false;
  }
  return true;
}

/** Whether the `"` (or other char) at `q` is escaped: an odd run of backslashes before it. */
export function isEscapedAt(s: string, q: number, floor: number): boolean {
  let k = q - 1;
  while (k >= floor && s.charCodeAt(k) === 92) k--;
  return ((q - 1 - k) & 1) === 1;
}

export function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

export function isLetter(c: number): boolean {
  const l = c | 32;
  return l >= 97 && l <= 122;
}

/** `HTTP/` at `i`. */
export function isHttpAt(s: string, i: number): boolean {
  return s.charCodeAt(i) === 72 && s.charCodeAt(i + 1) === 84 && s.charCodeAt(i + 2) === 84 && s.charCodeAt(i + 3) === 80 && s.charCodeAt(i + 4) === 47;
}

/** `[dd/Mon/yyyy:` at `q`: where a record of a `%t` format would carry its time. */
export function looksLikeBracketTime(s: string, q: number): boolean {
  if (q + 12 >= s.length) return false;
  return (
    isDigit(s.charCodeAt(q + 1)) &&
    isDigit(s.charCodeAt(q + 2)) &&
    s.charCodeAt(q + 3) === 47 &&
    isLetter(s.charCodeAt(q + 4)) &&
    isLetter(s.charCodeAt(q + 5)) &&
    isLetter(s.charCodeAt(q + 6)) &&
    s.charCodeAt(q + 7) === 47 &&
    isDigit(s.charCodeAt(q + 8)) &&
    isDigit(s.charCodeAt(q + 11)) &&
    s.charCodeAt(q + 12) === 58
  );
}

/** Host names, IPv4 and IPv6 addresses (with a zone): what `%h` can hold. */
export function isAddressLike(s: string, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!(isDigit(c) || isLetter(c) || c === 46 || c === 58 || c === 45 || c === 95 || c === 37)) return false;
  }
  return true;
}

export function hasNonAscii(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) > 127) return true;
  return false;
}

/** A record constructor with a fixed shape: V8 then allocates records without dictionary stores. */
export function recordFactory(names: readonly string[]): (values: unknown[]) => Record<string, unknown> {
  const body = `return {${names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ')}};`;
  return new Function('v', body) as (values: unknown[]) => Record<string, unknown>;
}
