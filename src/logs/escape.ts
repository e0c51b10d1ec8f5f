import { isUtf8 } from 'node:buffer';

/**
 * Apache's log escaping (`ap_escape_logitem()` in httpd's server/util.c, applied to `%r`, `%i`,
 * `%o`, `%u`, `%U`, `%q`, `%e` …): `"` → `\"`, `\` → `\\`, BS LF CR TAB VT → `\b \n \r \t \v`,
 * every other control byte, DEL and every byte ≥ 0x80 → `\xhh` (lowercase hex). nginx writes
 * `\xHH` in uppercase; both are read.
 */

const BACKSLASH = 92;

let scratch = new Uint8Array(1024);

function grow(need: number): void {
  if (need <= scratch.length) return;
  let size = scratch.length;
  while (size < need) size *= 2;
  const next = new Uint8Array(size);
  next.set(scratch);
  scratch = next;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 32;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** Writes the UTF-8 encoding of the code point at `text[i]`; returns how many UTF-16 units it used. */
function putCodePoint(text: string, i: number, end: number, n: number): [number, number] {
  let cp = text.charCodeAt(i);
  let used = 1;
  if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < end) {
    const lo = text.charCodeAt(i + 1);
    if (lo >= 0xdc00 && lo <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      used = 2;
    }
  }
  if (cp < 0x800) {
    scratch[n++] = 0xc0 | (cp >> 6);
    scratch[n++] = 0x80 | (cp & 63);
  } else if (cp < 0x10000) {
    scratch[n++] = 0xe0 | (cp >> 12);
    scratch[n++] = 0x80 | ((cp >> 6) & 63);
    scratch[n++] = 0x80 | (cp & 63);
  } else {
    scratch[n++] = 0xf0 | (cp >> 18);
    scratch[n++] = 0x80 | ((cp >> 12) & 63);
    scratch[n++] = 0x80 | ((cp >> 6) & 63);
    scratch[n++] = 0x80 | (cp & 63);
  }
  return [n, used];
}

/**
 * Decodes the logged text `text[start, end)`: escapes become the bytes they stand for, characters
 * below 256 are taken as bytes (a line read as Latin-1), higher ones as Unicode. The bytes are
 * then read as UTF-8 when they are valid UTF-8, else as Latin-1.
 *
 * This is the slow path; callers skip it for text with no backslash and no non-ASCII character.
 */
export function unescapeLogText(text: string, start = 0, end = text.length): string {
  grow((end - start) * 4);
  let n = 0;
  let high = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH && i + 1 < end) {
      const e = text.charCodeAt(i + 1);
      let b = -1;
      switch (e) {
        case 34: b = 34; break; // \"
        case 92: b = 92; break; // \\
        case 98: b = 8; break; // \b
        case 110: b = 10; break; // \n
        case 114: b = 13; break; // \r
        case 116: b = 9; break; // \t
        case 118: b = 11; break; // \v
        case 102: b = 12; break; // \f
        case 120: // \xhh
        case 88: {
          if (i + 3 < end) {
            const h = hexValue(text.charCodeAt(i + 2));
            const l = hexValue(text.charCodeAt(i + 3));
            if (h >= 0 && l >= 0) {
              scratch[n++] = (h << 4) | l;
              if (h >= 8) high = true;
              i += 3;
              continue;
            }
          }
          break;
        }
      }
      if (b >= 0) {
        scratch[n++] = b;
        i++;
        continue;
      }
      scratch[n++] = BACKSLASH; // a lone backslash stays as it is
      continue;
    }
    if (c < 256) {
      scratch[n++] = c;
      if (c >= 128) high = true;
    } else {
      const [next, used] = putCodePoint(text, i, end, n);
      n = next;
      i += used - 1;
      high = true;
    }
  }
  const bytes = scratch.subarray(0, n);
  if (high && isUtf8(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, n).toString('utf8');
  return Buffer.from(bytes.buffer, bytes.byteOffset, n).toString('latin1');
}

/** True when `text[start, end)` holds a backslash or a character outside ASCII. */
export function needsUnescape(text: string, start: number, end: number, maybeNonAscii: boolean): boolean {
  const b = text.indexOf('\\', start);
  if (b >= 0 && b < end) return true;
  if (!maybeNonAscii) return false;
  for (let i = start; i < end; i++) if (text.charCodeAt(i) > 127) return true;
  return false;
}

const NEEDS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;
const HEX = '0123456789abcdef';

/** Escapes `value` as Apache does; non-ASCII characters are written as their UTF-8 bytes. */
export function escapeLogText(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return escapeBytes(Buffer.from(value, 'utf8'));
}

/** Escapes a binary string (one character per byte, as read with Latin-1) byte by byte. */
export function escapeLogBytes(binary: string): string {
  if (!NEEDS_ESCAPE.test(binary)) return binary;
  return escapeBytes(Buffer.from(binary, 'latin1'));
}

function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    switch (b) {
      case 34: out += '\\"'; break;
      case 92: out += '\\\\'; break;
      case 8: out += '\\b'; break;
      case 10: out += '\\n'; break;
      case 13: out += '\\r'; break;
      case 9: out += '\\t'; break;
      case 11: out += '\\v'; break;
      default:
        if (b < 0x20 || b >= 0x7f) out += '\\x' + HEX[b >> 4] + HEX[b & 15];
        else out += String.fromCharCode(b);
    }
  }
  return out;
}
