/** Turning job results into terminal tables, CSV and JSON. */
import type { Table } from '../mapreduce/job-definition.ts';

export function formatTable(table: Table): string {
  const cells = [table.columns.map(String), ...table.rows.map((r) => r.map((c) => (typeof c === 'number' ? formatNumber(c) : String(c))))];
  const numeric = table.columns.map((_, i) => table.rows.length > 0 && table.rows.every((r) => typeof r[i] === 'number'));
  const widths = table.columns.map((_, i) => Math.min(80, Math.max(...cells.map((r) => (r[i] ?? '').length))));
  const line = (r: string[]) =>
    r
      .map((c, i) => {
        const text = c.length > widths[i]! ? c.slice(0, widths[i]! - 1) + '…' : c;
        return numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  const out = [line(cells[0]!), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)];
  return (table.title ? `${table.title}\n` : '') + out.join('\n') + '\n';
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(Math.abs(n) >= 100 ? 1 : 3);
}

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatCsv(table: Table): string {
  return [table.columns.map(csvCell).join(','), ...table.rows.map((r) => r.map(csvCell).join(','))].join('\n') + '\n';
}

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}
