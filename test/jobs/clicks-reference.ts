/**
 * Reference answers for the clicks tests, computed without geartrain: one regular expression over
 * the raw lines of combined logs, the visitor as the plain (address, raw User-Agent) string, whole
 * arrays sorted and walked. Nothing here imports src/ or jobs/.
 *
 * The definitions mirror the ones jobs/clicks.ts states: a click is a GET or POST with status 2xx
 * or 304, a path whose extension is not in the static list, from a User-Agent that is no crawler;
 * a session ends after a gap of more than the timeout; a session counts on the UTC day of its first
 * click; clicks at the same time are ordered by page (UTF-8 byte order).
 */
import { readFileSync } from 'node:fs';

const LINE = /^(\S+) \S+ \S+ \[(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "((?:[^"\\]|\\.)*)" (\d{3}) (?:\d+|-) "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)"$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** Crawlers and tools, by the words their agents carry. */
const CRAWLER = /bot|spider|crawl|facebookexternalhit|curl\/|wget\/|python-|go-http-client|java\/|okhttp|httpclient|libwww|axios\/|node-fetch|scrapy|zgrab|masscan|nmap|headlesschrome/i;

export interface RefOptions {
  timeoutMinutes: number;
  staticExtensions: readonly string[];
  crawlers: 'exclude' | 'include';
  visitor: 'ip+agent' | 'ip';
  funnel: readonly string[];
  /** Keep clicks with since <= time < until (epoch ms). */
  since?: number;
  until?: number;
}

interface Click {
  visitor: string;
  time: number;
  page: string;
}

/** `\xhh` and the short escapes undone; bytes that are valid UTF-8 decoded as such, else Latin-1. */
function unescape(raw: string): string {
  const bytes: number[] = [];
  const short: Record<string, number> = { '"': 34, '\\': 92, n: 10, r: 13, t: 9, b: 8, v: 11, f: 12 };
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === '\\' && /^x[0-9a-f]{2}/i.test(raw.slice(i + 1, i + 4))) {
      bytes.push(parseInt(raw.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (raw[i] === '\\' && raw[i + 1]! in short) bytes.push(short[raw[++i]!]!);
    else bytes.push(raw.charCodeAt(i));
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(bytes));
  } catch {
    return Buffer.from(bytes).toString('latin1');
  }
}

function clickOf(line: string, o: RefOptions): Click | null {
  if (line.length > 65536 || line.includes('\0')) return null;
  const m = LINE.exec(line);
  if (!m) return null;
  const [, host, dd, mon, yyyy, hh, mi, ss, sign, zh, zm, request, status, ua] = m;
  const month = MONTHS.indexOf(mon!);
  const local = Date.UTC(Number(yyyy), month, Number(dd), Number(hh), Number(mi), Number(ss));
  const d = new Date(local);
  if (month < 0 || d.getUTCDate() !== Number(dd) || d.getUTCHours() !== Number(hh) || d.getUTCMinutes() !== Number(mi) || d.getUTCSeconds() !== Number(ss)) return null;
  const time = local - (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
  if ((o.since !== undefined && time < o.since) || (o.until !== undefined && time >= o.until)) return null;
  // The job's stated range for click times: before 2^47 ms (year 6429).
  if (time >= 2 ** 47) return null;
  const words = request!.split(' ');
  const method = words[0]!;
  if (method !== 'GET' && method !== 'POST') return null;
  const code = Number(status);
  if (!((code >= 200 && code <= 299) || code === 304)) return null;
  const target = words.length >= 3 && words.at(-1)!.startsWith('HTTP/') ? words.slice(1, -1).join(' ') : words.slice(1).join(' ');
  const page = unescape(target.split('?')[0]!);
  const ext = /\.([^./]+)$/.exec(page)?.[1]?.toLowerCase();
  if (ext !== undefined && o.staticExtensions.includes(ext)) return null;
  if (o.crawlers === 'exclude' && CRAWLER.test(ua!)) return null;
  return { visitor: o.visitor === 'ip' ? host! : `${host}\n${ua}`, time, page };
}

function globRe(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((part) => part.split('?').map((x) => x.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('.')).join('.*')}$`, 's');
}

export interface RefResult {
  visitors: number;
  sessions: number;
  pageViews: number;
  bounces: number;
  /** durations in whole seconds, one per session, ascending */
  durations: number[];
  /** pages per session, one per session, ascending */
  pages: number[];
  /** UTC date → [sessions, page views, visitors] */
  days: Map<string, [number, number, number]>;
  entry: Map<string, number>;
  exit: Map<string, number>;
  /** `from\0to` → clicks */
  paths: Map<string, number>;
  funnel: number[];
  firstTime: number;
  lastTime: number;
}

const add = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

export function reference(files: readonly string[], o: RefOptions): RefResult {
  const byVisitor = new Map<string, Click[]>();
  for (const file of files) {
    for (const line of readFileSync(file).toString('latin1').split('\n')) {
      const c = clickOf(line, o);
      if (!c) continue;
      const list = byVisitor.get(c.visitor) ?? [];
      list.push(c);
      byVisitor.set(c.visitor, list);
    }
  }
  const steps = o.funnel.map(globRe);
  const r: RefResult = { visitors: byVisitor.size, sessions: 0, pageViews: 0, bounces: 0, durations: [], pages: [], days: new Map(), entry: new Map(), exit: new Map(), paths: new Map(), funnel: steps.map(() => 0), firstTime: Infinity, lastTime: -Infinity };
  for (const clicks of byVisitor.values()) {
    clicks.sort((a, b) => a.time - b.time || Buffer.compare(Buffer.from(a.page), Buffer.from(b.page)));
    const sessions: Click[][] = [];
    for (const c of clicks) {
      const cur = sessions.at(-1);
      if (cur && c.time - cur.at(-1)!.time <= o.timeoutMinutes * 60_000) cur.push(c);
      else sessions.push([c]);
    }
    const daysSeen = new Set<string>();
    for (const s of sessions) {
      r.sessions++;
      r.pageViews += s.length;
      if (s.length === 1) r.bounces++;
      r.pages.push(s.length);
      r.durations.push(Math.floor((s.at(-1)!.time - s[0]!.time) / 1000));
      const day = new Date(s[0]!.time).toISOString().slice(0, 10);
      const d = r.days.get(day) ?? [0, 0, 0];
      d[0]++;
      d[1] += s.length;
      if (!daysSeen.has(day)) d[2]++;
      daysSeen.add(day);
      r.days.set(day, d);
      add(r.entry, s[0]!.page);
      add(r.exit, s.at(-1)!.page);
      for (let i = 1; i < s.length; i++) add(r.paths, `${s[i - 1]!.page}\0${s[i]!.page}`);
      // Furthest step reached: each step must match a later click than the step before.
      let from = 0;
      for (let k = 0; k < steps.length; k++) {
        const at = s.findIndex((c, i) => i >= from && steps[k]!.test(c.page));
        if (at < 0) break;
        r.funnel[k]!++;
        from = at + 1;
      }
      r.firstTime = Math.min(r.firstTime, s[0]!.time);
      r.lastTime = Math.max(r.lastTime, s.at(-1)!.time);
    }
  }
  r.durations.sort((a, b) => a - b);
  r.pages.sort((a, b) => a - b);
  return r;
}

/** Nearest-rank percentile of an ascending array. */
export function nearestRank(sorted: readonly number[], p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

/** Entries by count descending, then key. */
export function ranked(m: ReadonlyMap<string, number>): [string, number][] {
  return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
