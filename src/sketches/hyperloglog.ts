/**
 * A distinct counter that is exact while small and a HyperLogLog past a threshold.
 *
 * Items are 53-bit hashes (see hash.ts). Below `exactLimit` distinct hashes the sketch keeps the
 * hashes themselves (an open-addressing table of doubles), so small counts are exact up to hash
 * collisions (about n²/2^54: none in practice). Past the limit it switches to 2^p one-byte
 * registers; the default limit, 2^p / 8 hashes, makes both forms the same size on the wire
 * (8 bytes a hash, 1 byte a register).
 *
 * The registers have hyperloglog-lite's layout (bucket from the top p bits of the first 32-bit
 * word, rank = trailing zeros + 1 of the rank bits) but are kept here rather than in that package:
 * its `add` maintains running sums with two Math.pow calls and cost about 250 ns per item here,
 * against about 10 ns for a plain register update, and analyze adds three times per record.
 *
 * Registers are a function of the set of hashes added, and the form depends only on the size of
 * that set, so merging is exactly commutative and associative: any order and grouping of merges
 * gives the same registers, the same encoding and the same estimate.
 *
 * The estimate is Ertl's "improved estimator" (O. Ertl, New cardinality estimation algorithms for
 * HyperLogLog sketches, 2017), computed from the register histogram: unbiased across the whole
 * range without empirical bias tables (hyperloglog-lite's `count()`, the raw estimate with linear
 * counting below 2.5·2^p, was off by up to 2.5 % at p = 12 in our runs).
 * Relative standard error: 1.04 / √(2^p) (p = 12: 1.6 %, 14: 0.81 %, 16: 0.41 %).
 */
import { InvalidArgumentError } from '../errors.ts';
import { TWO_21 } from './hash.ts';

export const MIN_PRECISION = 4;
export const MAX_PRECISION = 18;

/** Rank bits taken from each hash: 21 low bits and 11 bits of the high lane, plus a sentinel. */
const RANK_BITS = 32;

/** One 53-bit hash into the registers: bucket from the top p bits, rank from 32 other bits. */
function addToRegisters(r: Uint8Array, p: number, v: number): void {
  const hi = Math.floor(v / TWO_21);
  const w = (v - hi * TWO_21) | ((hi & 0x7ff) << 21);
  // Trailing zeros + 1; 33 when all 32 rank bits are zero.
  const rank = w === 0 ? RANK_BITS + 1 : 32 - Math.clz32(w & -w);
  const bucket = hi >>> (32 - p);
  if (r[bucket]! < rank) r[bucket] = rank;
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const prev = z;
    z += x * y;
    y += y;
    if (z === prev) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const prev = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
    if (z === prev) return z / 3;
  }
}

/** Ertl's improved estimator over registers holding ranks 0..RANK_BITS+1. */
function estimateRegisters(registers: Uint8Array): number {
  const m = registers.length;
  const q = RANK_BITS;
  const c = new Float64Array(q + 2);
  for (let i = 0; i < m; i++) c[registers[i]!]!++;
  let z = m * tau(1 - c[q + 1]! / m);
  for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k]!);
  z += m * sigma(c[0]! / m);
  return Math.round(((0.5 / Math.LN2) * m * m) / z);
}

export interface HyperLogLogOptions {
  /** Precision: 2^p registers. */
  readonly p: number;
  /** Hashes kept exactly before switching to registers (default 2^p / 8; 0 = registers at once). */
  readonly exactLimit?: number;
}

export class HyperLogLog {
  readonly p: number;
  readonly exactLimit: number;
  /** Exact form: open addressing, 0 = empty slot (hashes are never 0). */
  #table: Float64Array | null;
  #size = 0;
  /** Register form: 2^p bytes. */
  #registers: Uint8Array | null = null;

  constructor(options: HyperLogLogOptions) {
    const { p } = options;
    if (!Number.isInteger(p) || p < MIN_PRECISION || p > MAX_PRECISION) {
      throw new InvalidArgumentError(`HyperLogLog precision must be an integer in ${MIN_PRECISION}..${MAX_PRECISION}`, { field: 'p' });
    }
    const limit = options.exactLimit ?? 2 ** p / 8;
    if (!Number.isInteger(limit) || limit < 0) throw new InvalidArgumentError('exactLimit must be a non-negative integer', { field: 'exactLimit' });
    this.p = p;
    this.exactLimit = limit;
    if (limit === 0) {
      this.#table = null;
      this.#registers = new Uint8Array(2 ** p);
    } else {
      this.#table = new Float64Array(16);
    }
  }

  /** True while the count is exact (the sketch still holds the hashes). */
  get isExact(): boolean {
    return this.#registers === null;
  }

  /** Relative standard error of `estimate()`: 0 while exact. */
  get relativeError(): number {
    return this.isExact ? 0 : 1.04 / Math.sqrt(2 ** this.p);
  }

  /** Adds a 53-bit hash (from hash53/combine53). */
  add(v: number): void {
    const t = this.#table;
    if (t === null) {
      addToRegisters(this.#registers!, this.p, v);
      return;
    }
    const mask = t.length - 1;
    let i = (v >>> 0) & mask;
    for (;;) {
      const x = t[i]!;
      if (x === v) return;
      if (x === 0) break;
      i = (i + 1) & mask;
    }
    t[i] = v;
    this.#size++;
    if (this.#size > this.exactLimit) this.#toRegisters();
    else if (this.#size * 2 > t.length) this.#grow();
  }

  /** The number of distinct hashes added: exact, or estimated from the registers. */
  estimate(): number {
    return this.#registers === null ? this.#size : estimateRegisters(this.#registers);
  }

  /** Adds every hash of `other` (a register-wise max once either side has registers). */
  merge(other: HyperLogLog): this {
    if (other.p !== this.p) throw new InvalidArgumentError(`cannot merge HyperLogLog sketches of precision ${this.p} and ${other.p}`, { field: 'p' });
    const ot = other.#table;
    if (ot !== null) {
      for (let i = 0; i < ot.length; i++) if (ot[i] !== 0) this.add(ot[i]!);
      return this;
    }
    if (this.#registers === null) this.#toRegisters();
    maxInto(this.#registers!, other.#registers!);
    return this;
  }

  clone(): HyperLogLog {
    return HyperLogLog.decode(this.encode(), { exactLimit: this.exactLimit });
  }

  /** `<p>e<base64 of sorted hashes>` or `<p>d<base64 of registers>`: canonical for a given set. */
  encode(): string {
    const r = this.#registers;
    if (r !== null) return `${this.p}d${Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64')}`;
    const hashes = new Float64Array(this.#size);
    const t = this.#table!;
    let k = 0;
    for (let i = 0; i < t.length; i++) if (t[i] !== 0) hashes[k++] = t[i]!;
    hashes.sort();
    return `${this.p}e${Buffer.from(hashes.buffer, hashes.byteOffset, hashes.byteLength).toString('base64')}`;
  }

  /** Reads `encode()`'s output; `exactLimit` must be the one the sketch was made with. */
  static decode(text: string, options: { exactLimit?: number } = {}): HyperLogLog {
    const m = /^(\d{1,2})([ed])/.exec(text);
    if (!m) throw new InvalidArgumentError('not an encoded HyperLogLog', { field: 'hll' });
    const p = Number(m[1]);
    const sketch = new HyperLogLog({ p, ...options });
    const bytes = Buffer.from(text.slice(m[0].length), 'base64');
    if (m[2] === 'd') {
      if (bytes.length !== 2 ** p) throw new InvalidArgumentError(`encoded HyperLogLog has ${bytes.length} registers, expected ${2 ** p}`, { field: 'hll' });
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i]! > RANK_BITS + 1) throw new InvalidArgumentError(`encoded HyperLogLog register ${i} is out of range`, { field: 'hll' });
      }
      sketch.#table = null;
      sketch.#size = 0;
      sketch.#registers = new Uint8Array(bytes);
      return sketch;
    }
    if (bytes.length % 8 !== 0) throw new InvalidArgumentError('encoded HyperLogLog hashes are not 8-byte aligned', { field: 'hll' });
    const hashes = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    for (let i = 0; i < hashes.length; i++) {
      const v = hashes[i]!;
      if (!Number.isInteger(v) || v <= 0 || v >= 2 ** 53) throw new InvalidArgumentError('encoded HyperLogLog holds a value that is not a 53-bit hash', { field: 'hll' });
      sketch.add(v);
    }
    return sketch;
  }

  #grow(): void {
    const old = this.#table!;
    const t = new Float64Array(old.length * 2);
    const mask = t.length - 1;
    for (let j = 0; j < old.length; j++) {
      const v = old[j]!;
      if (v === 0) continue;
      let i = (v >>> 0) & mask;
      while (t[i] !== 0) i = (i + 1) & mask;
      t[i] = v;
    }
    this.#table = t;
  }

  #toRegisters(): void {
    const r = new Uint8Array(2 ** this.p);
    const t = this.#table;
    if (t !== null) for (let i = 0; i < t.length; i++) if (t[i] !== 0) addToRegisters(r, this.p, t[i]!);
    this.#registers = r;
    this.#table = null;
    this.#size = 0;
  }
}

function maxInto(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < into.length; i++) if (from[i]! > into[i]!) into[i] = from[i]!;
}
