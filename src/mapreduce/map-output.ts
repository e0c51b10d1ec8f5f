/**
 * Map-side output of sorted and keyed jobs: records are buffered up to a memory budget, sorted,
 * and spilled as runs; at the end the spills are merged into one run per output (external sort),
 * so a map task's memory stays bounded whatever its input size.
 */
import fs from 'node:fs';
import { mergeRuns, sortRecords } from './kway-merge.ts';
import type { PartialStore } from './partial-store.ts';
import { readRunFile, RunWriter, type RunRecord } from './runs.ts';
import type { Ref } from './wire.ts';

const RECORD_OVERHEAD = 64;

/** Partition of a key: FNV-1a over its UTF-8 bytes, the same in every process. */
export function hashPartition(key: string, partitions: number): number {
  if (partitions <= 1) return 0;
  let h = 0x811c9dc5;
  const bytes = Buffer.from(key, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

/** Key of a keyed record: the group key, a NUL, then the sort key (so runs sort by both). */
export function groupRecordKey(key: string, sortKey: Buffer): Buffer {
  const k = Buffer.from(key, 'utf8');
  const out = Buffer.allocUnsafe(k.length + 1 + sortKey.length);
  k.copy(out, 0);
  out[k.length] = 0;
  sortKey.copy(out, k.length + 1);
  return out;
}

/** The group key of a keyed record key. */
export function groupOf(recordKey: Buffer): string {
  const nul = recordKey.indexOf(0);
  return recordKey.toString('utf8', 0, nul < 0 ? recordKey.length : nul);
}

/** One sorted output with spilling. */
export class SortedOutput {
  readonly #store: PartialStore;
  readonly #runId: string;
  readonly #name: string;
  readonly #budget: number;
  #records: RunRecord[] = [];
  #bytes = 0;
  #spills: string[] = [];

  constructor(store: PartialStore, runId: string, name: string, budget: number) {
    this.#store = store;
    this.#runId = runId;
    this.#name = name;
    this.#budget = budget;
  }

  add(key: Buffer, value: Buffer): void {
    this.#records.push({ key, value });
    this.#bytes += key.length + value.length + RECORD_OVERHEAD;
  }

  async maybeSpill(): Promise<void> {
    if (this.#bytes >= this.#budget) await this.spill();
  }

  /** Write what is buffered as a sorted spill run (nothing if empty). */
  async spill(): Promise<void> {
    if (this.#records.length === 0) return;
    const { file } = this.#store.pathFor(this.#runId, `${this.#name}.spill${this.#spills.length}`);
    await writeRun(file, sortRecords(this.#records));
    this.#spills.push(file);
    this.#records = [];
    this.#bytes = 0;
  }

  /** Write the final run and return its ref. */
  async finish(): Promise<Ref> {
    const name = `${this.#name}.run`;
    const { file } = this.#store.pathFor(this.#runId, name);
    let records: number;
    if (this.#spills.length === 0) {
      records = await writeRun(file, sortRecords(this.#records));
    } else {
      await this.spill();
      records = await writeRun(file, mergeRuns(this.#spills.map((f) => readRunFile(f))));
      await Promise.all(this.#spills.map((f) => fs.promises.rm(f, { force: true })));
    }
    this.#records = [];
    return this.#store.refFor(this.#runId, name, records);
  }
}

/** R sorted outputs, one per partition. */
export class PartitionedOutput {
  readonly #parts: SortedOutput[];
  readonly #budget: number;
  #bytes = 0;

  constructor(store: PartialStore, runId: string, name: string, partitions: number, budget: number) {
    this.#budget = budget;
    this.#parts = Array.from({ length: partitions }, (_, i) => new SortedOutput(store, runId, `${name}.p${i}`, Infinity));
  }

  add(partition: number, key: string, sortKey: Buffer, value: Buffer): void {
    const k = groupRecordKey(key, sortKey);
    this.#parts[partition]!.add(k, value);
    this.#bytes += k.length + value.length + RECORD_OVERHEAD;
  }

  async maybeSpill(): Promise<void> {
    if (this.#bytes < this.#budget) return;
    // Spill every partition together: the budget is for the task, not per partition.
    for (const p of this.#parts) await p.spill();
    this.#bytes = 0;
  }

  async finish(): Promise<Ref[]> {
    const refs: Ref[] = [];
    for (const p of this.#parts) refs.push(await p.finish());
    return refs;
  }
}

async function writeRun(file: string, records: Iterable<RunRecord> | AsyncIterable<RunRecord>): Promise<number> {
  const w = new RunWriter(file);
  for await (const r of records as AsyncIterable<RunRecord>) await w.write(r);
  await w.close();
  return w.records;
}
