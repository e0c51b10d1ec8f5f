/**
 * The clicks result: the merged state finalized into sessions, durations, pages per session, days,
 * entry and exit pages, click paths and the funnel (with the definitions used), and its rendering
 * for the terminal.
 */
import type { RenderedResult, RunInfo, Table } from '../../src/mapreduce/job-definition.ts';
import type { ClicksResult, ClickPathRow } from '../../src/report/analysis-result.ts';
import { topK } from '../../src/sketches/index.ts';
import { configOf, DAY_MS, funnelSteps, type Params } from './config.ts';
import type { ClicksState } from './sessions.ts';

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

export function finalizeState(state: ClicksState, p: Params, run: Partial<RunInfo>): ClicksResult {
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

export function renderResult(r: ClicksResult): RenderedResult {
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
    rows: l.rows.map((x) => [x.key, x.hits, pct(x.share)]),
  });
  const tables: Table[] = [];
  if (r.funnel) {
    tables.push({
      title: `Funnel (${r.funnel.sessions.toLocaleString('en-US')} sessions)`,
      columns: ['step', 'page', 'sessions', '% of first', '% of previous'],
      rows: r.funnel.steps.map((x, i) => [i + 1, x.name, x.count, pct(x.ofFirst), pct(x.ofPrevious)]),
    });
  }
  tables.push(
    { title: 'Sessions per day', columns: ['date', 'sessions', 'page views', 'visitors'], rows: s.days.map((d) => [d.date, d.sessions, d.pageViews, d.visitors]) },
    { title: 'Pages per session', columns: ['pages', 'sessions', '%'], rows: pageRows(s.pagesPerSession, s.count) },
    { title: 'Session length', columns: ['duration', 'sessions', '%'], rows: s.durationBuckets.map((b) => [b.label, b.sessions, pct(b.share)]) },
    list('Entry pages', 'page', s.entryPages),
    list('Exit pages', 'page', s.exitPages),
    {
      title: `Click paths (${r.clickPaths.distinct.toLocaleString('en-US')} distinct, ${r.clickPaths.total.toLocaleString('en-US')} clicks)`,
      columns: ['page', 'next page', 'clicks', '%'],
      rows: r.clickPaths.rows.map((x) => [x.from, x.to, x.hits, pct(x.share)]),
    },
  );
  return { json: r, text, tables };
}
