/**
 * The panels of the clicks job's result: sessions, session length, pages per session, entry and
 * exit pages, the funnel, click paths, and its definitions.
 */
import { clickPathsSchema, clicksDefinitionsSchema, funnelSchema, sessionsSchema, type TopList } from '../weblog/index.ts';
import { barTable, columnChart, type BarRow } from './charts.ts';
import { esc, formatNumber, formatShare, printable } from './format.ts';
import { card, num, section, ticks, type Panel, type ReportData } from './panel-parts.ts';

/** Seconds as "45 s", "3 min 20 s", "1 h 05 min". */
function formatSeconds(sec: number): string {
  if (!Number.isFinite(sec)) return '–';
  const v = Math.round(sec);
  if (v < 60) return `${v} s`;
  if (v < 3600) return `${Math.floor(v / 60)} min${v % 60 ? ` ${v % 60} s` : ''}`;
  return `${Math.floor(v / 3600)} h ${String(Math.floor((v % 3600) / 60)).padStart(2, '0')} min`;
}

/** A top list of the clicks job, counted in `unit` (sessions, clicks) rather than hits. */
function clicksListPanel(key: string, title: string, column: string, unit: string, list: TopList): Panel {
  const base = `result.${key}`;
  const rows: BarRow[] = list.rows.map((r, i) => ({
    key: r.key,
    keyHtml: esc(printable(r.key)),
    mark: { label: printable(r.key, 60), value: r.hits, path: `${base}.rows.${i}.hits` },
    cells: [esc(formatShare(r.share))],
  }));
  const shown = list.rows.reduce((n, r) => n + r.hits, 0);
  const note = `${num(`${base}.distinct`, list.distinct)} distinct pages, ${num(`${base}.total`, list.total)} ${esc(unit)}${list.rows.length < list.distinct ? `; top ${list.rows.length} shown (${formatShare(list.total > 0 ? shown / list.total : 0)})` : ''}${list.keyDefinition ? `. ${esc(list.keyDefinition.replace(/^./, (c) => c.toUpperCase()))}` : ''}.`;
  return { id: key, title, html: `<p class="note">${note}</p>${barTable(title, [column, unit, 'share'], rows)}` };
}

export function sessionsPanel(d: ReportData): Panel[] {
  const s = section(d.result, 'sessions', sessionsSchema);
  if (!s) return [];
  const b = 'result.sessions';
  const cards = [card('Sessions', num(`${b}.count`, s.count))];
  if (s.visitors !== undefined) cards.push(card('Visitors', num(`${b}.visitors`, s.visitors)));
  if (s.pageViews !== undefined) cards.push(card('Page views', num(`${b}.pageViews`, s.pageViews)));
  if (s.meanPagesPerSession !== undefined) {
    const sub = s.medianPagesPerSession !== undefined ? `median ${num(`${b}.medianPagesPerSession`, s.medianPagesPerSession)}` : '';
    cards.push(card('Pages per session', num(`${b}.meanPagesPerSession`, s.meanPagesPerSession, formatNumber(s.meanPagesPerSession, 2)), sub));
  }
  if (s.medianDurationSeconds !== undefined) {
    const sub = s.meanDurationSeconds !== undefined ? `mean ${num(`${b}.meanDurationSeconds`, s.meanDurationSeconds, formatSeconds(s.meanDurationSeconds))}` : '';
    cards.push(card('Median duration', num(`${b}.medianDurationSeconds`, s.medianDurationSeconds, formatSeconds(s.medianDurationSeconds)), sub));
  }
  if (s.bounceRate !== undefined) cards.push(card('Bounce rate', num(`${b}.bounceRate`, s.bounceRate, formatShare(s.bounceRate)), s.bounces !== undefined ? `${num(`${b}.bounces`, s.bounces)} one-page sessions` : ''));
  let html = `<div class="cards">${cards.join('')}</div>`;
  if (s.days && s.days.length > 0) {
    const days = s.days;
    const withVisitors = days.every((x) => x.visitors !== undefined);
    html += columnChart({
      title: 'Sessions per day',
      slots: days.map((x, i) => ({ label: x.date, value: x.sessions, path: `${b}.days.${i}.sessions` })),
      ticks: ticks(days.length, 8, (i) => days[i]!.date.slice(5)),
      format: (v) => formatNumber(v),
      seriesName: 'sessions',
      height: 180,
      ...(withVisitors
        ? { overlay: { slots: days.map((x, i) => ({ label: x.date, value: x.visitors!, path: `${b}.days.${i}.visitors` })), format: (v: number) => formatNumber(v), seriesName: 'visitors' } }
        : {}),
    });
  }
  const notes: string[] = [];
  if (s.timeoutMinutes) notes.push(`A session ends after ${s.timeoutMinutes} minutes without a click and counts on the day of its first click.`);
  if (s.firstTime && s.lastTime) notes.push(`${s.firstTime.replace('T', ' ').slice(0, 19)} – ${s.lastTime.replace('T', ' ').slice(0, 19)} UTC.`);
  const panels: Panel[] = [{ id: 'sessions', title: 'Sessions', html, wide: true, ...(notes.length ? { note: notes.join(' ') } : {}) }];

  if (s.durationBuckets && s.durationBuckets.length > 0) {
    const rows: BarRow[] = s.durationBuckets.map((x, i) => ({
      key: x.label,
      keyHtml: esc(x.label),
      mark: { label: x.label, value: x.sessions, path: `${b}.durationBuckets.${i}.sessions` },
      cells: [esc(formatShare(x.share))],
    }));
    let facts = '';
    if (s.duration && s.duration.count > 0) {
      const dist = s.duration;
      const items = [
        ['min', dist.min === null ? '–' : num(`${b}.duration.min`, dist.min, formatSeconds(dist.min))],
        ['mean', dist.mean === null ? '–' : num(`${b}.duration.mean`, dist.mean, formatSeconds(dist.mean))],
        ...dist.percentiles.map((p, i) => [`p${p.p}`, num(`${b}.duration.percentiles.${i}.value`, p.value, formatSeconds(p.value))]),
        ['max', dist.max === null ? '–' : num(`${b}.duration.max`, dist.max, formatSeconds(dist.max))],
      ];
      facts = `<dl class="facts">${items.map(([k, v]) => `<div><dt>${esc(k!)}</dt><dd>${v}</dd></div>`).join('')}</dl>`;
    }
    panels.push({
      id: 'sessions-length',
      title: 'Session length',
      note: `Last click − first click (a one-page session lasts 0 s). ${isExactDistribution(s.duration) ? 'Percentiles are exact (nearest rank).' : ''}`.trim(),
      html: barTable('Session length', ['duration', 'sessions', 'share'], rows) + facts,
    });
  }

  if (s.pagesPerSession && s.pagesPerSession.length > 0) {
    const SHOWN = 15;
    const list = s.pagesPerSession;
    const rows: BarRow[] = list.slice(0, SHOWN).map((x, i) => ({
      key: String(x.pages),
      keyHtml: `${esc(formatNumber(x.pages))} page${x.pages === 1 ? '' : 's'}`,
      mark: { label: `${x.pages} pages`, value: x.sessions, path: `${b}.pagesPerSession.${i}.sessions` },
      cells: [esc(formatShare(x.share))],
    }));
    const rest = list.slice(SHOWN).reduce((n, x) => n + x.sessions, 0);
    const note = rest > 0 ? `${formatNumber(rest)} sessions with more than ${list[SHOWN - 1]!.pages} pages (up to ${formatNumber(list.at(-1)!.pages)}) are not listed.` : undefined;
    panels.push({ id: 'sessions-pages', title: 'Pages per session', ...(note ? { note } : {}), html: barTable('Pages per session', ['pages', 'sessions', 'share'], rows) });
  }

  if (s.entryPages) panels.push(clicksListPanel('sessions.entryPages', 'Entry pages', 'page', 'sessions', s.entryPages));
  if (s.exitPages) panels.push(clicksListPanel('sessions.exitPages', 'Exit pages', 'page', 'sessions', s.exitPages));
  return panels;
}

function isExactDistribution(d: { count: number; rankError: number } | undefined): boolean {
  return d !== undefined && d.count > 0 && d.rankError === 0;
}

export function funnelPanel(d: ReportData): Panel | undefined {
  const f = section(d.result, 'funnel', funnelSchema);
  if (!f) return undefined;
  const unit = f.unit ?? 'visitors';
  const first = f.steps[0]!.count;
  const share = (path: string, value: number | undefined, fallback: number) => (value !== undefined ? num(path, value, formatShare(value)) : esc(formatShare(fallback)));
  const rows: BarRow[] = f.steps.map((s, i) => ({
    key: s.name,
    keyHtml: `<b>${i + 1}.</b> ${esc(printable(s.name))}`,
    mark: { label: s.name, value: s.count, path: `result.funnel.steps.${i}.count` },
    cells: [
      share(`result.funnel.steps.${i}.ofFirst`, s.ofFirst, first > 0 ? s.count / first : 0),
      i === 0 && s.ofPrevious === undefined ? '–' : share(`result.funnel.steps.${i}.ofPrevious`, s.ofPrevious, f.steps[i - 1] && f.steps[i - 1]!.count > 0 ? s.count / f.steps[i - 1]!.count : 0),
    ],
  }));
  const note =
    f.sessions !== undefined
      ? `Of ${formatNumber(f.sessions)} sessions${f.definition ? `: ${f.definition.replace(/\.?$/, '.')}` : '.'} The first step's "of prev." is its share of all sessions.`
      : f.definition;
  return { id: 'funnel', title: 'Funnel', html: barTable('Funnel', ['step', unit, 'of first', 'of prev.'], rows), wide: true, ...(note ? { note } : {}) };
}

export function clickPathsPanel(d: ReportData): Panel | undefined {
  const list = section(d.result, 'clickPaths', clickPathsSchema);
  if (!list) return undefined;
  const base = 'result.clickPaths';
  const rows: BarRow[] = list.rows.map((r, i) => ({
    key: r.key,
    keyHtml: `${esc(printable(r.from))} <b>→</b> ${esc(printable(r.to))}`,
    mark: { label: `${printable(r.from, 40)} → ${printable(r.to, 40)}`, value: r.hits, path: `${base}.rows.${i}.hits` },
    cells: [esc(formatShare(r.share))],
  }));
  const note = `${num(`${base}.distinct`, list.distinct)} distinct pairs of ${num(`${base}.total`, list.total)} clicks from one page to the next in a session${list.rows.length < list.distinct ? `; top ${list.rows.length} shown` : ''}.`;
  return { id: 'clickPaths', title: 'Click paths', wide: true, html: `<p class="note">${note}</p>${barTable('Click paths', ['page → next page', 'clicks', 'share'], rows)}` };
}

export function clicksDefinitionsPanel(d: ReportData): Panel | undefined {
  const defs = section(d.result, 'definitions', clicksDefinitionsSchema);
  if (!defs) return undefined;
  const items: [string, string][] = [
    ['Click (page view)', defs.clickText],
    ['Visitor', defs.visitorText],
    ['Session', defs.sessionText],
    ['Days', defs.timezone === 'UTC' ? 'UTC' : `UTC${defs.timezone}`],
    ['Static files', defs.staticExtensions.map((e) => `.${e}`).join(' ')],
    ['Rows per list', String(defs.limit)],
  ];
  return { id: 'definitions', title: 'Definitions', wide: true, html: `<dl class="defs">${items.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(v)}</dd></div>`).join('')}</dl>` };
}
