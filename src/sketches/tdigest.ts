/**
 * A merging t-digest (Dunning & Ertl, "Computing extremely accurate quantiles using t-digests",
 * 2019) for percentiles of response sizes and latencies, with exact handling of repeated values.
 *
 * Values go to a buffer; a full buffer is sorted, runs of equal values collapse into one weighted
 * point (sizes repeat a lot: every 304 is 0 bytes, a static file always has the same size), and
 * the points are merged with the centroids in one pass under the k1 scale function with
 * compression C: a centroid spans at most 1/(C/2) of the k scale, which bounds its share of the
 * ranks by about π/C near the median (0.8 % at the default C = 400) and much less in the tails.
 *
 * A centroid made only of equal values is an "atom": its value is exact over its whole span of
 * ranks, however heavy it is, and equal atoms always merge. The quantile function is piecewise
 * linear through the centroid means, flat across atoms. This matters for web logs: interpolating
 * across a heavy atom (say 12 % of responses are 0 bytes) would return values no response had and
 * miss the rank by the atom's weight.
 *
 * Why not the `tdigest` package: it inserts every value into a red-black tree (a few µs each), it
 * interpolates across repeated values as described above (rank errors of several percent on
 * response sizes), and its compress() shuffles with Math.random, so merges are not reproducible.
 *
 * Merging is associative and commutative up to the error bound (the centroids a merge keeps depend
 * on grouping); count, sum, min and max are exact.
 */
import { InvalidArgumentError } from '../errors.ts';

export const DEFAULT_COMPRESSION = 400;
const DEFAULT_BUFFER = 8192;

export interface TDigestOptions {
  /** C: about C/2 centroids; rank error near the median ≤ about π/C. Default 400. */
  readonly compression?: number;
  /** Values buffered before a merge pass. Default 8192. */
  readonly bufferSize?: number;
}

export class TDigest {
  readonly compression: number;
  #means: Float64Array = new Float64Array(0);
  #weights: Float64Array = new Float64Array(0);
  #atoms: Uint8Array = new Uint8Array(0);
  #size = 0;
  #buf: Float64Array;
  #bufN = 0;
  /** Every buffered value is an integer in 0..2^32-1 (sizes, µs): radix-sortable. */
  #bufUint = true;
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(options: TDigestOptions = {}) {
    const c = options.compression ?? DEFAULT_COMPRESSION;
    if (!(c >= 20 && c <= 100_000)) throw new InvalidArgumentError('t-digest compression must be in 20..100000', { field: 'compression' });
    const b = options.bufferSize ?? DEFAULT_BUFFER;
    if (!Number.isInteger(b) || b < 16) throw new InvalidArgumentError('t-digest bufferSize must be an integer ≥ 16', { field: 'bufferSize' });
    this.compression = c;
    this.#buf = new Float64Array(b);
  }

  /** Number of values (total weight). */
  get count(): number {
    return this.#count;
  }
  get sum(): number {
    return this.#sum;
  }
  get min(): number {
    return this.#count > 0 ? this.#min : NaN;
  }
  get max(): number {
    return this.#count > 0 ? this.#max : NaN;
  }
  get mean(): number {
    return this.#count > 0 ? this.#sum / this.#count : NaN;
  }

  /** Adds one value (finite). */
  add(x: number): void {
    const buf = this.#buf;
    buf[this.#bufN++] = x;
    if (x >>> 0 !== x) this.#bufUint = false;
    this.#count++;
    this.#sum += x;
    if (x < this.#min) this.#min = x;
    if (x > this.#max) this.#max = x;
    if (this.#bufN === buf.length) this.#flush();
  }

  /** Adds `weight` copies of `x` at once (pre-aggregated counts). */
  addWeighted(x: number, weight: number): void {
    if (!(weight > 0)) return;
    this.#flush();
    this.#count += weight;
    this.#sum += x * weight;
    if (x < this.#min) this.#min = x;
    if (x > this.#max) this.#max = x;
    this.#mergeIn(new Float64Array([x]), new Float64Array([weight]), new Uint8Array([1]), 1);
  }

  /** Adds everything `other` holds. */
  merge(other: TDigest): this {
    other.#flush();
    this.#flush();
    if (other.#count === 0) return this;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#min < this.#min) this.#min = other.#min;
    if (other.#max > this.#max) this.#max = other.#max;
    this.#mergeIn(other.#means, other.#weights, other.#atoms, other.#size);
    return this;
  }

  /**
   * The value at quantile q (0..1): min at 0, max at 1, NaN when empty. Across an atom the
   * answer is its exact value.
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) throw new InvalidArgumentError('quantile must be in 0..1', { field: 'q' });
    this.#flush();
    const n = this.#size;
    if (n === 0) return NaN;
    if (q === 0) return this.#min;
    if (q === 1) return this.#max;
    const h = q * this.#count;
    const means = this.#means;
    const weights = this.#weights;
    const atoms = this.#atoms;
    // Walk the knots of the piecewise-linear inverse CDF: (0, min), then per centroid either its
    // midpoint (rank, mean) or, for an atom, both ends of its span at its value; then (count, max).
    let prevRank = 0;
    let prevValue = this.#min;
    let cum = 0;
    for (let i = 0; i < n; i++) {
      const w = weights[i]!;
      const x = means[i]!;
      if (atoms[i] === 1 || w === 1) {
        if (h <= cum) return interpolate(prevRank, prevValue, cum, x, h);
        if (h <= cum + w) return x;
        prevRank = cum + w;
        prevValue = x;
      } else {
        const mid = cum + w / 2;
        if (h <= mid) return interpolate(prevRank, prevValue, mid, x, h);
        prevRank = mid;
        prevValue = x;
      }
      cum += w;
    }
    return interpolate(prevRank, prevValue, this.#count, this.#max, h);
  }

  /** Centroids kept (after merging buffered values). */
  get centroids(): number {
    this.#flush();
    return this.#size;
  }

  /** Base64 of doubles: count, sum, min, max, compression, n, means…, weights… (negative = atom). */
  encode(): string {
    this.#flush();
    const n = this.#size;
    const out = new Float64Array(6 + 2 * n);
    out[0] = this.#count;
    out[1] = this.#sum;
    out[2] = this.#count > 0 ? this.#min : 0;
    out[3] = this.#count > 0 ? this.#max : 0;
    out[4] = this.compression;
    out[5] = n;
    for (let i = 0; i < n; i++) {
      out[6 + i] = this.#means[i]!;
      out[6 + n + i] = this.#atoms[i] === 1 ? -this.#weights[i]! : this.#weights[i]!;
    }
    return Buffer.from(out.buffer).toString('base64');
  }

  static decode(text: string): TDigest {
    const bytes = Buffer.from(text, 'base64');
    const bad = (why: string) => new InvalidArgumentError(`not an encoded t-digest: ${why}`, { field: 'tdigest' });
    if (bytes.length < 48 || bytes.length % 8 !== 0) throw bad('wrong length');
    const d = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    const n = d[5]!;
    if (!Number.isInteger(n) || n < 0 || d.length !== 6 + 2 * n) throw bad('centroid count does not match');
    const t = new TDigest({ compression: d[4]! });
    t.#means = d.slice(6, 6 + n);
    t.#weights = new Float64Array(n);
    t.#atoms = new Uint8Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const w = d[6 + n + i]!;
      if (!Number.isFinite(w) || w === 0) throw bad('a centroid has no weight');
      t.#weights[i] = Math.abs(w);
      t.#atoms[i] = w < 0 ? 1 : 0;
      total += Math.abs(w);
      if (i > 0 && !(t.#means[i]! >= t.#means[i - 1]!)) throw bad('centroids out of order');
    }
    if (total !== d[0]) throw bad('weights do not add up to the count');
    t.#size = n;
    t.#count = d[0]!;
    t.#sum = d[1]!;
    if (n > 0) {
      t.#min = d[2]!;
      t.#max = d[3]!;
    }
    return t;
  }

  /** Sorts the buffer, collapses equal values into atoms and merges them in. */
  #flush(): void {
    const k = this.#bufN;
    if (k === 0) return;
    this.#bufN = 0;
    const sorted = this.#bufUint ? radixSort(this.#buf, k) : this.#buf.subarray(0, k).sort();
    this.#bufUint = true;
    const means = new Float64Array(k);
    const weights = new Float64Array(k);
    const atoms = new Uint8Array(k);
    let m = 0;
    for (let i = 0; i < k; ) {
      const x = sorted[i]!;
      let j = i + 1;
      while (j < k && sorted[j] === x) j++;
      means[m] = x;
      weights[m] = j - i;
      atoms[m] = 1;
      m++;
      i = j;
    }
    this.#mergeIn(means, weights, atoms, m);
  }

  /** Merges sorted weighted points into the centroids (the counters are already updated). */
  #mergeIn(bm: Float64Array, bw: Float64Array, ba: Uint8Array, bn: number): void {
    const am = this.#means;
    const aw = this.#weights;
    const aa = this.#atoms;
    const an = this.#size;
    const total = this.#count;
    const cap = an + bn;
    const outM = new Float64Array(cap);
    const outW = new Float64Array(cap);
    const outA = new Uint8Array(cap);
    const c = this.compression;
    let n = 0;
    let before = 0; // weight of the centroids already emitted
    let limit = 0; // largest cumulative weight the current centroid may reach
    let curM = 0;
    let curW = 0;
    let curA = 0;
    let i = 0;
    let j = 0;
    while (i < an || j < bn) {
      let x: number;
      let w: number;
      let atom: number;
      if (j >= bn || (i < an && am[i]! <= bm[j]!)) {
        x = am[i]!;
        w = aw[i]!;
        atom = aa[i]!;
        i++;
      } else {
        x = bm[j]!;
        w = bw[j]!;
        atom = ba[j]!;
        j++;
      }
      if (curW === 0) {
        curM = x;
        curW = w;
        curA = atom;
        limit = total * kInverse(kScale(before / total, c) + 1, c);
        continue;
      }
      if (curA === 1 && atom === 1 && curM === x) {
        curW += w; // equal values: exact, no limit
        continue;
      }
      if (before + curW + w <= limit) {
        curM += ((x - curM) * w) / (curW + w);
        curW += w;
        curA = 0;
        continue;
      }
      outM[n] = curM;
      outW[n] = curW;
      outA[n] = curA;
      n++;
      before += curW;
      curM = x;
      curW = w;
      curA = atom;
      limit = total * kInverse(kScale(before / total, c) + 1, c);
    }
    if (curW > 0) {
      outM[n] = curM;
      outW[n] = curW;
      outA[n] = curA;
      n++;
    }
    this.#means = outM.subarray(0, n);
    this.#weights = outW.subarray(0, n);
    this.#atoms = outA.subarray(0, n);
    this.#size = n;
  }
}

const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;
const radixCounts = new Uint32Array(RADIX * 3);
let radixA = new Uint32Array(0);
let radixB = new Uint32Array(0);
let radixOut = new Float64Array(0);

/**
 * The first k values of `buf` (integers in 0..2^32-1), sorted: an LSD radix sort in three 11-bit
 * passes, skipping passes whose digit is the same for every value. About 4× faster than
 * Float64Array.prototype.sort here. Returns a shared scratch array, valid until the next call.
 */
function radixSort(buf: Float64Array, k: number): Float64Array {
  if (radixA.length < k) {
    radixA = new Uint32Array(k);
    radixB = new Uint32Array(k);
    radixOut = new Float64Array(k);
  }
  const counts = radixCounts;
  counts.fill(0);
  let a = radixA;
  let b = radixB;
  for (let i = 0; i < k; i++) {
    const v = buf[i]! >>> 0;
    a[i] = v;
    counts[v & (RADIX - 1)]!++;
    counts[RADIX + ((v >>> RADIX_BITS) & (RADIX - 1))]!++;
    counts[2 * RADIX + (v >>> (2 * RADIX_BITS))]!++;
  }
  for (let pass = 0; pass < 3; pass++) {
    const base = pass * RADIX;
    const shift = pass * RADIX_BITS;
    let trivial = false;
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = counts[base + d]!;
      if (c === k) trivial = true;
      counts[base + d] = sum;
      sum += c;
    }
    if (trivial) continue;
    for (let i = 0; i < k; i++) {
      const v = a[i]!;
      b[counts[base + ((v >>> shift) & (RADIX - 1))]!++] = v;
    }
    const t = a;
    a = b;
    b = t;
  }
  const out = radixOut;
  for (let i = 0; i < k; i++) out[i] = a[i]!;
  return out.subarray(0, k);
}

/** k1(q) = C/(2π)·asin(2q − 1). */
function kScale(q: number, c: number): number {
  return (c / (2 * Math.PI)) * Math.asin(Math.min(1, Math.max(-1, 2 * q - 1)));
}

function kInverse(k: number, c: number): number {
  const a = (2 * Math.PI * k) / c;
  if (a >= Math.PI / 2) return 1;
  return (Math.sin(a) + 1) / 2;
}

function interpolate(r0: number, v0: number, r1: number, v1: number, h: number): number {
  if (r1 <= r0) return v1;
  return v0 + ((h - r0) * (v1 - v0)) / (r1 - r0);
}
