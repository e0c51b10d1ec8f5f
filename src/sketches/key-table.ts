/**
 * A bounded key → (hits, bytes) table: exact while it holds every key, a mergeable heavy-hitters
 * summary (Misra–Gries with batched purges, "Mergeable Summaries", Agarwal et al. 2012) beyond.
 *
 * Invariants, for every key k with true count t(k):
 * - k in the table:     hits ≤ t(k) ≤ hits + err   (hits and bytes: exact, counted since k's entry was made);
 * - k not in the table: t(k) ≤ floor;
 * - err ≤ floor ≤ N / target, N the total hits folded in (over all merged partials) and
 *   target = ⌊3·capacity/4⌋: every purge lowers the Misra–Gries mass Σ(hits + err − floor) by at
 *   least target × (its raise of floor), and the mass only grows by one per hit.
 * - total hits and bytes are exact: a dropped entry's hits go to `droppedHits`.
 * So a key heavier than `floor` is always listed, and a listed count is off by at most its `err`.
 *
 * While nothing was dropped (`approximate` false) the table is a plain exact map: floor and every
 * err are 0, merging is adding, and any merge order gives the same table. Once a purge happened,
 * every merge order keeps the bounds above, but the kept counts may differ within them.
 *
 * A purge runs when an insert finds the table full, or when a merge leaves it over capacity: it
 * drops every entry whose upper bound (hits + err) is at most the (size − target)-th smallest, and
 * raises floor to that bound. It costs one sort of `size` numbers, once per ≥ capacity/4 inserts.
 *
 * Distinct keys: exact (the table size) until the first purge; then a HyperLogLog (p = 14, 16 KiB,
 * 0.8 % standard error) made from the keys held at that moment, and fed every later insert.
 */
import { hash53 } from './hash.ts';
import { HyperLogLog } from './hyperloglog.ts';

/** What a table entry holds; entry classes add their own fields. */
export interface TableEntry {
  hits: number;
  bytes: number;
  /** The true count is at most hits + err. */
  err: number;
  /** Set when the entry leaves the table: a cached reference to it must be looked up again. */
  dropped: boolean;
}

/** Precision of the distinct-key sketch made at the first purge. */
export const DISTINCT_P = 14;
export const DEFAULT_MAX_KEYS = 100_000;
export const MIN_MAX_KEYS = 16;

export class KeyTable<E extends TableEntry> {
  readonly map = new Map<string, E>();
  /** Every key not in the table was seen at most `floor` times. */
  floor = 0;
  /** Hits and bytes of the entries dropped so far (so totals stay exact). */
  droppedHits = 0;
  droppedBytes = 0;
  #distinct: HyperLogLog | null = null;
  readonly target: number;

  /** `onDrop` sees each entry leaving the table (to keep exact totals of its groups). */
  constructor(
    readonly capacity: number,
    readonly onDrop?: (key: string, entry: E) => void,
  ) {
    this.target = Math.max(1, Math.floor((capacity * 3) / 4));
  }

  get size(): number {
    return this.map.size;
  }

  /** True once an entry was dropped: counts are then bounds (see err and floor). */
  get approximate(): boolean {
    return this.#distinct !== null;
  }

  /** Distinct keys ever folded in: exact while not approximate, else a HyperLogLog estimate. */
  get distinct(): number {
    return this.#distinct === null ? this.map.size : Math.max(this.map.size, this.#distinct.estimate());
  }

  /** Exact total of hits over all keys. */
  get totalHits(): number {
    let n = this.droppedHits;
    for (const e of this.map.values()) n += e.hits;
    return n;
  }

  get(key: string): E | undefined {
    return this.map.get(key);
  }

  /** Adds a new entry (its hits, bytes 0) for a key that is not in the table; returns it. */
  insert(key: string, entry: E): E {
    if (this.map.size >= this.capacity) this.purge();
    if (this.#distinct !== null) this.#distinct.add(hash53(key));
    entry.err = this.floor;
    this.map.set(key, entry);
    return entry;
  }

  /** Drops the lightest entries until at most `target` remain (see the header). */
  purge(): void {
    const n = this.map.size;
    const keep = this.target;
    if (n <= keep) return;
    this.#distinct ??= this.#sketchOfKeys();
    const floor = this.floor;
    const c = new Float64Array(n);
    let i = 0;
    for (const e of this.map.values()) c[i++] = e.hits + e.err - floor;
    c.sort();
    const m = c[n - keep - 1]!;
    const cut = floor + (m > 0 ? m : 0);
    for (const [k, e] of this.map) {
      if (e.hits + e.err > cut) continue;
      this.map.delete(k);
      e.dropped = true;
      this.droppedHits += e.hits;
      this.droppedBytes += e.bytes;
      this.onDrop?.(k, e);
    }
    this.floor = cut;
  }

  #sketchOfKeys(): HyperLogLog {
    const s = new HyperLogLog({ p: DISTINCT_P });
    for (const k of this.map.keys()) s.add(hash53(k));
    return s;
  }

  /**
   * Adds `other` in: shared keys add hits, bytes and err; a key held by one side only gets the
   * other side's floor added to its err; floors add. `copy` makes this table's entry for a key
   * only `other` holds (hits, bytes, err are set here), `combine` merges the extra fields.
   */
  mergeFrom(other: KeyTable<E>, copy: (key: string, theirs: E) => E, combine?: (mine: E, theirs: E) => void): this {
    if (this.#distinct !== null || other.#distinct !== null) {
      this.#distinct ??= this.#sketchOfKeys();
      this.#distinct.merge(other.#distinct ?? other.#sketchOfKeys());
    }
    if (other.floor > 0) for (const [k, e] of this.map) if (!other.map.has(k)) e.err += other.floor;
    for (const [k, theirs] of other.map) {
      const mine = this.map.get(k);
      if (mine !== undefined) {
        mine.hits += theirs.hits;
        mine.bytes += theirs.bytes;
        mine.err += theirs.err;
        combine?.(mine, theirs);
      } else {
        const e = copy(k, theirs);
        e.hits = theirs.hits;
        e.bytes = theirs.bytes;
        e.err = theirs.err + this.floor;
        this.map.set(k, e);
      }
    }
    this.floor += other.floor;
    this.droppedHits += other.droppedHits;
    this.droppedBytes += other.droppedBytes;
    if (this.map.size > this.capacity) this.purge();
    return this;
  }

  /** [floor, droppedHits, droppedBytes, distinct sketch or null]: the table's state besides its entries. */
  encodeMeta(): [number, number, number, string | null] {
    return [this.floor, this.droppedHits, this.droppedBytes, this.#distinct?.encode() ?? null];
  }

  /** Restores what encodeMeta gave (entries are set by the caller, then `settle`). */
  decodeMeta(meta: readonly [number, number, number, string | null]): void {
    [this.floor, this.droppedHits, this.droppedBytes] = meta;
    this.#distinct = meta[3] === null ? null : HyperLogLog.decode(meta[3]);
  }

  /** After entries were set directly: purges if over capacity (a partial made with a larger one). */
  settle(): void {
    if (this.map.size > this.capacity) this.purge();
  }
}
