/**
 * Charts as inline SVG and HTML, drawn at render time (no script needed to see them). Every mark
 * carries `class="mark"`, `data-json` (the path of its number in the embedded data) and
 * `data-value`, so a reader, the page's script and the tests can tie it back to the JSON.
 * SVGs scale with their container (viewBox, width 100 %).
 */
import { esc, formatNumber, formatShare } from './format.ts';

export interface Mark {
  readonly label: string;
  readonly value: number;
  /** Path of the value in the embedded data, e.g. `result.timeline.days.3.hits`. */
  readonly path: string;
}

const W = 640;

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function compact(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${+(n / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(1)}`;
}

function markAttrs(m: Mark, format: (v: number) => string): string {
  return `class="mark" data-json="${esc(m.path)}" data-value="${m.value}" data-label="${esc(m.label)}" data-text="${esc(format(m.value))}"`;
}

export interface ColumnChartOptions {
  readonly title: string;
  /** One slot per entry; `null` leaves an empty slot (a gap in time). */
  readonly slots: readonly (Mark | null)[];
  /** Labels under the axis: slot index → text. */
  readonly ticks: readonly (readonly [number, string])[];
  readonly format: (v: number) => string;
  readonly seriesName: string;
  /** A second series drawn as dots on its own scale (right axis). */
  readonly overlay?: { readonly slots: readonly (Mark | null)[]; readonly format: (v: number) => string; readonly seriesName: string };
  readonly height?: number;
}

/** Vertical bars (and optional dots) over ordered slots, e.g. time buckets. */
export function columnChart(o: ColumnChartOptions): string {
  const H = o.height ?? 220;
  const left = 46;
  const right = o.overlay ? 46 : 10;
  const top = 12;
  const bottom = 26;
  const plotW = W - left - right;
  const plotH = H - top - bottom;
  const n = Math.max(1, o.slots.length);
  const band = plotW / n;
  const barW = Math.max(band * (n > 60 ? 0.9 : 0.72), 0.6);
  const max = niceMax(Math.max(0, ...o.slots.map((m) => m?.value ?? 0)));
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  for (const f of [0, 0.5, 1]) {
    const gy = y(max * f);
    parts.push(`<line class="grid" x1="${left}" x2="${W - right}" y1="${gy.toFixed(1)}" y2="${gy.toFixed(1)}"/>`);
    parts.push(`<text class="axis" x="${left - 4}" y="${(gy + 4).toFixed(1)}" text-anchor="end">${esc(compact(max * f))}</text>`);
  }
  o.slots.forEach((m, i) => {
    if (!m || m.value <= 0) return;
    const x = left + i * band + (band - barW) / 2;
    const h = Math.max((m.value / max) * plotH, 0.8);
    parts.push(
      `<rect ${markAttrs(m, o.format)} x="${x.toFixed(2)}" y="${(top + plotH - h).toFixed(2)}" width="${barW.toFixed(2)}" height="${h.toFixed(2)}"><title>${esc(`${m.label}: ${o.format(m.value)} ${o.seriesName}`)}</title></rect>`,
    );
  });
  if (o.overlay) {
    const omax = niceMax(Math.max(0, ...o.overlay.slots.map((m) => m?.value ?? 0)));
    const oy = (v: number) => top + plotH - (v / omax) * plotH;
    for (const f of [0, 0.5, 1]) {
      parts.push(`<text class="axis overlay-axis" x="${W - right + 4}" y="${(oy(omax * f) + 4).toFixed(1)}">${esc(compact(omax * f))}</text>`);
    }
    const r = Math.min(4, Math.max(1.6, band * 0.3));
    o.overlay.slots.forEach((m, i) => {
      if (!m) return;
      const cx = left + i * band + band / 2;
      parts.push(
        `<circle ${markAttrs(m, o.overlay!.format).replace('class="mark"', 'class="mark dot"')} cx="${cx.toFixed(2)}" cy="${oy(m.value).toFixed(2)}" r="${r.toFixed(2)}"><title>${esc(`${m.label}: ${o.overlay!.format(m.value)} ${o.overlay!.seriesName}`)}</title></circle>`,
      );
    });
  }
  for (const [i, text] of o.ticks) {
    const x = left + i * band + band / 2;
    parts.push(`<text class="axis" x="${x.toFixed(1)}" y="${H - 8}" text-anchor="middle">${esc(text)}</text>`);
  }
  const legend = o.overlay
    ? `<p class="legend"><span class="key bars"></span>${esc(o.seriesName)} (left) <span class="key dots"></span>${esc(o.overlay.seriesName)} (right)</p>`
    : '';
  return `<figure class="chart"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}" preserveAspectRatio="xMidYMid meet">${parts.join('')}</svg>${legend}</figure>`;
}

export interface StackPart {
  readonly mark: Mark;
  readonly className: string;
  readonly name: string;
}

/** One horizontal bar split into parts (shares of a whole), with a legend. */
export function stackedBar(title: string, parts: readonly StackPart[], format: (v: number) => string): string {
  const total = parts.reduce((n, p) => n + p.mark.value, 0);
  const H = 46;
  let x = 0;
  const rects: string[] = [];
  for (const p of parts) {
    if (p.mark.value <= 0) continue;
    const w = total > 0 ? (p.mark.value / total) * W : 0;
    rects.push(
      `<rect ${markAttrs(p.mark, format).replace('class="mark"', `class="mark ${p.className}"`)} x="${x.toFixed(2)}" y="4" width="${Math.max(w, 1).toFixed(2)}" height="${H - 8}"><title>${esc(`${p.name}: ${format(p.mark.value)} (${formatShare(p.mark.value / total)})`)}</title></rect>`,
    );
    x += w;
  }
  const legend = parts
    .map((p) => `<li><span class="key ${p.className}"></span>${esc(p.name)} <b>${esc(format(p.mark.value))}</b> <small>${esc(formatShare(total > 0 ? p.mark.value / total : 0))}</small></li>`)
    .join('');
  return `<figure class="chart"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" preserveAspectRatio="none" class="stack">${rects.join('')}</svg><ul class="legend">${legend}</ul></figure>`;
}

export interface BarRow {
  readonly key: string;
  /** Shown as the key; may hold markup (already escaped). */
  readonly keyHtml: string;
  readonly mark: Mark;
  /** Further cells (already escaped HTML). */
  readonly cells: readonly string[];
}

/**
 * A table whose rows carry a bar proportional to their value (the largest row fills the track):
 * a horizontal bar chart that stays readable on a phone, with the numbers beside it.
 */
export function barTable(title: string, columns: readonly string[], rows: readonly BarRow[], format: (v: number) => string = formatNumber, wideLast = false): string {
  if (rows.length === 0) return `<p class="empty">No data.</p>`;
  const max = Math.max(...rows.map((r) => r.mark.value), 0);
  const head = columns.map((c, i) => `<th${i === 0 ? ' class="k"' : wideLast && i === columns.length - 1 ? ' class="wide"' : ''}>${esc(c)}</th>`).join('');
  const body = rows
    .map((r) => {
      const pct = max > 0 ? (r.mark.value / max) * 100 : 0;
      const bar = r.mark.value > 0 ? `<span ${markAttrs(r.mark, format).replace('class="mark"', 'class="mark bar"')} style="width:${Math.max(pct, 0.5).toFixed(2)}%"></span>` : '';
      return `<tr><td class="k"><div class="kv" title="${esc(r.key.length > 2000 ? `${r.key.slice(0, 2000)}…` : r.key)}">${r.keyHtml}</div><div class="track">${bar}</div></td><td class="n">${esc(format(r.mark.value))}</td>${r.cells.map((c) => `<td class="n">${c}</td>`).join('')}</tr>`;
    })
    .join('');
  return `<div class="chart table-chart" role="figure" aria-label="${esc(title)}"><table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}
