/** topK: the first `limit` entries of the full order (count descending, then key), for any input. */
import test from 'ava';
import fc from 'fast-check';
import { topK } from '../../src/sketches/index.ts';

test('equals sorting everything and cutting, ties broken by key', (t) => {
  fc.assert(
    fc.property(fc.dictionary(fc.string({ maxLength: 4 }), fc.integer({ min: 0, max: 20 })), fc.integer({ min: 0, max: 30 }), (dict, limit) => {
      const entries = Object.entries(dict);
      const expected = [...entries].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const got = topK(entries, (v) => v, limit);
      t.deepEqual(got, limit === 0 ? expected : expected.slice(0, limit));
    }),
    { numRuns: 200 },
  );
});
