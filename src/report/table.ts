/**
 * A job's tables, one way of reading them wherever they are shown: each cell is formatted once by
 * its column's unit (bytes in binary units, percentages as "81.4 %"), then laid out as text for
 * the terminal or as HTML for the report; CSV keeps the raw values.
 */
import { esc, formatBytes, formatMicros, formatNumber, formatPercent } from './format.ts';

/** How a numeric column reads: bytes, a percentage 0..100, microseconds, or a count. */
export type ColumnUnit = 'bytes' | '%' | 'µs' | 'count';

/** Table output: one header row, then rows. */
export interface Table {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  readonly title?: string;
  /** Units of the columns, by position; a column without one shows its values as they are. */
  readonly units?: readonly (ColumnUnit | undefined)[];
}

/** One cell as shown: by its unit, else integers as they are and fractions to three decimals. */
export function formatCell(value: string | number, unit: ColumnUnit | undefined): string {
  if (typeof value !== 'number') return value;
  switch (unit) {
    case 'bytes':
      return formatBytes(value);
    case '%':
      return formatPercent(value);
    case 'µs':
      return formatMicros(value);
    case 'count':
      return formatNumber(value, 3);
    default:
      return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(3)));
  }
}

/** The header and the formatted rows, and which columns are numeric (right-aligned). */
function cellsOf(table: Table): { header: string[]; rows: string[][]; numeric: boolean[] } {
  const rows = table.rows.map((r) => r.map((c, i) => formatCell(c, table.units?.[i])));
  const numeric = table.columns.map((_, i) => table.rows.length > 0 && table.rows.every((r) => typeof r[i] === 'number'));
  return { header: table.columns.map(String), rows, numeric };
}

/** The table as aligned text (cells longer than 80 characters are cut). */
export function textTable(table: Table): string {
  const { header, rows, numeric } = cellsOf(table);
  const widths = header.map((_, i) => Math.min(80, Math.max(...[header, ...rows].map((r) => (r[i] ?? '').length))));
  const line = (r: string[]) =>
    r
      .map((c, i) => {
        const text = c.length > widths[i]! ? c.slice(0, widths[i]! - 1) + '…' : c;
        return numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  const out = [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)];
  return (table.title ? `${table.title}\n` : '') + out.join('\n') + '\n';
}

/** The table as HTML, for the report. */
export function htmlTable(table: Table): string {
  const { header, rows, numeric } = cellsOf(table);
  if (rows.length === 0) return '<p class="empty">No data.</p>';
  const head = header.map((c, i) => `<th${numeric[i] ? '' : ' class="k"'}>${esc(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td class="${numeric[i] ? 'n' : 'k'}">${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV (RFC 4180), raw values. */
export function csvTable(table: Table): string {
  return [table.columns.map(csvCell).join(','), ...table.rows.map((r) => r.map(csvCell).join(','))].join('\n') + '\n';
}
