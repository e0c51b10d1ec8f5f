/**
 * Runs a summary job the way the engine does, without a cluster: the project's parser over a log
 * file (only the fields the job asks for and the format provides), records dealt to partials,
 * each partial encoded and decoded as if sent over the wire, partials merged in a random tree,
 * then finalize. Used by the analyze and top tests.
 */
import { compileLogFormat, ParseStats, readLogRange, type FieldName, type LogRecord } from '../../src/logs/index.ts';
import { encodeState, type MapContext, type SummaryJob } from '../../src/mapreduce/job-definition.ts';

export async function parseRecords(file: string, fields: readonly FieldName[], format = 'combined'): Promise<{ records: LogRecord<FieldName>[]; stats: ParseStats }> {
  const f = compileLogFormat(format);
  const parser = f.createParser(fields.filter((x) => f.provides(x)));
  const stats = new ParseStats();
  const records: LogRecord<FieldName>[] = [];
  for await (const chunk of readLogRange(file)) parser.parseBuffer(chunk, (r) => records.push(r), stats);
  return { records, stats };
}

/** A small seeded PRNG (mulberry32), so a failing split can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function context<P>(params: P): MapContext<P> {
  return {
    params,
    node: 'test',
    file: 'test.log',
    count: () => {},
    accepts: () => true,
    timeOf: () => undefined,
  };
}

export interface LocalRunOptions {
  /** Number of map partials (records dealt at random); 1 = one pass. */
  parts?: number;
  seed?: number;
  counters?: Record<string, number>;
}

/** create → map → encode/decode → merge in a random tree (re-encoding merged states) → finalize. */
export function runLocally<P, S, R>(job: SummaryJob<P, S, R>, params: P, records: readonly LogRecord<FieldName>[], options: LocalRunOptions = {}): R {
  const parts = options.parts ?? 1;
  const rnd = prng(options.seed ?? 1);
  const ctx = context(params);
  const states: S[] = Array.from({ length: parts }, () => job.create(params));
  for (const r of records) job.map!(states[parts === 1 ? 0 : Math.floor(rnd() * parts)]!, r, ctx);
  const wire = (s: S) => job.decode!(Buffer.from(encodeState(job as unknown as SummaryJob, s, params)), params) as S;
  let pool = states.map(wire);
  while (pool.length > 1) {
    const i = Math.floor(rnd() * pool.length);
    const a = pool.splice(i, 1)[0]!;
    const j = Math.floor(rnd() * pool.length);
    const b = pool.splice(j, 1)[0]!;
    const merged = rnd() < 0.5 ? job.merge(a, b, params) : job.merge(b, a, params);
    pool.push(rnd() < 0.5 ? wire(merged) : merged);
  }
  const final = parts === 1 ? job.create(params) : pool[0]!;
  const state = parts === 1 ? job.merge(final, pool[0]!, params) : final;
  return job.finalize(state, params, { runId: 'local', nodes: ['test'], counters: options.counters ?? {}, startedAt: 0 });
}

