/**
 * analyze with bounded key tables (--max-keys): below capacity every list is exact and equal to
 * awk | sort | uniq -c over the file; above it, each panel says it is approximate, totals stay
 * exact, and the true top keys (from awk) are listed with their true counts inside the reported
 * bounds, whatever the split into partials and the merge order. The reference never uses our parser.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import analyze from '../../jobs/analyze.ts';
import type { FieldName } from '../../src/logs/index.ts';
import type { AnalysisResult, TopList } from '../../src/weblog/index.ts';
import { parseRecords, prng, runLocally } from './analyze-harness.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-analyze-bounds-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** A combined log: a few popular pages and hosts, then a long tail of distinct ones. */
const file = path.join(dir, 'tail.log');
{
  const rnd = prng(17);
  const lines: string[] = [];
  for (let i = 0; i < 30_000; i++) {
    const u = rnd();
    const page = u < 0.5 ? Math.floor(rnd() * 12) : Math.floor(rnd() * 20_000);
    const host = rnd() < 0.4 ? `10.0.0.${Math.floor(rnd() * 8)}` : `10.${Math.floor(rnd() * 40)}.${Math.floor(rnd() * 200)}.1`;
    const status = rnd() < 0.1 ? 404 : 200;
    const ref = rnd() < 0.3 ? `https://ref${Math.floor(rnd() * 5000)}.example/p` : '-';
    const t = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    const stamp = `${t.slice(8, 10)}/Jan/2026:${t.slice(11, 19)} +0000`;
    lines.push(`${host} - - [${stamp}] "GET /item/${page}?x=${i % 3} HTTP/1.1" ${status} ${100 + (i % 50)} "${ref}" "agent/${i % 4}"`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

/** awk | sort | uniq -c | sort -rn: [key, count] largest first. */
function reference(awk: string): [string, number][] {
  const out = execFileSync('sh', ['-c', `awk '${awk}' '${file}' | sort | uniq -c | sort -k1,1nr -k2,2`], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } });
  return out
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^\s*(\d+) (.*)$/.exec(l)!;
      return [m[2]!, Number(m[1])] as [string, number];
    });
}
const PATHS = reference('{ sub(/\\?.*/, "", $7); print $7 }');
const HOSTS = reference('{ print $1 }');
const NOT_FOUND = reference('$9 == 404 { sub(/\\?.*/, "", $7); print $7 }');
const LINES = 30_000;

async function run(raw: Record<string, unknown>, parts = 1, seed = 1): Promise<AnalysisResult> {
  const params = analyze.params.parse(raw);
  const spec = analyze.input(params) as { records: FieldName[] };
  const { records } = await parseRecords(file, spec.records);
  return runLocally(analyze, params, records, { parts, seed });
}

function sameOrder(rows: [string, number][], limit: number): [string, number][] {
  return rows.slice(0, limit);
}

test('below capacity: every list exact and equal to awk | sort | uniq -c', async (t) => {
  const r = await run({ limit: 30 });
  for (const [list, ref] of [
    [r.requests, PATHS],
    [r.hosts, HOSTS],
    [r.notFound, NOT_FOUND],
  ] as [TopList, [string, number][]][]) {
    t.true(list.exact);
    t.is(list.distinct, ref.length);
    t.is(list.total, ref.reduce((n, x) => n + x[1], 0));
    t.deepEqual(
      list.rows.map((x) => [x.key, x.hits]),
      sameOrder(ref, 30),
    );
    t.true(list.rows.every((x) => x.hitsError === undefined));
  }
  t.is(r.definitions.maxKeys, 100_000);
});

function checkBounds(t: import('ava').ExecutionContext, list: TopList, ref: [string, number][], topN: number): void {
  const truth = new Map(ref);
  t.false(list.exact);
  t.is(list.total, ref.reduce((n, x) => n + x[1], 0), 'totals stay exact');
  for (const row of list.rows) {
    const n = truth.get(row.key) ?? 0;
    t.true(row.hits <= n && n <= row.hits + row.hitsError!, `${row.key}: true ${n} outside [${row.hits}, +${row.hitsError}]`);
    t.true(row.hitsError! <= list.maxError!);
  }
  const listed = new Set(list.rows.map((x) => x.key));
  for (const [key, n] of ref.slice(0, topN)) t.true(listed.has(key), `true top key ${key} (${n}) listed`);
  // Any key not listed had at most maxError hits, unless it was cut by the limit (then it is below every listed row).
  const lowest = Math.min(...list.rows.map((x) => x.hits + x.hitsError!));
  for (const [key, n] of ref) if (!listed.has(key)) t.true(n <= Math.max(list.maxError!, lowest), `${key}: ${n}`);
}

test('above capacity: approximate panels, exact totals, the true top keys listed within their bounds, in any merge order', async (t) => {
  for (const [parts, seed] of [
    [1, 1],
    [4, 2],
    [7, 3],
    [7, 4],
  ] as const) {
    const r = await run({ limit: 20, maxKeys: 256 }, parts, seed);
    t.true(PATHS.length > 256 && HOSTS.length > 256);
    checkBounds(t, r.requests, PATHS, 12);
    checkBounds(t, r.hosts, HOSTS, 8);
    checkBounds(t, r.notFound, NOT_FOUND, 12);
    t.is(r.totals.requests, LINES);
    t.is(r.totals.pageRequests, LINES);
    t.true(Math.abs(r.totals.distinctHosts - HOSTS.length) / HOSTS.length < 0.03, `distinct hosts ${r.totals.distinctHosts} vs ${HOSTS.length}`);
    t.false(r.referrers.exact);
    t.false(r.referringSites.exact);
    t.true(r.browsers.exact, 'four agents fit');
    t.true(r.requests.maxError! <= LINES / 192);
  }
  const rendered = analyze.render!(await run({ limit: 5, maxKeys: 256 }, 3, 9), analyze.params.parse({}));
  const table = rendered.tables!.find((x) => x.title?.startsWith('Requested files'))!;
  t.regex(table.title!, /APPROXIMATE/);
  t.deepEqual(table.columns, ['request', 'hits', '+ max', '%', 'bytes']);
  t.true(table.rows.every((row) => row.length === table.columns.length));
  const exact = analyze.render!(await run({ limit: 5 }), analyze.params.parse({}));
  t.notRegex(exact.tables!.find((x) => x.title?.startsWith('Requested files'))!.title!, /APPROXIMATE/);
});

test('--max-keys is validated naming the field', (t) => {
  for (const bad of [0, 15, 1.5, 'x', 1e9]) {
    const r = analyze.params.safeParse({ maxKeys: bad });
    t.false(r.success, String(bad));
    t.deepEqual(r.error?.issues[0]?.path, ['maxKeys']);
  }
  t.is(analyze.params.parse({ maxKeys: 16 }).maxKeys, 16);
});
