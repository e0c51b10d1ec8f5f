/**
 * KeyTable: exact below capacity (the same counts as a plain count of the stream, in any merge
 * order); above it, for every key of the stream, hits ≤ true ≤ hits + err when listed and
 * true ≤ floor when not, floor ≤ N / target, exact totals, whatever the split into partials and
 * the order and grouping of merges (property tests). The reference is a plain count of the stream.
 */
import test from 'ava';
import fc from 'fast-check';
import { KeyTable, type TableEntry } from '../../src/sketches/index.ts';

class E implements TableEntry {
  hits = 0;
  bytes = 0;
  err = 0;
  dropped = false;
}

function feed(t: KeyTable<E>, keys: readonly string[]): void {
  for (const k of keys) {
    const e = t.get(k) ?? t.insert(k, new E());
    e.hits++;
    e.bytes += k.length;
  }
}

/** Partials of the stream (key i goes to part split[i]), merged in the order and grouping given by `order`. */
function mergedTable(keys: readonly string[], capacity: number, split: readonly number[], parts: number, order: readonly number[]): KeyTable<E> {
  const tables = Array.from({ length: parts }, () => new KeyTable<E>(capacity));
  const chunks: string[][] = Array.from({ length: parts }, () => []);
  keys.forEach((k, i) => chunks[split[i % split.length]! % parts]!.push(k));
  chunks.forEach((c, i) => feed(tables[i]!, c));
  let pool = tables;
  let j = 0;
  while (pool.length > 1) {
    const a = pool.splice(order[j++ % order.length]! % pool.length, 1)[0]!;
    const b = pool.splice(order[j++ % order.length]! % pool.length, 1)[0]!;
    pool = [...pool, a.mergeFrom(b, () => new E())];
  }
  return pool[0]!;
}

function truth(keys: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
  return m;
}

/** A skewed stream: key i with weight ~ 1/(i+1), some keys very frequent, a long tail. */
const stream = fc
  .tuple(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3000 }), fc.integer({ min: 5, max: 2000 }))
  .map(([us, universe]) => us.map((u) => `k${Math.floor(Math.exp(u * Math.log(universe + 1))) - 1}`));

test('below capacity: the exact counts, the same table for any split and merge order', (t) => {
  fc.assert(
    fc.property(stream, fc.array(fc.nat(7), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (keys, split, parts, order) => {
      const want = truth(keys);
      const tb = mergedTable(keys, Math.max(16, want.size), split, parts, order);
      t.false(tb.approximate);
      t.is(tb.floor, 0);
      t.is(tb.distinct, want.size);
      const got = new Map([...tb.map].map(([k, e]) => [k, e.hits]));
      t.deepEqual(new Map([...got].sort()), new Map([...want].sort()));
      t.true([...tb.map].every(([k, e]) => e.err === 0 && e.bytes === k.length * e.hits));
    }),
    { numRuns: 150 },
  );
});

test('above capacity: every key within its bounds, floor ≤ N / target, exact total, for any split and merge order', (t) => {
  fc.assert(
    fc.property(stream, fc.integer({ min: 16, max: 64 }), fc.array(fc.nat(7), { minLength: 1, maxLength: 50 }), fc.integer({ min: 1, max: 6 }), fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), (keys, capacity, split, parts, order) => {
      const want = truth(keys);
      const tb = mergedTable(keys, capacity, split, parts, order);
      t.true(tb.size <= capacity);
      t.is(tb.totalHits, keys.length);
      t.is(tb.droppedBytes + [...tb.map.values()].reduce((n, e) => n + e.bytes, 0), keys.reduce((n, k) => n + k.length, 0));
      t.true(tb.floor <= keys.length / tb.target, `floor ${tb.floor} > ${keys.length} / ${tb.target}`);
      for (const [k, n] of want) {
        const e = tb.get(k);
        if (e) {
          t.true(e.hits <= n && n <= e.hits + e.err, `${k}: ${n} outside [${e.hits}, ${e.hits + e.err}]`);
          t.true(e.err <= tb.floor);
        } else t.true(n <= tb.floor, `${k}: ${n} not listed but floor ${tb.floor}`);
      }
      if (!tb.approximate) t.is(tb.size, want.size);
    }),
    { numRuns: 200 },
  );
});

test('a heavy key is always listed with its count within bounds; the distinct estimate switches to a sketch', (t) => {
  const keys: string[] = [];
  for (let i = 0; i < 50_000; i++) keys.push(i % 5 === 0 ? 'heavy' : i % 7 === 0 ? 'second' : `tail${i}`);
  const tb = new KeyTable<E>(1000);
  feed(tb, keys);
  t.true(tb.approximate);
  const heavy = tb.get('heavy')!;
  t.true(heavy.hits <= 10_000 && 10_000 <= heavy.hits + heavy.err);
  t.true(tb.get('second') !== undefined);
  const distinct = new Set(keys).size;
  t.true(Math.abs(tb.distinct - distinct) / distinct < 0.03, `distinct ${tb.distinct} vs ${distinct}`);
  const meta = tb.encodeMeta();
  const back = new KeyTable<E>(1000);
  for (const [k, e] of tb.map) back.map.set(k, Object.assign(new E(), { hits: e.hits, bytes: e.bytes, err: e.err }));
  back.decodeMeta(meta);
  t.deepEqual(back.encodeMeta(), meta);
  t.is(back.distinct, tb.distinct);
});
