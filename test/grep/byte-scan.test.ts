/**
 * The SIMD byte scan (src/byte-scan.ts) against plain Buffer searches: newline counts, and the
 * first match of a fixed string on each line, with and without ASCII case folding, at every
 * position a 16-byte block can put a match (chunk start and end, across block edges, several
 * per line, a last line without a newline).
 */
import test from 'ava';
import fc from 'fast-check';
import { byteScanAvailable, countNewlines, findable, findPerLine } from '../../src/byte-scan.ts';

/** The first match per line, the slow way: a Latin-1 string per line. */
function reference(chunk: Buffer, pattern: string, ignoreCase: boolean): number[] {
  const text = chunk.toString('latin1');
  const hits: number[] = [];
  let start = 0;
  for (const line of text.split('\n')) {
    const at = ignoreCase ? line.replace(/[A-Z]/g, (c) => c.toLowerCase()).indexOf(pattern.replace(/[A-Z]/g, (c) => c.toLowerCase())) : line.indexOf(pattern);
    if (at >= 0) hits.push(start + at);
    start += line.length + 1;
  }
  return hits;
}

test('the WebAssembly SIMD kernel compiles on this Node', (t) => {
  t.true(byteScanAvailable());
});

test('newline counts equal a byte-by-byte count, for chunks of every length around the 16- and 64-byte blocks', (t) => {
  for (let len = 0; len < 300; len++) {
    const chunk = Buffer.alloc(len + 5000, 'ab\nc');
    const part = chunk.subarray(3, 3 + len + 4096 * (len % 2));
    let expected = 0;
    for (const b of part) if (b === 10) expected++;
    t.is(countNewlines(part), expected, `length ${part.length}`);
  }
});

test('the first match on each line is found at every offset, once per line, with and without -i', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom('x', 'ab', 'AB', 'aB', '\n', 'abc', 'Ab c', ' ', 'é', 'b\n'), { maxLength: 400 }),
      fc.constantFrom('ab', 'abc', 'b', 'ab c', 'x\nx', 'bab', 'aBabAB'),
      fc.boolean(),
      (parts, pattern, ignoreCase) => {
        const chunk = Buffer.from(parts.join(''), 'latin1');
        const bytes = Buffer.from(pattern, 'latin1');
        if (!findable(bytes, ignoreCase)) return;
        const got = [...findPerLine(chunk, { bytes, ignoreCase })];
        t.deepEqual(got, reference(chunk, pattern, ignoreCase));
      },
    ),
    { numRuns: 2000 },
  );
});

test('a pattern holding a newline, an empty one, and non-ASCII with -i are left to the other paths', (t) => {
  t.false(findable(Buffer.from('a\nb'), false));
  t.false(findable(Buffer.alloc(0), false));
  t.false(findable(Buffer.from('é'), true));
  t.true(findable(Buffer.from('é'), false));
});

test('a chunk larger than the module memory grows it, and the hits stay right after it grew', (t) => {
  const line = Buffer.from('GET /a HTTP/1.1 200\nPOST /login HTTP/1.1 302\n');
  const chunk = Buffer.concat(Array.from({ length: 200_000 }, () => line));
  const hits = findPerLine(chunk, { bytes: Buffer.from('POST /login'), ignoreCase: false });
  t.is(hits.length, 200_000);
  t.is(hits[1], line.length + 20);
  t.is(countNewlines(chunk), 400_000);
});
