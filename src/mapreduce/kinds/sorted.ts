/**
 * Sorted jobs (grep, sort): each map task emits (key, value) records into arena blocks, sorts them
 * and spills runs past its memory budget; reducers k-way merge runs at the byte level, and the root
 * streams the values in key order. With `rangePartitions`, keys sampled from every node are cut
 * into R ranges (TeraSort's and Spark's RangePartitioner's approach): map tasks write one run per
 * range, R reducers merge at once, and the ranges concatenate in order.
 */
import fs from 'node:fs';
import { AbortError, InvalidArgumentError } from '../../errors.ts';
import { compileFilter } from '../filter.ts';
import { fetchChunks, sourceOn } from '../fetch.ts';
import { groupBy } from '../group-by.ts';
import type { SortedJob } from '../job-definition.ts';
import { Counters, formatOf, makeContext, parserFields, shardBytes } from '../map-input.ts';
import { PartitionedOutput, rangeOf, SortedOutput } from '../map-output.ts';
import { partitionOf } from '../reduce-tree.ts';
import { mergeRunChunks, RunFileWriter } from '../run-cursor.ts';
import type { JobKind, ReduceStepRunner, ShapeContext } from './job-kind.ts';

/** Merge sorted runs into one (no job code needed: records compare as bytes). */
export const mergeRuns: ReduceStepRunner = {
  needsJob: false,
  async run(task, env) {
    const src = sourceOn(env, task.fetchChunk);
    const name = `${task.taskId}.run`;
    const w = new RunFileWriter(env.store.pathFor(task.runId, name).file);
    let n = 0;
    await mergeRunChunks(
      task.inputs.map((ref) => fetchChunks(ref, src)),
      (buf, start, _keyStart, _keyEnd, end) => {
        if ((++n & 0xffff) === 0 && env.signal?.aborted) throw new AbortError(`reduce task ${task.taskId} cancelled`);
        return w.copyRecord(buf, start, end);
      },
    );
    await w.close();
    return { ref: await env.store.refFor(task.runId, name, w.records), counters: { reduce_inputs: task.inputs.length, records_merged: w.records } };
  },
};

/** Sample keys from every node and cut them into `ranges` ranges of about equal size. */
async function keyRanges(ranges: number, ctx: ShapeContext): Promise<Buffer[]> {
  const byNode = new Map([...groupBy(ctx.tasks, (t) => t.node)].map(([node, tasks]) => [node, tasks.flatMap((t) => t.shards)] as const));
  const perShard = Math.max(10, Math.ceil((40 * ranges) / Math.max(1, ctx.tasks.length)));
  const keys: Buffer[] = [];
  await Promise.all([...byNode].map(async ([node, shards]) => keys.push(...(await ctx.sampleKeys(node, shards, perShard)))));
  keys.sort(Buffer.compare);
  const bounds: Buffer[] = [];
  for (let r = 1; r < ranges && keys.length > 0; r++) {
    const b = keys[Math.min(keys.length - 1, Math.floor((r * keys.length) / ranges))]!;
    if (bounds.length === 0 || Buffer.compare(bounds[bounds.length - 1]!, b) < 0) bounds.push(b);
  }
  return bounds;
}

export const sortedKind: JobKind<SortedJob> = {
  name: 'sorted',

  async shape(def, ctx) {
    if (!def.rangePartitions) return {};
    const ranges = Math.max(1, ctx.partitions ?? def.rangePartitions(ctx.params, ctx.nodes));
    return ranges <= 1 ? {} : { rangeBoundaries: await keyRanges(ranges, ctx) };
  },

  async reduce(_def, tree, outputs, shape) {
    const ranges = shape.rangeBoundaries?.length ?? 0;
    if (ranges === 0) return [await tree.merge(await tree.combinePerNode(partitionOf(outputs, 0), 'sorted'), 'sorted')];
    // Reducer r merges range r of every map task; the parts concatenate in order.
    return tree.tier(
      'range merge',
      Array.from({ length: ranges + 1 }, (_, r) => ({ mode: 'sorted' as const, node: null, inputs: partitionOf(outputs, r) })),
    );
  },

  finish(def, sink, final, params) {
    // createFormatter (made once per run: it may hold state across records, and end the output)
    // is preferred to formatValue.
    const formatValue = def.formatValue;
    const format = def.createFormatter?.(params) ?? (formatValue ? (key: Buffer, value: Buffer) => formatValue(key, value, params) : undefined);
    return sink.sorted(
      final.map((p) => p.ref),
      format,
    );
  },

  async map(def, input) {
    const { task, params } = input;
    const wants = def.input(params);
    const boundaries = (task.rangeBoundaries ?? []).map((h) => Buffer.from(h, 'hex'));
    const tag = task.taskId;
    const ranged = boundaries.length > 0 ? new PartitionedOutput(input.env.store, task.runId, tag, boundaries.length + 1, input.budget) : null;
    const single = ranged ? null : new SortedOutput(input.env.store, task.runId, tag, input.budget);
    const emit = (key: Buffer, value: Buffer) => (ranged ? ranged.addRecord(rangeOf(key, boundaries), key, value) : single!.add(key, value));
    const spill = () => (ranged ? ranged.maybeSpill() : single!.maybeSpill());
    for (const shard of task.shards) {
      const ctx = input.context(shard);
      if ('records' in wants) {
        const map = def.mapSortedRecord;
        if (!map) throw new InvalidArgumentError(`job ${def.name} asks for records but has no mapSortedRecord`, { field: 'mapSortedRecord' });
        await input.records(shard, wants.records, (r) => map(r, emit, ctx), spill);
        continue;
      }
      if (!def.mapSorted) throw new InvalidArgumentError(`job ${def.name} asks for lines but has no mapSorted`, { field: 'mapSorted' });
      for await (const { chunk, offset } of input.chunks(shard)) {
        def.mapSorted(chunk, offset, emit, ctx);
        await spill();
      }
      if (def.mapSortedEnd) {
        // What the job held back until it knew the shard was done (grep's last context group).
        def.mapSortedEnd(emit, ctx);
        await spill();
      }
    }
    return input.result(ranged ? await ranged.finish() : [await single!.finish()]);
  },

  /**
   * Keys for `perShard` lines read at random offsets of each shard: the sample the coordinator
   * cuts into key ranges. Cheap (no full pass); a line is taken whole from the first newline after
   * the offset.
   */
  async sampleKeys(def, params, shards, perShard, seed, node) {
    const keys: Buffer[] = [];
    let x = seed >>> 0 || 1;
    const random = () => {
      // xorshift32: deterministic for a seed, so a retried sample is the same sample.
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    const filter = compileFilter({});
    const counters = new Counters();
    for (const shard of shards) {
      if (shard.gzip) continue;
      const format = formatOf(shard.format);
      const ctx = makeContext(params, node, shard.path, format, filter, counters);
      const start = shard.start;
      const end = shard.end ?? shardBytes(shard);
      if (end <= start) continue;
      const fh = await fs.promises.open(shard.path, 'r');
      try {
        const lines: Buffer[] = [];
        const buf = Buffer.allocUnsafe(64 * 1024);
        for (let i = 0; i < perShard; i++) {
          const at = start + Math.floor(random() * (end - start));
          const { bytesRead } = await fh.read(buf, 0, buf.length, at);
          const got = buf.subarray(0, bytesRead);
          const a = at === 0 ? 0 : got.indexOf(10) + 1;
          const b = a > 0 || at === 0 ? got.indexOf(10, a) : -1;
          if (a <= 0 && at !== 0) continue;
          if (b < 0) continue;
          lines.push(Buffer.from(got.subarray(a, b + 1)));
        }
        const chunk = Buffer.concat(lines);
        const emit = (key: Buffer) => void keys.push(Buffer.from(key));
        if (def.mapSortedRecord) {
          const wants = def.input(params);
          const fields = 'records' in wants ? parserFields(format, wants.records) : [];
          format.createParser(fields).parseBuffer(chunk, (r) => def.mapSortedRecord!(r, emit, ctx));
        } else def.mapSorted?.(chunk, start, emit, ctx);
      } finally {
        await fh.close();
      }
    }
    return keys;
  },

  reduceSteps: { sorted: mergeRuns },
};
