/**
 * analyze: what every panel holds, checked against reference answers computed from the raw lines
 * by test/jobs/analyze-reference.ts (its own regex, no src/ code), on generated logs with dirty
 * and odd lines; and the monoid law: any split into partials, merged in any order and grouping,
 * gives the one-pass result.
 */
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import analyze from '../../jobs/analyze.ts';
import { writeLog, type FieldName, type LogRecord } from '../../src/logs/index.ts';
import type { AnalysisResult, TopList } from '../../src/weblog/index.ts';
import { parseRecords, runLocally } from './analyze-harness.ts';
import { countBy, rankError, readRecords, searchTerms, top, urlHost, type RefRecord } from './analyze-reference.ts';

const STATIC = ['css', 'js', 'svg', 'ico', 'woff2', 'webp', 'jpg', 'png', 'txt', 'pdf'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-analyze-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

interface Dataset {
  file: string;
  ref: { records: RefRecord[]; lines: number; bad: number };
}

const datasets = new Map<string, Promise<Dataset>>();
function dataset(name: string, options: Parameters<typeof writeLog>[1]): Promise<Dataset> {
  let d = datasets.get(name);
  if (!d) {
    d = (async () => {
      const file = path.join(dir, `${name}.log`);
      await writeLog(file, options);
      return { file, ref: readRecords(file) };
    })();
    datasets.set(name, d);
  }
  return d;
}

const dirty = () => dataset('dirty', { lines: 20_000, seed: 7, days: 3, invalidRate: 0.02, oddRate: 0.05 });

async function run(file: string, raw: Record<string, unknown>, parts = 1, seed = 1): Promise<{ result: AnalysisResult; records: LogRecord<FieldName>[] }> {
  const params = analyze.params.parse(raw);
  const spec = analyze.input(params) as { records: FieldName[] };
  const { records } = await parseRecords(file, spec.records);
  return { result: runLocally(analyze, params, records, { parts, seed }), records };
}

function rowsOf(list: TopList): [string, number][] {
  return list.rows.map((r) => [r.key, r.hits]);
}

function isStatic(p: string): boolean {
  const m = /\.([^./]+)$/.exec(p);
  return m !== null && STATIC.includes(m[1]!.toLowerCase());
}

test('exact panels equal the reference on a log with dirty and odd lines', async (t) => {
  const { file, ref } = await dirty();
  const recs = ref.records;
  t.true(ref.bad > 300, 'the log has bad lines to skip');
  const limit = 15;
  const { result: r } = await run(file, { limit, staticExtensions: STATIC.join(',') });

  t.is(r.totals.requests, recs.length);
  t.is(r.totals.bytes, recs.reduce((n, x) => n + x.bytes, 0));
  t.is(r.totals.firstTime, new Date(Math.min(...recs.map((x) => x.time))).toISOString());
  t.is(r.totals.lastTime, new Date(Math.max(...recs.map((x) => x.time))).toISOString());

  const status = countBy(recs, (x) => String(x.status));
  t.deepEqual(
    r.statusCodes.rows.map((s) => [String(s.code), s.hits]),
    [...status].sort((a, b) => Number(a[0]) - Number(b[0])),
  );
  const statusBytes = countBy(recs, (x) => String(x.status), (x) => x.bytes);
  for (const s of r.statusCodes.rows) t.is(s.bytes, statusBytes.get(String(s.code)) ?? -1, `bytes of ${s.code}`);
  const classes = countBy(recs, (x) => `${String(x.status)[0]}xx`);
  t.deepEqual(Object.fromEntries(r.statusCodes.classes.map((c) => [c.class, c.hits])), Object.fromEntries(classes));

  // Timeline, in the zone each line was logged in.
  const days = countBy(recs, (x) => x.localDay);
  t.deepEqual(r.timeline.days.map((d) => [d.date, d.hits]), [...days].sort());
  const dayBytes = countBy(recs, (x) => x.localDay, (x) => x.bytes);
  t.deepEqual(r.timeline.days.map((d) => d.bytes), [...dayBytes].sort().map(([, b]) => b));
  const hours = countBy(recs, (x) => x.localHour);
  t.deepEqual(r.timeline.hours.map((h) => [h.time, h.hits]), [...hours].sort());
  const hod = countBy(recs, (x) => String(Number(x.localHour.slice(11, 13))));
  for (const h of r.timeline.hourOfDay) t.is(h.hits, hod.get(String(h.hour)) ?? 0, `hour of day ${h.hour}`);

  // Requests: path without query, split into pages and static files.
  const pages = countBy(recs.filter((x) => !isStatic(x.path)), (x) => x.path);
  const statics = countBy(recs.filter((x) => isStatic(x.path)), (x) => x.path);
  t.deepEqual(rowsOf(r.requests), top(pages, limit));
  t.deepEqual(rowsOf(r.staticFiles), top(statics, limit));
  t.is(r.requests.distinct, pages.size);
  t.is(r.staticFiles.distinct, statics.size);
  t.is(r.totals.pageRequests + r.totals.staticRequests, recs.length);
  const pageBytes = countBy(recs, (x) => x.path, (x) => x.bytes);
  for (const row of r.requests.rows) t.is(row.bytes, pageBytes.get(row.key), `bytes of ${row.key}`);

  // 404s with the referrer of the latest one (equal times: the larger referrer).
  const nf = recs.filter((x) => x.status === 404);
  t.deepEqual(rowsOf(r.notFound), top(countBy(nf, (x) => x.path), limit));
  for (const row of r.notFound.rows) {
    const last = nf.filter((x) => x.path === row.key).reduce((a, b) => (b.time > a.time || (b.time === a.time && b.referer > a.referer) ? b : a));
    t.is(row.lastReferrer, last.referer, `last referrer of ${row.key}`);
  }

  t.deepEqual(rowsOf(r.hosts), top(countBy(recs, (x) => x.host), limit));
  t.is(r.totals.distinctHosts, new Set(recs.map((x) => x.host)).size);

  const referred = recs.filter((x) => x.referer !== '-' && x.referer !== '');
  t.deepEqual(rowsOf(r.referrers), top(countBy(referred, (x) => x.referer), limit));
  t.deepEqual(rowsOf(r.referringSites), top(countBy(referred, (x) => urlHost(x.referer)), limit));
  t.deepEqual(rowsOf(r.keyphrases), top(countBy(referred, (x) => searchTerms(x.referer)), limit));
  t.true(r.keyphrases.rows.length > 0);

  t.is(r.totals.distinctAgents, new Set(recs.map((x) => x.userAgent)).size);
  for (const list of [r.browsers, r.operatingSystems, r.devices]) t.is(list.total, recs.length, 'every request has a browser, an OS and a device');
});

test('visitors: exact while small, within 2 % once sketched; the period is the union of the days, not their sum', async (t) => {
  // About 3,200 clients over two days: each day passes the day sketch's exact limit (2,048).
  const { file, ref } = await dataset('visitors', { lines: 80_000, seed: 11, days: 2, invalidRate: 0.001 });
  const { result: r } = await run(file, {});
  const key = (x: RefRecord) => `${x.host}\u0000${x.userAgent}`;
  const exactPeriod = new Set(ref.records.map(key)).size;
  const perDay = new Map<string, Set<string>>();
  for (const x of ref.records) {
    let s = perDay.get(x.localDay);
    if (!s) perDay.set(x.localDay, (s = new Set()));
    s.add(key(x));
  }
  t.true(Math.abs(r.totals.visitors - exactPeriod) / exactPeriod <= 0.02, `period ${r.totals.visitors} vs ${exactPeriod}`);
  let sum = 0;
  for (const d of r.timeline.days) {
    const exact = perDay.get(d.date)!.size;
    sum += exact;
    if (exact < 2048) t.is(d.visitors, exact, `day ${d.date} is exact`);
    else t.true(Math.abs(d.visitors - exact) / exact <= 0.02, `day ${d.date}: ${d.visitors} vs ${exact}`);
  }
  t.true([...perDay.values()].some((s) => s.size > 2048), 'at least one day uses the sketch');
  t.true(r.totals.visitors < sum, 'returning visitors are counted once over the period');
  for (const h of r.timeline.hours) {
    const exact = new Set(ref.records.filter((x) => x.localHour === h.time).map(key)).size;
    const tolerance = exact < 512 ? 0 : 0.05; // hour sketches: p = 12, 1.6 % standard error
    t.true(Math.abs(h.visitors - exact) <= tolerance * exact, `hour ${h.time}: ${h.visitors} vs ${exact}`);
  }

  const byIp = (await run(file, { visitor: 'ip' })).result;
  t.is(byIp.totals.visitors, new Set(ref.records.map((x) => x.host)).size, 'ip-only visitors (below the exact limit)');
});

test('response-size percentiles are within 1 % rank error; count, sum, min and max are exact', async (t) => {
  const { file, ref } = await dirty();
  const sizes = Float64Array.from(ref.records.map((x) => x.bytes)).sort();
  for (const parts of [1, 7]) {
    const { result: r } = await run(file, {}, parts, 3);
    const d = r.responseSizes;
    t.is(d.count, sizes.length);
    t.is(d.sum, sizes.reduce((a, b) => a + b, 0));
    t.is(d.min, sizes.at(0) ?? null);
    t.is(d.max, sizes.at(-1) ?? null);
    t.deepEqual(d.percentiles.map((p) => p.p), [50, 75, 90, 95, 99, 99.9]);
    for (const p of d.percentiles) t.true(rankError(sizes, p.p / 100, p.value) <= 0.01, `p${p.p} = ${p.value} (${parts} parts)`);
  }
  t.is((await run(file, {})).result.latency, null, 'combined has no %D: no latency panel');
});

/** Everything but the percentiles must be identical; percentiles must stay within their bound. */
function withoutPercentiles(r: AnalysisResult): unknown {
  return { ...r, responseSizes: { ...r.responseSizes, percentiles: r.responseSizes.percentiles.map((p) => p.p) } };
}

test('any split into partials, merged in any order and grouping, gives the one-pass result', async (t) => {
  const { file } = await dataset('small', { lines: 4000, seed: 5, days: 2, invalidRate: 0.01, oddRate: 0.05 });
  const params = analyze.params.parse({ limit: 8 });
  const { records } = await parseRecords(file, (analyze.input(params) as { records: FieldName[] }).records);
  const once = runLocally(analyze, params, records);
  const sizes = Float64Array.from(records.map((x) => x.bytes as number)).sort();
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 12 }), fc.integer(), (parts, seed) => {
      const merged = runLocally(analyze, params, records, { parts, seed });
      t.deepEqual(withoutPercentiles(merged), withoutPercentiles(once));
      for (const p of merged.responseSizes.percentiles) {
        if (rankError(sizes, p.p / 100, p.value) > 0.01) return false;
      }
      return true;
    }),
    { numRuns: 20 },
  );
});

test('the request key may add method, query and protocol', async (t) => {
  const { file, ref } = await dirty();
  const limit = 10;
  const { result: r } = await run(file, { limit, requestKey: 'method,path,protocol', staticExtensions: STATIC.join(',') });
  const pages = ref.records.filter((x) => !isStatic(x.path));
  t.deepEqual(rowsOf(r.requests), top(countBy(pages, (x) => `${x.method} ${x.path} ${x.protocol}`), limit));
  t.deepEqual(r.definitions.requestKey, ['method', 'path', 'protocol']);

  const q = (await run(file, { limit, requestKey: 'path,query', staticExtensions: STATIC.join(',') })).result;
  const withQuery = countBy(pages, (x) => (x.query === '' ? x.path : `${x.path}?${x.query}`));
  t.deepEqual(rowsOf(q.requests), top(withQuery, limit));
  t.is(q.requests.distinct, withQuery.size);
});

test('--timezone UTC buckets by UTC time; the default keeps each line in its own offset', async (t) => {
  const { file, ref } = await dataset('offsets', { lines: 6000, seed: 3, days: 2, tzOffset: 120, oddRate: 0.02, invalidRate: 0 });
  const local = (await run(file, {})).result;
  const utc = (await run(file, { timezone: 'UTC' })).result;
  const plus5 = (await run(file, { timezone: '+05:30' })).result;
  const isoHour = (ms: number) => new Date(ms).toISOString().slice(0, 13) + ':00';
  t.deepEqual(local.timeline.hours.map((h) => [h.time, h.hits]), [...countBy(ref.records, (x) => x.localHour)].sort());
  t.deepEqual(utc.timeline.hours.map((h) => [h.time, h.hits]), [...countBy(ref.records, (x) => isoHour(x.time))].sort());
  t.deepEqual(plus5.timeline.days.map((d) => [d.date, d.hits]), [...countBy(ref.records, (x) => new Date(x.time + 330 * 60_000).toISOString().slice(0, 10))].sort());
  t.notDeepEqual(local.timeline.hours[0], utc.timeline.hours[0]);
});

test('finalize reports the run counters; render gives terminal tables', async (t) => {
  const { file } = await dataset('small', { lines: 4000, seed: 5, days: 2, invalidRate: 0.01, oddRate: 0.05 });
  const params = analyze.params.parse({ limit: 5 });
  const { records } = await parseRecords(file, (analyze.input(params) as { records: FieldName[] }).records);
  const counters = { lines_read: 4000, bad_lines: 37, records: 3963, bytes_read: 123456 };
  const r = runLocally(analyze, params, records, { counters });
  t.like(r.totals, { linesRead: 4000, badLines: 37, records: 3963, bytesRead: 123456 });
  const rendered = analyze.render!(r, params);
  t.is(rendered.json, r);
  const statusTable = rendered.tables!.find((x) => x.title === 'Status codes')!;
  t.deepEqual(statusTable.rows.map((row) => row[0]), r.statusCodes.rows.map((s) => s.code));
  t.true(rendered.tables!.every((tb) => tb.rows.every((row) => row.length === tb.columns.length)));
});

test('bad parameters are refused naming the field; a malformed partial is refused', (t) => {
  for (const [raw, field] of [
    [{ requestKey: 'method,host' }, 'requestKey'],
    [{ requestKey: 'method' }, 'requestKey'],
    [{ timezone: 'Europe/Paris' }, 'timezone'],
    [{ visitor: 'cookie' }, 'visitor'],
    [{ limit: 0 }, 'limit'],
  ] as const) {
    const r = analyze.params.safeParse(raw);
    t.false(r.success, JSON.stringify(raw));
    t.deepEqual(r.error?.issues[0]?.path, [field]);
  }
  const params = analyze.params.parse({});
  for (const bad of ['{', '{"v":2}', '{"v":1,"n":1,"b":0,"u":0,"t0":null,"t1":null,"st":[1,2]}']) {
    const err = t.throws(() => analyze.decode!(Buffer.from(bad), params));
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  }
});

test('with %D in the format, latency percentiles are reported in µs; a common log (no agent, no referrer) still analyzes', async (t) => {
  const { file } = await dataset('clean', { lines: 5000, seed: 13, days: 1, invalidRate: 0, oddRate: 0 });
  // The same lines with a duration appended, as `LogFormat "… %D"` would write them.
  const durations: number[] = [];
  let seed = 99;
  const lines = readFileSync(file, 'latin1')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      const us = seed % 10 < 3 ? 250 : 1000 + (seed % 500_000); // 30 % at exactly 250 µs
      durations.push(us);
      return `${l} ${us}`;
    });
  const timed = path.join(dir, 'timed.log');
  writeFileSync(timed, lines.join('\n') + '\n', 'latin1');
  const params = analyze.params.parse({});
  const format = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D';
  const { records } = await parseRecords(timed, (analyze.input(params) as { records: FieldName[] }).records, format);
  const r = runLocally(analyze, params, records, { parts: 3 });
  t.truthy(r.latency);
  const sorted = Float64Array.from(durations).sort();
  t.is(r.latency!.unit, 'µs');
  t.is(r.latency!.count, durations.length);
  t.is(r.latency!.max, sorted.at(-1) ?? null);
  for (const p of r.latency!.percentiles) t.true(rankError(sorted, p.p / 100, p.value) <= 0.01, `latency p${p.p}`);

  const common = path.join(dir, 'common.log');
  writeFileSync(common, readFileSync(file, 'latin1').replace(/ "[^"]*" "[^"]*"$/gm, ''), 'latin1');
  const c = await parseRecords(common, (analyze.input(params) as { records: FieldName[] }).records, 'common');
  const rc = runLocally(analyze, params, c.records, { parts: 2 });
  t.is(rc.totals.requests, lines.length);
  t.is(rc.referrers.total, 0);
  t.deepEqual(rc.browsers.rows.map((b) => b.key), ['Unknown']);
  t.is(rc.totals.visitors, new Set(lines.map((l) => l.slice(0, l.indexOf(' ')))).size, 'visitors by address alone when there is no agent');
});
