/**
 * top FIELD: the N most frequent values with exact counts, equal to awk | sort | uniq -c over the
 * same clean log, for any split into partials and any merge order.
 */
import test from 'ava';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import top from '../../jobs/top.ts';
import { writeLog, type FieldName } from '../../src/logs/index.ts';
import { parseRecords, runLocally } from './analyze-harness.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-top-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
// No odd or invalid lines, so awk's whitespace fields are the log's fields.
const file = path.join(dir, 'access.log');
const ready = writeLog(file, { lines: 12_000, seed: 9, days: 2, invalidRate: 0, oddRate: 0 });

/** `count value` lines from a shell pipeline, largest count first, ties by value (byte order). */
function awkTop(program: string, limit: number): [string, number][] {
  const out = execFileSync('sh', ['-c', `awk '${program}' "$1" | sort | uniq -c | sort -k1,1nr -k2,2 | head -n ${limit}`, 'sh', file], {
    env: { ...process.env, LC_ALL: 'C' },
  }).toString();
  return out
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^\s*(\d+) (.*)$/.exec(l)!;
      return [m[2]!, Number(m[1])];
    });
}

async function runTop(raw: Record<string, unknown>, parts = 1, seed = 1) {
  const params = top.params.parse(raw);
  const { records } = await parseRecords(file, (top.input(params) as { records: FieldName[] }).records);
  return { result: runLocally(top, params, records, { parts, seed }), params, records };
}

test('top path and top userAgent equal awk | sort | uniq -c', async (t) => {
  await ready;
  const { result } = await runTop({ field: 'path', limit: 12 });
  t.deepEqual(result.rows.map((r) => [r.value, r.count]), awkTop('{ split($7, a, "?"); print a[1] }', 12));
  t.is(result.total, 12_000);
  t.is(result.missing, 0);
  const distinct = Number(execFileSync('sh', ['-c', `awk '{ split($7, a, "?"); print a[1] }' "$1" | sort -u | wc -l`, 'sh', file]).toString());
  t.is(result.distinct, distinct);
  const ua = (await runTop({ field: 'userAgent', limit: 5 })).result;
  t.deepEqual(ua.rows.map((r) => [r.value, r.count]), awkTop('BEGIN { FS = "\\"" } { print $6 }', 5));
});

test('numeric fields keep numbers and break ties numerically; the default limit is 10', async (t) => {
  await ready;
  const { result } = await runTop({ field: 'status' });
  t.is(result.limit, 10);
  const expected = awkTop('{ print $9 }', 10);
  t.deepEqual(result.rows.map((r) => [String(r.value), r.count]), expected);
  t.true(result.rows.every((r) => typeof r.value === 'number'));
  t.is(result.rows.reduce((n, r) => n + r.share, 0) <= 1 + 1e-9, true);
});

test('any split into partials and merge order gives the same rows', async (t) => {
  await ready;
  const { result: once, params, records } = await runTop({ field: 'host', limit: 15 });
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 10 }), fc.integer(), (parts, seed) => {
      t.deepEqual(runLocally(top, params, records, { parts, seed }), once);
    }),
    { numRuns: 15 },
  );
});

test('a field the format lacks is counted apart; an unknown field is refused', async (t) => {
  await ready;
  const { result } = await runTop({ field: 'vhost' });
  t.is(result.missing, 12_000);
  t.is(result.total, 0);
  t.deepEqual(result.rows, []);
  const bad = top.params.safeParse({ field: 'colour' });
  t.false(bad.success);
  t.deepEqual(bad.error?.issues[0]?.path, ['field']);
  const rendered = top.render!(result, top.params.parse({ field: 'vhost' }));
  t.regex(rendered.text!, /12,000 records without vhost/);
});
