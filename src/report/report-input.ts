import { z } from 'zod';
import { parseStatsSchema } from '../logs/index.ts';

/**
 * What the report accepts as its input: the `--json` output of `geartrain run JOB` (only the
 * fields read here are checked; others pass). `result` is validated per section by the report,
 * so a result that has only some sections (another job's) still renders.
 */
export const reportInputSchema = z.looseObject({
  job: z.string().optional(),
  result: z.looseObject({}),
  counters: z.record(z.string(), z.number()).optional(),
  stats: parseStatsSchema.nullable().optional(),
  nodes: z.array(z.string()).optional(),
  timings: z.looseObject({ total: z.number().optional() }).optional(),
  bytes: z.number().optional(),
  partial: z.boolean().optional(),
  missing: z.array(z.object({ node: z.string(), path: z.string() })).optional(),
});
export type ReportInput = z.infer<typeof reportInputSchema>;
