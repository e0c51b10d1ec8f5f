/**
 * Map-side output of sorted and keyed jobs: records are packed into arena blocks (no object per
 * record), sorted through an index when the memory budget is reached, and spilled as runs; at the
 * end the spills are merged into one run per output (external sort), so a map task's memory stays
 * bounded whatever its input size.
 */
import fs from 'node:fs';
import type { PartialStore } from './partial-store.ts';
import { mergeRunChunks, RunFileWriter, runFileChunks } from './run-cursor.ts';
import type { Ref } from './wire.ts';

const HEADER = 8;
const BLOCK = 4 * 1024 * 1024;
/** Index bytes per record (block, offset, key and record lengths, two key-prefix words). */
const INDEX_BYTES = 24;

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

/** Records in memory, packed: the arena of one spill. */
class Arena {
  readonly blocks: Buffer[] = [];
  #block: Buffer | null = null;
  #used = 0;
  blockOf: number[] = [];
  offsetOf: number[] = [];
  keyLen: number[] = [];
  recordLen: number[] = [];
  /** First 8 key bytes as two big-endian words (zero padded): most comparisons end here. */
  prefixHi: number[] = [];
  prefixLo: number[] = [];
  bytes = 0;

  get count(): number {
    return this.blockOf.length;
  }

  add(key: Buffer, value: Buffer): number {
    const n = HEADER + key.length + value.length;
    if (!this.#block || this.#used + n > this.#block.length) {
      this.#block = Buffer.allocUnsafe(Math.max(BLOCK, n));
      this.blocks.push(this.#block);
      this.#used = 0;
    }
    const b = this.#block;
    const at = this.#used;
    b.writeUInt32BE(key.length, at);
    b.writeUInt32BE(value.length, at + 4);
    key.copy(b, at + HEADER);
    value.copy(b, at + HEADER + key.length);
    this.#used += n;
    this.blockOf.push(this.blocks.length - 1);
    this.offsetOf.push(at);
    this.keyLen.push(key.length);
    this.recordLen.push(n);
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < 4; i++) hi = hi * 256 + (i < key.length ? key[i]! : 0);
    for (let i = 4; i < 8; i++) lo = lo * 256 + (i < key.length ? key[i]! : 0);
    this.prefixHi.push(hi);
    this.prefixLo.push(lo);
    this.bytes += n + INDEX_BYTES;
    return n + INDEX_BYTES;
  }

  /** Record ids in key order (stable: equal keys keep their insertion order). */
  sortedIds(): number[] {
    const ids = Array.from({ length: this.count }, (_, i) => i);
    const { prefixHi, prefixLo, blocks, blockOf, offsetOf, keyLen } = this;
    ids.sort((a, b) => {
      if (prefixHi[a] !== prefixHi[b]) return prefixHi[a]! < prefixHi[b]! ? -1 : 1;
      if (prefixLo[a] !== prefixLo[b]) return prefixLo[a]! < prefixLo[b]! ? -1 : 1;
      const ka = offsetOf[a]! + HEADER;
      const kb = offsetOf[b]! + HEADER;
      return blocks[blockOf[a]!]!.compare(blocks[blockOf[b]!]!, kb, kb + keyLen[b]!, ka, ka + keyLen[a]!) || a - b;
    });
    return ids;
  }

  async writeSorted(file: string): Promise<number> {
    const w = new RunFileWriter(file);
    for (const id of this.sortedIds()) {
      const at = this.offsetOf[id]!;
      const p = w.copyRecord(this.blocks[this.blockOf[id]!]!, at, at + this.recordLen[id]!);
      if (p) await p;
    }
    await w.close();
    return w.records;
  }
}

/** One sorted output with spilling. */
export class SortedOutput {
  readonly #store: PartialStore;
  readonly #runId: string;
  readonly #name: string;
  readonly #budget: number;
  #arena = new Arena();
  #spills: string[] = [];

  constructor(store: PartialStore, runId: string, name: string, budget: number) {
    this.#store = store;
    this.#runId = runId;
    this.#name = name;
    this.#budget = budget;
  }

  /** Bytes held in memory. */
  get bytes(): number {
    return this.#arena.bytes;
  }

  /** Copies key and value in; returns the bytes it took. */
  add(key: Buffer, value: Buffer): number {
    return this.#arena.add(key, value);
  }

  async maybeSpill(): Promise<void> {
    if (this.#arena.bytes >= this.#budget) await this.spill();
  }

  /** Write what is buffered as a sorted spill run (nothing if empty). */
  async spill(): Promise<void> {
    if (this.#arena.count === 0) return;
    // Take the full arena away first: records added while it is written go to a new one.
    const arena = this.#arena;
    this.#arena = new Arena();
    const { file } = this.#store.pathFor(this.#runId, `${this.#name}.spill${this.#spills.length}`);
    this.#spills.push(file);
    await arena.writeSorted(file);
  }

  /** Write the final run and return its ref. */
  async finish(): Promise<Ref> {
    const name = `${this.#name}.run`;
    const { file } = this.#store.pathFor(this.#runId, name);
    let records: number;
    if (this.#spills.length === 0) {
      records = await this.#arena.writeSorted(file);
    } else {
      await this.spill();
      const w = new RunFileWriter(file);
      records = await mergeRunChunks(
        this.#spills.map((f) => runFileChunks(f)),
        (buf, start, _ks, _ke, end) => w.copyRecord(buf, start, end),
      );
      await w.close();
      await Promise.all(this.#spills.map((f) => fs.promises.rm(f, { force: true })));
    }
    this.#arena = new Arena();
    return this.#store.refFor(this.#runId, name, records);
  }
}

/** R sorted outputs, one per partition, sharing one memory budget. */
export class PartitionedOutput {
  readonly #parts: SortedOutput[];
  readonly #budget: number;
  #bytes = 0;

  constructor(store: PartialStore, runId: string, name: string, partitions: number, budget: number) {
    this.#budget = budget;
    this.#parts = Array.from({ length: partitions }, (_, i) => new SortedOutput(store, runId, `${name}.p${i}`, Infinity));
  }

  /** A keyed record: grouped by `key`, ordered by `sortKey` within the group. */
  add(partition: number, key: string, sortKey: Buffer, value: Buffer): void {
    this.addRecord(partition, groupRecordKey(key, sortKey), value);
  }

  /** A record with its final sort key. */
  addRecord(partition: number, key: Buffer, value: Buffer): void {
    this.#bytes += this.#parts[partition]!.add(key, value);
  }

  async maybeSpill(): Promise<void> {
    if (this.#bytes < this.#budget) return;
    for (const p of this.#parts) await p.spill();
    this.#bytes = 0;
  }

  async finish(): Promise<Ref[]> {
    const refs: Ref[] = [];
    for (const p of this.#parts) refs.push(await p.finish());
    return refs;
  }
}

/** Index of the key range a key falls in: the first boundary greater than the key (binary search). */
export function rangeOf(key: Buffer, boundaries: readonly Buffer[]): number {
  let lo = 0;
  let hi = boundaries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (Buffer.compare(key, boundaries[mid]!) < 0) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
