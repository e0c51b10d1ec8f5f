/**
 * The payloads the coordinator and nodes send each other, as zod schemas with a typed encoder for
 * each request: both sides validate, so a bad task from any Gearman client is refused with a
 * message naming the field. Function names and the unique keys of tasks are in src/wire-names.ts
 * (the job server reads those too); this module is the bodies.
 *
 *   geartrain.map@<node>      MapTask → MapResult
 *   geartrain.reduce[@node]   ReduceTask → ReduceResult
 *   geartrain.fetch@<node>    FetchRequest → a chunk (get), NodeInfo (info), SampleResult (sample),
 *                             nothing (drop, cancel)
 *   geartrain.catalog@<node>  CatalogRequest (logs/catalog.ts) → NodeCatalog
 *   geartrain.code@<hash>     the hash → the bundled module
 *
 * A node started with GEARTRAIN_SECRET takes these payloads only inside a signed envelope
 * (task-auth.ts); run ids, task ids and partial keys are store names (store-names.ts).
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';
import type { CatalogRequest } from '../logs/catalog.ts';
import { partialKeySchema, storeNameSchema } from './store-names.ts';

export const WIRE_VERSION = 1;

const name = z.string().min(1).max(200);

/** Which job to run: a built-in by name, shipped code by hash, or a streaming (any-language) job. */
export const jobRefSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('builtin'), name }),
  z.object({
    type: z.literal('code'),
    /** sha256 of the bundled module, hex. */
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    /** HMAC-SHA256(GEARTRAIN_SECRET, hash), hex. */
    signature: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.object({
    type: z.literal('streaming'),
    mapper: z.string().min(1).optional(),
    mapperFunction: z.string().min(1).optional(),
    combiner: z.string().min(1).optional(),
    reducer: z.string().min(1).optional(),
  }),
]);
export type JobRef = z.infer<typeof jobRefSchema>;
/** A Hadoop Streaming style job: shell commands, or a Gearman function as the mapper. */
export type StreamingSpec = Omit<Extract<JobRef, { type: 'streaming' }>, 'type'>;

export const shardSpecSchema = z.object({
  id: z.string().min(1),
  path: z.string().min(1),
  /** Byte range; a line belongs to the range it starts in. `end` null = to the end of the file. */
  start: z.number().int().min(0),
  end: z.number().int().min(0).nullable(),
  format: z.string().min(1),
  gzip: z.boolean(),
});
export type ShardSpec = z.infer<typeof shardSpecSchema>;

export const filterSpecSchema = z.object({
  since: z.number().optional(),
  until: z.number().optional(),
  where: z.string().optional(),
  vhost: z.string().optional(),
});
export type FilterSpec = z.infer<typeof filterSpecSchema>;

export const refSchema = z.object({
  node: name,
  key: partialKeySchema,
  size: z.number().int().min(0),
  /** Records in a sorted run (0 for summaries). */
  records: z.number().int().min(0).default(0),
});
export type Ref = z.infer<typeof refSchema>;

const countersSchema = z.record(z.string(), z.number());

export const mapTaskSchema = z.object({
  v: z.literal(WIRE_VERSION),
  kind: z.literal('map'),
  runId: storeNameSchema,
  taskId: storeNameSchema,
  job: jobRefSchema,
  params: z.unknown(),
  shards: z.array(shardSpecSchema).min(1),
  filter: filterSpecSchema,
  /** Keyed and streaming jobs: partitions to split the output into. */
  partitions: z.number().int().min(1).max(10_000).optional(),
  /** Bytes of map output to hold in memory before spilling a sorted run to disk. */
  memoryBudget: z.number().int().min(64 * 1024).optional(),
  /** Sorted jobs split by key range: R-1 boundaries (hex), record goes to the first range whose bound exceeds its key. */
  rangeBoundaries: z.array(z.string().regex(/^[0-9a-f]*$/)).optional(),
  /** Summary jobs: use and fill the node's partial cache, under a key the node computes (partial-cache.ts). */
  incremental: z.boolean().optional(),
});
export type MapTask = z.infer<typeof mapTaskSchema>;

export const mapResultSchema = z.object({
  /** One ref (summary, sorted) or one per partition (keyed, streaming). */
  refs: z.array(refSchema),
  counters: countersSchema,
  /** ParseStats JSON (bad lines by reason, samples). */
  stats: z.unknown(),
  bytes: z.number(),
  lines: z.number(),
  /** Streaming: status lines the mapper reported (reporter:status). */
  status: z.array(z.string()).optional(),
  /** Gzip files that could not be read to their end: what was read of them is in the result. */
  damaged: z
    .array(
      z.object({
        path: z.string().min(1),
        kind: z.enum(['truncated', 'corrupt']),
        offset: z.number().int().min(0),
        bytesRead: z.number().int().min(0),
        detail: z.string(),
      }),
    )
    .optional(),
});
export type MapResult = z.infer<typeof mapResultSchema>;

export const reduceTaskSchema = z.object({
  v: z.literal(WIRE_VERSION),
  kind: z.literal('reduce'),
  runId: storeNameSchema,
  taskId: storeNameSchema,
  job: jobRefSchema,
  params: z.unknown(),
  /** summary: merge states; sorted: k-way merge runs; group: merge keyed runs and reduce groups; streaming: merge + reducer command. */
  mode: z.enum(['summary', 'sorted', 'group', 'streaming']),
  inputs: z.array(refSchema),
  /** Byte budget for buffering each fetched input (sorted modes). */
  fetchChunk: z.number().int().min(4096).optional(),
});
export type ReduceTask = z.infer<typeof reduceTaskSchema>;

export const reduceResultSchema = z.object({
  ref: refSchema,
  counters: countersSchema,
  status: z.array(z.string()).optional(),
});
export type ReduceResult = z.infer<typeof reduceResultSchema>;

export const fetchRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('get'), key: partialKeySchema, offset: z.number().int().min(0), length: z.number().int().min(1).max(64 * 1024 * 1024) }),
  z.object({ op: z.literal('drop'), runId: storeNameSchema }),
  /** Abort a run's tasks on this node; with `taskId`, only that task (the losing copy of a speculative pair). */
  z.object({ op: z.literal('cancel'), runId: storeNameSchema, taskId: storeNameSchema.optional() }),
  z.object({ op: z.literal('info') }),
  /** Liveness probe: the node answers with its name at once (failure-detector.ts). */
  z.object({ op: z.literal('ping') }),
  /** Keys of a sorted job for lines read at random offsets of the shards (range partitioning). */
  z.object({
    op: z.literal('sample'),
    job: jobRefSchema,
    params: z.unknown(),
    shards: z.array(shardSpecSchema),
    perShard: z.number().int().min(1).max(10_000),
    seed: z.number().int(),
  }),
]);

/** What `{op:'info'}` answers: how the coordinator sizes its work for the node. */
export const nodeInfoSchema = z.object({
  node: name,
  /** Map tasks the node runs at once. */
  slots: z.number().int().min(1),
  allowCode: z.boolean(),
  allowExec: z.boolean(),
  version: z.string(),
  /** Zone of the node's most recent log lines (minutes east of UTC), for --since/--until without one. */
  tzOffset: z.number().int().nullable().default(null),
});
export type NodeInfo = z.infer<typeof nodeInfoSchema>;
export type FetchRequest = z.infer<typeof fetchRequestSchema>;

/** What `{op:'ping'}` answers. */
export const pingResultSchema = z.object({ node: name });

/**
 * The first WORK_DATA of every map and reduce task: the node running it, so the coordinator knows
 * whom to watch for a task sent to any node (`geartrain.reduce`). After it, WORK_STATUS comes at
 * least every `TASK_HEARTBEAT_MS` while the task runs, progress or not.
 */
export const taskNoticeSchema = z.object({ node: name });
export const TASK_HEARTBEAT_MS = 1000;

/** What `{op:'sample'}` answers: keys of sampled lines, hex. */
export const sampleResultSchema = z.object({ keys: z.array(z.string().regex(/^[0-9a-f]*$/)) });
export type SampleResult = z.infer<typeof sampleResultSchema>;

/** The body of a map task job. */
export const encodeMapTask = (task: MapTask): string => JSON.stringify(task);
/** The body of a reduce task job. */
export const encodeReduceTask = (task: ReduceTask): string => JSON.stringify(task);
/** The body of a `geartrain.fetch@<node>` job. */
export const encodeFetchRequest = (request: FetchRequest): string => JSON.stringify(request);
/** The body of a `geartrain.catalog@<node>` job. */
export const encodeCatalogRequest = (request: CatalogRequest): string => JSON.stringify(request);

/** Validate a JSON payload against a schema, naming the bad field. */
export function parseWire<T>(schema: z.ZodType<T>, payload: Buffer | string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`${what}: payload is not JSON (${(err as Error).message})`, { field: what });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || what;
    throw new InvalidArgumentError(`${what}: invalid '${field}': ${issue.message}`, { field });
  }
  return parsed.data;
}
