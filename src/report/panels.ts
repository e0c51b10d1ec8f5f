/**
 * The report's panels. Each panel reads one section of the data, checks it with its schema, and
 * renders only if the section is there and valid: an analyze result gets every panel, another
 * job's result (sessions, funnel, a top list) gets the panels its sections match, and unknown
 * sections that look like top lists get a generic table.
 */
import { INVALID_REASONS, invalidLinesOf } from '../logs/index.ts';
import {
  analysisDefinitionsSchema,
  distributionSchema,
  statusCodesSchema,
  timelineSchema,
  topListSchema,
  totalsSchema,
  type TopList,
} from '../weblog/index.ts';
import { barTable, columnChart, stackedBar, type BarRow, type Mark } from './charts.ts';
import { esc, formatBytes, formatNumber, formatShare, formatUnit, printable } from './format.ts';
import { htmlTable, type Table } from './table.ts';
import { card, num, section, ticks, type Panel, type ReportData } from './panel-parts.ts';
import { clickPathsPanel, clicksDefinitionsPanel, funnelPanel, sessionsPanel } from './clicks-panels.ts';

export type { Panel, ReportData } from './panel-parts.ts';

// ---------------------------------------------------------------------------------------------
// overview

function overviewPanel(d: ReportData): Panel | undefined {
  const t = section(d.result, 'totals', totalsSchema);
  const cards: string[] = [];
  if (t) {
    const defs = section(d.result, 'definitions', analysisDefinitionsSchema);
    const err = defs?.accuracy.visitorsPeriod.relativeStdError;
    cards.push(card('Requests', num('result.totals.requests', t.requests)));
    cards.push(
      card(
        'Unique visitors',
        num('result.totals.visitors', t.visitors),
        t.visitorsExact ? 'exact' : err !== undefined ? `±${(err * 100).toFixed(2)} % (std. error)` : 'estimated',
      ),
    );
    cards.push(card('Bandwidth', num('result.totals.bytes', t.bytes, formatBytes(t.bytes))));
    cards.push(card('Not found (404)', num('result.totals.notFound', t.notFound), esc(formatShare(t.requests > 0 ? t.notFound / t.requests : 0))));
    cards.push(card('Static files', num('result.totals.staticRequests', t.staticRequests), `${num('result.totals.distinctStaticFiles', t.distinctStaticFiles)} distinct`));
    cards.push(card('Pages & other', num('result.totals.pageRequests', t.pageRequests), `${num('result.totals.distinctRequests', t.distinctRequests)} distinct`));
    cards.push(card('Hosts', num('result.totals.distinctHosts', t.distinctHosts)));
    cards.push(card('Crawler requests', num('result.totals.crawlerRequests', t.crawlerRequests)));
    if (t.badLines !== undefined) cards.push(card('Bad lines', num('result.totals.badLines', t.badLines), t.linesRead !== undefined ? `of ${num('result.totals.linesRead', t.linesRead)} read` : ''));
  } else if (d.counters) {
    for (const [k, label] of [
      ['records', 'Records'],
      ['lines_read', 'Lines read'],
      ['bad_lines', 'Bad lines'],
    ] as const) {
      const v = d.counters[k];
      if (typeof v === 'number') cards.push(card(label, num(`counters.${k}`, v)));
    }
  }
  if (cards.length === 0) return undefined;
  const span = t?.firstTime && t.lastTime ? `${t.firstTime.replace('T', ' ').slice(0, 19)} – ${t.lastTime.replace('T', ' ').slice(0, 19)} UTC` : undefined;
  return { id: 'overview', title: 'Overview', html: `<div class="cards">${cards.join('')}</div>`, wide: true, ...(span ? { note: span } : {}) };
}

// ---------------------------------------------------------------------------------------------
// time

const DAY_MS = 86_400_000;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function dayIndex(date: string): number {
  return Math.floor(Date.parse(`${date.slice(0, 10)}T00:00:00Z`) / DAY_MS);
}

function dayLabel(idx: number): string {
  const d = new Date(idx * DAY_MS);
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
}

/**
 * The smallest run of consecutive days that holds at least 99.5 % of the requests: a few lines
 * with absurd dates (a client clock, a replayed log) must not squash the real traffic into a
 * sliver of a year-long axis. What falls outside is stated under the chart.
 */
export function chartWindow(days: readonly { date: string; hits: number }[]): { from: number; to: number } | undefined {
  if (days.length === 0) return undefined;
  const idx = days.map((d) => dayIndex(d.date));
  const total = days.reduce((n, d) => n + d.hits, 0);
  const need = total * 0.995;
  let best: { from: number; to: number } | undefined;
  let sum = 0;
  let j = 0;
  for (let i = 0; i < days.length; i++) {
    sum += days[i]!.hits;
    while (j < i && sum - days[j]!.hits >= need) sum -= days[j++]!.hits;
    if (sum >= need && (!best || idx[i]! - idx[j]! < best.to - best.from)) best = { from: idx[j]!, to: idx[i]! };
  }
  return best ?? { from: idx[0]!, to: idx[idx.length - 1]! };
}

function timelinePanels(d: ReportData): Panel[] {
  const tl = section(d.result, 'timeline', timelineSchema);
  if (!tl || tl.days.length === 0) return [];
  const win = chartWindow(tl.days)!;
  const span = win.to - win.from + 1;
  const daySlots: (Mark | null)[] = Array.from({ length: span }, () => null);
  const visitorSlots: (Mark | null)[] = Array.from({ length: span }, () => null);
  let outside = 0;
  tl.days.forEach((day, i) => {
    const k = dayIndex(day.date) - win.from;
    if (k < 0 || k >= span) {
      outside += day.hits;
      return;
    }
    daySlots[k] = { label: day.date, value: day.hits, path: `result.timeline.days.${i}.hits` };
    visitorSlots[k] = { label: day.date, value: day.visitors, path: `result.timeline.days.${i}.visitors` };
  });
  const outsideNote = outside > 0 ? ` ${formatNumber(outside)} requests dated outside ${dayLabel(win.from)} – ${dayLabel(win.to)} are not drawn.` : '';
  const panels: Panel[] = [
    {
      id: 'days',
      title: 'Requests and visitors per day',
      wide: true,
      note: `Time ${tl.timezone}.${outsideNote}`,
      html: columnChart({
        title: 'Requests and visitors per day',
        slots: daySlots,
        ticks: ticks(span, 8, (i) => dayLabel(win.from + i)),
        format: (v) => formatNumber(v),
        seriesName: 'requests',
        overlay: { slots: visitorSlots, format: (v) => formatNumber(v), seriesName: 'visitors' },
      }),
    },
  ];
  if (span <= 14) {
    const first = win.from * 24;
    const n = span * 24;
    const slots: (Mark | null)[] = Array.from({ length: n }, () => null);
    const vslots: (Mark | null)[] = Array.from({ length: n }, () => null);
    tl.hours.forEach((h, i) => {
      const k = Math.floor(Date.parse(`${h.time}:00Z`) / 3_600_000) - first;
      if (k < 0 || k >= n) return;
      slots[k] = { label: h.time.replace('T', ' '), value: h.hits, path: `result.timeline.hours.${i}.hits` };
      vslots[k] = { label: h.time.replace('T', ' '), value: h.visitors, path: `result.timeline.hours.${i}.visitors` };
    });
    panels.push({
      id: 'hours',
      title: 'Requests and visitors per hour',
      wide: true,
      html: columnChart({
        title: 'Requests and visitors per hour',
        slots,
        ticks: ticks(n, span <= 2 ? 8 : 7, (i) => (span <= 2 ? `${dayLabel(win.from + Math.floor(i / 24))} ${String(i % 24).padStart(2, '0')}h` : dayLabel(win.from + Math.floor(i / 24)))),
        format: (v) => formatNumber(v),
        seriesName: 'requests',
        overlay: { slots: vslots, format: (v) => formatNumber(v), seriesName: 'visitors' },
      }),
    });
  }
  panels.push({
    id: 'hour-of-day',
    title: 'Hour of day',
    html: columnChart({
      title: 'Requests by hour of day',
      slots: tl.hourOfDay.map((h, i) => ({ label: `${String(h.hour).padStart(2, '0')}:00`, value: h.hits, path: `result.timeline.hourOfDay.${i}.hits` })),
      ticks: ticks(24, 6, (i) => `${String(i).padStart(2, '0')}h`),
      format: (v) => formatNumber(v),
      seriesName: 'requests',
      height: 200,
    }),
  });
  return panels;
}

// ---------------------------------------------------------------------------------------------
// status codes

function statusPanel(d: ReportData): Panel | undefined {
  const s = section(d.result, 'statusCodes', statusCodesSchema);
  if (!s) return undefined;
  const stack = stackedBar(
    'Status classes',
    s.classes.map((c, i) => ({
      mark: { label: c.class, value: c.hits, path: `result.statusCodes.classes.${i}.hits` },
      className: `c${c.class[0]}`,
      name: `${c.class} ${c.name}`,
    })),
    (v) => formatNumber(v),
  );
  const rows: BarRow[] = s.rows.map((r, i) => ({
    key: String(r.code),
    keyHtml: `<b>${r.code}</b> ${esc(r.name)}`,
    mark: { label: String(r.code), value: r.hits, path: `result.statusCodes.rows.${i}.hits` },
    cells: [esc(formatShare(r.share)), num(`result.statusCodes.rows.${i}.bytes`, r.bytes, formatBytes(r.bytes))],
  }));
  return { id: 'status', title: 'Status codes', html: stack + barTable('Status codes', ['status', 'hits', 'share', 'bytes'], rows) };
}

// ---------------------------------------------------------------------------------------------
// top lists

interface TopListSpec {
  readonly key: string;
  readonly title: string;
  readonly column: string;
}

const TOP_LISTS: readonly TopListSpec[] = [
  { key: 'requests', title: 'Requested pages', column: 'request' },
  { key: 'staticFiles', title: 'Static files', column: 'file' },
  { key: 'notFound', title: 'Not found (404)', column: 'request' },
  { key: 'hosts', title: 'Hosts', column: 'host' },
  { key: 'browsers', title: 'Browsers', column: 'browser' },
  { key: 'operatingSystems', title: 'Operating systems', column: 'OS' },
  { key: 'devices', title: 'Devices', column: 'device' },
  { key: 'crawlers', title: 'Crawlers', column: 'crawler' },
  { key: 'referringSites', title: 'Referring sites', column: 'site' },
  { key: 'keyphrases', title: 'Search keyphrases', column: 'keyphrase' },
  { key: 'referrers', title: 'Referrer URLs', column: 'URL' },
];

function topListPanel(key: string, title: string, column: string, list: TopList): Panel {
  const base = `result.${key}`;
  const hasBytes = list.rows.some((r) => r.bytes !== undefined);
  const hasRef = list.rows.some((r) => r.lastReferrer !== undefined);
  const approx = list.exact === false;
  const columns = [column, 'hits', ...(approx ? ['+ max'] : []), 'share', ...(hasRef ? ['last referrer'] : hasBytes ? ['bytes'] : [])];
  const rows: BarRow[] = list.rows.map((r, i) => ({
    key: r.key,
    keyHtml: esc(printable(r.key)),
    mark: { label: printable(r.key, 60), value: r.hits, path: `${base}.rows.${i}.hits` },
    cells: [
      ...(approx ? [`+${num(`${base}.rows.${i}.hitsError`, r.hitsError ?? 0)}`] : []),
      esc(formatShare(r.share)),
      ...(hasRef ? [`<span class="ref">${esc(printable(r.lastReferrer ?? '-', 80))}</span>`] : hasBytes ? [num(`${base}.rows.${i}.bytes`, r.bytes ?? 0, formatBytes(r.bytes ?? 0))] : []),
    ],
  }));
  const shown = list.rows.reduce((n, r) => n + r.hits, 0);
  const bound = approx
    ? ` <strong>Approximate</strong> (more distinct keys than --max-keys): hits and bytes are lower bounds, each count is at most its "+ max" higher, and a key not listed had at most ${num(`${base}.maxError`, list.maxError ?? 0)} hits.`
    : '';
  const note = `${list.distinctExact === false ? '≈' : ''}${num(`${base}.distinct`, list.distinct)} distinct, ${num(`${base}.total`, list.total)} hits${list.rows.length < list.distinct ? `; top ${list.rows.length} shown (${formatShare(list.total > 0 ? shown / list.total : 0)} of hits)` : ''}${list.keyDefinition ? `. Key: ${esc(list.keyDefinition)}` : ''}.${bound}`;
  return { id: key, title, html: `<p class="note">${note}</p>${barTable(title, columns, rows, formatNumber, hasRef)}` };
}

// ---------------------------------------------------------------------------------------------
// distributions

function distributionPanel(d: ReportData, key: string, title: string): Panel | undefined {
  const dist = section(d.result, key, distributionSchema.nullable());
  if (!dist || dist.count === 0) return undefined;
  const fmt = (v: number) => formatUnit(v, dist.unit);
  const chart = columnChart({
    title,
    slots: dist.percentiles.map((p, i) => ({ label: `p${p.p}`, value: p.value, path: `result.${key}.percentiles.${i}.value` })),
    ticks: dist.percentiles.map((p, i) => [i, `p${p.p}`] as [number, string]),
    format: fmt,
    seriesName: dist.unit,
    height: 200,
  });
  const facts = [
    ['count', num(`result.${key}.count`, dist.count)],
    ['min', dist.min === null ? '–' : num(`result.${key}.min`, dist.min, fmt(dist.min))],
    ['mean', dist.mean === null ? '–' : num(`result.${key}.mean`, dist.mean, fmt(dist.mean))],
    ['max', dist.max === null ? '–' : num(`result.${key}.max`, dist.max, fmt(dist.max))],
    ...dist.percentiles.map((p, i) => [`p${p.p}`, num(`result.${key}.percentiles.${i}.value`, p.value, fmt(p.value))]),
  ];
  return {
    id: key,
    title,
    note: `Percentiles from a t-digest, within ${(dist.rankError * 100).toFixed(0)} % rank error; count, min, mean and max are exact.`,
    html: chart + `<dl class="facts">${facts.map(([k, v]) => `<div><dt>${esc(k!)}</dt><dd>${v}</dd></div>`).join('')}</dl>`,
  };
}

// ---------------------------------------------------------------------------------------------
// parse health

function badLinesPanel(d: ReportData): Panel | undefined {
  const stats = d.stats;
  if (!stats) return undefined;
  const rows: BarRow[] = INVALID_REASONS.filter((r) => (stats.invalid[r] ?? 0) > 0).map((r) => ({
    key: r,
    keyHtml: esc(r.replace('_', ' ')),
    mark: { label: r, value: stats.invalid[r], path: `stats.invalid.${r}` },
    cells: [],
  }));
  const total = invalidLinesOf(stats);
  const html =
    `<p class="note">${num('stats.records', stats.records)} records parsed, ${formatNumber(total)} bad lines` +
    `${stats.unterminated ? `, ${num('stats.unterminated', stats.unterminated)} unterminated last lines` : ''}.</p>` +
    (rows.length ? barTable('Bad lines by reason', ['reason', 'lines'], rows) : '<p class="empty">No bad lines.</p>');
  return { id: 'bad-lines', title: 'Bad lines', html };
}

// ---------------------------------------------------------------------------------------------
// other sections, definitions, run facts

const KNOWN = new Set(['job', 'version', 'definitions', 'totals', 'statusCodes', 'timeline', 'responseSizes', 'latency', 'sessions', 'funnel', 'clickPaths', 'requests', ...TOP_LISTS.map((t) => t.key)]);

function titleOf(key: string): string {
  return key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
}

/** Sections no panel knows: top lists get a bar table; a result that is itself a `rows` list (top, count) gets one too. */
function genericPanels(d: ReportData): Panel[] {
  const panels: Panel[] = [];
  for (const [key, value] of Object.entries(d.result)) {
    if (KNOWN.has(key)) continue;
    const list = topListSchema.safeParse(value);
    if (list.success) panels.push(topListPanel(key, titleOf(key), 'key', list.data));
  }
  const rows = d.result.rows;
  if (Array.isArray(rows) && rows.length > 0 && !('totals' in d.result)) {
    const field = typeof d.result.field === 'string' ? d.result.field : 'value';
    const items: BarRow[] = [];
    rows.forEach((r, i) => {
      if (r && typeof r === 'object' && !Array.isArray(r)) {
        const o = r as Record<string, unknown>;
        const count = typeof o.count === 'number' ? o.count : typeof o.hits === 'number' ? o.hits : undefined;
        const label = o.value ?? o.key;
        if (count === undefined || label === undefined) return;
        const countKey = typeof o.count === 'number' ? 'count' : 'hits';
        items.push({ key: String(label), keyHtml: esc(printable(String(label))), mark: { label: String(label), value: count, path: `result.rows.${i}.${countKey}` }, cells: typeof o.share === 'number' ? [esc(formatShare(o.share))] : [] });
      } else if (Array.isArray(r) && typeof r.at(-1) === 'number') {
        const label = r.slice(0, -1).join(' ');
        items.push({ key: label, keyHtml: esc(printable(label)), mark: { label, value: r.at(-1) as number, path: `result.rows.${i}.${r.length - 1}` }, cells: [] });
      }
    });
    if (items.length > 0) {
      const withShare = items.some((x) => x.cells.length > 0);
      panels.push({ id: 'rows', title: d.job ? `${d.job}: ${field}` : titleOf(field), wide: true, html: barTable(field, [field, 'count', ...(withShare ? ['share'] : [])], items) });
    }
  }
  return panels;
}

function definitionsPanel(d: ReportData): Panel | undefined {
  const defs = section(d.result, 'definitions', analysisDefinitionsSchema);
  if (!defs) return undefined;
  const a = defs.accuracy;
  const sk = (s: { p: number; exactBelow: number; relativeStdError: number }) =>
    `HyperLogLog p=${s.p}: exact below ${formatNumber(s.exactBelow)}, then ±${(s.relativeStdError * 100).toFixed(2)} % standard error`;
  const items: [string, string][] = [
    ['Visitor', defs.visitorText],
    ['Request key', defs.requestKeyText],
    ['Time zone', defs.timezoneText],
    ['Static files', defs.staticExtensions.map((e) => `.${e}`).join(' ')],
    ['Site hosts (internal referrers)', defs.siteHosts.length ? defs.siteHosts.join(', ') : 'none given'],
    ['Rows per list', String(defs.limit)],
    ['Visitors per hour', sk(a.visitorsHour)],
    ['Visitors per day', sk(a.visitorsDay)],
    ['Visitors, whole period', sk(a.visitorsPeriod)],
    ['Percentiles', `t-digest, compression ${a.percentiles.compression}, within ${(a.percentiles.rankError * 100).toFixed(0)} % rank error`],
  ];
  return { id: 'definitions', title: 'Definitions and accuracy', wide: true, html: `<dl class="defs">${items.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>` };
}

function runPanel(d: ReportData): Panel | undefined {
  const items: string[] = [];
  if (d.nodes?.length) items.push(`<div><dt>Nodes</dt><dd>${esc(d.nodes.join(', '))}</dd></div>`);
  const total = d.timings?.total;
  if (typeof total === 'number') items.push(`<div><dt>Run time</dt><dd>${num('timings.total', total, `${formatNumber(total / 1000, 2)} s`)}</dd></div>`);
  for (const [k, v] of Object.entries(d.counters ?? {})) {
    items.push(`<div><dt>${esc(k.replace(/_/g, ' '))}</dt><dd>${num(`counters.${k}`, v, k.startsWith('bytes') ? formatBytes(v) : formatNumber(v))}</dd></div>`);
  }
  if (d.partial) items.push(`<div><dt>Partial result</dt><dd>${esc(`${d.missing?.length ?? 0} shard(s) not read: ${(d.missing ?? []).map((m) => `${m.node}:${m.path}`).join(', ')}`)}</dd></div>`);
  if (items.length === 0) return undefined;
  return { id: 'run', title: 'Run', wide: true, html: `<dl class="defs">${items.join('')}</dl>` };
}

/** A job's own tables, laid out as the terminal shows them (one table renderer for both). */
function tablePanels(d: ReportData, tables: readonly Table[]): Panel[] {
  return tables.map((t, i) => ({ id: `table-${i + 1}`, title: t.title ?? (d.job ? `${d.job}` : 'Result'), wide: true, html: htmlTable(t) }));
}

/** Every panel the data supports, in reading order. */
export function buildPanels(d: ReportData, tables?: readonly Table[]): Panel[] {
  const out: Panel[] = [];
  const push = (p: Panel | undefined) => {
    if (p) out.push(p);
  };
  push(overviewPanel(d));
  out.push(...timelinePanels(d));
  push(statusPanel(d));
  out.push(...sessionsPanel(d));
  push(funnelPanel(d));
  push(clickPathsPanel(d));
  for (const spec of TOP_LISTS) {
    const list = section(d.result, spec.key, topListSchema);
    if (list) out.push(topListPanel(spec.key, spec.title, spec.column, list));
  }
  push(distributionPanel(d, 'responseSizes', 'Response sizes'));
  push(distributionPanel(d, 'latency', 'Latency'));
  // A result no panel knows (grep -c, a user's job): the job's own tables, as the terminal shows them.
  const generic = genericPanels(d);
  out.push(...(generic.length === 0 && tables?.length && !('definitions' in d.result) ? tablePanels(d, tables) : generic));
  push(badLinesPanel(d));
  push(definitionsPanel(d) ?? clicksDefinitionsPanel(d));
  push(runPanel(d));
  return out;
}
