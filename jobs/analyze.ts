/**
 * analyze: every panel of a web-log report in one pass, as GoAccess does, over every node's logs.
 *
 * The partial state is a monoid: exact counters and exact key → (hits, bytes) maps (merged by
 * adding), HyperLogLog sketches of visitors (merged by register max, exactly order-independent),
 * and t-digests of sizes and latencies (merged within their error bound). Top-K lists are cut
 * only in finalize, from the exact maps.
 *
 * The state and its memory bounds are in src/weblog/access-log-state.ts.
 *
 * Definitions (also stated in the result's `definitions`):
 * - request key: the path without its query string by default; `--request-key method,path,query,protocol`
 *   picks the parts (GoAccess's default is method + path + protocol);
 * - static file: a path whose last segment has an extension in the static list;
 * - visitor: a distinct (client address %h, User-Agent) pair; `--visitor ip` counts addresses
 *   only. Counted per hour, per day and for the whole period, where the period figure is the
 *   union of all visitors, never a sum of daily counts (GoAccess sums them). Unlike GoAccess, 4xx
 *   requests and crawlers are included;
 * - time buckets: the time as logged (each line's own offset) by default, or `--timezone UTC|±HH:MM`;
 * - response size: the `bytes` field (%b, else %B, else %O), `-` read as 0.
 *
 * Differences from GoAccess 1.7 on the same clean log (checked by test/jobs/analyze-goaccess.test.ts):
 * - a `%h` that is a host name (HostnameLookups On) is a valid request here; GoAccess rejects it
 *   unless --no-ip-validation;
 * - a line longer than 4,095 bytes is a valid request here (up to the parser's 64 KiB limit);
 *   GoAccess reads it through a 4 KiB buffer as several pieces, each counted as a failed request,
 *   except a first piece cut inside the User-Agent, which it accepts;
 * - empty lines are bad lines here (`empty`); GoAccess skips them uncounted.
 */
import { z } from 'zod';
import {
  AccessLogState,
  DAY_P,
  DEFAULT_MAX_KEYS,
  DEFAULT_STATIC_EXTENSIONS,
  defineJob,
  hostMatcher,
  HOUR_P,
  MIN_MAX_KEYS,
  PERIOD_P,
  referrerHost,
  searchEngineOf,
  searchTermsOf,
  STATUS_CLASS_NAMES,
  statusClass,
  statusName,
  TDigest,
  topK,
  UserAgentClassifier,
  type AccessLogConfig,
  type AnalysisResult,
  type Distribution,
  type FieldName,
  type KeyTable,
  type ReferrerEntry,
  type RequestEntry,
  type RequestPart,
  type RunInfo,
  type Table,
  type TableEntry,
  type TopList,
  type TopRow,
} from 'geartrain/jobs';

const REQUEST_PARTS: readonly RequestPart[] = ['method', 'path', 'query', 'protocol'];

const TZ = /^(?:log|UTC|Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$/;

const params = z.object({
  /** Rows kept per top list. */
  limit: z.number().int().min(1).max(100_000).default(20),
  requestKey: z
    .string()
    .default('path')
    .refine((v) => v.split(',').every((p) => (REQUEST_PARTS as readonly string[]).includes(p.trim())) && v.split(',').some((p) => p.trim() === 'path'), {
      message: 'request key: a comma list of method, path, query, protocol that includes path',
    }),
  visitor: z.enum(['ip+agent', 'ip']).default('ip+agent'),
  timezone: z.string().default('log').refine((v) => TZ.test(v), { message: 'timezone: log, UTC, or an offset such as +02:00' }),
  /** Hosts of the site itself (`example.com,*.example.com`): their referrers are internal. */
  siteHosts: z.string().default(''),
  /** Comma list replacing the static-file extensions. */
  staticExtensions: z.string().optional(),
  /**
   * Keys held per panel (request keys, 404s, hosts, agents, referrers): exact counts up to this
   * many distinct keys, bounded heavy hitters beyond (memory stays flat; the result says so).
   */
  maxKeys: z.number().int().min(MIN_MAX_KEYS).max(50_000_000).default(DEFAULT_MAX_KEYS),
});
type Params = z.infer<typeof params>;

const PERCENTILES = [50, 75, 90, 95, 99, 99.9];
const HOUR_MS = 3_600_000;

type Config = AccessLogConfig;

const configs = new WeakMap<object, Config>();

function configOf(p: Params): Config {
  let c = configs.get(p);
  if (c) return c;
  const parts = REQUEST_PARTS.filter((part) => p.requestKey.split(',').some((x) => x.trim() === part));
  const has = (part: RequestPart) => parts.includes(part);
  let keyOf: Config['keyOf'];
  if (parts.length === 1) keyOf = (r) => r.path as string;
  else {
    keyOf = (r) => {
      let k = has('method') ? `${r.method as string} ${r.path as string}` : (r.path as string);
      if (has('query') && (r.query as string) !== '') k += `?${r.query as string}`;
      if (has('protocol')) k += ` ${r.protocol as string}`;
      return k;
    };
  }
  let offsetMs: number | null = null;
  if (p.timezone === 'UTC' || p.timezone === 'Z') offsetMs = 0;
  else if (p.timezone !== 'log') {
    const m = /^([+-])(\d\d):?(\d\d)$/.exec(p.timezone)!;
    offsetMs = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  }
  const ext = p.staticExtensions !== undefined ? p.staticExtensions.split(',').map((e) => e.trim().replace(/^\./, '').toLowerCase()).filter(Boolean) : DEFAULT_STATIC_EXTENSIONS;
  c = {
    parts,
    keyOf,
    byAgent: p.visitor === 'ip+agent',
    offsetMs,
    staticExt: new Set(ext),
    siteHosts: p.siteHosts.split(',').map((h) => h.trim()).filter(Boolean),
    maxKeys: p.maxKeys,
  };
  configs.set(p, c);
  return c;
}

// ---------------------------------------------------------------------------------------------
// finalize

function isoHour(h: number): string {
  return new Date(h * HOUR_MS).toISOString().slice(0, 13) + ':00';
}

function isoDay(d: number): string {
  return new Date(d * 24 * HOUR_MS).toISOString().slice(0, 10);
}

/**
 * How exact a list is. A list straight from a key table: per-row error from each entry's err,
 * exact total from the table. A derived list (sites, browsers…): each row may miss up to `maxError`
 * hits (the hits of its source table's dropped entries).
 */
interface ListBounds {
  maxError: number;
  perRow: boolean;
  total?: number;
  distinct?: number;
}

const EXACT: ListBounds | null = null;

function topList<V extends { hits: number; bytes?: number; err?: number }>(
  entries: Iterable<readonly [string, V]>,
  limit: number,
  extra?: (v: V) => Partial<TopRow>,
  keyDefinition?: string,
  bounds: ListBounds | null = EXACT,
): TopList {
  let total = 0;
  let distinct = 0;
  const all: [string, V][] = [];
  for (const [k, v] of entries) {
    total += v.hits;
    distinct++;
    all.push([k, v]);
  }
  if (bounds?.total !== undefined) total = bounds.total;
  const rows = topK(all, (v) => v.hits, limit).map(([key, v]) => ({
    key,
    hits: v.hits,
    ...(v.bytes !== undefined ? { bytes: v.bytes } : {}),
    share: total > 0 ? Math.min(1, v.hits / total) : 0,
    ...(bounds ? { hitsError: bounds.perRow ? (v.err ?? 0) : bounds.maxError } : {}),
    ...(extra ? extra(v) : {}),
  }));
  const approx = bounds ? { exact: false, maxError: bounds.maxError, distinctExact: false } : { exact: true };
  return { ...(keyDefinition ? { keyDefinition } : {}), total, distinct: bounds?.distinct ?? distinct, rows, ...approx };
}

/** Bounds of a list made of some of a table's entries (`part` of them, of `held` held), or null when exact. */
function tableBounds<E extends TableEntry>(t: KeyTable<E>, total: number, part: number, held: number): ListBounds | null {
  if (!t.approximate) return EXACT;
  return { maxError: t.floor, perRow: true, total, distinct: held > 0 ? Math.round((t.distinct * part) / held) : 0 };
}

/** Bounds of a list derived from an approximate table: each group may miss the dropped hits. */
function derivedBounds<E extends TableEntry>(t: KeyTable<E>, dropped: number): ListBounds | null {
  return t.approximate ? { maxError: dropped, perRow: false } : EXACT;
}

/** Adds (hits, bytes) under a derived key. */
function tally(map: Map<string, { hits: number; bytes: number }>, key: string, hits: number, bytes: number): void {
  const e = map.get(key);
  if (e) {
    e.hits += hits;
    e.bytes += bytes;
  } else map.set(key, { hits, bytes });
}

function distribution(d: TDigest | null, unit: string): Distribution {
  const empty = !d || d.count === 0;
  return {
    unit,
    count: d?.count ?? 0,
    sum: d?.sum ?? 0,
    min: empty ? null : d.min,
    max: empty ? null : d.max,
    mean: empty ? null : d.mean,
    percentiles: empty ? [] : PERCENTILES.map((p) => ({ p, value: d.quantile(p / 100) })),
    rankError: 0.01,
  };
}

function sketchSpec(p: number) {
  return { p, exactBelow: 2 ** p / 8, relativeStdError: 1.04 / Math.sqrt(2 ** p) };
}

function requestKeyText(parts: readonly RequestPart[]): string {
  const words = parts.map((p) => (p === 'query' ? 'query string' : p));
  return `${words.join(' + ')}${parts.includes('query') ? '' : ' (query string dropped)'}`;
}

function finalizeState(state: AccessLogState, p: Params, run: Partial<RunInfo>): AnalysisResult {
  const c = state.config;
  const limit = p.limit;

  const statusRows: AnalysisResult['statusCodes']['rows'] = [];
  const classes = new Map<string, { hits: number; bytes: number }>();
  for (let s = 0; s < 1000; s++) {
    const hits = state.statusHits[s]!;
    if (hits === 0) continue;
    const bytes = state.statusBytes[s]!;
    statusRows.push({ code: s, name: statusName(s), class: statusClass(s), hits, bytes, share: hits / state.requests });
    tally(classes, statusClass(s), hits, bytes);
  }

  const hourKeys = [...state.hours.keys()].sort((a, b) => a - b);
  const hourOfDay = Array.from({ length: 24 }, (_, hour) => ({ hour, hits: 0, bytes: 0 }));
  const dayTotals = new Map<number, { hits: number; bytes: number }>();
  const hours = hourKeys.map((h) => {
    const b = state.hours.get(h)!;
    const hod = hourOfDay[((h % 24) + 24) % 24]!;
    hod.hits += b.hits;
    hod.bytes += b.bytes;
    const d = Math.floor(h / 24);
    const dt = dayTotals.get(d) ?? { hits: 0, bytes: 0 };
    dt.hits += b.hits;
    dt.bytes += b.bytes;
    dayTotals.set(d, dt);
    return { time: isoHour(h), hits: b.hits, bytes: b.bytes, visitors: b.visitors.estimate() };
  });
  const days = [...state.days.keys()]
    .sort((a, b) => a - b)
    .map((d) => ({ date: isoDay(d), hits: dayTotals.get(d)?.hits ?? 0, bytes: dayTotals.get(d)?.bytes ?? 0, visitors: state.days.get(d)!.visitors.estimate() }));

  const pages: [string, RequestEntry][] = [];
  const statics: [string, RequestEntry][] = [];
  for (const e of state.paths.map) (e[1].isStatic ? statics : pages).push(e);
  const paths = state.paths;
  const staticTotal = statics.reduce((n, e) => n + e[1].hits, state.droppedStaticHits);
  const pageTotal = pages.reduce((n, e) => n + e[1].hits, paths.droppedHits - state.droppedStaticHits);

  // Referrers: internal ones (the site's own hosts) are left out of the referrer panels.
  const internal = hostMatcher(c.siteHosts);
  const sites = new Map<string, { hits: number; bytes: number }>();
  const phrases = new Map<string, { hits: number; bytes: number }>();
  const external: [string, ReferrerEntry][] = [];
  const engines = new Map<string, boolean>();
  for (const [url, e] of state.referrers.map) {
    const host = referrerHost(url);
    if (internal(host)) continue;
    external.push([url, e]);
    tally(sites, host, e.hits, e.bytes);
    let engine = engines.get(host);
    if (engine === undefined) engines.set(host, (engine = searchEngineOf(host) !== undefined));
    if (!engine) continue;
    const phrase = searchTermsOf(url);
    if (phrase !== undefined) tally(phrases, phrase, e.hits, e.bytes);
  }

  // Agents: classified once per distinct agent.
  const classifier = new UserAgentClassifier({ maxEntries: Math.max(1, state.agents.size) });
  const browsers = new Map<string, { hits: number; bytes: number }>();
  const oses = new Map<string, { hits: number; bytes: number }>();
  const crawlers = new Map<string, { hits: number; bytes: number }>();
  const devices = new Map<string, { hits: number; bytes: number }>();
  let crawlerRequests = 0;
  for (const [ua, e] of state.agents.map) {
    const info = classifier.classify(ua);
    tally(browsers, info.browser, e.hits, e.bytes);
    tally(oses, info.os, e.hits, e.bytes);
    tally(devices, info.device, e.hits, e.bytes);
    if (info.crawler) {
      tally(crawlers, info.crawlerName, e.hits, e.bytes);
      crawlerRequests += e.hits;
    }
  }

  const counters = run.counters ?? {};
  const fromRun = (name: string) => (typeof counters[name] === 'number' ? counters[name] : undefined);
  const requestsList = topList(pages, limit, undefined, requestKeyText(c.parts), tableBounds(paths, pageTotal, pages.length, paths.size));
  const staticList = topList(statics, limit, undefined, requestKeyText(c.parts), tableBounds(paths, staticTotal, statics.length, paths.size));
  const nf = state.notFound;
  const notFoundList = topList(
    [...nf.map].map(([k, e]) => [k, { hits: e.hits, err: e.err, lastTime: e.lastTime, lastReferrer: e.lastReferrer }] as const),
    limit,
    (e) => ({ lastReferrer: e.lastReferrer, ...(Number.isFinite(e.lastTime) ? { lastTime: new Date(e.lastTime).toISOString() } : {}) }),
    requestKeyText(c.parts),
    tableBounds(nf, nf.totalHits, nf.size, nf.size),
  );
  const refs = state.referrers;
  const externalDropped = refs.droppedHits - state.droppedInternalReferrerHits;
  const externalTotal = external.reduce((n, e) => n + e[1].hits, externalDropped);
  const refDerived = derivedBounds(refs, externalDropped);
  const agentDerived = derivedBounds(state.agents, state.agents.droppedHits);
  const agentTotals = agentDerived && { ...agentDerived, total: state.agents.totalHits };
  const offsetText = c.offsetMs === null ? 'as logged (each line in its own offset)' : c.offsetMs === 0 ? 'UTC' : `UTC${p.timezone.slice(0, 3)}:${p.timezone.slice(-2)}`;

  const result: AnalysisResult = {
    job: 'analyze',
    version: 1,
    definitions: {
      requestKey: [...c.parts],
      requestKeyText: requestKeyText(c.parts),
      visitor: p.visitor,
      visitorText:
        p.visitor === 'ip+agent'
          ? 'a distinct (client address, User-Agent) pair, crawlers and 4xx included; the period figure is the union of all visitors, not a sum of days'
          : 'a distinct client address, crawlers and 4xx included; the period figure is the union of all visitors, not a sum of days',
      timezone: p.timezone,
      timezoneText: offsetText,
      staticExtensions: [...c.staticExt],
      siteHosts: [...c.siteHosts],
      limit,
      maxKeys: c.maxKeys,
      accuracy: {
        visitorsHour: sketchSpec(HOUR_P),
        visitorsDay: sketchSpec(DAY_P),
        visitorsPeriod: sketchSpec(PERIOD_P),
        percentiles: { compression: state.sizes.compression, rankError: 0.01 },
      },
    },
    totals: {
      requests: state.requests,
      bytes: state.bytes,
      visitors: state.visitors.estimate(),
      visitorsExact: state.visitors.isExact,
      firstTime: Number.isFinite(state.firstTime) ? new Date(state.firstTime).toISOString() : null,
      lastTime: Number.isFinite(state.lastTime) ? new Date(state.lastTime).toISOString() : null,
      pageRequests: requestsList.total,
      staticRequests: staticList.total,
      notFound: notFoundList.total,
      crawlerRequests,
      untimed: state.untimed,
      distinctRequests: requestsList.distinct,
      distinctStaticFiles: staticList.distinct,
      distinctNotFound: notFoundList.distinct,
      distinctHosts: state.hosts.distinct,
      distinctAgents: state.agents.distinct,
      distinctReferrers: external.length,
      ...(fromRun('lines_read') !== undefined ? { linesRead: fromRun('lines_read') } : {}),
      ...(fromRun('bad_lines') !== undefined ? { badLines: fromRun('bad_lines') } : {}),
      ...(fromRun('records') !== undefined ? { records: fromRun('records') } : {}),
      ...(fromRun('bytes_read') !== undefined ? { bytesRead: fromRun('bytes_read') } : {}),
    },
    statusCodes: {
      rows: statusRows,
      classes: [...classes]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([cls, v]) => ({ class: cls, name: STATUS_CLASS_NAMES[cls] ?? '', hits: v.hits, bytes: v.bytes, share: v.hits / state.requests })),
    },
    timeline: { timezone: offsetText, hours, days, hourOfDay },
    requests: requestsList,
    staticFiles: staticList,
    notFound: notFoundList,
    hosts: topList(state.hosts.map, limit, undefined, 'client address (%h)', tableBounds(state.hosts, state.hosts.totalHits, state.hosts.size, state.hosts.size)),
    referringSites: topList(sites, limit, undefined, 'host of the Referer URL', refDerived && { ...refDerived, total: externalTotal }),
    referrers: topList(external, limit, undefined, 'Referer URL as logged', tableBounds(refs, externalTotal, external.length, refs.size)),
    keyphrases: topList(phrases, limit, undefined, 'search terms (q, text, wd, p) of search-engine referrers', refDerived),
    browsers: topList(browsers, limit, undefined, 'browser family', agentTotals),
    operatingSystems: topList(oses, limit, undefined, 'operating system family', agentTotals),
    crawlers: topList(crawlers, limit, undefined, 'crawler or automated client', agentDerived),
    devices: topList(devices, limit, undefined, 'device type', agentTotals),
    responseSizes: distribution(state.sizes, 'bytes'),
    latency: state.durations && state.durations.count > 0 ? distribution(state.durations, 'µs') : null,
  };
  return result;
}

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A list's title: counts, and for an approximate list what its numbers bound. */
function listTitle(title: string, list: TopList): string {
  const distinct = `${list.distinctExact === false ? '≈' : ''}${fmtInt(list.distinct)} distinct`;
  const approx = list.exact === false ? `; APPROXIMATE (over --max-keys): hits and bytes are lower bounds, a count is at most its "+" more, an unlisted key had ≤ ${fmtInt(list.maxError ?? 0)} hits` : '';
  return `${title} (${distinct}, ${fmtInt(list.total)} hits${approx})`;
}

function listTable(title: string, list: TopList, keyColumn: string, withBytes = true): Table {
  const approx = list.exact === false;
  const columns = [keyColumn, 'hits', ...(approx ? ['+ max'] : []), '%', ...(withBytes ? ['bytes'] : [])];
  return {
    title: listTitle(title, list),
    columns,
    units: [undefined, 'count', ...(approx ? ['count' as const] : []), '%', 'bytes'],
    rows: list.rows.map((r) => [r.key, r.hits, ...(approx ? [r.hitsError ?? 0] : []), Number((r.share * 100).toFixed(2)), ...(withBytes ? [r.bytes ?? 0] : [])]),
  };
}

function renderResult(r: AnalysisResult) {
  const t = r.totals;
  const text = [
    `${fmtInt(t.requests)} requests, ${fmtInt(t.bytes)} bytes, ${fmtInt(t.visitors)} unique visitors (${r.definitions.visitor}${t.visitorsExact ? ', exact' : `, ±${(r.definitions.accuracy.visitorsPeriod.relativeStdError * 100).toFixed(2)} % std error`}), ${t.firstTime ?? '?'} – ${t.lastTime ?? '?'}`,
    t.badLines !== undefined ? `${fmtInt(t.badLines)} bad lines of ${fmtInt(t.linesRead ?? 0)} read` : '',
  ]
    .filter(Boolean)
    .join('\n');
  const pct = (d: Distribution) => d.percentiles.map((x) => [`p${x.p}`, Math.round(x.value)] as [string, number]);
  const tables: Table[] = [
    { title: 'Status codes', columns: ['code', 'name', 'hits', '%', 'bytes'], units: [undefined, undefined, 'count', '%', 'bytes'], rows: r.statusCodes.rows.map((s) => [s.code, s.name, s.hits, Number((s.share * 100).toFixed(2)), s.bytes]) },
    { title: `Days (${r.timeline.timezone})`, columns: ['date', 'hits', 'bytes', 'visitors'], units: [undefined, 'count', 'bytes', 'count'], rows: r.timeline.days.map((d) => [d.date, d.hits, d.bytes, d.visitors]) },
    listTable('Requested files', r.requests, 'request'),
    listTable('Static files', r.staticFiles, 'file'),
    {
      title: listTitle('Not found', r.notFound),
      columns: r.notFound.exact === false ? ['request', 'hits', '+ max', 'last referrer'] : ['request', 'hits', 'last referrer'],
      units: r.notFound.exact === false ? [undefined, 'count', 'count'] : [undefined, 'count'],
      rows: r.notFound.rows.map((x) => (r.notFound.exact === false ? [x.key, x.hits, x.hitsError ?? 0, x.lastReferrer ?? '-'] : [x.key, x.hits, x.lastReferrer ?? '-'])),
    },
    listTable('Hosts', r.hosts, 'host'),
    listTable('Referring sites', r.referringSites, 'site'),
    listTable('Referrer URLs', r.referrers, 'URL'),
    listTable('Keyphrases', r.keyphrases, 'keyphrase', false),
    listTable('Browsers', r.browsers, 'browser'),
    listTable('Operating systems', r.operatingSystems, 'OS'),
    listTable('Crawlers', r.crawlers, 'crawler'),
    { title: 'Response sizes', columns: ['percentile', 'bytes'], units: [undefined, 'bytes'], rows: pct(r.responseSizes) },
  ];
  if (r.latency) tables.push({ title: 'Latency', columns: ['percentile', 'µs'], units: [undefined, 'µs'], rows: pct(r.latency) });
  return { json: r, text, tables };
}

export default defineJob<Params, AccessLogState, AnalysisResult>({
  kind: 'summary',
  name: 'analyze',
  description: 'every report panel in one pass: traffic, visitors, status codes, requests, 404s, hosts, referrers, keyphrases, browsers, OS, sizes',
  params,
  cli: {
    flags: {
      limit: { param: 'limit', type: 'number' },
      'request-key': { param: 'requestKey', type: 'string' },
      visitor: { param: 'visitor', type: 'string' },
      timezone: { param: 'timezone', type: 'string', alias: 'tz' },
      'site-host': { param: 'siteHosts', type: 'string' },
      'static-ext': { param: 'staticExtensions', type: 'string' },
      'max-keys': { param: 'maxKeys', type: 'number' },
    },
    usage: 'analyze [--limit N] [--request-key path|method,path,protocol|…] [--visitor ip+agent|ip] [--timezone log|UTC|±HH:MM] [--site-host HOST,…] [--static-ext css,js,…] [--max-keys N]',
  },
  input: (p) => {
    const c = configOf(p);
    const fields: FieldName[] = ['host', 'time', 'status', 'bytes', 'userAgent', 'referer', 'duration', 'path'];
    if (c.offsetMs === null) fields.push('tzOffset');
    for (const part of c.parts) if (part !== 'path') fields.push(part);
    return { records: fields };
  },
  create: (p) => new AccessLogState(configOf(p)),
  map(state, record) {
    state.add(record);
  },
  merge: (into, other) => into.mergeFrom(other),
  encode: (state) => state.encode(),
  decode: (data, p) => AccessLogState.decode(data, configOf(p)),
  finalize: (state, p, run) => finalizeState(state, p, run),
  render: (result) => renderResult(result),
});
