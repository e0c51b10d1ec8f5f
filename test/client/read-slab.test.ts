/**
 * ReadSlab hands each socket read a region no earlier read was given: bytes taken from it stay
 * as they were however many reads follow, which is what lets the decoder keep zero-copy views.
 */
import test from 'ava';
import fc from 'fast-check';
import { ReadSlab } from '../../src/client/read-slab.ts';

test('bytes taken from a read are never overwritten by later reads', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 70 * 1024 }), { minLength: 1, maxLength: 60 }), (sizes) => {
      const slab = new ReadSlab();
      const kept: { chunk: Buffer; fill: number }[] = [];
      sizes.forEach((size, i) => {
        const region = slab.next();
        const n = Math.min(size, region.length);
        const fill = i % 251;
        region.fill(fill, 0, n); // what the kernel would write into the region
        kept.push({ chunk: slab.take(region, n), fill });
      });
      return kept.every(({ chunk, fill }) => chunk.every((b) => b === fill));
    }),
  );
  t.pass();
});

test('every read is offered at least 32 KiB', (t) => {
  const slab = new ReadSlab();
  for (let i = 0; i < 100; i++) {
    const region = slab.next();
    t.true(region.length >= 32 * 1024);
    slab.take(region, 30_000);
  }
});
