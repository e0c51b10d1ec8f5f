/**
 * Runs the clicks job through the real engine pieces on one machine: executeMapTask per map task
 * (each task stands for a node's shards) into a PartialStore with R partitions, executeReduceTask
 * in `group` mode per partition over every map output's ref for it, then the R partition partials
 * decoded, merged and finalized as the coordinator's root does. No job server: every ref is on
 * the local store, so the reduce never calls its client.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import clicks from '../../jobs/clicks.ts';
import { executeMapTask } from '../../src/mapreduce/map-executor.ts';
import type { NodeClient } from '../../src/mapreduce/node-client.ts';
import { PartialStore } from '../../src/mapreduce/partial-store.ts';
import { executeReduceTask } from '../../src/mapreduce/reduce-executor.ts';
import type { FilterSpec, MapResult, ShardSpec } from '../../src/mapreduce/wire.ts';
import type { ClicksResult, ClicksState } from '../../src/weblog/index.ts';

export interface MapTaskInput {
  /** The node the task stands for (MapContext.node). */
  readonly node: string;
  readonly shards: readonly ShardSpec[];
}

export interface EngineRun {
  readonly result: ClicksResult;
  /** The R partition partials as stored (encoded states). */
  readonly partials: Buffer[];
  readonly counters: Record<string, number>;
  readonly params: ReturnType<typeof clicks.params.parse>;
  /** Shuffled records and their bytes on the wire (run files), over all partitions. */
  readonly shuffledRecords: number;
  readonly shuffledBytes: number;
}

/** A whole plain file as a shard, or the byte range [start, end). */
export function shard(file: string, start = 0, end: number = statSync(file).size, format = 'combined'): ShardSpec {
  return { id: `${path.basename(file)}:${start}`, path: file, start, end, format, gzip: false };
}

let runs = 0;

export async function runEngine(
  rawParams: Record<string, unknown>,
  tasks: readonly MapTaskInput[],
  options: { partitions?: number; filter?: FilterSpec; memoryBudget?: number; reduceOrder?: (inputs: number) => number[] } = {},
): Promise<EngineRun> {
  const params = clicks.params.parse(rawParams);
  const R = options.partitions ?? 1;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-clicks-'));
  const store = new PartialStore(dataDir, 'local');
  const runId = `run${++runs}`;
  const job = { type: 'builtin' as const, name: 'clicks' };
  try {
    const counters: Record<string, number> = {};
    const outputs: MapResult[] = [];
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[i]!;
      const out = await executeMapTask(
        {
          v: 1,
          kind: 'map',
          runId,
          taskId: `m${i}`,
          job,
          params,
          shards: [...t.shards],
          filter: options.filter ?? {},
          partitions: R,
          ...(options.memoryBudget ? { memoryBudget: options.memoryBudget } : {}),
        },
        { node: t.node, store, job: clicks },
      );
      for (const [k, v] of Object.entries(out.counters)) counters[k] = (counters[k] ?? 0) + v;
      outputs.push(out);
    }
    let shuffledRecords = 0;
    let shuffledBytes = 0;
    for (const o of outputs) {
      for (const ref of o.refs) {
        shuffledRecords += ref.records;
        shuffledBytes += ref.size;
      }
    }
    const partials: Buffer[] = [];
    for (let r = 0; r < R; r++) {
      const order = options.reduceOrder ? options.reduceOrder(outputs.length) : outputs.map((_, i) => i);
      // Every input is in this one store, so the reducer asks no other node (no NodeClient needed).
      const reduced = await executeReduceTask(
        { v: 1, kind: 'reduce', runId, taskId: `g${r}`, job, params, mode: 'group', inputs: order.map((i) => outputs[i]!.refs[r]!) },
        { nodes: {} as NodeClient, store, job: clicks },
      );
      partials.push(await store.read(reduced.ref.key));
    }
    const state = partials.map((p) => clicks.decode!(p, params)).reduce((a, b) => clicks.merge(a, b, params));
    const result = clicks.finalize(state, params, { runId, nodes: [...new Set(tasks.map((t) => t.node))], counters, startedAt: 0 });
    return { result, partials, counters, params, shuffledRecords, shuffledBytes };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Decodes partials and merges them in the given order and grouping, then finalizes. */
export function mergePartials(partials: readonly Buffer[], params: EngineRun['params'], plan: (states: ClicksState[]) => ClicksState, counters: Record<string, number> = {}): ClicksResult {
  const states = partials.map((p) => clicks.decode!(p, params));
  return clicks.finalize(plan(states), params, { runId: 'merge', nodes: [], counters, startedAt: 0 });
}
