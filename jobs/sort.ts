/**
 * sort --by FIELD[,FIELD…]: every node's parsed lines in one globally sorted output, like
 * `sort -k` over all the logs at once: ties keep (node, file, offset) order; `--desc` reverses
 * the field order. Lines that do not parse have no fields and are left out (they are counted as
 * bad lines). Scalable: keys are sampled first and cut into one range per node, each range is
 * merged by its own reducer, and the ranges concatenate in order.
 */
import { z } from 'zod';
import {
  defineJob,
  descendingKey,
  isFieldName,
  joinKeys,
  numberKey,
  NUMERIC_FIELDS,
  textKey,
  uintKey,
  unknownFieldMessage,
  type FieldName,
  type MapContext,
} from 'geartrain/jobs';

const params = z.object({
  by: z
    .string()
    .min(1, 'sort needs --by FIELD')
    .superRefine((v, ctx) => {
      for (const f of v.split(',').map((x) => x.trim())) {
        if (f === 'line') ctx.addIssue({ code: 'custom', message: "sort cannot sort by the raw 'line'" });
        else if (!isFieldName(f)) ctx.addIssue({ code: 'custom', message: unknownFieldMessage(f) });
      }
    }),
  desc: z.boolean().default(false),
  /** Key ranges (reducers); default one per node. */
  ranges: z.number().int().min(1).max(1000).optional(),
});
type Params = z.infer<typeof params>;

const fieldsOf = (p: Params) => p.by.split(',').map((f) => f.trim()) as FieldName[];

/** The constant tail of a shard's keys (`node\0file\0`), made once per shard. */
const tails = new WeakMap<MapContext<Params>, Buffer>();

export default defineJob<Params>({
  kind: 'sorted',
  name: 'sort',
  description: 'all parsed lines sorted by fields across every node (sampled key ranges, merged in parallel)',
  params,
  cli: {
    flags: {
      by: { param: 'by', type: 'string' },
      desc: { param: 'desc', type: 'boolean' },
      ranges: { param: 'ranges', type: 'number' },
    },
    usage: 'sort --by FIELD[,FIELD…] [--desc] [--ranges R]',
  },
  input: (p) => ({ records: [...fieldsOf(p), 'line', 'offset'] }),
  rangePartitions: (p, nodes) => p.ranges ?? nodes,
  mapSortedRecord(record, emit, ctx) {
    const parts: Buffer[] = [];
    for (const f of fieldsOf(ctx.params)) {
      const v = (record as Record<string, unknown>)[f];
      const part = NUMERIC_FIELDS.has(f) || f === 'time' ? numberKey(Number(v)) : textKey(String(v ?? ''));
      parts.push(ctx.params.desc ? descendingKey(part) : part);
    }
    let tail = tails.get(ctx);
    if (!tail) tails.set(ctx, (tail = Buffer.from(`${ctx.node}\0${ctx.file}\0`, 'utf8')));
    const offset = uintKey(Math.max(0, record.offset as number)); // -1 when unknown (key samples)
    emit(joinKeys([...parts, tail, offset]), Buffer.from(record.line as string, 'latin1'));
  },
});
