/**
 * top FIELD [--limit N]: the N most frequent values of any parsed field, with exact counts.
 *
 * Partials are exact value → count maps (bounded by the number of distinct values, never cut per
 * chunk); merging adds them, and the cut to the top N happens once, in finalize. Ties are broken by
 * value so every run gives the same rows. Records whose format lacks the field are counted apart
 * (`missing`), not as a value.
 */
import { z } from 'zod';
import {
  defineJob,
  detachString,
  InvalidArgumentError,
  isFieldName,
  NUMERIC_FIELDS,
  topK,
  unknownFieldMessage,
  type FieldName,
} from 'geartrain/jobs';

const params = z.object({
  field: z.string().superRefine((f, ctx) => {
    if (!isFieldName(f)) ctx.addIssue({ code: 'custom', message: unknownFieldMessage(f) });
  }),
  limit: z.number().int().min(1).max(1_000_000).default(10),
});
type Params = z.infer<typeof params>;

class Slot {
  n = 0;
}

interface State {
  readonly counts: Map<string | number, Slot>;
  missing: number;
}

export interface TopResult {
  readonly field: string;
  /** Records that had the field. */
  readonly total: number;
  /** Records whose format does not provide the field. */
  readonly missing: number;
  readonly distinct: number;
  readonly limit: number;
  /** Largest count first, ties by value. */
  readonly rows: readonly { readonly value: string | number; readonly count: number; readonly share: number }[];
}

function compareValues(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export default defineJob<Params, State, TopResult>({
  kind: 'summary',
  name: 'top',
  description: 'the most frequent values of a parsed field, with exact counts',
  params,
  cli: { positionals: ['field'], flags: { limit: { param: 'limit', type: 'number', alias: 'n' } }, usage: 'top FIELD [--limit N]' },
  input: (p) => ({ records: [p.field as FieldName] }),
  create: () => ({ counts: new Map(), missing: 0 }),
  map(state, record, ctx) {
    const v = record[ctx.params.field as FieldName] as string | number | undefined;
    if (v === undefined) {
      state.missing++;
      return;
    }
    let slot = state.counts.get(v);
    if (slot === undefined) {
      slot = new Slot();
      state.counts.set(typeof v === 'string' ? detachString(v) : v, slot);
    }
    slot.n++;
  },
  merge(into, other) {
    for (const [v, s] of other.counts) {
      let mine = into.counts.get(v);
      if (!mine) into.counts.set(v, (mine = new Slot()));
      mine.n += s.n;
    }
    into.missing += other.missing;
    return into;
  },
  encode(state) {
    const flat: (string | number)[] = [];
    for (const [v, s] of state.counts) flat.push(v, s.n);
    return JSON.stringify({ c: flat, m: state.missing });
  },
  decode(data) {
    const o = JSON.parse(data.toString('utf8')) as { c?: unknown; m?: unknown };
    if (!Array.isArray(o.c) || o.c.length % 2 !== 0 || typeof o.m !== 'number') {
      throw new InvalidArgumentError('top: malformed partial state', { field: 'state' });
    }
    const counts = new Map<string | number, Slot>();
    for (let i = 0; i < o.c.length; i += 2) {
      const s = new Slot();
      s.n = o.c[i + 1] as number;
      counts.set(o.c[i] as string | number, s);
    }
    return { counts, missing: o.m };
  },
  finalize(state, p) {
    let total = 0;
    for (const s of state.counts.values()) total += s.n;
    // topK orders ties by string key; numeric fields are re-ordered numerically within ties below.
    const numeric = NUMERIC_FIELDS.has(p.field);
    const best = topK(
      [...state.counts].map(([v, s]) => [numeric ? String(v) : (v as string), { v, n: s.n }] as const),
      (e) => e.n,
      numeric ? 0 : p.limit,
    )
      .map(([, e]) => e)
      .sort((a, b) => b.n - a.n || compareValues(a.v, b.v))
      .slice(0, p.limit);
    return {
      field: p.field,
      total,
      missing: state.missing,
      distinct: state.counts.size,
      limit: p.limit,
      rows: best.map((e) => ({ value: e.v, count: e.n, share: total > 0 ? e.n / total : 0 })),
    };
  },
  render(result) {
    const text =
      `${result.total.toLocaleString('en-US')} records, ${result.distinct.toLocaleString('en-US')} distinct ${result.field} values` +
      (result.missing > 0 ? ` (${result.missing.toLocaleString('en-US')} records without ${result.field})` : '');
    return {
      json: result,
      text,
      tables: [{ columns: [result.field, 'count', '%'], units: [undefined, 'count', '%'], rows: result.rows.map((r) => [r.value, r.count, Number((r.share * 100).toFixed(2))]) }],
    };
  },
});
