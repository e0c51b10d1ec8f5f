/**
 * What `geartrain run` (and `analyze`) print once a run is done: the result as text tables, JSON
 * or CSV (every table: sections in one stream, or one file per table with `--out DIR/`), and on a
 * terminal a summary of the run with its counters.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import type { RunReport } from '../mapreduce/coordinator.ts';
import { formatBytes, formatDuration, formatNumber } from '../report/format.ts';
import { csvTable, textTable, type Table } from '../report/table.ts';

/** `--out DIR/` (or an existing directory) with --csv: one file per table. */
export function isCsvDirectory(out: string | undefined): boolean {
  if (out === undefined) return false;
  if (out.endsWith('/') || out.endsWith(path.sep)) return true;
  try {
    return fs.statSync(out).isDirectory();
  } catch {
    return false;
  }
}

/** `Funnel (1,083 sessions)` → `funnel`: a file name for a table (its title without the counts). */
function slug(title: string): string {
  return title.replace(/\s*\(.*\)\s*$/, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'table';
}

/** Writes each table to DIR/<its title>.csv; returns the file names. */
export function writeCsvFiles(dir: string, tables: readonly Table[]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const names: string[] = [];
  tables.forEach((t, i) => {
    const base = t.title ? slug(t.title) : `table-${i + 1}`;
    let name = `${base}.csv`;
    for (let n = 2; names.includes(name); n++) name = `${base}-${n}.csv`;
    names.push(name);
    fs.writeFileSync(path.join(dir, name), csvTable(t));
  });
  return names;
}

/** CSV of every table: one table alone, several as `# Title` sections separated by an empty line. */
export function csvSections(tables: readonly Table[]): string {
  if (tables.length === 1) return csvTable(tables[0]!);
  return tables.map((t, i) => `# ${t.title ?? `table ${i + 1}`}\n${csvTable(t)}`).join('\n');
}

/** The result on `sink` as the flags ask: JSON, CSV, or text and tables. */
export function writeResult(report: RunReport, format: 'json' | 'csv' | 'text', sink: NodeJS.WritableStream): void {
  if (format === 'json') {
    const { lines, ...rest } = report;
    const body = { ...rest, result: report.rendered?.json ?? report.result, ...(lines ? { lines: lines.map((l) => l.toString('utf8')) } : {}) };
    sink.write(JSON.stringify(body, null, 2) + '\n');
  } else if (format === 'csv') {
    const tables = report.rendered?.tables ?? [];
    if (tables.length > 0) sink.write(csvSections(tables));
    else for (const l of report.lines ?? []) sink.write(l.toString('utf8') + '\n');
  } else if (report.rendered) {
    if (report.rendered.text) sink.write(report.rendered.text + '\n');
    for (const t of report.rendered.tables ?? []) sink.write(textTable(t) + '\n');
  }
}

/** Refuses `--out DIR/` where it cannot apply. */
export function checkOut(out: string | undefined, csv: boolean): void {
  if (!csv && out !== undefined && isCsvDirectory(out)) {
    throw new InvalidArgumentError(`--out ${out} is a directory: one file per table is for --csv; give a file name`, { field: 'out' });
  }
}

/** The run in two lines, for a terminal: what was read and how, then every counter. */
export function runSummary(report: RunReport): string {
  const t = report.tasks;
  const head =
    `${report.job}: ${formatBytes(report.bytes)} on ${report.nodes.length} node(s), ${t.map} map and ${t.reduce} reduce tasks` +
    `${t.retried ? ` (${t.retried} retried)` : ''}${t.speculative ? ` (${t.speculative} straggler(s) copied, ${t.speculativeWon} copy won)` : ''}` +
    `, ${formatNumber(report.counters.bad_lines ?? 0)} bad line(s), ${formatDuration(report.timings.total)}`;
  const counters = Object.entries(report.counters)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k} ${k.startsWith('bytes') ? formatBytes(v) : formatNumber(v)}`);
  return `${head}\n${counters.length > 0 ? `counters: ${counters.join(', ')}\n` : ''}`;
}
