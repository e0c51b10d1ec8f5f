/**
 * The shape of `analyze`'s result (its finalize output, the `result` of `geartrain run analyze
 * --json`) and of `clicks`' result. The report renders a panel per section present, so other
 * jobs (`clicks`: sessions, funnel) add sections rather than a new format.
 *
 * Conventions: counts are numbers; times are ISO 8601 strings; a "top list" holds the rows
 * that survived the cut to the top K, plus `total` (hits over all keys, not only the rows shown)
 * and `distinct` (number of keys before the cut), so a reader can tell what was left out.
 */
import { z } from 'zod';

const count = z.number().nonnegative();

export const topRowSchema = z.object({
  key: z.string(),
  hits: count,
  bytes: count.optional(),
  /** hits / the list's total, 0..1. */
  share: z.number().min(0).max(1),
  /**
   * Only in an approximate list: hits is a lower bound and the true count is at most
   * hits + hitsError (bytes is then a lower bound too).
   */
  hitsError: count.optional(),
  /** 404 rows: the referrer of the latest request (`-` when it had none). */
  lastReferrer: z.string().optional(),
  lastTime: z.string().optional(),
});
export type TopRow = z.infer<typeof topRowSchema>;

export const topListSchema = z.object({
  /** What one key is, in words (e.g. "path without query"). */
  keyDefinition: z.string().optional(),
  total: count,
  distinct: count,
  rows: z.array(topRowSchema),
  /**
   * false when the panel had more distinct keys than its table holds (`--max-keys`): each row's
   * hits is then a lower bound, off by at most its hitsError ≤ maxError, and a key not listed had
   * at most maxError hits. Absent in results from before key tables were bounded (exact).
   */
  exact: z.boolean().optional(),
  maxError: count.optional(),
  /** false: `distinct` is an estimate (a HyperLogLog of the keys, about 0.8 % standard error). */
  distinctExact: z.boolean().optional(),
});
export type TopList = z.infer<typeof topListSchema>;

export const distributionSchema = z.object({
  unit: z.string(),
  count: count,
  sum: z.number(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
  /** p in percent (50, 90, …). */
  percentiles: z.array(z.object({ p: z.number(), value: z.number() })),
  /** Largest rank error the sketch allows (0.01 = 1 % of the values). */
  rankError: z.number(),
});
export type Distribution = z.infer<typeof distributionSchema>;

const sketchSpec = z.object({ p: z.number().int(), exactBelow: z.number().int(), relativeStdError: z.number() });

export const analysisDefinitionsSchema = z.object({
  requestKey: z.array(z.enum(['method', 'path', 'query', 'protocol'])),
  requestKeyText: z.string(),
  visitor: z.enum(['ip+agent', 'ip']),
  visitorText: z.string(),
  timezone: z.string(),
  timezoneText: z.string(),
  staticExtensions: z.array(z.string()),
  siteHosts: z.array(z.string()),
  limit: z.number().int(),
  /** Capacity of each key table: a panel with more distinct keys is approximate (see topList.exact). */
  maxKeys: z.number().int().optional(),
  accuracy: z.object({
    visitorsHour: sketchSpec,
    visitorsDay: sketchSpec,
    visitorsPeriod: sketchSpec,
    percentiles: z.object({ compression: z.number(), rankError: z.number() }),
  }),
});

export const totalsSchema = z.object({
  requests: count,
  bytes: count,
  /** Distinct visitors over the whole period: the union, never the sum of the days. */
  visitors: count,
  visitorsExact: z.boolean(),
  firstTime: z.string().nullable(),
  lastTime: z.string().nullable(),
  pageRequests: count,
  staticRequests: count,
  notFound: count,
  crawlerRequests: count,
  /** Requests without a time (a format without %t): counted everywhere but in the timeline. */
  untimed: count,
  distinctRequests: count,
  distinctStaticFiles: count,
  distinctNotFound: count,
  distinctHosts: count,
  distinctAgents: count,
  distinctReferrers: count,
  /** From the run's counters, when the engine gave them. */
  linesRead: count.optional(),
  badLines: count.optional(),
  records: count.optional(),
  bytesRead: count.optional(),
});

export const statusCodesSchema = z.object({
  rows: z.array(z.object({ code: z.number().int(), name: z.string(), class: z.string(), hits: count, bytes: count, share: z.number() })),
  classes: z.array(z.object({ class: z.string(), name: z.string(), hits: count, bytes: count, share: z.number() })),
});

const bucket = { hits: count, bytes: count };
export const timelineSchema = z.object({
  /** The zone the buckets are in (see definitions.timezoneText). */
  timezone: z.string(),
  hours: z.array(z.object({ time: z.string(), ...bucket, visitors: count })),
  days: z.array(z.object({ date: z.string(), ...bucket, visitors: count })),
  hourOfDay: z.array(z.object({ hour: z.number().int().min(0).max(23), ...bucket })),
});

export const analysisResultSchema = z.looseObject({
  job: z.literal('analyze'),
  version: z.literal(1),
  definitions: analysisDefinitionsSchema,
  totals: totalsSchema,
  statusCodes: statusCodesSchema,
  timeline: timelineSchema,
  requests: topListSchema,
  staticFiles: topListSchema,
  notFound: topListSchema,
  hosts: topListSchema,
  referringSites: topListSchema,
  referrers: topListSchema,
  keyphrases: topListSchema,
  browsers: topListSchema,
  operatingSystems: topListSchema,
  crawlers: topListSchema,
  devices: topListSchema,
  responseSizes: distributionSchema,
  latency: distributionSchema.nullable(),
});
export type AnalysisResult = z.infer<typeof analysisResultSchema>;

/**
 * Sections of the `clicks` job (jobs/clicks.ts); the report draws them when present. The report
 * reads them with the permissive `sessionsSchema` and `funnelSchema` (every field but the counts
 * optional, so a hand-made or older result still renders); `clicksResultSchema` is what the job
 * itself produces, every field present.
 */
const dayCounts = z.object({ date: z.string(), sessions: count, pageViews: count.optional(), visitors: count.optional() });
export const durationBucketSchema = z.object({ label: z.string(), minSeconds: count, maxSeconds: count.nullable(), sessions: count, share: z.number().min(0).max(1) });
export const pagesPerSessionRowSchema = z.object({ pages: z.number().int().min(1), sessions: count, share: z.number().min(0).max(1) });

export const sessionsSchema = z.looseObject({
  count: count,
  /** Distinct visitors with at least one session (exact: each visitor is reduced once). */
  visitors: count.optional(),
  pageViews: count.optional(),
  timeoutMinutes: z.number().optional(),
  firstTime: z.string().nullable().optional(),
  lastTime: z.string().nullable().optional(),
  medianDurationSeconds: z.number().optional(),
  meanDurationSeconds: z.number().optional(),
  meanPagesPerSession: z.number().optional(),
  medianPagesPerSession: z.number().optional(),
  bounces: count.optional(),
  bounceRate: z.number().min(0).max(1).optional(),
  /** Exact session lengths in seconds (rankError 0). */
  duration: distributionSchema.optional(),
  durationBuckets: z.array(durationBucketSchema).optional(),
  pagesPerSession: z.array(pagesPerSessionRowSchema).optional(),
  /** Sessions by the day of their first click. */
  days: z.array(dayCounts).optional(),
  entryPages: topListSchema.optional(),
  exitPages: topListSchema.optional(),
});

export const funnelStepSchema = z.object({
  /** The step's page glob as given. */
  name: z.string(),
  count: count,
  ofFirst: z.number().min(0).max(1).optional(),
  /** count / the previous step's count; for the first step, count / all sessions. */
  ofPrevious: z.number().min(0).max(1).optional(),
});
export const funnelSchema = z.looseObject({
  /** What a count counts (default `visitors` for results without it). */
  unit: z.string().optional(),
  /** Sessions considered (the base of the first step's conversion). */
  sessions: count.optional(),
  definition: z.string().optional(),
  steps: z.array(funnelStepSchema).min(1),
});

export const clickPathRowSchema = topRowSchema.extend({ from: z.string(), to: z.string() });
export type ClickPathRow = z.infer<typeof clickPathRowSchema>;
export const clickPathsSchema = topListSchema.extend({ rows: z.array(clickPathRowSchema) });

export const clicksDefinitionsSchema = z.object({
  visitor: z.enum(['ip+agent', 'ip']),
  visitorText: z.string(),
  clickText: z.string(),
  methods: z.array(z.string()),
  status: z.string(),
  crawlers: z.enum(['exclude', 'include']),
  pageKey: z.enum(['path', 'path+query']),
  staticExtensions: z.array(z.string()),
  timeoutMinutes: z.number(),
  sessionText: z.string(),
  timezone: z.string(),
  limit: z.number().int(),
});

export const clicksResultSchema = z.object({
  job: z.literal('clicks'),
  version: z.literal(1),
  definitions: clicksDefinitionsSchema,
  /** The run's counters about clicks: `clicks`, `skipped_status`, `skipped_static`, … */
  requests: z.record(z.string(), count).optional(),
  sessions: sessionsSchema.extend({
    visitors: count,
    pageViews: count,
    timeoutMinutes: z.number(),
    firstTime: z.string().nullable(),
    lastTime: z.string().nullable(),
    meanPagesPerSession: z.number(),
    medianPagesPerSession: z.number(),
    bounces: count,
    bounceRate: z.number().min(0).max(1),
    meanDurationSeconds: z.number(),
    medianDurationSeconds: z.number(),
    duration: distributionSchema,
    durationBuckets: z.array(durationBucketSchema),
    pagesPerSession: z.array(pagesPerSessionRowSchema),
    days: z.array(z.object({ date: z.string(), sessions: count, pageViews: count, visitors: count })),
    entryPages: topListSchema,
    exitPages: topListSchema,
  }),
  clickPaths: clickPathsSchema,
  funnel: funnelSchema
    .extend({ unit: z.string(), sessions: count, definition: z.string(), steps: z.array(funnelStepSchema.required()).min(1) })
    .optional(),
});
export type ClicksResult = z.infer<typeof clicksResultSchema>;
