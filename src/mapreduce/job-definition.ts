/**
 * The public job API. A job module default-exports `defineJob({...})`; built-in jobs (jobs/) and a
 * user's ad-hoc file use exactly this API. The engine calls:
 *
 *   summary jobs   create → map (per record or per raw chunk) on nodes → merge (any order, any
 *                  grouping) in reduce tiers → finalize at the root → render
 *   sorted jobs    mapSorted emits (key, value) records; each map task sorts its own output into
 *                  a run; reduce tiers k-way merge runs by key; the root streams the values
 *   keyed jobs     mapKeyed emits (key, sortKey, value); records are shuffled by hash(key) to R
 *                  partitions, merged sorted by (key, sortKey), and `reduceGroup` folds each key's
 *                  records into a summary state, which then merges like a summary job
 */
import type { z } from 'zod';
import type { FieldName, LogRecord, ParseStats } from '../logs/index.ts';
import type { Table } from '../report/table.ts';

/** What map functions get besides the data. */
export interface MapContext<P> {
  readonly params: P;
  /** Name of the node running the task. */
  readonly node: string;
  /** Path of the log file being read. */
  readonly file: string;
  /** Add to a named counter; counters are summed over all tasks and shown with the result. */
  count(name: string, n?: number): void;
  /** Whether a raw line passes the run's --since/--until/--where/--vhost filter (parses it). */
  accepts(line: Buffer, start: number, end: number): boolean;
  /** The time (epoch ms) of a raw line, or undefined if it has none (parses only `%t`). */
  timeOf(line: Buffer, start: number, end: number): number | undefined;
}

export type { ColumnUnit, Table } from '../report/table.ts';

export interface RenderedResult {
  /** For `--json`; defaults to the finalized result itself. */
  readonly json?: unknown;
  /** Tables for the terminal, `--csv` (every one) and the report. */
  readonly tables?: readonly Table[];
  /** Free text for the terminal, printed before the tables. */
  readonly text?: string;
}

/** Which input the map side wants. */
export type InputSpec =
  /** Parsed records holding these fields (plus what the filters need). */
  | { readonly records: readonly FieldName[] }
  /**
   * Raw chunks of whole lines (Buffers ending in `\n`), for jobs that scan bytes. `transient`
   * (summary jobs): `mapChunk` keeps nothing of a chunk after it returns, so chunks are read into
   * one reused buffer instead of a new one each (less allocation and garbage collection).
   */
  | { readonly lines: true; readonly transient?: boolean };

/** How the command line maps onto the job's parameters (validated by `params` afterwards). */
export interface CliSpec {
  /** Names of positional parameters, in order; a trailing `...name` collects the rest. */
  readonly positionals?: readonly string[];
  /** Flags: `{ i: { param: 'ignoreCase', type: 'boolean' }, by: { param: 'by', type: 'string' } }`. */
  readonly flags?: Readonly<Record<string, { readonly param: string; readonly type: 'boolean' | 'string' | 'number'; readonly alias?: string; readonly multiple?: boolean }>>;
  readonly usage?: string;
  /** What `geartrain run JOB -H` prints after the usage and description: the flags, one per line. */
  readonly help?: string;
}

interface JobBase<P> {
  readonly name: string;
  readonly description: string;
  readonly params: z.ZodType<P>;
  readonly cli?: CliSpec;
  readonly input: (params: P) => InputSpec;
}

/** State that merges in any order: counts, sets, sketches. */
export interface SummaryJob<P = unknown, S = unknown, R = unknown> extends JobBase<P> {
  readonly kind: 'summary';
  create(params: P): S;
  /** Fold one parsed record in (input `records`). */
  map?(state: S, record: LogRecord<FieldName>, ctx: MapContext<P>): void;
  /** Fold a chunk of whole raw lines in (input `lines`). */
  mapChunk?(state: S, chunk: Buffer, ctx: MapContext<P>): void;
  /** Merge `other` into `into` and return the result; must be associative and commutative. */
  merge(into: S, other: S, params: P): S;
  /** Bytes or JSON for the wire; default JSON.stringify of the state. */
  encode?(state: S, params: P): Buffer | string;
  decode?(data: Buffer, params: P): S;
  finalize(state: S, params: P, run: RunInfo): R;
  render?(result: R, params: P): RenderedResult;
}

/** Output sorted by a byte-comparable key across all nodes (grep, sort). */
export interface SortedJob<P = unknown> extends JobBase<P> {
  readonly kind: 'sorted';
  /**
   * Scan a chunk of whole raw lines that starts at byte `chunkOffset` of `ctx.file`, and emit
   * records. `emit` copies the bytes, so views into `chunk` are fine.
   */
  mapSorted?(chunk: Buffer, chunkOffset: number, emit: (key: Buffer, value: Buffer) => void, ctx: MapContext<P>): void;
  /** Emit records from a parsed record instead (input `records`; ask for `line` to keep the raw line). */
  mapSortedRecord?(record: LogRecord<FieldName>, emit: (key: Buffer, value: Buffer) => void, ctx: MapContext<P>): void;
  /**
   * Range-partition the output over R reducers (keys sampled first), so the sorted output is
   * written by R reducers at once instead of merged into one run; the parts concatenate in order.
   */
  readonly rangePartitions?: (params: P, nodes: number) => number;
  /**
   * Called after the last chunk of each shard (with `mapSorted`), to emit what the job held back
   * until it knew the shard was done (grep's last context group, its first lines for -m).
   */
  mapSortedEnd?(emit: (key: Buffer, value: Buffer) => void, ctx: MapContext<P>): void;
  /** Render one output value as a line (default: the value's bytes). */
  formatValue?(key: Buffer, value: Buffer, params: P): Buffer;
  /**
   * Instead of `formatValue`: a formatter made once per run at the root, given every record in
   * order. It returns the output (one or more lines, without the last newline), undefined to print
   * nothing for this record, or null to end the output there (the merge stops: grep -m).
   */
  createFormatter?(params: P): (key: Buffer, value: Buffer) => Buffer | undefined | null;
}

/** Records grouped by key across nodes (sessions, click paths). */
export interface KeyedJob<P = unknown, S = unknown, R = unknown> extends JobBase<P> {
  readonly kind: 'keyed';
  /** Emit (key, sortKey, value) per record; records of one key reach one reducer, sorted by sortKey. */
  mapKeyed(record: LogRecord<FieldName>, emit: (key: string, sortKey: Buffer, value: Buffer) => void, ctx: MapContext<P>): void;
  create(params: P): S;
  /** Fold all records of one key (in sortKey order) into the state. */
  reduceGroup(state: S, key: string, values: readonly Buffer[], params: P): void;
  merge(into: S, other: S, params: P): S;
  encode?(state: S, params: P): Buffer | string;
  decode?(data: Buffer, params: P): S;
  finalize(state: S, params: P, run: RunInfo): R;
  render?(result: R, params: P): RenderedResult;
  /** Reduce partitions (R); default: one per node. */
  readonly partitions?: (params: P, nodes: number) => number;
}

export type JobDefinition<P = any, S = any, R = any> = SummaryJob<P, S, R> | SortedJob<P> | KeyedJob<P, S, R>;

/**
 * A job whose shape depends on its parameters (grep is a sorted job, `grep -c` a summary):
 * `variants(params)` picks the concrete definition.
 */
export interface JobFamily<P = any> {
  readonly name: string;
  readonly description: string;
  readonly params: z.ZodType<P>;
  readonly cli?: CliSpec;
  readonly kind: 'family';
  select(params: P): JobDefinition<P>;
}

export type AnyJob = JobDefinition | JobFamily;

/** Facts about the run, given to `finalize`. */
export interface RunInfo {
  readonly runId: string;
  readonly nodes: readonly string[];
  readonly counters: Readonly<Record<string, number>>;
  readonly startedAt: number;
}

/** Identity function that gives a job module its type; `export default defineJob({...})`. */
export function defineJob<P, S, R>(job: SummaryJob<P, S, R>): SummaryJob<P, S, R>;
export function defineJob<P>(job: SortedJob<P>): SortedJob<P>;
export function defineJob<P, S, R>(job: KeyedJob<P, S, R>): KeyedJob<P, S, R>;
export function defineJob<P>(job: JobFamily<P>): JobFamily<P>;
export function defineJob(job: AnyJob): AnyJob {
  return job;
}

/** The concrete definition for these parameters. */
export function resolveJob(job: AnyJob, params: unknown): JobDefinition {
  return job.kind === 'family' ? job.select(params) : job;
}

export function encodeState(job: SummaryJob | KeyedJob, state: unknown, params: unknown): Buffer {
  const out = job.encode ? job.encode(state, params) : JSON.stringify(state);
  return typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
}

export function decodeState(job: SummaryJob | KeyedJob, data: Buffer, params: unknown): unknown {
  return job.decode ? job.decode(data, params) : JSON.parse(data.toString('utf8'));
}

export type { ParseStats };
