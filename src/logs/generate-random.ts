/** Deterministic randomness for the log generator: a seeded PRNG, weighted draws, a traffic clock. */

export const DAY_MS = 86_400_000;

/** sfc32, seeded through splitmix32: fast, 32-bit, and the same on every platform. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  float(): number {
    return this.u32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A 32-bit hash of two ints, for attributes that must not depend on generation order. */
export function mix32(a: number, b: number): number {
  let h = Math.imul(a ^ 0x27d4eb2d, 0x9e3779b1) ^ b;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Draws indexes in proportion to weights (binary search over the cumulative sums). */
export class Weighted {
  readonly #cum: Float64Array;

  constructor(weights: ArrayLike<number>) {
    this.#cum = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) this.#cum[i] = total += weights[i]!;
  }

  static zipf(n: number, s: number): Weighted {
    const w = new Float64Array(n);
    for (let k = 0; k < n; k++) w[k] = 1 / Math.pow(k + 1, s);
    return new Weighted(w);
  }

  pick(u: number): number {
    const cum = this.#cum;
    const target = u * cum[cum.length - 1]!;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! <= target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Maps a share of the day's traffic to a moment: quiet nights, busy afternoons, calmer weekends. */
export class TrafficClock {
  readonly #start: number;
  readonly #cum: Float64Array;
  #cursor = 0;

  constructor(start: number, days: number, tzOffset: number) {
    this.#start = start;
    const minutes = Math.max(1, Math.round(days * 1440));
    this.#cum = new Float64Array(minutes + 1);
    let total = 0;
    for (let m = 0; m < minutes; m++) {
      const local = start + m * 60_000 + tzOffset * 60_000;
      const hour = ((local % DAY_MS) + DAY_MS) % DAY_MS / 3_600_000;
      const weekday = (Math.floor(local / DAY_MS) + 4) % 7;
      const daily = 0.12 + Math.max(0, Math.sin((Math.PI * (hour - 6)) / 16));
      total += daily * (weekday === 0 || weekday === 6 ? 0.75 : 1);
      this.#cum[m + 1] = total;
    }
  }

  /** The moment at which `share` (0–1, non-decreasing between calls) of the traffic has passed. */
  at(share: number): number {
    const cum = this.#cum;
    const target = share * cum[cum.length - 1]!;
    while (this.#cursor < cum.length - 2 && cum[this.#cursor + 1]! < target) this.#cursor++;
    const lo = cum[this.#cursor]!;
    const span = cum[this.#cursor + 1]! - lo;
    const within = span > 0 ? Math.min(1, Math.max(0, (target - lo) / span)) : 0;
    return this.#start + (this.#cursor + within) * 60_000;
  }
}
