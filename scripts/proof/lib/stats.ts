/** Latency samples and percentiles, and byte/number formatting for the summary tables. */

/** Collects samples (ms) in a growable Float64Array; percentiles by sorting a copy. */
export class Samples {
  #data = new Float64Array(1024);
  #n = 0;

  add(v: number): void {
    if (this.#n === this.#data.length) {
      const bigger = new Float64Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#n++] = v;
  }

  get count(): number {
    return this.#n;
  }

  /** Nearest-rank percentile (p in [0, 100]); NaN without samples. */
  percentile(p: number): number {
    return percentiles(this.#data.subarray(0, this.#n), [p])[0]!;
  }

  /** Several percentiles with one sort. */
  percentiles(ps: readonly number[]): number[] {
    return percentiles(this.#data.subarray(0, this.#n), ps);
  }

  get max(): number {
    let m = -Infinity;
    for (let i = 0; i < this.#n; i++) if (this.#data[i]! > m) m = this.#data[i]!;
    return this.#n === 0 ? NaN : m;
  }

  /** Samples above `limit`. */
  countAbove(limit: number): number {
    let c = 0;
    for (let i = 0; i < this.#n; i++) if (this.#data[i]! > limit) c++;
    return c;
  }

  values(): Float64Array {
    return this.#data.slice(0, this.#n);
  }
}

/** Nearest-rank percentiles: the smallest value with at least p% of the samples at or below it. */
export function percentiles(values: ArrayLike<number>, ps: readonly number[]): number[] {
  const n = values.length;
  if (n === 0) return ps.map(() => NaN);
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  // The epsilon keeps 99.9% of 1000 at rank 999 (0.999 * 1000 is 999.0000000000001 in floating point).
  return ps.map((p) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n - 1e-9) - 1))]!);
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export function ms(v: number): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(2)} ms`;
}

export function count(n: number): string {
  return n.toLocaleString('en-US');
}

export function pct(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((part / whole) * 100).toFixed(1)}%`;
}
