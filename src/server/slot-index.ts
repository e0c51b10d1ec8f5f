/**
 * A hash index over job-table slots: chained buckets in typed arrays, 8 bytes per slot plus 4 to
 * 8 per bucket, where a Map would spend 30 to 60 bytes per entry and a key object besides. The
 * index keeps each slot's hash; the caller hashes its key and checks candidates itself:
 *
 *   for (let s = index.first(h); s !== -1; s = index.next(s)) if (index.hashOf(s) === h && matches(s)) …
 */
const MIN_BUCKETS = 1024;

export class SlotIndex {
  #buckets = new Int32Array(MIN_BUCKETS).fill(-1);
  #mask = MIN_BUCKETS - 1;
  #next: Int32Array;
  #hash: Int32Array;
  #size = 0;

  constructor(slotCapacity: number) {
    this.#next = new Int32Array(slotCapacity);
    this.#hash = new Int32Array(slotCapacity);
  }

  get size(): number {
    return this.#size;
  }

  /** The table is empty: start again with `capacity` slots and the fewest buckets. */
  reset(capacity: number): void {
    this.#buckets = new Int32Array(MIN_BUCKETS).fill(-1);
    this.#mask = MIN_BUCKETS - 1;
    this.#next = new Int32Array(capacity);
    this.#hash = new Int32Array(capacity);
    this.#size = 0;
  }

  /** The job table grew to `capacity` slots. */
  grow(capacity: number): void {
    const next = new Int32Array(capacity);
    next.set(this.#next);
    const hash = new Int32Array(capacity);
    hash.set(this.#hash);
    this.#next = next;
    this.#hash = hash;
  }

  add(slot: number, hash: number): void {
    if (++this.#size > this.#buckets.length) this.#rehash(this.#buckets.length * 2);
    const b = hash & this.#mask;
    this.#hash[slot] = hash;
    this.#next[slot] = this.#buckets[b]!;
    this.#buckets[b] = slot;
  }

  /** Remove `slot`, which must be in the index. */
  delete(slot: number): void {
    const b = this.#hash[slot]! & this.#mask;
    let s = this.#buckets[b]!;
    if (s === slot) {
      this.#buckets[b] = this.#next[slot]!;
    } else {
      while (this.#next[s]! !== slot) s = this.#next[s]!;
      this.#next[s] = this.#next[slot]!;
    }
    this.#size--;
  }

  first(hash: number): number {
    return this.#buckets[hash & this.#mask]!;
  }

  next(slot: number): number {
    return this.#next[slot]!;
  }

  hashOf(slot: number): number {
    return this.#hash[slot]!;
  }

  #rehash(buckets: number): void {
    const old = this.#buckets;
    const fresh = new Int32Array(buckets).fill(-1);
    const mask = buckets - 1;
    const next = this.#next;
    for (let b = 0; b < old.length; b++) {
      for (let s = old[b]!; s !== -1; ) {
        const following = next[s]!;
        const nb = this.#hash[s]! & mask;
        next[s] = fresh[nb]!;
        fresh[nb] = s;
        s = following;
      }
    }
    this.#buckets = fresh;
    this.#mask = mask;
  }
}
