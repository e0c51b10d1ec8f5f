/**
 * t-digest: percentiles within 1 % rank error on continuous data, on heavy repeated values (the
 * shape of response sizes), after any grouping of merges; exact count, sum, min and max.
 */
import test from 'ava';
import fc from 'fast-check';
import { TDigest } from '../../src/sketches/index.ts';

function rankError(sorted: Float64Array, q: number, v: number): number {
  let below = 0;
  let atOrBelow = 0;
  for (const x of sorted) {
    if (x < v) below++;
    if (x <= v) atOrBelow++;
  }
  const a = below / sorted.length;
  const b = atOrBelow / sorted.length;
  return q < a ? a - q : q > b ? q - b : 0;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
}

const QS = [0.001, 0.01, 0.05, 0.1, 0.25, 0.333, 0.5, 0.667, 0.75, 0.9, 0.95, 0.99, 0.999];

const shapes: Record<string, (r: () => number) => number> = {
  exponential: (r) => -Math.log(1 - r()) * 120,
  'log-normal': (r) => Math.exp(3 + 2 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r())),
  'response sizes': (r) => {
    const u = r();
    if (u < 0.12) return 0; // 304s
    if (u < 0.3) return 48_213; // one static file
    if (u < 0.36) return 196 + Math.floor(r() * 340); // error pages
    return 9000 + Math.floor(r() * 40_000);
  },
  'few values': (r) => Math.floor(r() * 7) * 100,
  fractional: (r) => r() * 3.7 - 1,
};

for (const [name, draw] of Object.entries(shapes)) {
  test(`${name}: percentiles within 1 % rank error, one pass and merged`, (t) => {
    const r = lcg(name.length);
    const n = 60_000;
    const values = Float64Array.from({ length: n }, () => draw(r));
    const one = new TDigest();
    const parts = Array.from({ length: 9 }, () => new TDigest());
    values.forEach((v, i) => {
      one.add(v);
      parts[i % 9]!.add(v);
    });
    const merged = parts.map((p) => TDigest.decode(p.encode())).reduce((a, b) => a.merge(b));
    const sorted = values.slice().sort();
    for (const d of [one, merged]) {
      t.is(d.count, n);
      t.is(d.min, sorted.at(0) ?? NaN);
      t.is(d.max, sorted.at(-1) ?? NaN);
      t.true(Math.abs(d.sum - values.reduce((a, b) => a + b, 0)) < 1e-6 * Math.max(1, Math.abs(d.sum)));
      for (const q of QS) t.true(rankError(sorted, q, d.quantile(q)) <= 0.01, `q=${q}: ${d.quantile(q)}`);
      t.is(d.quantile(0), sorted.at(0) ?? NaN);
      t.is(d.quantile(1), sorted.at(-1) ?? NaN);
      t.true(d.centroids <= 2 * d.compression, `${d.centroids} centroids`);
    }
  });
}

test('a heavy repeated value is returned exactly across its ranks', (t) => {
  const d = new TDigest();
  for (let i = 0; i < 5000; i++) d.add(i % 10 < 3 ? 0 : 1000 + i); // 30 % zeros
  for (const q of [0.01, 0.1, 0.2, 0.29]) t.is(d.quantile(q), 0);
  t.true(d.quantile(0.31) > 0);
  d.addWeighted(7, 100_000);
  t.is(d.quantile(0.5), 7);
  t.is(d.count, 105_000);
});

test('any grouping of merges stays within 1 % rank error', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.integer(), (parts, seed) => {
      const r = lcg(seed);
      const values = Float64Array.from({ length: 20_000 }, () => shapes['response sizes']!(r));
      const partials = Array.from({ length: parts }, () => new TDigest());
      values.forEach((v) => partials[Math.floor(r() * parts)]!.add(v));
      const pool = partials.map((p) => TDigest.decode(p.encode()));
      while (pool.length > 1) {
        const a = pool.splice(Math.floor(r() * pool.length), 1)[0]!;
        const b = pool.splice(Math.floor(r() * pool.length), 1)[0]!;
        pool.push(a.merge(b));
      }
      const sorted = values.slice().sort();
      for (const q of QS) if (rankError(sorted, q, pool[0]!.quantile(q)) > 0.01) return false;
      return pool[0]!.count === values.length;
    }),
    { numRuns: 25 },
  );
  t.pass();
});

test('an empty digest answers NaN; bad input is refused with ERR_INVALID_ARGUMENT', (t) => {
  const d = new TDigest();
  t.true(Number.isNaN(d.quantile(0.5)));
  t.true(Number.isNaN(d.min));
  t.is(TDigest.decode(d.encode()).count, 0);
  for (const bad of ['', 'AAAA', Buffer.from(new Float64Array([1, 1, 1, 1, 400, 1, 5, 2]).buffer).toString('base64')]) {
    t.is((t.throws(() => TDigest.decode(bad)) as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  }
  t.is((t.throws(() => d.quantile(1.5)) as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  t.is((t.throws(() => new TDigest({ compression: 5 })) as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
});
