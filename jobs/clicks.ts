/**
 * clicks: click analytics over every node's logs — sessions, pages per session, session length,
 * entry and exit pages, click paths (page → next page) and an ordered funnel.
 *
 * A keyed job: each click is shuffled to the reducer of its visitor (hash of the visitor key), which
 * gets all of that visitor's clicks from every node in time order and cuts them into sessions. The
 * per-partition summaries are exact counts (maps and histograms), merged by adding, so any merge
 * order, any R and any split of the input over nodes give the same result.
 *
 * Definitions (also stated in the result's `definitions`):
 * - click (page view): a request whose method is in `--methods` (GET,POST), whose status is in
 *   `--status` (2xx,304: AWStats' ValidHTTPCodes idea; a redirect is left out because the page it
 *   leads to is a click of its own), whose path is not a static file (the extensions of analyze),
 *   and whose User-Agent is not a crawler or tool (`--crawlers include` keeps them);
 * - page: the path without the query string (`--page-key path+query` keeps it);
 * - visitor: a distinct (client address %h, User-Agent) pair, or `--visitor ip`; the shuffle key is
 *   a 96-bit hash of it, so two visitors collide with probability ~n²/2⁹⁷. In a format without a
 *   User-Agent (common) the visitor is the address and no request is known to be a crawler's;
 * - session: a visitor's clicks in time order, ending where the gap to the next click is more than
 *   `--timeout` minutes (30, as Webalizer; AWStats uses 60). Clicks with the same time are ordered
 *   by page, so the result does not depend on which node logged which;
 * - session day, duration: a session belongs to the day (`--timezone`, UTC by default) of its first
 *   click, even if it runs past midnight; its duration is last click − first click (0 for one page);
 *   a bounce is a one-page session;
 * - click path: two consecutive clicks of one session (repeats such as a reload count as A → A);
 * - funnel (`--funnel '/,/product/*,/cart'`): a session reaches step k when it visits steps 1..k in
 *   that order, other pages in between allowed; steps are globs over the page (`*` any characters,
 *   `/` included; `?` one character).
 */
import { z } from 'zod';
import {
  addVisitorClicks,
  clickSortKey,
  ClicksState,
  clickValue,
  DEFAULT_STATIC_EXTENSIONS,
  defineJob,
  detachString,
  hashLanes,
  isStaticPath,
  lanes,
  TIME_BIAS,
  topK,
  UserAgentClassifier,
  wildcardRegExp,
  type ClickPathRow,
  type ClicksResult,
  type FieldName,
  type LogRecord,
  type RenderedResult,
  type RunInfo,
  type SessionRules,
  type Table,
} from 'geartrain/jobs';

const STATUS_SPEC = /^\s*(?:[1-5]xx|\d{3}(?:\s*-\s*\d{3})?)(?:\s*,\s*(?:[1-5]xx|\d{3}(?:\s*-\s*\d{3})?))*\s*$/i;
const TZ = /^(?:UTC|Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/;

const params = z.object({
  /** Minutes without a click that end a session. */
  timeout: z.number().positive().max(7 * 24 * 60).default(30),
  visitor: z.enum(['ip+agent', 'ip']).default('ip+agent'),
  /** Comma list of methods that count as clicks, or `*`. */
  methods: z.string().default('GET,POST').refine((v) => v.trim() === '*' || v.split(',').every((m) => /^[A-Za-z]+$/.test(m.trim())), {
    message: 'methods: a comma list such as GET,POST, or *',
  }),
  /** Statuses that count as clicks: codes, classes (2xx) and ranges (200-299). */
  status: z.string().default('2xx,304').refine((v) => STATUS_SPEC.test(v), { message: 'status: a comma list of codes, classes and ranges, e.g. 2xx,304 or 200-399' }),
  crawlers: z.enum(['exclude', 'include']).default('exclude'),
  /** Comma list replacing the static-file extensions (as analyze's --static-ext). */
  staticExtensions: z.string().optional(),
  pageKey: z.enum(['path', 'path+query']).default('path'),
  timezone: z.string().default('UTC').refine((v) => TZ.test(v), { message: 'timezone: UTC or an offset such as +02:00' }),
  /** Ordered funnel steps, comma separated globs over the page. */
  funnel: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.split(',').every((s) => s.trim() !== ''), { message: "funnel: comma separated page globs, e.g. '/,/product/*,/cart,/checkout'" }),
  /** Rows kept per top list. */
  limit: z.number().int().min(1).max(100_000).default(20),
});
type Params = z.infer<typeof params>;

const DAY_MS = 86_400_000;

/** Session-length classes of AWStats' "Visits duration" report, in seconds (upper bound exclusive). */
const DURATION_BUCKETS: readonly (readonly [string, number, number | null])[] = [
  ['0s-30s', 0, 30],
  ['30s-2min', 30, 120],
  ['2min-5min', 120, 300],
  ['5min-15min', 300, 900],
  ['15min-30min', 900, 1800],
  ['30min-1h', 1800, 3600],
  ['1h+', 3600, null],
];
const PERCENTILES = [50, 75, 90, 95, 99];

interface Config extends SessionRules {
  readonly methods: ReadonlySet<string> | null;
  readonly statuses: Uint8Array;
  readonly staticExt: ReadonlySet<string>;
  readonly crawlers: boolean;
  readonly byAgent: boolean;
  readonly withQuery: boolean;
  readonly agents: Agents;
}

const configs = new WeakMap<object, Config>();

function statusTable(spec: string): Uint8Array {
  const t = new Uint8Array(1000);
  for (const raw of spec.split(',')) {
    const part = raw.trim().toLowerCase();
    let lo: number;
    let hi: number;
    if (part.endsWith('xx')) {
      lo = Number(part[0]) * 100;
      hi = lo + 99;
    } else if (part.includes('-')) {
      [lo, hi] = part.split('-').map((x) => Number(x.trim())) as [number, number];
    } else lo = hi = Number(part);
    for (let s = Math.max(0, lo); s <= Math.min(999, hi); s++) t[s] = 1;
  }
  return t;
}

function offsetOf(tz: string): number {
  if (tz === 'UTC' || tz === 'Z') return 0;
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(tz)!;
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
}

function funnelSteps(p: Params): string[] {
  return p.funnel === undefined ? [] : p.funnel.split(',').map((s) => s.trim());
}

function configOf(p: Params): Config {
  let c = configs.get(p);
  if (c) return c;
  const ext = p.staticExtensions !== undefined ? p.staticExtensions.split(',').map((e) => e.trim().replace(/^\./, '').toLowerCase()).filter(Boolean) : DEFAULT_STATIC_EXTENSIONS;
  c = {
    timeoutMs: p.timeout * 60_000,
    methods: p.methods.trim() === '*' ? null : new Set(p.methods.split(',').map((m) => m.trim().toUpperCase())),
    statuses: statusTable(p.status),
    staticExt: new Set(ext),
    crawlers: p.crawlers === 'include',
    byAgent: p.visitor === 'ip+agent',
    withQuery: p.pageKey === 'path+query',
    offsetMs: offsetOf(p.timezone),
    funnel: funnelSteps(p).map(wildcardRegExp),
    agents: new Agents(p.visitor === 'ip+agent'),
  };
  configs.set(p, c);
  return c;
}

// ---------------------------------------------------------------------------------------------
// map side

const classifier = new UserAgentClassifier();
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** 96-bit hash of the visitor identity as 16 base64url characters: the shuffle key. */
function visitorKey(identity: string): string {
  hashLanes(identity, 0x9747b28c, 0x5bd1e995);
  const a = lanes.a;
  const b = lanes.b;
  hashLanes(identity, 0x1b873593, 0x68e31da4);
  const c = lanes.a;
  let out = '';
  // The top 30 bits of each word as five characters, then the three low 2-bit pairs as one.
  for (const w of [a, b, c]) {
    out += B64[(w >>> 26) & 63]! + B64[(w >>> 20) & 63]! + B64[(w >>> 14) & 63]! + B64[(w >>> 8) & 63]! + B64[(w >>> 2) & 63]!;
  }
  return out + B64[((a & 3) << 4) | ((b & 3) << 2) | (c & 3)]!;
}

interface AgentEntry {
  readonly crawler: boolean;
  /** address → shuffle key */
  readonly hosts: Map<string, string>;
}

/**
 * What the map side knows of recent agents: crawler or not, and the shuffle keys of their
 * visitors by address. A visitor clicks many times; one lookup of its agent and one of its address
 * cost less than classifying and hashing 100+ characters of agent each time. One per task
 * configuration, so jobs with another visitor definition never share keys.
 */
class Agents {
  readonly #byAgent: boolean;
  readonly #agents = new Map<string, AgentEntry>();
  #size = 0;

  constructor(byAgent: boolean) {
    this.#byAgent = byAgent;
  }

  entry(ua: string): AgentEntry {
    let e = this.#agents.get(ua);
    if (e === undefined) {
      if (this.#size >= 100_000) {
        this.#agents.clear();
        this.#size = 0;
      }
      e = { crawler: ua !== '' && ua !== '-' && classifier.classify(ua).crawler, hosts: new Map() };
      this.#agents.set(detachString(ua), e);
      this.#size++;
    }
    return e;
  }

  key(e: AgentEntry, host: string, ua: string): string {
    let key = e.hosts.get(host);
    if (key === undefined) {
      key = visitorKey(this.#byAgent ? `${host} ${ua}` : host);
      e.hosts.set(detachString(host), key);
      if (++this.#size >= 100_000) {
        this.#agents.clear();
        this.#size = 0;
      }
    }
    return key;
  }
}

type Rec = LogRecord<FieldName> & { userAgent?: string; query?: string };

function mapClick(record: Rec, emit: (key: string, sortKey: Buffer, value: Buffer) => void, count: (name: string) => void, c: Config): void {
  const time = record.time;
  // A time the 6-byte value cannot hold (outside the years -2490..6429) is as good as none.
  if (typeof time !== 'number' || !(time >= -TIME_BIAS && time < TIME_BIAS)) return count('skipped_untimed');
  if (c.methods !== null && !c.methods.has(record.method)) return count('skipped_method');
  if (c.statuses[record.status] !== 1) return count('skipped_status');
  const path = record.path;
  if (isStaticPath(path, c.staticExt)) return count('skipped_static');
  const ua = record.userAgent ?? '';
  const agent = c.agents.entry(ua);
  if (!c.crawlers && agent.crawler) return count('skipped_crawler');
  const page = c.withQuery && record.query ? `${path}?${record.query}` : path;
  const key = c.agents.key(agent, record.host, ua);
  emit(key, clickSortKey(time), clickValue(time, page));
  count('clicks');
}

// ---------------------------------------------------------------------------------------------
// finalize

function isoDay(d: number): string {
  return new Date(d * DAY_MS).toISOString().slice(0, 10);
}

function isoTime(ms: number): string | null {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Nearest-rank percentile of an exact histogram (value → count), values ascending. */
function percentilesOf(sortedHist: readonly (readonly [number, number])[], total: number, ps: readonly number[]): { p: number; value: number }[] {
  if (total === 0) return [];
  const out: { p: number; value: number }[] = [];
  for (const p of ps) {
    const rank = Math.max(1, Math.ceil((p / 100) * total));
    let seen = 0;
    for (const [value, count] of sortedHist) {
      seen += count;
      if (seen >= rank) {
        out.push({ p, value });
        break;
      }
    }
  }
  return out;
}

function topList(map: ReadonlyMap<string, number>, limit: number, keyDefinition: string) {
  let total = 0;
  for (const v of map.values()) total += v;
  const rows = topK(map, (v) => v, limit).map(([key, hits]) => ({ key, hits, share: total > 0 ? hits / total : 0 }));
  return { keyDefinition, total, distinct: map.size, rows };
}

function definitionsOf(p: Params) {
  const c = configOf(p);
  return {
    visitor: p.visitor,
    visitorText:
      p.visitor === 'ip+agent'
        ? 'a distinct (client address %h, User-Agent) pair, shuffled by a 96-bit hash of it'
        : 'a distinct client address %h, shuffled by a 96-bit hash of it',
    clickText:
      `a ${p.methods.trim() === '*' ? 'request of any method' : `${[...c.methods!].join('/')} request`} with status ${p.status}, ` +
      `not a static file${p.crawlers === 'exclude' ? ', not from a crawler or tool' : ''}; page = ${p.pageKey === 'path' ? 'path without the query string' : 'path and query string'}`,
    methods: p.methods.trim() === '*' ? ['*'] : [...c.methods!],
    status: p.status,
    crawlers: p.crawlers,
    pageKey: p.pageKey,
    staticExtensions: [...c.staticExt],
    timeoutMinutes: p.timeout,
    sessionText: `a visitor's clicks in time order, cut where more than ${p.timeout} minutes pass without a click; it counts on the day of its first click`,
    timezone: p.timezone,
    limit: p.limit,
  };
}

function finalizeState(state: ClicksState, p: Params, run: Partial<RunInfo>): ClicksResult {
  const limit = p.limit;
  const sessions = state.sessions;
  const pagesHist = [...state.pages].sort((a, b) => a[0] - b[0]);
  const durHist = [...state.durations].sort((a, b) => a[0] - b[0]);
  const durPct = percentilesOf(durHist, sessions, PERCENTILES);
  const pagePct = percentilesOf(pagesHist, sessions, [50]);
  const buckets = DURATION_BUCKETS.map(([label, min, max]) => {
    let n = 0;
    for (const [s, count] of durHist) if (s >= min && (max === null || s < max)) n += count;
    return { label, minSeconds: min, maxSeconds: max, sessions: n, share: sessions > 0 ? n / sessions : 0 };
  });

  let transitions = 0;
  const pairs: [string, ClickPathRow][] = [];
  for (const [from, next] of state.paths) {
    for (const [to, hits] of next) {
      transitions += hits;
      pairs.push([`${from} → ${to}`, { key: `${from} → ${to}`, from, to, hits, share: 0 }]);
    }
  }
  // Ties by (from, to), not by the joined key, so a page containing " → " cannot reorder rows.
  pairs.sort((a, b) => b[1].hits - a[1].hits || compareKeys(a[1].from, b[1].from) || compareKeys(a[1].to, b[1].to));
  const pathRows = pairs.slice(0, limit).map(([, r]) => ({ ...r, share: transitions > 0 ? r.hits / transitions : 0 }));

  const counters = run.counters ?? {};
  const counted: Record<string, number> = {};
  for (const k of ['clicks', 'skipped_method', 'skipped_status', 'skipped_static', 'skipped_crawler', 'skipped_untimed', 'records']) {
    if (typeof counters[k] === 'number') counted[k] = counters[k]!;
  }

  const result: ClicksResult = {
    job: 'clicks',
    version: 1,
    definitions: definitionsOf(p),
    ...(Object.keys(counted).length > 0 ? { requests: counted } : {}),
    sessions: {
      count: sessions,
      visitors: state.visitors,
      pageViews: state.pageViews,
      timeoutMinutes: p.timeout,
      firstTime: isoTime(state.firstTime),
      lastTime: isoTime(state.lastTime),
      meanPagesPerSession: sessions > 0 ? state.pageViews / sessions : 0,
      medianPagesPerSession: pagePct[0]?.value ?? 0,
      bounces: state.bounces,
      bounceRate: sessions > 0 ? state.bounces / sessions : 0,
      meanDurationSeconds: sessions > 0 ? state.durationSum / sessions : 0,
      medianDurationSeconds: durPct[0]?.value ?? 0,
      duration: {
        unit: 's',
        count: sessions,
        sum: state.durationSum,
        min: durHist.length > 0 ? durHist[0]![0] : null,
        max: durHist.length > 0 ? durHist[durHist.length - 1]![0] : null,
        mean: sessions > 0 ? state.durationSum / sessions : null,
        percentiles: durPct,
        rankError: 0,
      },
      durationBuckets: buckets,
      pagesPerSession: pagesHist.map(([pages, n]) => ({ pages, sessions: n, share: sessions > 0 ? n / sessions : 0 })),
      days: [...state.days]
        .sort((a, b) => a[0] - b[0])
        .map(([d, t]) => ({ date: isoDay(d), sessions: t.sessions, pageViews: t.pageViews, visitors: t.visitors })),
      entryPages: topList(state.entry, limit, 'first page of a session'),
      exitPages: topList(state.exit, limit, 'last page of a session'),
    },
    clickPaths: { keyDefinition: 'page → next page in the same session', total: transitions, distinct: pairs.length, rows: pathRows },
  };
  const steps = funnelSteps(p);
  if (steps.length > 0) {
    const f = state.funnel;
    result.funnel = {
      unit: 'sessions',
      sessions,
      definition: 'sessions that visit steps 1..k in this order (other pages may come between); steps are globs over the page',
      steps: steps.map((name, i) => ({
        name,
        count: f[i]!,
        ofFirst: f[0]! > 0 ? f[i]! / f[0]! : 0,
        ofPrevious: i === 0 ? (sessions > 0 ? f[0]! / sessions : 0) : f[i - 1]! > 0 ? f[i]! / f[i - 1]! : 0,
      })),
    };
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// render

const pct = (x: number) => Number((x * 100).toFixed(2));

/** Pages per session for the terminal: 1 to 10 one by one, then ranges (the JSON has every count). */
function pageRows(rows: ClicksResult['sessions']['pagesPerSession'], sessions: number): (string | number)[][] {
  const out: (string | number)[][] = [];
  const ranges: [number, number][] = [[11, 20], [21, 50], [51, 100], [101, Infinity]];
  for (const x of rows) if (x.pages <= 10) out.push([x.pages, x.sessions, pct(x.share)]);
  for (const [lo, hi] of ranges) {
    const n = rows.reduce((sum, x) => (x.pages >= lo && x.pages <= hi ? sum + x.sessions : sum), 0);
    if (n > 0) out.push([hi === Infinity ? `${lo}+` : `${lo}-${hi}`, n, pct(sessions > 0 ? n / sessions : 0)]);
  }
  return out;
}

function renderResult(r: ClicksResult): RenderedResult {
  const s = r.sessions;
  const text = [
    `${s.count.toLocaleString('en-US')} sessions of ${s.visitors.toLocaleString('en-US')} visitors, ${s.pageViews.toLocaleString('en-US')} page views` +
      ` (${r.definitions.timeoutMinutes}-minute timeout), ${s.firstTime ?? '?'} – ${s.lastTime ?? '?'}`,
    `pages per session: mean ${s.meanPagesPerSession.toFixed(2)}, median ${s.medianPagesPerSession}; bounce rate ${pct(s.bounceRate)} %;` +
      ` duration: mean ${Math.round(s.meanDurationSeconds)} s, median ${s.medianDurationSeconds} s`,
  ].join('\n');
  const list = (title: string, column: string, l: ClicksResult['sessions']['entryPages']): Table => ({
    title: `${title} (${l.distinct.toLocaleString('en-US')} distinct)`,
    columns: [column, 'sessions', '%'],
    units: [undefined, 'count', '%'],
    rows: l.rows.map((x) => [x.key, x.hits, pct(x.share)]),
  });
  const tables: Table[] = [];
  if (r.funnel) {
    tables.push({
      title: `Funnel (${r.funnel.sessions.toLocaleString('en-US')} sessions)`,
      columns: ['step', 'page', 'sessions', '% of first', '% of previous'],
      units: [undefined, undefined, 'count', '%', '%'],
      rows: r.funnel.steps.map((x, i) => [i + 1, x.name, x.count, pct(x.ofFirst), pct(x.ofPrevious)]),
    });
  }
  tables.push(
    { title: 'Sessions per day', columns: ['date', 'sessions', 'page views', 'visitors'], units: [undefined, 'count', 'count', 'count'], rows: s.days.map((d) => [d.date, d.sessions, d.pageViews, d.visitors]) },
    { title: 'Pages per session', columns: ['pages', 'sessions', '%'], units: [undefined, 'count', '%'], rows: pageRows(s.pagesPerSession, s.count) },
    { title: 'Session length', columns: ['duration', 'sessions', '%'], units: [undefined, 'count', '%'], rows: s.durationBuckets.map((b) => [b.label, b.sessions, pct(b.share)]) },
    list('Entry pages', 'page', s.entryPages),
    list('Exit pages', 'page', s.exitPages),
    {
      title: `Click paths (${r.clickPaths.distinct.toLocaleString('en-US')} distinct, ${r.clickPaths.total.toLocaleString('en-US')} clicks)`,
      columns: ['page', 'next page', 'clicks', '%'],
      units: [undefined, undefined, 'count', '%'],
      rows: r.clickPaths.rows.map((x) => [x.from, x.to, x.hits, pct(x.share)]),
    },
  );
  return { json: r, text, tables };
}

// ---------------------------------------------------------------------------------------------

export default defineJob<Params, ClicksState, ClicksResult>({
  kind: 'keyed',
  name: 'clicks',
  description: 'click analytics: sessions, pages per session, session length, entry/exit pages, click paths, funnel',
  params,
  cli: {
    flags: {
      timeout: { param: 'timeout', type: 'number' },
      visitor: { param: 'visitor', type: 'string' },
      methods: { param: 'methods', type: 'string' },
      status: { param: 'status', type: 'string' },
      crawlers: { param: 'crawlers', type: 'string' },
      'static-ext': { param: 'staticExtensions', type: 'string' },
      'page-key': { param: 'pageKey', type: 'string' },
      timezone: { param: 'timezone', type: 'string', alias: 'tz' },
      funnel: { param: 'funnel', type: 'string' },
      limit: { param: 'limit', type: 'number' },
    },
    usage:
      "clicks [--timeout MIN] [--funnel '/,/product/*,/cart,/checkout'] [--visitor ip+agent|ip] [--methods GET,POST|*] [--status 2xx,304] " +
      '[--crawlers exclude|include] [--static-ext css,js,…] [--page-key path|path+query] [--timezone UTC|±HH:MM] [--limit N]',
  },
  input: (p) => {
    const fields: FieldName[] = ['host', 'time', 'method', 'path', 'status', 'userAgent'];
    if (p.pageKey === 'path+query') fields.push('query');
    return { records: fields };
  },
  mapKeyed(record, emit, ctx) {
    mapClick(record as Rec, emit, (name) => ctx.count(name), configOf(ctx.params));
  },
  create: (p) => new ClicksState(funnelSteps(p).length),
  reduceGroup(state, _key, values, p) {
    addVisitorClicks(state, values, configOf(p));
  },
  merge: (into, other) => into.mergeFrom(other),
  encode: (state) => state.encode(),
  decode: (data, p) => ClicksState.decode(data, funnelSteps(p).length),
  finalize: (state, p, run) => finalizeState(state, p, run),
  render: (result) => renderResult(result),
});
