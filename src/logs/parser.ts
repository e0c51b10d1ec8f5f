import { isAscii } from 'node:buffer';
import { InvalidArgumentError, LogFormatError } from '../errors.ts';
import { unescapeLogText } from './escape.ts';
import { isFieldName, type FieldName, type LogRecord } from './fields.ts';
import type { FormatLayout } from './format-layout.ts';
import { hasNonAscii, isAddressLike, isBlank, isDigit, isEscapedAt, isHttpAt, latin1, looksLikeBracketTime, recordFactory } from './line-scan.ts';
import type { InvalidReason, ParseStats } from './parse-stats.ts';
import { TimeParts, type TimePattern } from './strftime.ts';
import { ParsedTime, SCAN_BAD_DATE, SCAN_EOL, SCAN_MISMATCH, scanBracketTime } from './time.ts';

export interface ParserOptions {
  /** Lines longer than this many bytes are `too_long`. Default 65,536. */
  maxLineLength?: number;
}

/** Apache's request line and header limits (8,190 bytes each) fit many times over. */
export const DEFAULT_MAX_LINE_LENGTH = 65536;

/** What `parse()` returns: the record, or why the line is not one. */
export type ParseResult<F extends FieldName> = LogRecord<F> | InvalidReason;

/** Where `parseBuffer()` reports its lines from. */
export interface LineOrigin {
  /** Named in bad-line samples, e.g. `web1:/var/log/apache2/access.log`. */
  source?: string;
  /** Byte offset of the chunk's first byte in its file; gives records their `offset`. */
  offset?: number;
}

const OK = 0;

// Directive kinds, as small ints for the scan loop.
const K_TEXT = 0;
const K_NUMBER = 1;
const K_STATUS = 2;
const K_SECONDS = 3;
const K_TIME = 4;
const K_CUSTOM_TIME = 5;

// How a requested field is extracted.
const X_TEXT = 0; // unescaped text
const X_RAW = 1; // an address: taken as is
const X_USER = 2; // %u: Apache writes an empty user as ""
const X_QUERY_DIRECTIVE = 3; // %q: drop the leading '?'
const X_NUMBER = 4;
const X_TIME = 5;
const X_TZ = 6;
const X_METHOD = 7;
const X_PATH = 8;
const X_QUERY = 9;
const X_PROTOCOL = 10;
const X_LINE = 11;
const X_OFFSET = 12;

/**
 * A parser compiled from a LogFormat for a chosen set of fields.
 *
 * Every line gets the same structural checks whatever fields are asked for (so counts agree
 * between jobs): all separators, the time, the status and every numeric field. Only the requested
 * fields are then extracted, and only their text is unescaped.
 *
 * Not reentrant: one parser per concurrent reader (they are cheap).
 */
export class LogParser<F extends FieldName = FieldName> {
  readonly format: FormatLayout;
  readonly fields: readonly F[];
  readonly maxLineLength: number;

  // The compiled format.
  readonly #n: number;
  readonly #kinds: Uint8Array;
  readonly #lead: string;
  /** The literal after directive i. */
  readonly #after: string[];
  readonly #escaped: Uint8Array;
  /** Quoted values (`""`) and `%q` may be empty; other text may not. */
  readonly #mayBeEmpty: Uint8Array;
  readonly #address: Uint8Array;
  /** Directive i is `%U` (or any text) followed directly by `%q`. */
  readonly #joinsQuery: Uint8Array;
  readonly #scale: Float64Array;
  readonly #patterns: (TimePattern | undefined)[];
  readonly #gluedCheck: boolean;
  readonly #customTime: boolean;
  readonly #hasDate: boolean;

  // What one line left behind.
  readonly #starts: Int32Array;
  readonly #ends: Int32Array;
  readonly #nums: Float64Array;
  readonly #time = new ParsedTime();
  readonly #parts = new TimeParts();
  #timeStart = -1;
  #timeEnd = -1;
  /** Directives completed before the scan failed. */
  #completed = 0;

  // Extraction.
  readonly #xKinds: Uint8Array;
  readonly #xIndex: Int32Array;
  readonly #values: unknown[];
  readonly #make: (values: unknown[]) => Record<string, unknown>;
  #backslash = -2;
  #nonAscii = -1;
  #methodEnd = 0;
  #targetStart = 0;
  #targetEnd = 0;
  #queryAt = -1;
  #protocolStart = 0;
  #requestEnd = 0;

  // Hints from parseBuffer() about the chunk being parsed.
  #checkNul = true;
  #maybeNonAscii = true;

  constructor(format: FormatLayout, fields: readonly F[], options: ParserOptions = {}) {
    const max = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
    if (!Number.isInteger(max) || max < 1) {
      throw new InvalidArgumentError('maxLineLength must be a positive integer', { field: 'maxLineLength' });
    }
    this.format = format;
    this.maxLineLength = max;
    const ds = format.directives;
    const n = ds.length;
    this.#n = n;
    this.#kinds = new Uint8Array(n);
    this.#escaped = new Uint8Array(n);
    this.#mayBeEmpty = new Uint8Array(n);
    this.#address = new Uint8Array(n);
    this.#joinsQuery = new Uint8Array(n);
    this.#scale = new Float64Array(n);
    this.#patterns = [];
    this.#lead = format.literals[0]!;
    this.#after = [];
    for (let i = 0; i < n; i++) {
      const d = ds[i]!;
      this.#kinds[i] = { text: K_TEXT, number: K_NUMBER, status: K_STATUS, seconds: K_SECONDS, time: K_TIME, customTime: K_CUSTOM_TIME }[d.kind];
      this.#escaped[i] = d.escaped ? 1 : 0;
      this.#address[i] = d.kind === 'text' && !d.escaped ? 1 : 0;
      this.#scale[i] = d.scale;
      this.#patterns.push(d.timePattern);
      const before = format.literals[i]!;
      const after = format.literals[i + 1]!;
      this.#after.push(after);
      this.#mayBeEmpty[i] = (before.endsWith('"') && after.startsWith('"')) || d.letter === 'q' ? 1 : 0;
      const next = ds[i + 1];
      this.#joinsQuery[i] = d.kind === 'text' && after === '' && next !== undefined && next.letter === 'q' && d.letter !== 'q' ? 1 : 0;
    }
    this.#gluedCheck = format.timeMode === 'bracket';
    this.#customTime = format.timeMode === 'custom';
    this.#hasDate = format.provides('time');
    this.#starts = new Int32Array(n);
    this.#ends = new Int32Array(n);
    this.#nums = new Float64Array(n);

    const unique = [...new Set(fields)];
    for (const f of unique) {
      if (typeof f !== 'string' || !isFieldName(f)) throw new LogFormatError(`unknown field name ${JSON.stringify(f)}`);
    }
    this.fields = Object.freeze(unique);
    this.#xKinds = new Uint8Array(unique.length);
    this.#xIndex = new Int32Array(unique.length);
    unique.forEach((f, k) => {
      const src = format.sourceOf(f);
      let x: number;
      let index = -1;
      switch (src.from) {
        case 'directive': {
          index = src.index;
          const d = ds[index]!;
          if (d.kind !== 'text') x = X_NUMBER;
          else if (d.letter === 'u') x = X_USER;
          else if (d.letter === 'q') x = X_QUERY_DIRECTIVE;
          else x = d.escaped ? X_TEXT : X_RAW;
          break;
        }
        case 'request':
          index = src.index;
          x = { method: X_METHOD, path: X_PATH, query: X_QUERY, protocol: X_PROTOCOL }[src.part];
          break;
        case 'time': x = X_TIME; break;
        case 'tzOffset': x = X_TZ; break;
        case 'line': x = X_LINE; break;
        case 'offset': x = X_OFFSET; break;
      }
      this.#xKinds[k] = x;
      this.#xIndex[k] = index;
    });
    this.#values = new Array(unique.length).fill(undefined);
    this.#make = recordFactory(unique);
  }

  /**
   * Parses one line (without its `\n`; a trailing `\r` is ignored). The line is read as a binary
   * string, one character per byte (Latin-1), which is how `parseBuffer()` feeds it; a string
   * decoded as UTF-8 works too. `offset` becomes the record's `offset` field.
   */
  parse(line: string, offset = -1): ParseResult<F> {
    let s = line;
    let len = s.length;
    if (len > 0 && s.charCodeAt(len - 1) === 13) s = s.slice(0, --len);
    if (this.#checkNul && s.indexOf('\0') >= 0) return 'nul';
    if (len === 0) return 'empty';
    const c0 = s.charCodeAt(0);
    if ((c0 === 32 || c0 === 9) && isBlank(s)) return 'empty';
    if (len > this.maxLineLength) return 'too_long';
    const r = this.#scan(s, len);
    if (this.#gluedCheck && this.#isGlued(s, r)) return 'glued';
    if (r !== OK) {
      if (r === SCAN_BAD_DATE) return 'bad_date';
      return r === SCAN_EOL && this.#plausiblePrefix(s) ? 'truncated' : 'garbage';
    }
    return this.#build(s, offset) as LogRecord<F>;
  }

  /**
   * Parses every line of a chunk (as `readLogRange()` yields them: whole lines, the last one
   * possibly without its `\n`), calls `onRecord` for each record and counts into `stats`.
   * Records are fresh objects; the caller may keep them. Returns the number of records.
   */
  parseBuffer(chunk: Buffer, onRecord: (record: LogRecord<F>) => void, stats?: ParseStats, origin?: LineOrigin): number {
    this.#checkNul = chunk.indexOf(0) >= 0;
    this.#maybeNonAscii = !isAscii(chunk);
    const base = origin?.offset ?? -1;
    const source = origin?.source;
    const size = chunk.length;
    let records = 0;
    let p = 0;
    try {
      while (p < size) {
        let e = chunk.indexOf(10, p);
        if (e < 0) {
          e = size;
          if (stats) stats.unterminated++;
        }
        const line = latin1(chunk, p, e);
        const r = this.parse(line, base >= 0 ? base + p : -1);
        if (typeof r === 'string') {
          if (stats) stats.addInvalid(r, line, source, base >= 0 ? base + p : undefined);
        } else {
          records++;
          onRecord(r);
        }
        p = e + 1;
      }
    } finally {
      this.#checkNul = true;
      this.#maybeNonAscii = true;
      if (stats) stats.addRecords(records);
    }
    return records;
  }

  /** Finds every directive's value; returns OK or a SCAN_* code. */
  #scan(s: string, len: number): number {
    const n = this.#n;
    const kinds = this.#kinds;
    const starts = this.#starts;
    const ends = this.#ends;
    const nums = this.#nums;
    this.#timeStart = -1;
    this.#completed = 0;
    if (this.#customTime) this.#parts.reset();
    let pos = 0;
    if (this.#lead.length > 0) {
      pos = this.#matchLiteral(s, 0, len, this.#lead);
      if (pos < 0) return pos;
    }
    for (let i = 0; i < n; i++) {
      const lit = this.#after[i]!;
      const start = pos;
      switch (kinds[i]) {
        case K_TEXT: {
          if (lit.length === 1 && i < n - 1 && this.#escaped[i] === 0) {
            // The common case, `%h ` and the like: the next space ends the value.
            const end = s.indexOf(lit, start);
            if (end < 0) return SCAN_EOL;
            if (end === start) return SCAN_MISMATCH;
            starts[i] = start;
            ends[i] = end;
            pos = end + 1;
            this.#completed = i + 1;
            continue;
          }
          if (this.#joinsQuery[i] === 1) {
            // `%U%q`: one run of text up to the literal after %q, split at the first `?`.
            const j = i + 1;
            const end = this.#textEnd(s, j, start, len);
            if (end < 0) return end;
            let split = s.indexOf('?', start);
            if (split < 0 || split > end) split = end;
            if (split === start) return SCAN_MISMATCH;
            starts[i] = start;
            ends[i] = split;
            starts[j] = split;
            ends[j] = end;
            pos = end + this.#after[j]!.length;
            this.#completed = j + 1;
            i = j;
            continue;
          }
          const end = this.#textEnd(s, i, start, len);
          if (end < 0) return end;
          if (end === start && this.#mayBeEmpty[i] === 0) return SCAN_MISMATCH;
          starts[i] = start;
          ends[i] = end;
          pos = end + lit.length;
          this.#completed = i + 1;
          continue;
        }
        case K_NUMBER:
        case K_SECONDS: {
          if (pos >= len) return SCAN_EOL;
          let c = s.charCodeAt(pos);
          if (c === 45) {
            nums[i] = 0;
            pos++;
          } else {
            let v = 0;
            while (c >= 48 && c <= 57) {
              v = v * 10 + (c - 48);
              if (++pos >= len) break;
              c = s.charCodeAt(pos);
            }
            if (pos === start) return SCAN_MISMATCH;
            if (kinds[i] === K_SECONDS && pos < len && c === 46) {
              let scale = 0.1;
              while (++pos < len) {
                c = s.charCodeAt(pos);
                if (c < 48 || c > 57) break;
                v += (c - 48) * scale;
                scale /= 10;
              }
            }
            nums[i] = Math.round(v * this.#scale[i]!);
          }
          break;
        }
        case K_STATUS: {
          if (pos + 3 > len) {
            for (let k = pos; k < len; k++) if (!isDigit(s.charCodeAt(k))) return SCAN_MISMATCH;
            return SCAN_EOL;
          }
          const a = s.charCodeAt(pos) - 48;
          const b = s.charCodeAt(pos + 1) - 48;
          const c = s.charCodeAt(pos + 2) - 48;
          if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return SCAN_MISMATCH;
          nums[i] = a * 100 + b * 10 + c;
          pos += 3;
          break;
        }
        case K_TIME: {
          this.#timeStart = pos;
          const end = scanBracketTime(s, pos, len, this.#time);
          if (end < 0) return end;
          this.#timeEnd = end;
          if (this.#customTime) {
            this.#parts.epochMs = this.#time.time;
            this.#parts.offset = this.#time.offset;
          }
          pos = end;
          break;
        }
        case K_CUSTOM_TIME: {
          if (this.#timeStart < 0) this.#timeStart = pos;
          const end = this.#patterns[i]!.scan(s, pos, len, this.#parts);
          if (end < 0) return end;
          this.#timeEnd = end;
          pos = end;
          break;
        }
      }
      this.#completed = i;
      if (lit.length > 0) {
        pos = this.#matchLiteral(s, pos, len, lit);
        if (pos < 0) return pos;
      }
      this.#completed = i + 1;
    }
    if (pos !== len) return SCAN_MISMATCH;
    if (this.#customTime && !this.#parts.resolve(this.#time, this.#hasDate)) return SCAN_BAD_DATE;
    return OK;
  }

  /** Where the text of directive i, starting at `start`, ends; or a SCAN_* code. */
  #textEnd(s: string, i: number, start: number, len: number): number {
    const lit = this.#after[i]!;
    if (lit.length === 0) return len; // the last directive runs to the end of the line
    if (i === this.#n - 1) return this.#finalValueEnd(s, start, len, lit, i);
    return this.#findLiteral(s, lit, start, len, this.#escaped[i] === 1);
  }

  #matchLiteral(s: string, pos: number, len: number, lit: string): number {
    for (let k = 0; k < lit.length; k++, pos++) {
      if (pos >= len) return SCAN_EOL;
      if (s.charCodeAt(pos) !== lit.charCodeAt(k)) return SCAN_MISMATCH;
    }
    return pos;
  }

  /** Index of the first occurrence of `lit` at or after `from` (unescaped, for escaped fields). */
  #findLiteral(s: string, lit: string, from: number, len: number, escaped: boolean): number {
    const first = lit.length === 1 ? lit : lit[0]!;
    if (lit.length === 1) {
      const q = s.indexOf(first, from);
      if (q < 0) return SCAN_EOL;
      if (!escaped || q === from || s.charCodeAt(q - 1) !== 92) return q;
    }
    const floor = from;
    for (;;) {
      const q = s.indexOf(first, from);
      if (q < 0) return SCAN_EOL;
      if (escaped && q > floor && s.charCodeAt(q - 1) === 92 && isEscapedAt(s, q, floor)) {
        from = q + 1;
        continue;
      }
      let k = 1;
      while (k < lit.length && q + k < len && s.charCodeAt(q + k) === lit.charCodeAt(k)) k++;
      if (k === lit.length) return q;
      if (q + k >= len) return SCAN_EOL;
      from = q + 1;
    }
  }

  /** The last text directive must run up to a closing literal that ends the line. */
  #finalValueEnd(s: string, start: number, len: number, lit: string, i: number): number {
    const end = len - lit.length;
    let closes = end >= start;
    for (let k = 0; closes && k < lit.length; k++) if (s.charCodeAt(end + k) !== lit.charCodeAt(k)) closes = false;
    const escaped = this.#escaped[i] === 1;
    if (closes && escaped && end > start && isEscapedAt(s, end, start)) closes = false;
    if (closes) return end;
    // Not closed at the end: a closing literal elsewhere means junk after the record.
    const q = this.#findLiteral(s, lit, start, len, escaped);
    return q >= 0 ? SCAN_MISMATCH : SCAN_EOL;
  }

  /** A second `[dd/Mon/yyyy:` after this record's own time means two records on one line. */
  #isGlued(s: string, r: number): boolean {
    let from = r === OK ? this.#timeEnd : this.#timeStart >= 0 ? this.#timeStart + 1 : 0;
    for (;;) {
      const q = s.indexOf('[', from);
      if (q < 0) return false;
      if (q > 0 && s.charCodeAt(q - 1) === 32 && looksLikeBracketTime(s, q)) return true;
      from = q + 1;
    }
  }

  /** A line that ran out is truncated only if what it has looks like the start of a record. */
  #plausiblePrefix(s: string): boolean {
    const done = this.#completed;
    if (done === 0) return false;
    for (let i = 0; i < done; i++) {
      if (this.#address[i] === 1 && !isAddressLike(s, this.#starts[i]!, this.#ends[i]!)) return false;
    }
    return true;
  }

  #text(s: string, a: number, b: number): string {
    if (a >= b) return '';
    if (this.#backslash === -2) this.#backslash = s.indexOf('\\');
    let slow = false;
    const bs = this.#backslash;
    if (bs >= 0 && bs < b) {
      const q = bs >= a ? bs : s.indexOf('\\', a);
      slow = q >= 0 && q < b;
    }
    if (!slow && this.#maybeNonAscii) {
      if (this.#nonAscii < 0) this.#nonAscii = Buffer.byteLength(s, 'utf8') !== s.length ? 1 : 0;
      if (this.#nonAscii === 1) slow = hasNonAscii(s, a, b);
    }
    return slow ? unescapeLogText(s, a, b) : s.slice(a, b);
  }

  /** Splits `%r` into method, target (path + query) and protocol. */
  #splitRequest(s: string, index: number): void {
    const rs = this.#starts[index]!;
    const re = this.#ends[index]!;
    this.#requestEnd = re;
    let sp1 = s.indexOf(' ', rs);
    if (sp1 >= re) sp1 = -1;
    if (sp1 < 0) {
      // `-`, TLS or SSH bytes: no method, the whole thing is the target.
      this.#methodEnd = rs;
      this.#targetStart = rs;
      this.#targetEnd = re;
      this.#protocolStart = re;
    } else {
      this.#methodEnd = sp1;
      this.#targetStart = sp1 + 1;
      const sp2 = s.lastIndexOf(' ', re - 1);
      if (sp2 > sp1 && isHttpAt(s, sp2 + 1)) {
        this.#targetEnd = sp2;
        this.#protocolStart = sp2 + 1;
      } else {
        this.#targetEnd = re;
        this.#protocolStart = re;
      }
    }
    const q = s.indexOf('?', this.#targetStart);
    this.#queryAt = q >= 0 && q < this.#targetEnd ? q : -1;
  }

  #build(s: string, offset: number): Record<string, unknown> {
    const v = this.#values;
    const xk = this.#xKinds;
    const xi = this.#xIndex;
    const starts = this.#starts;
    const ends = this.#ends;
    this.#backslash = -2;
    this.#nonAscii = -1;
    let split = -1;
    for (let k = 0; k < xk.length; k++) {
      const d = xi[k]!;
      switch (xk[k]) {
        case X_NUMBER: v[k] = this.#nums[d]; break;
        case X_TEXT: v[k] = this.#text(s, starts[d]!, ends[d]!); break;
        case X_RAW: v[k] = s.slice(starts[d]!, ends[d]!); break;
        case X_TIME: v[k] = this.#time.time; break;
        case X_TZ: v[k] = this.#time.offset; break;
        case X_USER: {
          const a = starts[d]!;
          const b = ends[d]!;
          v[k] = b - a === 2 && s.charCodeAt(a) === 34 && s.charCodeAt(a + 1) === 34 ? '' : this.#text(s, a, b);
          break;
        }
        case X_QUERY_DIRECTIVE: {
          const a = starts[d]!;
          v[k] = this.#text(s, s.charCodeAt(a) === 63 ? a + 1 : a, ends[d]!);
          break;
        }
        case X_LINE: v[k] = s; break;
        case X_OFFSET: v[k] = offset; break;
        default: {
          if (split !== d) {
            this.#splitRequest(s, d);
            split = d;
          }
          const q = this.#queryAt;
          switch (xk[k]) {
            case X_METHOD: v[k] = this.#text(s, starts[d]!, this.#methodEnd); break;
            case X_PATH: v[k] = this.#text(s, this.#targetStart, q >= 0 ? q : this.#targetEnd); break;
            case X_QUERY: v[k] = q >= 0 ? this.#text(s, q + 1, this.#targetEnd) : ''; break;
            case X_PROTOCOL: v[k] = this.#text(s, this.#protocolStart, this.#requestEnd); break;
          }
        }
      }
    }
    return this.#make(v);
  }
}
