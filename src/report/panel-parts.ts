/**
 * What every panel module shares: the data a report renders, the panel shape, and small helpers
 * that tie numbers in the page to their place in the data.
 */
import type { z } from 'zod';
import type { ParseStatsJSON } from '../logs/index.ts';
import { esc, formatNumber } from './format.ts';

/** What the report renders: the `--json` document of a run (result plus run facts). */
export interface ReportData {
  readonly result: Record<string, unknown>;
  readonly counters?: Readonly<Record<string, number>>;
  readonly stats?: ParseStatsJSON | null;
  readonly nodes?: readonly string[];
  readonly timings?: Readonly<Record<string, unknown>>;
  readonly job?: string;
  readonly partial?: boolean;
  readonly missing?: readonly { node: string; path: string }[];
}

export interface Panel {
  readonly id: string;
  readonly title: string;
  readonly html: string;
  /** Spans the whole width on a large screen. */
  readonly wide?: boolean;
  /** A sentence under the title. */
  readonly note?: string;
}

/** A number in the page, tied to its place in the data. */
export function num(path: string, value: number, text: string = formatNumber(value)): string {
  return `<span class="num" data-json="${esc(path)}" data-value="${value}">${esc(text)}</span>`;
}

/** A section of the result, if present and valid for its schema. */
export function section<S extends z.ZodType>(result: Record<string, unknown>, key: string, schema: S): z.infer<S> | undefined {
  if (!(key in result)) return undefined;
  const r = schema.safeParse(result[key]);
  return r.success ? r.data : undefined;
}

/** One figure of a row of cards. */
export function card(label: string, valueHtml: string, sub = ''): string {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${valueHtml}</div>${sub ? `<div class="sub">${sub}</div>` : ''}</div>`;
}

/** Evenly spaced tick positions (about `want` of them) over n slots. */
export function ticks(n: number, want: number, label: (i: number) => string): [number, string][] {
  if (n === 0) return [];
  const step = Math.max(1, Math.ceil(n / want));
  const out: [number, string][] = [];
  for (let i = 0; i < n; i += step) out.push([i, label(i)]);
  return out;
}
