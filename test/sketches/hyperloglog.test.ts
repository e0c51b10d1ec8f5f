/**
 * HyperLogLog with an exact start: exact below its limit, within its stated error above it
 * (2 % on ~100k distinct at the precisions analyze uses), and a merge that is exactly
 * commutative and associative — any grouping gives the same bytes.
 */
import test from 'ava';
import fc from 'fast-check';
import { hash53, HyperLogLog } from '../../src/sketches/index.ts';

const key = (i: number, salt = 0) => `10.${salt}.${(i >>> 8) & 255}.${i & 255} Mozilla/5.0 (agent ${i % 13})`;

test('counts exactly below the limit, then switches to registers', (t) => {
  const h = new HyperLogLog({ p: 12 });
  t.is(h.exactLimit, 512);
  const seen = new Set<string>();
  for (let i = 0; i < 512; i++) {
    const s = key(i % 300 === 0 ? 0 : i); // repeats are counted once
    seen.add(s);
    h.add(hash53(s));
  }
  t.true(h.isExact);
  t.is(h.estimate(), seen.size);
  t.is(h.relativeError, 0);
  for (let i = 512; i < 600; i++) h.add(hash53(key(i)));
  t.false(h.isExact);
  t.is(h.relativeError, 1.04 / 64);
});

for (const p of [14, 16]) {
  test(`p=${p}: within 2 % of the exact count on ~100k distinct items`, (t) => {
    for (const [n, salt] of [[60_000, 1], [100_000, 2], [140_000, 3]] as const) {
      const h = new HyperLogLog({ p });
      const exact = new Set<string>();
      for (let i = 0; i < n; i++) {
        const s = key(i, salt);
        exact.add(s);
        h.add(hash53(s));
        if (i % 3 === 0) h.add(hash53(s));
      }
      const err = Math.abs(h.estimate() - exact.size) / exact.size;
      t.true(err <= 0.02, `${h.estimate()} vs ${exact.size}: ${(err * 100).toFixed(2)} %`);
    }
  });
}

test('merging in any order and grouping gives the same sketch as one pass', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 3000 }),
      fc.integer({ min: 1, max: 8 }),
      fc.infiniteStream(fc.nat()),
      (items, parts, choices) => {
        const one = new HyperLogLog({ p: 10 });
        const partials = Array.from({ length: parts }, () => new HyperLogLog({ p: 10 }));
        const pick = choices[Symbol.iterator]();
        for (const i of items) {
          one.add(hash53(key(i)));
          partials[pick.next().value! % parts]!.add(hash53(key(i)));
        }
        let pool = partials.map((s) => HyperLogLog.decode(s.encode()));
        while (pool.length > 1) {
          const a = pool.splice(pick.next().value! % pool.length, 1)[0]!;
          const b = pool.splice(pick.next().value! % pool.length, 1)[0]!;
          pool.push(a.merge(b));
        }
        t.is(pool[0]!.encode(), one.encode());
        t.is(pool[0]!.estimate(), one.estimate());
        t.is(pool[0]!.isExact, one.isExact);
      },
    ),
    { numRuns: 60 },
  );
});

test('encode/decode round-trips both forms; bad input is refused with ERR_INVALID_ARGUMENT', (t) => {
  const small = new HyperLogLog({ p: 8 });
  for (let i = 0; i < 10; i++) small.add(hash53(key(i)));
  const big = new HyperLogLog({ p: 8 });
  for (let i = 0; i < 1000; i++) big.add(hash53(key(i)));
  for (const h of [small, big]) {
    const back = HyperLogLog.decode(h.encode());
    t.is(back.estimate(), h.estimate());
    t.is(back.encode(), h.encode());
  }
  t.true(small.encode().startsWith('8e'));
  t.true(big.encode().startsWith('8d'));
  t.is(Buffer.from(big.encode().slice(2), 'base64').length, 256, 'registers: 2^p bytes');
  for (const bad of ['', 'x', '8d' + Buffer.alloc(10).toString('base64'), '8e' + Buffer.alloc(7).toString('base64'), '8d' + Buffer.alloc(256, 99).toString('base64')]) {
    const err = t.throws(() => HyperLogLog.decode(bad));
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT', bad);
  }
  for (const p of [3, 19, 1.5]) t.is((t.throws(() => new HyperLogLog({ p })) as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  const err = t.throws(() => new HyperLogLog({ p: 8 }).merge(new HyperLogLog({ p: 9 })));
  t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
});
