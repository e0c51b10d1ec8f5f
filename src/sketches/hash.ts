/**
 * String hashing for sketches: two 32-bit MurmurHash3-style lanes computed in one pass, combined
 * into one 53-bit integer (exact in a JS number). HyperLogLog takes its bucket from the high lane
 * and its rank from the low bits, so the two lanes use different seeds and multipliers.
 *
 * Strings are read as UTF-16 code units, two per 32-bit block, so any JS string hashes the same
 * way whether it came from a Latin-1 line or from unescaped UTF-8.
 */

/** 2^21: the 53-bit hash is `hi * TWO_21 + lo21`. */
export const TWO_21 = 2097152;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;
const D1 = 0x85ebca6b;
const D2 = 0xc2b2ae35;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Scratch results of `hashLanes` (no allocation per call). */
export const lanes = { a: 0, b: 0 };

/** Hashes `s` into two 32-bit lanes (`lanes.a`, `lanes.b`), seeded by `seedA` and `seedB`. */
export function hashLanes(s: string, seedA: number, seedB: number): void {
  let a = seedA | 0;
  let b = seedB | 0;
  const len = s.length;
  const even = len & ~1;
  let i = 0;
  for (; i < even; i += 2) {
    const k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    let ka = Math.imul(k, C1);
    ka = (ka << 15) | (ka >>> 17);
    a ^= Math.imul(ka, C2);
    a = (a << 13) | (a >>> 19);
    a = (Math.imul(a, 5) + 0xe6546b64) | 0;
    let kb = Math.imul(k, D1);
    kb = (kb << 16) | (kb >>> 16);
    b ^= Math.imul(kb, D2);
    b = (b << 17) | (b >>> 15);
    b = (Math.imul(b, 9) + 0x52dce729) | 0;
  }
  if (i < len) {
    const k = s.charCodeAt(i);
    let ka = Math.imul(k, C1);
    ka = (ka << 15) | (ka >>> 17);
    a ^= Math.imul(ka, C2);
    let kb = Math.imul(k, D1);
    kb = (kb << 16) | (kb >>> 16);
    b ^= Math.imul(kb, D2);
  }
  lanes.a = fmix(a ^ len);
  lanes.b = fmix(b ^ len ^ 0x9e3779b9);
}

/** A 53-bit hash of `s` (never 0), from two lanes seeded by `seedA`/`seedB`. */
export function hash53(s: string, seedA = 0x5bd1e995, seedB = 0x1b873593): number {
  hashLanes(s, seedA, seedB);
  return combine53(lanes.a, lanes.b);
}

/** The 53-bit hash made of lane `a` (high 32 bits) and the top 21 bits of lane `b`; never 0. */
export function combine53(a: number, b: number): number {
  const v = (a >>> 0) * TWO_21 + (b >>> 11);
  return v === 0 ? 1 : v;
}
