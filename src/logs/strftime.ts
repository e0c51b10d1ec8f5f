import { LogFormatError } from '../errors.ts';
import {
  daysFromCivil,
  daysInMonth,
  formatZone,
  localParts,
  MIN_YEAR,
  MONTH_ABBR,
  MONTH_NAMES,
  monthAt,
  ParsedTime,
  SCAN_BAD_DATE,
  SCAN_EOL,
  WEEKDAY_ABBR,
  WEEKDAY_NAMES,
  digit,
  pad,
} from './time.ts';

/** Custom time directives: `%{strftime}t` and `%{sec|msec|usec|msec_frac|usec_frac}t`. */

/** The date and time parts read from one line's time directives, combined at the end. */
export class TimeParts {
  year = -1;
  month = -1;
  day = -1;
  hour = 0;
  hour12 = -1;
  pm = -1;
  minute = 0;
  second = 0;
  fracMs = 0;
  offset = 0;
  epochMs = NaN;

  reset(): void {
    this.year = -1;
    this.month = -1;
    this.day = -1;
    this.hour = 0;
    this.hour12 = -1;
    this.pm = -1;
    this.minute = 0;
    this.second = 0;
    this.fracMs = 0;
    this.offset = 0;
    this.epochMs = NaN;
  }

  /**
   * Combines the parts into `out`; false when they make an impossible date. Without `hasDate`
   * (a format whose time directives hold no full date) only the parts present are checked.
   */
  resolve(out: ParsedTime, hasDate = true): boolean {
    if (!Number.isNaN(this.epochMs)) {
      out.time = this.epochMs + this.fracMs;
      out.offset = this.offset;
      return true;
    }
    let hour = this.hour;
    if (this.hour12 >= 0) {
      if (this.hour12 < 1 || this.hour12 > 12) return false;
      hour = (this.hour12 % 12) + (this.pm === 1 ? 12 : 0);
    }
    const { year, month, day } = this;
    if (!hasDate) {
      if (month > 12 || day > 31 || (this.year >= 0 && year < MIN_YEAR)) return false;
      return hour <= 23 && this.minute <= 59 && this.second <= 60;
    }
    if (year < MIN_YEAR || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
    if (hour > 23 || this.minute > 59 || this.second > 60) return false;
    out.time = (((daysFromCivil(year, month, day) * 24 + hour) * 60 + this.minute - this.offset) * 60 + this.second) * 1000 + this.fracMs;
    out.offset = this.offset;
    return true;
  }
}

type NumPart = 'year' | 'year2' | 'month' | 'day' | 'hour' | 'hour12' | 'minute' | 'second';

type TimeToken =
  | { kind: 'lit'; code: number }
  | { kind: 'space' }
  | { kind: 'num'; part: NumPart; min: number; max: number; spacePad: boolean }
  | { kind: 'monthAbbr' }
  | { kind: 'monthName' }
  | { kind: 'weekday'; full: boolean }
  | { kind: 'ampm' }
  | { kind: 'zone' }
  | { kind: 'zoneName' }
  | { kind: 'epoch'; unit: 'sec' | 'msec' | 'usec' }
  | { kind: 'frac'; digits: 3 | 6 };

/** A compiled custom time directive: reads and writes its own text. */
export interface TimePattern {
  /** The directive's argument as written, e.g. `%d/%b/%Y:%T %z` or `msec_frac`. */
  readonly source: string;
  /** Parts this pattern provides, to decide whether a format yields a `time` at all. */
  readonly provides: ReadonlySet<'date' | 'epoch' | 'zone'>;
  scan(s: string, pos: number, len: number, parts: TimeParts): number;
  format(time: number, offset: number): string;
}

function num(part: NumPart, min: number, max: number, spacePad = false): TimeToken {
  return { kind: 'num', part, min, max, spacePad };
}

function strftimeTokens(fmt: string, directive: string): TimeToken[] {
  const out: TimeToken[] = [];
  const lit = (text: string) => {
    for (let i = 0; i < text.length; i++) out.push({ kind: 'lit', code: text.charCodeAt(i) });
  };
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%') {
      lit(c);
      continue;
    }
    const conv = fmt[++i];
    switch (conv) {
      case 'd': out.push(num('day', 2, 2)); break;
      case 'e': out.push(num('day', 1, 2, true)); break;
      case 'm': out.push(num('month', 2, 2)); break;
      case 'b':
      case 'h': out.push({ kind: 'monthAbbr' }); break;
      case 'B': out.push({ kind: 'monthName' }); break;
      case 'Y': out.push(num('year', 4, 4)); break;
      case 'y': out.push(num('year2', 2, 2)); break;
      case 'H': out.push(num('hour', 2, 2)); break;
      case 'k': out.push(num('hour', 1, 2, true)); break;
      case 'I': out.push(num('hour12', 2, 2)); break;
      case 'l': out.push(num('hour12', 1, 2, true)); break;
      case 'M': out.push(num('minute', 2, 2)); break;
      case 'S': out.push(num('second', 2, 2)); break;
      case 'p': out.push({ kind: 'ampm' }); break;
      case 'a': out.push({ kind: 'weekday', full: false }); break;
      case 'A': out.push({ kind: 'weekday', full: true }); break;
      case 'z': out.push({ kind: 'zone' }); break;
      case 'Z': out.push({ kind: 'zoneName' }); break;
      case 's': out.push({ kind: 'epoch', unit: 'sec' }); break;
      case 'T': out.push(num('hour', 2, 2)); lit(':'); out.push(num('minute', 2, 2)); lit(':'); out.push(num('second', 2, 2)); break;
      case 'R': out.push(num('hour', 2, 2)); lit(':'); out.push(num('minute', 2, 2)); break;
      case 'F': out.push(num('year', 4, 4)); lit('-'); out.push(num('month', 2, 2)); lit('-'); out.push(num('day', 2, 2)); break;
      case 'D': out.push(num('month', 2, 2)); lit('/'); out.push(num('day', 2, 2)); lit('/'); out.push(num('year2', 2, 2)); break;
      case 'n':
      case 't': out.push({ kind: 'space' }); break;
      case '%': lit('%'); break;
      default:
        throw new LogFormatError(`unsupported time conversion %${conv ?? ''} in ${directive}`);
    }
  }
  return out;
}

function isLetter(c: number): boolean {
  const l = c | 32;
  return l >= 97 && l <= 122;
}

function scanTokens(tokens: readonly TimeToken[], s: string, pos: number, len: number, parts: TimeParts): number {
  for (const t of tokens) {
    if (pos >= len) return SCAN_EOL;
    switch (t.kind) {
      case 'lit':
        if (s.charCodeAt(pos) !== t.code) return SCAN_BAD_DATE;
        pos++;
        break;
      case 'space': {
        const c = s.charCodeAt(pos);
        if (c !== 32 && c !== 9) return SCAN_BAD_DATE;
        pos++;
        break;
      }
      case 'num': {
        if (t.spacePad && s.charCodeAt(pos) === 32) pos++;
        let v = 0;
        let n = 0;
        while (n < t.max && pos < len) {
          const d = s.charCodeAt(pos) - 48;
          if (d < 0 || d > 9) break;
          v = v * 10 + d;
          pos++;
          n++;
        }
        if (n < t.min) return pos >= len ? SCAN_EOL : SCAN_BAD_DATE;
        switch (t.part) {
          case 'year': parts.year = v; break;
          case 'year2': parts.year = v < 69 ? 2000 + v : 1900 + v; break;
          case 'month': parts.month = v; break;
          case 'day': parts.day = v; break;
          case 'hour': parts.hour = v; break;
          case 'hour12': parts.hour12 = v; break;
          case 'minute': parts.minute = v; break;
          case 'second': parts.second = v; break;
        }
        break;
      }
      case 'monthAbbr': {
        if (pos + 3 > len) return SCAN_EOL;
        const m = monthAt(s, pos);
        if (m === 0) return SCAN_BAD_DATE;
        parts.month = m;
        pos += 3;
        break;
      }
      case 'monthName': {
        let end = pos;
        while (end < len && isLetter(s.charCodeAt(end))) end++;
        const word = s.slice(pos, end).toLowerCase();
        const m = MONTH_NAMES.findIndex((name) => name.toLowerCase() === word);
        if (m < 0) return end >= len ? SCAN_EOL : SCAN_BAD_DATE;
        parts.month = m + 1;
        pos = end;
        break;
      }
      case 'weekday': {
        const start = pos;
        while (pos < len && isLetter(s.charCodeAt(pos))) pos++;
        if (pos === start) return SCAN_BAD_DATE;
        break;
      }
      case 'ampm': {
        if (pos + 2 > len) return SCAN_EOL;
        const a = s.charCodeAt(pos) | 32;
        if ((a !== 97 && a !== 112) || (s.charCodeAt(pos + 1) | 32) !== 109) return SCAN_BAD_DATE;
        parts.pm = a === 112 ? 1 : 0;
        pos += 2;
        break;
      }
      case 'zone': {
        const sign = s.charCodeAt(pos);
        if (sign === 90) { // Z
          parts.offset = 0;
          pos++;
          break;
        }
        if (sign !== 43 && sign !== 45) return SCAN_BAD_DATE;
        if (pos + 5 > len) return SCAN_EOL;
        const colon = s.charCodeAt(pos + 3) === 58 ? 1 : 0;
        if (pos + 5 + colon > len) return SCAN_EOL;
        const zh = digit(s, pos + 1) * 10 + digit(s, pos + 2);
        const zm = digit(s, pos + 3 + colon) * 10 + digit(s, pos + 4 + colon);
        if (zh < 0 || zh > 23 || zm < 0 || zm > 59) return SCAN_BAD_DATE;
        parts.offset = sign === 45 ? -(zh * 60 + zm) : zh * 60 + zm;
        pos += 5 + colon;
        break;
      }
      case 'zoneName': {
        const start = pos;
        while (pos < len && isLetter(s.charCodeAt(pos))) pos++;
        if (pos === start) return SCAN_BAD_DATE;
        // Only UTC/GMT/Z name a known offset; other names are read as UTC.
        parts.offset = 0;
        break;
      }
      case 'epoch': {
        let v = 0;
        const start = pos;
        while (pos < len) {
          const d = s.charCodeAt(pos) - 48;
          if (d < 0 || d > 9) break;
          v = v * 10 + d;
          pos++;
        }
        if (pos === start) return SCAN_BAD_DATE;
        parts.epochMs = t.unit === 'sec' ? v * 1000 : t.unit === 'msec' ? v : Math.floor(v / 1000);
        break;
      }
      case 'frac': {
        let v = 0;
        for (let k = 0; k < t.digits; k++, pos++) {
          if (pos >= len) return SCAN_EOL;
          const d = s.charCodeAt(pos) - 48;
          if (d < 0 || d > 9) return SCAN_BAD_DATE;
          v = v * 10 + d;
        }
        parts.fracMs = t.digits === 3 ? v : Math.floor(v / 1000);
        break;
      }
    }
  }
  return pos;
}

function formatTokens(tokens: readonly TimeToken[], time: number, offset: number): string {
  const p = localParts(time, offset);
  let out = '';
  for (const t of tokens) {
    switch (t.kind) {
      case 'lit': out += String.fromCharCode(t.code); break;
      case 'space': out += ' '; break;
      case 'num': {
        let v: number;
        switch (t.part) {
          case 'year': v = p.year; break;
          case 'year2': v = p.year % 100; break;
          case 'month': v = p.month; break;
          case 'day': v = p.day; break;
          case 'hour': v = p.hour; break;
          case 'hour12': v = p.hour % 12 === 0 ? 12 : p.hour % 12; break;
          case 'minute': v = p.minute; break;
          case 'second': v = p.second; break;
        }
        out += t.spacePad ? String(v).padStart(t.max, ' ') : pad(v, t.min);
        break;
      }
      case 'monthAbbr': out += MONTH_ABBR[p.month - 1]; break;
      case 'monthName': out += MONTH_NAMES[p.month - 1]; break;
      case 'weekday': out += (t.full ? WEEKDAY_NAMES : WEEKDAY_ABBR)[p.weekday]; break;
      case 'ampm': out += p.hour < 12 ? 'AM' : 'PM'; break;
      case 'zone': out += formatZone(offset); break;
      case 'zoneName': out += 'UTC'; break;
      case 'epoch': {
        const sec = Math.floor(time / 1000);
        out += t.unit === 'sec' ? String(sec) : t.unit === 'msec' ? String(time) : String(time * 1000);
        break;
      }
      case 'frac': out += t.digits === 3 ? pad(p.ms, 3) : pad(p.ms * 1000, 6); break;
    }
  }
  return out;
}

/**
 * Compiles the argument of a `%{…}t` directive. Apache's `begin:`/`end:` prefixes are accepted and
 * ignored (a log line has one time either way).
 */
export function compileTimePattern(arg: string, directive: string): TimePattern {
  let body = arg;
  if (body.startsWith('begin:')) body = body.slice(6);
  else if (body.startsWith('end:')) body = body.slice(4);
  let tokens: TimeToken[];
  switch (body) {
    case 'sec': tokens = [{ kind: 'epoch', unit: 'sec' }]; break;
    case 'msec': tokens = [{ kind: 'epoch', unit: 'msec' }]; break;
    case 'usec': tokens = [{ kind: 'epoch', unit: 'usec' }]; break;
    case 'msec_frac': tokens = [{ kind: 'frac', digits: 3 }]; break;
    case 'usec_frac': tokens = [{ kind: 'frac', digits: 6 }]; break;
    default: tokens = strftimeTokens(body, directive);
  }
  const has = (part: NumPart) => tokens.some((t) => t.kind === 'num' && t.part === part);
  const provides = new Set<'date' | 'epoch' | 'zone'>();
  const hasMonth = has('month') || tokens.some((t) => t.kind === 'monthAbbr' || t.kind === 'monthName');
  if ((has('year') || has('year2')) && hasMonth && has('day')) provides.add('date');
  if (tokens.some((t) => t.kind === 'epoch')) provides.add('epoch');
  if (tokens.some((t) => t.kind === 'zone' || t.kind === 'zoneName')) provides.add('zone');
  return {
    source: arg,
    provides,
    scan: (s, pos, len, parts) => scanTokens(tokens, s, pos, len, parts),
    format: (time, offset) => formatTokens(tokens, time, offset),
  };
}
