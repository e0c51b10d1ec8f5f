/**
 * count --by FIELD[,FIELD…]: exact counts of a parsed field, or of a combination of fields, over
 * every node's logs. Partials are exact maps, merged by adding: any order gives the same counts.
 */
import { z } from 'zod';
import { addCount, createCounts, decodeCounts, defineJob, isFieldName, mergeCounts, sortedCounts, unknownFieldMessage, type Counts, type FieldName } from 'geartrain/jobs';

const params = z.object({
  by: z
    .string()
    .min(1, 'count needs --by FIELD')
    .superRefine((v, ctx) => {
      for (const f of v.split(',').map((x) => x.trim())) if (!isFieldName(f)) ctx.addIssue({ code: 'custom', message: unknownFieldMessage(f) });
    }),
  /** Show only the N largest counts (0 = all). */
  limit: z.number().int().min(0).default(0),
});
type Params = z.infer<typeof params>;

export interface CountResult {
  readonly fields: readonly string[];
  readonly total: number;
  readonly distinct: number;
  /** [values…, count], largest count first, ties by value. */
  readonly rows: readonly (readonly (string | number)[])[];
}

const fieldsOf = (p: Params) => p.by.split(',').map((f) => f.trim()) as FieldName[];

export default defineJob<Params, Counts, CountResult>({
  kind: 'summary',
  name: 'count',
  description: 'exact counts of a parsed field or combination of fields',
  params,
  cli: { flags: { by: { param: 'by', type: 'string' }, limit: { param: 'limit', type: 'number' } }, usage: 'count --by FIELD[,FIELD…] [--limit N]' },
  input: (p) => ({ records: fieldsOf(p) }),
  create: createCounts,
  map(state, record, ctx) {
    const fields = fieldsOf(ctx.params);
    let key: string;
    if (fields.length === 1) key = String(record[fields[0]!]);
    else {
      key = '';
      for (let i = 0; i < fields.length; i++) key += (i > 0 ? '\t' : '') + String(record[fields[i]!]);
    }
    addCount(state, key);
  },
  merge: mergeCounts,
  encode: (state) => JSON.stringify(state),
  decode: decodeCounts,
  finalize(state, p) {
    const fields = fieldsOf(p);
    const entries = sortedCounts(state);
    const total = entries.reduce((n, [, c]) => n + c, 0);
    const shown = p.limit > 0 ? entries.slice(0, p.limit) : entries;
    return { fields, total, distinct: entries.length, rows: shown.map(([k, c]) => [...k.split('\t'), c]) };
  },
  render(result) {
    return { json: result, tables: [{ columns: [...result.fields, 'count'], units: [...result.fields.map(() => undefined), 'count'], rows: result.rows }] };
  },
});
