/**
 * The default rendering of a summary or keyed job's result, for jobs without a `render` of their
 * own (a user's job, most often): the finalized value as text and tables, so every result prints
 * on a terminal and goes to `--csv` without `--json`.
 *
 *   a number, string or boolean        → one line of text
 *   { key: number, … }                 → a table (key, value), largest value first, ties by key
 *   { key: scalar, … }                 → a table (key, value) in the object's order
 *   [scalar, …]                        → a table of one column
 *   [{ col: scalar, … }, …]            → a table with a column per property (in first-seen order)
 *   { a: scalar, b: {…} or […], … }    → the scalars as one table, then each nested value by these
 *                                        rules under its key (two levels deep), else as JSON
 */
import type { Table } from './table.ts';

type Scalar = string | number | boolean | null;

/** Text and tables, as a job's `render` returns them. */
export interface ResultView {
  readonly text?: string;
  readonly tables?: readonly Table[];
}

const MAX_DEPTH = 2;

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function cell(v: Scalar | undefined): string | number {
  return typeof v === 'number' ? v : v === undefined || v === null ? '' : String(v);
}

function byValueThenKey(a: readonly [string, number], b: readonly [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/** A table of key → scalar entries; numbers only are ordered largest first and shown as counts. */
function entriesTable(entries: readonly (readonly [string, Scalar])[], title: string | undefined): Table {
  const numeric = entries.length > 0 && entries.every(([, v]) => typeof v === 'number');
  const rows = numeric ? [...(entries as readonly (readonly [string, number])[])].sort(byValueThenKey) : entries;
  return {
    ...(title !== undefined ? { title } : {}),
    columns: ['key', 'value'],
    ...(numeric ? { units: [undefined, 'count' as const] } : {}),
    rows: rows.map(([k, v]) => [k, cell(v)]),
  };
}

/** An array as a table, or undefined when its items are not all scalars or all flat objects. */
function arrayTable(items: readonly unknown[], title: string | undefined): Table | undefined {
  const titled = title !== undefined ? { title } : {};
  if (items.every(isScalar)) return { ...titled, columns: ['value'], rows: items.map((v) => [cell(v)]) };
  if (!items.every((o) => isRecord(o) && Object.values(o).every(isScalar))) return undefined;
  const columns: string[] = [];
  for (const o of items as Record<string, Scalar>[]) for (const k of Object.keys(o)) if (!columns.includes(k)) columns.push(k);
  return { ...titled, columns, rows: (items as Record<string, Scalar>[]).map((o) => columns.map((c) => cell(o[c]))) };
}

function json(value: unknown, title: string | undefined): string {
  return `${title !== undefined ? `${title}: ` : ''}${JSON.stringify(value, null, 2)}`;
}

function collect(value: unknown, title: string | undefined, depth: number, text: string[], tables: Table[]): void {
  if (value === undefined) return;
  if (isScalar(value)) {
    text.push(title !== undefined ? `${title}: ${String(value)}` : String(value));
    return;
  }
  if (Array.isArray(value)) {
    const table = arrayTable(value, title);
    if (table) tables.push(table);
    else text.push(json(value, title));
    return;
  }
  if (!isRecord(value)) {
    text.push(json(value, title));
    return;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  const scalars = entries.filter((e): e is [string, Scalar] => isScalar(e[1]));
  if (scalars.length > 0) tables.push(entriesTable(scalars, title));
  for (const [k, v] of entries) {
    if (isScalar(v)) continue;
    const name = title !== undefined ? `${title}.${k}` : k;
    if (depth >= MAX_DEPTH) text.push(json(v, name));
    else collect(v, name, depth + 1, text, tables);
  }
}

/** The result as text and tables (see the rules above). */
export function resultTables(result: unknown): ResultView {
  const text: string[] = [];
  const tables: Table[] = [];
  collect(result, undefined, 0, text, tables);
  if (text.length === 0 && tables.length === 0) text.push(result === undefined ? '(no result)' : JSON.stringify(result));
  return { ...(text.length > 0 ? { text: text.join('\n') } : {}), ...(tables.length > 0 ? { tables } : {}) };
}
