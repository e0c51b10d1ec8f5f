/**
 * Reference answers for analyze tests, computed without geartrain's parser: one regular
 * expression over the raw lines of a combined log, Apache's escaping undone by hand, and plain
 * Maps. Nothing here imports src/.
 *
 * Validity mirrors the documented rules of a combined line: every field present and in order,
 * `%h %l %u` without spaces, a real date, a 3-digit status, `-` or digits for the size, nothing
 * after the closing quote of the User-Agent, no NUL byte, at most 65,536 bytes.
 */
import { readFileSync } from 'node:fs';

const LINE =
  /^(\S+) (\S+) (\S+) \[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const ESCAPES: Record<string, number> = { '"': 34, '\\': 92, b: 8, n: 10, r: 13, t: 9, v: 11, f: 12 };

/** Undoes Apache's escaping; bytes that form valid UTF-8 are decoded as such, else as Latin-1. */
export function unescapeField(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < raw.length) {
      const e = raw[i + 1]!;
      if ((e === 'x' || e === 'X') && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 2, i + 4))) {
        bytes.push(parseInt(raw.slice(i + 2, i + 4), 16));
        i += 3;
        continue;
      }
      if (e in ESCAPES) {
        bytes.push(ESCAPES[e]!);
        i++;
        continue;
      }
    }
    bytes.push(raw.charCodeAt(i));
  }
  const buf = Buffer.from(bytes);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return buf.toString('latin1');
  }
}

export interface RefRecord {
  host: string;
  user: string;
  /** Epoch ms, UTC. */
  time: number;
  /** `YYYY-MM-DD` and hour as written in the line (the zone as logged). */
  localDay: string;
  localHour: string;
  method: string;
  path: string;
  query: string;
  protocol: string;
  status: number;
  bytes: number;
  referer: string;
  userAgent: string;
}

export function parseLine(line: string): RefRecord | null {
  if (line.endsWith('\r')) line = line.slice(0, -1);
  if (line.length > 65536 || line.includes('\0') || line.trim() === '') return null;
  const m = LINE.exec(line);
  if (!m) return null;
  const [, host, , user, dd, mon, yyyy, hh, mi, ss, sign, zh, zm, request, status, size, referer, ua] = m;
  const month = MONTHS.indexOf(mon!);
  const day = Number(dd);
  const local = Date.UTC(Number(yyyy), month, day, Number(hh), Number(mi), Number(ss));
  const check = new Date(local);
  if (month < 0 || check.getUTCDate() !== day || check.getUTCMonth() !== month || check.getUTCHours() !== Number(hh) || check.getUTCMinutes() !== Number(mi) || check.getUTCSeconds() !== Number(ss)) {
    return null;
  }
  const offsetMin = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm));
  // Split the request line where Apache's fields are: method, target, protocol (when it says HTTP/).
  const req = request!;
  let method = '';
  let target = req;
  let protocol = '';
  const sp1 = req.indexOf(' ');
  if (sp1 >= 0) {
    method = req.slice(0, sp1);
    const sp2 = req.lastIndexOf(' ');
    if (sp2 > sp1 && req.startsWith('HTTP/', sp2 + 1)) {
      target = req.slice(sp1 + 1, sp2);
      protocol = req.slice(sp2 + 1);
    } else target = req.slice(sp1 + 1);
  }
  const q = target.indexOf('?');
  return {
    host: host!,
    user: user!,
    time: local - offsetMin * 60_000,
    localDay: `${yyyy}-${String(month + 1).padStart(2, '0')}-${dd}`,
    localHour: `${yyyy}-${String(month + 1).padStart(2, '0')}-${dd}T${hh}:00`,
    method: unescapeField(method),
    path: unescapeField(q >= 0 ? target.slice(0, q) : target),
    query: q >= 0 ? unescapeField(target.slice(q + 1)) : '',
    protocol: unescapeField(protocol),
    status: Number(status),
    bytes: size === '-' ? 0 : Number(size),
    referer: unescapeField(referer!),
    userAgent: unescapeField(ua!),
  };
}

/** Reads a log file as Latin-1 lines (one character per byte), as Apache wrote them. */
export function readRecords(file: string): { records: RefRecord[]; lines: number; bad: number } {
  const text = readFileSync(file).toString('latin1');
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const records: RefRecord[] = [];
  let bad = 0;
  for (const line of lines) {
    const r = parseLine(line);
    if (r) records.push(r);
    else bad++;
  }
  return { records, lines: lines.length, bad };
}

export function countBy<T>(items: Iterable<T>, key: (item: T) => string | undefined, weight: (item: T) => number = () => 1): Map<string, number> {
  const m = new Map<string, number>();
  for (const it of items) {
    const k = key(it);
    if (k !== undefined) m.set(k, (m.get(k) ?? 0) + weight(it));
  }
  return m;
}

/** [key, count] pairs, largest first, ties by key in code-unit order, cut to `limit`. */
export function top(m: Map<string, number>, limit: number): [string, number][] {
  return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, limit);
}

/** Host of a URL, lower case, without port. */
export function urlHost(url: string): string {
  const m = /^(?:[a-z][a-z0-9+.-]*:\/\/)?(?:[^@/?#]*@)?([^/?#:]*)/i.exec(url);
  return (m?.[1] ?? '').toLowerCase();
}

/** Search terms of the engines the generator uses: google/bing/duckduckgo q=, yandex text=, baidu wd=, yahoo p=. */
export function searchTerms(url: string): string | undefined {
  const m = /^https?:\/\/(?:www\.)?(google\.com\/search\?q|bing\.com\/search\?q|duckduckgo\.com\/\?q|yandex\.ru\/search\/\?text|baidu\.com\/s\?wd|search\.yahoo\.com\/search\?p)=([^&#]*)/.exec(url);
  if (!m) return undefined;
  const phrase = decodeURIComponent(m[2]!.replace(/\+/g, ' ')).toLowerCase().replace(/\s+/g, ' ').trim();
  return phrase === '' ? undefined : phrase;
}

/**
 * Rank error of `value` as the q-quantile of `sorted`: how far q lies outside the interval of
 * ranks [share of values < value, share of values ≤ value].
 */
export function rankError(sorted: readonly number[] | Float64Array, q: number, value: number): number {
  const n = sorted.length;
  const bound = (strict: boolean) => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? sorted[mid]! < value : sorted[mid]! <= value) lo = mid + 1;
      else hi = mid;
    }
    return lo / n;
  };
  const below = bound(true);
  const atOrBelow = bound(false);
  return q < below ? below - q : q > atOrBelow ? q - atOrBelow : 0;
}
