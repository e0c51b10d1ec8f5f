/** Calendar arithmetic and Apache's default `%t` time format. */

/** Scan results below zero: why a field could not be read. */
export const SCAN_EOL = -1; // the line ended inside the field: truncated
export const SCAN_MISMATCH = -2; // something else is where the field should be: garbage
export const SCAN_BAD_DATE = -3; // a time field of the right shape holding an impossible date

export const MONTH_ABBR = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;
export const MONTH_NAMES = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
export const WEEKDAY_ABBR = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
export const WEEKDAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Earliest year accepted in a log line; anything before the epoch is an impossible date. */
export const MIN_YEAR = 1970;

/** Month number (1–12) of the three letters at `i`, any case; 0 if they are not a month. */
export function monthAt(s: string, i: number): number {
  const a = s.charCodeAt(i) | 32;
  const b = s.charCodeAt(i + 1) | 32;
  const c = s.charCodeAt(i + 2) | 32;
  switch (a) {
    case 106: // j
      return b === 97 && c === 110 ? 1 : b === 117 ? (c === 110 ? 6 : c === 108 ? 7 : 0) : 0;
    case 102: // f
      return b === 101 && c === 98 ? 2 : 0;
    case 109: // m
      return b === 97 ? (c === 114 ? 3 : c === 121 ? 5 : 0) : 0;
    case 97: // a
      return b === 112 && c === 114 ? 4 : b === 117 && c === 103 ? 8 : 0;
    case 115: // s
      return b === 101 && c === 112 ? 9 : 0;
    case 111: // o
      return b === 99 && c === 116 ? 10 : 0;
    case 110: // n
      return b === 111 && c === 118 ? 11 : 0;
    case 100: // d
      return b === 101 && c === 99 ? 12 : 0;
    default:
      return 0;
  }
}

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(y: number, m: number): number {
  return m === 2 ? (isLeapYear(y) ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** [year, month 1–12, day] of a day number since the epoch (civil_from_days). */
export function civilFromDays(z: number): [number, number, number] {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return [yoe + era * 400 + (m <= 2 ? 1 : 0), m, d];
}

/** Where a parsed time goes: epoch ms (UTC) and the logged zone in minutes east of UTC. */
export class ParsedTime {
  time = 0;
  offset = 0;
}

// Cache of the last calendar day seen: consecutive lines almost always share it.
let cachedDayKey = -1;
let cachedDays = 0;

export function digit(s: string, i: number): number {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : -1000;
}

/**
 * Reads Apache's default `%t`, `[10/Oct/2000:13:55:36 -0700]`, starting at the `[` at `pos`.
 * Returns the index after `]`, or a SCAN_* code.
 */
export function scanBracketTime(s: string, pos: number, len: number, out: ParsedTime): number {
  if (pos >= len) return SCAN_EOL;
  if (s.charCodeAt(pos) !== 91) return SCAN_MISMATCH;
  const close = pos + 27;
  if (close >= len || s.charCodeAt(close) !== 93) {
    const q = s.indexOf(']', pos);
    if (q >= 0 && q < len) return SCAN_BAD_DATE;
    return len <= close ? SCAN_EOL : SCAN_MISMATCH;
  }
  const day = digit(s, pos + 1) * 10 + digit(s, pos + 2);
  const month = monthAt(s, pos + 4);
  const year = digit(s, pos + 8) * 1000 + digit(s, pos + 9) * 100 + digit(s, pos + 10) * 10 + digit(s, pos + 11);
  const hour = digit(s, pos + 13) * 10 + digit(s, pos + 14);
  const minute = digit(s, pos + 16) * 10 + digit(s, pos + 17);
  const second = digit(s, pos + 19) * 10 + digit(s, pos + 20);
  const zh = digit(s, pos + 23) * 10 + digit(s, pos + 24);
  const zm = digit(s, pos + 25) * 10 + digit(s, pos + 26);
  const sign = s.charCodeAt(pos + 22);
  if (
    s.charCodeAt(pos + 3) !== 47 ||
    s.charCodeAt(pos + 7) !== 47 ||
    s.charCodeAt(pos + 12) !== 58 ||
    s.charCodeAt(pos + 15) !== 58 ||
    s.charCodeAt(pos + 18) !== 58 ||
    s.charCodeAt(pos + 21) !== 32 ||
    (sign !== 43 && sign !== 45) ||
    month === 0 ||
    year < MIN_YEAR ||
    day < 1 ||
    hour < 0 || hour > 23 ||
    minute < 0 || minute > 59 ||
    second < 0 || second > 60 ||
    zh < 0 || zh > 23 ||
    zm < 0 || zm > 59
  ) {
    return SCAN_BAD_DATE;
  }
  const dayKey = (year * 16 + month) * 32 + day;
  if (dayKey !== cachedDayKey) {
    if (day > daysInMonth(year, month)) return SCAN_BAD_DATE;
    cachedDays = daysFromCivil(year, month, day);
    cachedDayKey = dayKey;
  }
  const offset = sign === 45 ? -(zh * 60 + zm) : zh * 60 + zm;
  out.time = (((cachedDays * 24 + hour) * 60 + minute - offset) * 60 + second) * 1000;
  out.offset = offset;
  return close + 1;
}

function pad2(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

export function pad(n: number, width: number): string {
  let s = String(n);
  while (s.length < width) s = '0' + s;
  return s;
}

/** Local calendar fields of `time` seen in a zone `offset` minutes east of UTC. */
export function localParts(time: number, offset: number) {
  const local = time + offset * 60000;
  const days = Math.floor(local / 86400000);
  const msOfDay = local - days * 86400000;
  const [year, month, day] = civilFromDays(days);
  const secOfDay = Math.floor(msOfDay / 1000);
  return {
    year,
    month,
    day,
    hour: Math.floor(secOfDay / 3600),
    minute: Math.floor(secOfDay / 60) % 60,
    second: secOfDay % 60,
    ms: msOfDay % 1000,
    weekday: (((days + 4) % 7) + 7) % 7,
  };
}

export function formatZone(offset: number, colon = false): string {
  const a = Math.abs(offset);
  return (offset < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + (colon ? ':' : '') + pad2(a % 60);
}

// Consecutive lines share their day and zone: cache the text of both.
let fmtDay = NaN;
let fmtDayText = '';
let fmtOffset = NaN;
let fmtZoneText = '';

/** Apache's default `%t`: `[10/Oct/2000:13:55:36 -0700]`. */
export function formatBracketTime(time: number, offset: number): string {
  const local = time + offset * 60000;
  const day = Math.floor(local / 86400000);
  if (day !== fmtDay) {
    const [y, m, d] = civilFromDays(day);
    fmtDayText = `[${pad2(d)}/${MONTH_ABBR[m - 1]}/${y}:`;
    fmtDay = day;
  }
  if (offset !== fmtOffset) {
    fmtZoneText = ` ${formatZone(offset)}]`;
    fmtOffset = offset;
  }
  const sec = Math.floor((local - day * 86400000) / 1000);
  return fmtDayText + pad2(Math.floor(sec / 3600)) + ':' + pad2(Math.floor(sec / 60) % 60) + ':' + pad2(sec % 60) + fmtZoneText;
}
