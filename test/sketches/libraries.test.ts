/**
 * The hand-written sketches against the npm libraries the project started from (hyperloglog-lite,
 * tdigest), on the same data: both land near the exact answer, ours within its stated error and
 * at least as close. bench/sketches.ts measures why ours are hand-written (cost per add).
 */
import test from 'ava';
import { createRequire } from 'node:module';
import { hash53, HyperLogLog, TDigest } from '../../src/sketches/index.ts';

const require = createRequire(import.meta.url);
const HyperLogLogLite = require('hyperloglog-lite') as {
  (n: number): { add(h: number[]): void; count(): number };
  hash(s: string): number[];
};
const { TDigest: LibTDigest } = require('tdigest') as { TDigest: new () => { push(x: number): void; compress(): void; percentile(p: number): number } };

test('unique counts: ours and hyperloglog-lite at p=14 on 200,000 distinct visitors of 500,000 hits', (t) => {
  const ours = new HyperLogLog({ p: 14 });
  const lib = HyperLogLogLite(14);
  const exact = 200_000;
  for (let i = 0; i < 500_000; i++) {
    const v = i % exact;
    const key = `10.${v >> 16}.${(v >> 8) & 255}.${v & 255} Mozilla/5.0 (agent ${v % 7})`;
    ours.add(hash53(key));
    lib.add(HyperLogLogLite.hash(key));
  }
  const err = (n: number) => Math.abs(n - exact) / exact;
  t.log(`ours ${ours.estimate()} (${(err(ours.estimate()) * 100).toFixed(2)} %), hyperloglog-lite ${lib.count()} (${(err(lib.count()) * 100).toFixed(2)} %)`);
  t.true(err(ours.estimate()) < 0.02);
  t.true(err(lib.count()) < 0.05, 'the library is in the same range (it is the reference, not the bar)');
});

test('percentiles of response sizes (many repeated values): ours within 1 % rank error, tdigest interpolates across repeats', (t) => {
  // Sizes as logs have them: a third are 0 (304s), many repeat exactly, a long tail.
  const values: number[] = [];
  let x = 7;
  for (let i = 0; i < 100_000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const r = x / 2 ** 31;
    values.push(r < 0.33 ? 0 : r < 0.6 ? 512 : r < 0.75 ? 4096 : Math.floor(1000 + r * r * 500_000));
  }
  const ours = new TDigest();
  const lib = new LibTDigest();
  for (const v of values) {
    ours.add(v);
    lib.push(v);
  }
  lib.compress();
  const sorted = [...values].sort((a, b) => a - b);
  /** Rank error of an answer: how far its rank range is from the asked quantile. */
  const rankError = (q: number, v: number) => {
    let lo = 0;
    while (lo < sorted.length && sorted[lo]! < v) lo++;
    let hi = lo;
    while (hi < sorted.length && sorted[hi]! <= v) hi++;
    const want = q * sorted.length;
    return want < lo ? (lo - want) / sorted.length : want > hi ? (want - hi) / sorted.length : 0;
  };
  for (const q of [0.25, 0.5, 0.75, 0.9, 0.95, 0.99]) {
    const e = rankError(q, ours.quantile(q));
    t.true(e <= 0.01, `ours p${q * 100}: rank error ${e}`);
    t.log(`p${q * 100}: ours ${ours.quantile(q)} (rank error ${(e * 100).toFixed(2)} %), tdigest ${lib.percentile(q)} (rank error ${(rankError(q, lib.percentile(q)) * 100).toFixed(2)} %)`);
  }
});
