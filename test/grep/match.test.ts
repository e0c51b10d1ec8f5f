/**
 * grep's line selection (src/grep/match.ts) against GNU grep on the same bytes: fixed strings
 * and regular expressions, with -i and -v, chunk by chunk; and the literal prefilter of -E (the
 * text every match must contain) read off the expression conservatively.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { requiredLiteral } from '../../src/grep/literal.ts';
import { lineSelector, type PatternOptions } from '../../src/grep/match.ts';
import { writeLog } from '../../src/logs/index.ts';
import { tempDir } from '../helpers/cluster.ts';

test('the prefilter literal is the longest run every match must contain, or none', (t) => {
  const cases: [string, boolean, string | null][] = [
    ['POST /api/v1/orders/\\d+', false, 'POST /api/v1/orders/'],
    ['Mozilla/5\\.0 \\(iPhone', false, 'Mozilla/5.0 (iPhone'],
    ['" 50[0-9] ', false, '" 50'],
    ['(GET|POST) /login', false, ' /login'],
    ['GET|POST', false, null],
    ['ab?cd', false, 'cd'],
    ['abc+de', false, 'abc'],
    ['x*yz{2}w', false, 'yz'],
    ['a.b', false, null],
    ['^/static/.*\\.css$', false, '/static/'],
    ['[a-z]+login[0-9]', false, 'login'],
    ['\\bbot\\b', false, 'bot'],
    ['caf\u00c3\u00a9 au', true, 'caf'],
    ['caf\u00c3\u00a9 au', false, 'caf\u00c3\u00a9 au'],
    ['a{,2}bc', false, ',2'],  // not a quantifier in JavaScript: literal text,
    ['(?:wp-)?login\\.php', false, 'login.php'],
  ];
  for (const [src, ignoreCase, expected] of cases) t.is(requiredLiteral(src, ignoreCase), expected, `${src}${ignoreCase ? ' (-i)' : ''}`);
});

/** Line numbers (1-based) of the lines a selector picks, over the file cut into chunks of whole lines. */
function selected(file: string, o: PatternOptions, chunkBytes: number): number[] {
  const data = fs.readFileSync(file);
  const select = lineSelector(o);
  const out: number[] = [];
  let line = 1;
  for (let at = 0; at < data.length; ) {
    let end = Math.min(data.length, at + chunkBytes);
    if (end < data.length) {
      const nl = data.lastIndexOf(10, end - 1);
      end = nl >= at ? nl + 1 : data.indexOf(10, end) + 1 || data.length;
    }
    const chunk = data.subarray(at, end);
    let pos = 0;
    select(chunk, (start) => {
      for (let p = chunk.indexOf(10, pos); p >= 0 && p < start; p = chunk.indexOf(10, p + 1)) line++, (pos = p + 1);
      out.push(line);
    });
    for (let p = chunk.indexOf(10, pos); p >= 0; p = chunk.indexOf(10, p + 1)) line++;
    at = end;
  }
  return out;
}

function gnuGrep(file: string, o: PatternOptions): number[] {
  const args = ['-a', '-n', o.regex ? '-E' : '-F', ...(o.ignoreCase ? ['-i'] : []), ...(o.invert ? ['-v'] : []), ...o.patterns.flatMap((p) => ['-e', p]), file];
  const out = execFileSync('sh', ['-c', 'grep "$@" || true', 'sh', ...args], { maxBuffer: 1 << 28 }).toString('latin1');
  return out === '' ? [] : out.trimEnd().split('\n').map((l) => Number(l.slice(0, l.indexOf(':'))));
}

test('selected lines equal GNU grep -n for fixed strings and regular expressions, with -i and -v, whatever the chunking', async (t) => {
  const file = path.join(tempDir(t, 'geartrain-match-'), 'access.log');
  await writeLog(file, { lines: 20_000, node: 1, seed: 5, invalidRate: 0.02, oddRate: 0.02 });
  const base = { regex: false, ignoreCase: false, invert: false };
  const cases: PatternOptions[] = [
    { ...base, patterns: ['POST /login'] },
    { ...base, patterns: ['post /LOGIN'], ignoreCase: true },
    { ...base, patterns: [' 404 '], invert: true },
    { ...base, patterns: ['Mozilla'], ignoreCase: true, invert: true },
    { ...base, patterns: ['e'] },
    { ...base, patterns: ['wp-login', 'POST /api'] },
    { ...base, regex: true, patterns: ['POST /api/v1/(cart|orders)'] },
    { ...base, regex: true, patterns: ['mozilla/5\\.0 \\(iphone'], ignoreCase: true },
    { ...base, regex: true, patterns: ['" 50[0-9] '], invert: true },
    { ...base, regex: true, patterns: ['^[0-9]+\\.[0-9]+\\.'], invert: true },
    { ...base, regex: true, patterns: ['GET|HEAD'] },
  ];
  for (const o of cases) {
    const expected = gnuGrep(file, o);
    t.true(expected.length > 0, JSON.stringify(o));
    for (const chunkBytes of [1 << 12, 1 << 16, 1 << 30]) t.deepEqual(selected(file, o, chunkBytes), expected, `${JSON.stringify(o)} in chunks of ${chunkBytes}`);
  }
});
