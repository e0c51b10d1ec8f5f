/**
 * clicks: sessions, pages per session, session length, entry/exit pages, click paths and funnel,
 * run through the real engine pieces (map tasks with R partitions, the keyed shuffle's sorted runs,
 * group reduces, partition partials merged at the root) and checked against
 * test/jobs/clicks-reference.ts, which reads the raw lines with its own regex.
 *
 * Hand-made visits pin the edge cases (a session across midnight, a gap of exactly the timeout,
 * clicks of one visitor in two files and byte ranges, clicks in the same second); generated logs
 * with dirty lines over three nodes check every figure; R = 1 and R = 4, any reduce input order
 * and any merge order of the partition partials must give the same result.
 */
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import clicks from '../../jobs/clicks.ts';
import { writeLog } from '../../src/logs/index.ts';
import { clicksResultSchema, type ClicksResult, type ClicksState } from '../../src/weblog/index.ts';
import { mergePartials, runEngine, shard, type MapTaskInput } from './clicks-harness.ts';
import { nearestRank, ranked, reference, type RefOptions, type RefResult } from './clicks-reference.ts';

const STATIC = ['css', 'js', 'svg', 'ico', 'woff2', 'webp', 'jpg', 'png', 'txt', 'pdf'];
const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-clicks-test-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// hand-made visits

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

function line(host: string, when: string, request: string, status: number, ua: string): string {
  const d = new Date(when);
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${host} - - [${p(d.getUTCDate())}/${mon}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000] "${request}" ${status} 512 "-" "${ua}"\n`;
}

/**
 * Visitor A (1.1.1.1, Firefox): /, /products/1 before midnight, /cart, /checkout after, and / exactly
 * 30 minutes after /checkout (same session), then /about 30 min 1 s later (a new one). Its clicks
 * are in both files. Visitor B (same address, Chrome): /cart and /products/2 in the same second, in
 * different files. Visitor D: a funnel with a step out of order. Noise that is no click: a static
 * file, a 404, a HEAD, a redirect, Googlebot.
 */
function handMade(): { node1: string; node2: string } {
  const a = (when: string, req: string, status = 200) => line('1.1.1.1', when, req, status, FIREFOX);
  const node1 = [
    a('2026-10-01T23:50:00Z', 'GET / HTTP/1.1'),
    a('2026-10-01T23:50:01Z', 'GET /static/app.js HTTP/1.1'),
    a('2026-10-01T23:55:00Z', 'GET /products/1 HTTP/1.1'),
    line('1.1.1.1', '2026-10-01T23:58:00Z', 'GET /cart HTTP/1.1', 200, CHROME),
    line('66.249.66.1', '2026-10-01T23:59:00Z', 'GET / HTTP/1.1', 200, GOOGLEBOT),
    a('2026-10-02T00:20:00Z', 'GET /checkout HTTP/1.1'),
    a('2026-10-02T00:30:00Z', 'GET /missing HTTP/1.1', 404),
    a('2026-10-02T00:40:00Z', 'HEAD / HTTP/1.1'),
    a('2026-10-02T00:50:00Z', 'GET / HTTP/1.1'),
    line('2.2.2.2', '2026-10-02T09:59:00Z', 'POST /login HTTP/1.1', 302, FIREFOX),
    line('2.2.2.2', '2026-10-02T10:01:00Z', 'GET /products/3 HTTP/1.1', 200, FIREFOX),
    line('2.2.2.2', '2026-10-02T10:03:00Z', 'GET /products/4 HTTP/1.1', 200, FIREFOX),
    line('2.2.2.2', '2026-10-02T10:05:00Z', 'POST /cart HTTP/1.1', 200, FIREFOX),
  ].join('');
  const node2 = [
    line('1.1.1.1', '2026-10-01T23:58:00Z', 'GET /products/2 HTTP/1.1', 200, CHROME),
    a('2026-10-02T00:10:00Z', 'GET /cart HTTP/1.1'),
    a('2026-10-02T00:49:00Z', 'GET /old HTTP/1.1', 301),
    a('2026-10-02T01:20:01Z', 'GET /about?ref=x HTTP/1.1'),
    line('2.2.2.2', '2026-10-02T10:00:00Z', 'GET /account HTTP/1.1', 200, FIREFOX),
    line('2.2.2.2', '2026-10-02T10:02:00Z', 'GET / HTTP/1.1', 304, FIREFOX),
    line('2.2.2.2', '2026-10-02T10:04:00Z', 'GET /checkout HTTP/1.1', 200, FIREFOX),
    // A valid line dated after the years a click's time can hold (6429): skipped, not a crash.
    `2.2.2.2 - - [02/Oct/9999:10:06:00 +0000] "GET /future HTTP/1.1" 200 512 "-" "${FIREFOX}"\n`,
  ].join('');
  const f1 = path.join(dir, 'hand-web1.log');
  const f2 = path.join(dir, 'hand-web2.log');
  writeFileSync(f1, node1);
  writeFileSync(f2, node2);
  return { node1: f1, node2: f2 };
}

/** node1's file as two byte ranges cut mid-line (two map tasks; a line goes with the range it starts in), node2's whole. */
function handTasks(f: { node1: string; node2: string }): MapTaskInput[] {
  const cut = Math.floor(shard(f.node1).end! / 2);
  return [
    { node: 'web1', shards: [shard(f.node1, 0, cut)] },
    { node: 'web1', shards: [shard(f.node1, cut)] },
    { node: 'web2', shards: [shard(f.node2)] },
  ];
}

const FUNNEL = '/,/products/*,/cart,/checkout';

test('hand-made visits: a session across midnight counts once on its first day, a gap of exactly the timeout continues it, one second more starts a new one', async (t) => {
  const files = handMade();
  const { result: r, counters } = await runEngine({ funnel: FUNNEL, limit: 100 }, handTasks(files), { partitions: 3 });
  t.true(clicksResultSchema.safeParse(r).success, 'the result matches its schema');
  const s = r.sessions;
  t.is(s.count, 4);
  t.is(s.visitors, 3, 'same address with another agent is another visitor; Googlebot is none');
  t.is(s.pageViews, 14);
  t.is(s.bounces, 1);
  t.deepEqual(
    s.days.map((d) => [d.date, d.sessions, d.pageViews, d.visitors]),
    [
      ['2026-10-01', 2, 7, 2],
      ['2026-10-02', 2, 7, 2],
    ],
  );
  t.deepEqual(s.pagesPerSession.map((x) => [x.pages, x.sessions]), [[1, 1], [2, 1], [5, 1], [6, 1]]);
  t.is(s.duration.max, 3600, 'A: 23:50:00 to 00:50:00');
  t.deepEqual(s.duration.percentiles.map((x) => x.value), [0, 300, 3600, 3600, 3600]);
  t.is(s.meanDurationSeconds, (3600 + 300) / 4);
  t.is(s.medianPagesPerSession, 2);
  t.deepEqual(Object.fromEntries(s.entryPages.rows.map((x) => [x.key, x.hits])), { '/': 1, '/about': 1, '/cart': 1, '/account': 1 });
  t.deepEqual(Object.fromEntries(s.exitPages.rows.map((x) => [x.key, x.hits])), { '/': 1, '/about': 1, '/products/2': 1, '/cart': 1 });
  t.is(r.clickPaths.total, 10);
  t.true(
    r.clickPaths.rows.some((x) => x.from === '/cart' && x.to === '/products/2'),
    'clicks in the same second are ordered by page, whichever file logged them',
  );
  t.deepEqual(
    r.funnel!.steps.map((x) => [x.name, x.count]),
    [
      ['/', 2],
      ['/products/*', 2],
      ['/cart', 2],
      ['/checkout', 1],
    ],
    'D reaches /cart after /products/4 but visits /checkout only before /cart',
  );
  t.is(r.funnel!.steps[3]!.ofPrevious, 0.5);
  t.is(r.funnel!.steps[0]!.ofPrevious, 0.5, 'first step: of all sessions');
  t.like(counters, { clicks: 14, skipped_static: 1, skipped_status: 3, skipped_method: 1, skipped_crawler: 1, skipped_untimed: 1 });
  t.deepEqual(r.requests, { clicks: 14, skipped_method: 1, skipped_status: 3, skipped_static: 1, skipped_crawler: 1, skipped_untimed: 1, records: 21 });

  // The independent reference agrees on the same files.
  const ref = reference([files.node1, files.node2], refOptions({ funnel: FUNNEL.split(',') }));
  checkAgainstReference(t, r, ref);
});

test('the timeout, the visitor definition and crawler handling are parameters', async (t) => {
  const files = handMade();
  const long = await runEngine({ timeout: 31 }, handTasks(files));
  t.is(long.result.sessions.count, 3, 'with 31 minutes, /about joins A’s session');
  t.is(long.result.sessions.pagesPerSession.at(-1)!.pages, 6);

  const byIp = await runEngine({ visitor: 'ip' }, handTasks(files));
  t.is(byIp.result.sessions.visitors, 2);
  t.deepEqual(byIp.result.sessions.pagesPerSession.map((x) => [x.pages, x.sessions]), [[1, 1], [6, 1], [7, 1]]);

  const bots = await runEngine({ crawlers: 'include', status: '200-399', methods: '*' }, handTasks(files));
  t.is(bots.result.sessions.visitors, 4, 'Googlebot is a visitor');
  t.is(bots.counters.clicks, 18, 'every request but the static file, the 404 and the year 9999');

  const east = await runEngine({ timezone: '+02:00' }, handTasks(files));
  t.deepEqual(
    east.result.sessions.days.map((d) => [d.date, d.sessions]),
    [['2026-10-02', 4]],
    'at +02:00 every session starts on Oct 2',
  );

  const query = await runEngine({ pageKey: 'path+query' }, handTasks(files));
  t.true(query.result.sessions.entryPages.rows.some((x) => x.key === '/about?ref=x'));

  for (const ref of [long, byIp, bots, east, query]) t.true(clicksResultSchema.safeParse(ref.result).success);
  for (const f of [files.node1, files.node2]) {
    const reffed = reference([f], refOptions({ visitor: 'ip', timeoutMinutes: 31 }));
    const run = await runEngine({ visitor: 'ip', timeout: 31, staticExtensions: STATIC.join(',') }, [{ node: 'n', shards: [shard(f)] }]);
    checkAgainstReference(t, run.result, reffed);
  }
});

test('a format without User-Agent (common): the visitor is the address and no crawler is recognised', async (t) => {
  // One seed in both formats gives the same requests; combined read with --visitor ip --crawlers include must agree.
  const common = path.join(dir, 'same-common.log');
  const combined = path.join(dir, 'same-combined.log');
  await writeLog(common, { lines: 3000, seed: 4, days: 0.2, format: 'common' });
  await writeLog(combined, { lines: 3000, seed: 4, days: 0.2, format: 'combined' });
  const a = await runEngine({ funnel: GEN_FUNNEL }, [{ node: 'n', shards: [shard(common, 0, statSync(common).size, 'common')] }], { partitions: 2 });
  const b = await runEngine({ funnel: GEN_FUNNEL, visitor: 'ip', crawlers: 'include' }, [{ node: 'n', shards: [shard(combined)] }], { partitions: 2 });
  t.true(a.result.sessions.count > 100);
  t.deepEqual(a.result.sessions, b.result.sessions);
  t.deepEqual(a.result.funnel, b.result.funnel);
  t.false('skipped_crawler' in a.counters, 'no crawler skipped');
});

test('--since, --until and --where are applied by the engine before map', async (t) => {
  const files = handMade();
  const since = Date.parse('2026-10-02T00:00:00Z');
  const until = Date.parse('2026-10-02T10:03:00Z');
  const { result } = await runEngine({ staticExtensions: STATIC.join(',') }, handTasks(files), { filter: { since, until }, partitions: 2 });
  checkAgainstReference(t, result, reference([files.node1, files.node2], refOptions({ since, until })));
  t.is(result.sessions.firstTime, '2026-10-02T00:10:00.000Z');

  const where = await runEngine({}, handTasks(files), { filter: { where: 'path!=/cart' } });
  t.is(where.result.sessions.pageViews, 11);
  t.false(where.result.sessions.entryPages.rows.some((x) => x.key === '/cart'));
});

test('parameters are validated and errors name the field', (t) => {
  for (const [raw, field] of [
    [{ status: '2xx,abc' }, 'status'],
    [{ timeout: 0 }, 'timeout'],
    [{ methods: 'GET;POST' }, 'methods'],
    [{ funnel: '/,,/cart' }, 'funnel'],
    [{ timezone: 'Europe/Paris' }, 'timezone'],
    [{ visitor: 'cookie' }, 'visitor'],
  ] as const) {
    const r = clicks.params.safeParse(raw);
    t.false(r.success, JSON.stringify(raw));
    t.is(r.error?.issues[0]?.path.join('.'), field);
  }
  t.true(clicks.params.safeParse({ status: '200-299, 304,4xx', methods: '*', timezone: '+02:00', funnel: '/a*, /b?' }).success);
});

// ---------------------------------------------------------------------------------------------
// generated logs on three nodes

function refOptions(o: Partial<RefOptions> = {}): RefOptions {
  return { timeoutMinutes: 30, staticExtensions: STATIC, crawlers: 'exclude', visitor: 'ip+agent', funnel: [], ...o };
}

function checkAgainstReference(t: import('ava').ExecutionContext, r: ClicksResult, ref: RefResult): void {
  const s = r.sessions;
  t.is(s.visitors, ref.visitors, 'visitors');
  t.is(s.count, ref.sessions, 'sessions');
  t.is(s.pageViews, ref.pageViews, 'page views');
  t.is(s.bounces, ref.bounces, 'bounces');
  t.is(s.firstTime, ref.sessions ? new Date(ref.firstTime).toISOString() : null);
  t.is(s.lastTime, ref.sessions ? new Date(ref.lastTime).toISOString() : null);
  const hist = (xs: number[]) => [...xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<number, number>())];
  t.deepEqual(s.pagesPerSession.map((x) => [x.pages, x.sessions]), hist(ref.pages), 'pages per session');
  t.is(s.duration.sum, ref.durations.reduce((a, b) => a + b, 0), 'duration sum');
  if (ref.sessions > 0) {
    t.deepEqual(s.duration.percentiles.map((x) => x.value), [50, 75, 90, 95, 99].map((p) => nearestRank(ref.durations, p)), 'duration percentiles');
    t.is(s.medianPagesPerSession, nearestRank(ref.pages, 50));
  }
  const bucket = (lo: number, hi: number | null) => ref.durations.filter((d) => d >= lo && (hi === null || d < hi)).length;
  t.deepEqual(s.durationBuckets.map((b) => b.sessions), s.durationBuckets.map((b) => bucket(b.minSeconds, b.maxSeconds)), 'duration buckets');
  t.deepEqual(
    s.days.map((d) => [d.date, [d.sessions, d.pageViews, d.visitors]]),
    [...ref.days].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    'days',
  );
  t.deepEqual(s.entryPages.rows.map((x) => [x.key, x.hits]), ranked(ref.entry).slice(0, r.definitions.limit), 'entry pages');
  t.is(s.entryPages.distinct, ref.entry.size);
  t.deepEqual(s.exitPages.rows.map((x) => [x.key, x.hits]), ranked(ref.exit).slice(0, r.definitions.limit), 'exit pages');
  t.is(s.exitPages.distinct, ref.exit.size);
  t.deepEqual(
    r.clickPaths.rows.map((x) => [`${x.from}\0${x.to}`, x.hits]),
    ranked(ref.paths).slice(0, r.definitions.limit),
    'click paths',
  );
  t.is(r.clickPaths.distinct, ref.paths.size);
  t.is(r.clickPaths.total, ref.pageViews - ref.sessions);
  if (ref.funnel.length > 0) t.deepEqual(r.funnel?.steps.map((x) => x.count), ref.funnel, 'funnel');
  else t.is(r.funnel, undefined);
}

interface Nodes {
  files: string[];
  tasks: MapTaskInput[];
}

let generated: Promise<Nodes> | undefined;
/**
 * Three nodes behind one load balancer (one seed, a shared client population), 6 hours from 21:30
 * UTC so sessions run past midnight, with bad and odd lines. Node 0's file is read by two map
 * tasks (two byte ranges), node 2's together with a second, smaller file of its own.
 */
function nodes(): Promise<Nodes> {
  generated ??= (async () => {
    const files: string[] = [];
    for (let n = 0; n < 3; n++) {
      const f = path.join(dir, `gen-web${n}.log`);
      await writeLog(f, { lines: 5000, seed: 11, node: n, start: '2026-10-01T21:30:00Z', days: 0.25, invalidRate: 0.01, oddRate: 0.03 });
      files.push(f);
    }
    const extra = path.join(dir, 'gen-web2-b.log');
    await writeLog(extra, { lines: 1500, seed: 11, node: 3, start: '2026-10-01T22:00:00Z', days: 0.1, invalidRate: 0.01, oddRate: 0.03 });
    files.push(extra);
    const half = Math.floor(shard(files[0]!).end! / 2);
    return {
      files,
      tasks: [
        { node: 'web0', shards: [shard(files[0]!, 0, half)] },
        { node: 'web0', shards: [shard(files[0]!, half)] },
        { node: 'web1', shards: [shard(files[1]!)] },
        { node: 'web2', shards: [shard(files[2]!), shard(extra)] },
      ],
    };
  })();
  return generated;
}

const GEN_FUNNEL = '/,/products/*,/login,/pricing';

test('generated logs on three nodes: every figure equals the reference over the raw lines', async (t) => {
  const { files, tasks } = await nodes();
  const ref = reference(files, refOptions({ funnel: GEN_FUNNEL.split(',') }));
  t.true(ref.sessions > 500 && ref.visitors > 200, `enough sessions (${ref.sessions}) and visitors (${ref.visitors})`);
  t.true(ref.durations.at(-1)! > 3600 && ref.bounces > 0 && ref.funnel.at(-1)! > 0, 'long sessions, bounces and whole funnels occur');
  t.true([...ref.days.keys()].includes('2026-10-02'), 'the data crosses midnight');
  // A small map memory budget makes every map task spill several sorted runs.
  const run = await runEngine({ staticExtensions: STATIC.join(','), funnel: GEN_FUNNEL, limit: 100_000 }, tasks, { partitions: 3, memoryBudget: 64 * 1024 });
  t.true(clicksResultSchema.safeParse(run.result).success);
  checkAgainstReference(t, run.result, ref);
  t.is(run.shuffledRecords, ref.pageViews, 'one shuffled record per click');
  t.true(run.shuffledBytes / run.shuffledRecords < 80, `small shuffle records (${(run.shuffledBytes / run.shuffledRecords).toFixed(1)} bytes each)`);

  const bots = await runEngine({ staticExtensions: STATIC.join(','), crawlers: 'include', timeout: 60, limit: 50 }, tasks, { partitions: 2 });
  checkAgainstReference(t, bots.result, reference(files, refOptions({ crawlers: 'include', timeoutMinutes: 60 })));
});

function withoutRun(r: ClicksResult): unknown {
  return JSON.parse(JSON.stringify(r));
}

test('R = 1 and R = 4 give identical results, whatever order the reducers read the map outputs in', async (t) => {
  const { tasks } = await nodes();
  const p = { staticExtensions: STATIC.join(','), funnel: GEN_FUNNEL, limit: 50 };
  const one = await runEngine(p, tasks, { partitions: 1 });
  const four = await runEngine(p, tasks, { partitions: 4 });
  // Reducers that read the map outputs in reverse see clicks of the same time in the other order.
  const reversed = await runEngine(p, tasks, { partitions: 4, reduceOrder: (n) => Array.from({ length: n }, (_, i) => n - 1 - i) });
  t.deepEqual(withoutRun(four.result), withoutRun(one.result));
  t.deepEqual(withoutRun(reversed.result), withoutRun(one.result));
  t.is(four.partials.length, 4);
  const counts = four.partials.map((b) => clicks.decode!(b, four.params).sessions);
  t.true(counts.filter((n) => n > 0).length >= 3, `sessions spread over the partitions: ${counts.join(', ')}`);
});

test('merging the partition partials in any order and grouping gives the same result (property)', async (t) => {
  const { tasks } = await nodes();
  const run = await runEngine({ staticExtensions: STATIC.join(','), funnel: GEN_FUNNEL, limit: 30 }, tasks, { partitions: 5 });
  const expected = withoutRun(run.result);
  const params = run.params;
  const wire = (s: ClicksState) => clicks.decode!(Buffer.from(clicks.encode!(s, params) as string), params);
  fc.assert(
    fc.property(fc.array(fc.nat(), { minLength: 12, maxLength: 12 }), (choices) => {
      let k = 0;
      const next = (n: number) => choices[k++ % choices.length]! % n;
      const merged = mergePartials(
        run.partials,
        params,
        (states) => {
          const pool = [...states];
          while (pool.length > 1) {
            const a = pool.splice(next(pool.length), 1)[0]!;
            const b = pool.splice(next(pool.length), 1)[0]!;
            const m = next(2) === 0 ? clicks.merge(a, b, params) : clicks.merge(b, a, params);
            pool.push(next(2) === 0 ? wire(m) : m);
          }
          return pool[0]!;
        },
        run.counters,
      );
      t.deepEqual(withoutRun(merged), expected);
    }),
    { numRuns: 40 },
  );
  // An empty partition (no visitor hashed to it) merges as the identity.
  const empty = clicks.create(params);
  const withEmpty = mergePartials(run.partials, params, (states) => states.reduce((a, b) => clicks.merge(a, b, params), empty), run.counters);
  t.deepEqual(withoutRun(withEmpty), expected);
});

test('render gives the funnel first, then days, pages per session, length, entry/exit pages and click paths', async (t) => {
  const files = handMade();
  const { result, params } = await runEngine({ funnel: FUNNEL }, handTasks(files));
  const out = clicks.render!(result, params);
  t.is(out.json, result);
  t.deepEqual(out.tables!.map((x) => x.title!.replace(/ \(.*$/, '')), ['Funnel', 'Sessions per day', 'Pages per session', 'Session length', 'Entry pages', 'Exit pages', 'Click paths']);
  t.deepEqual(out.tables![0]!.rows.map((row) => row[2]), [2, 2, 2, 1]);
  t.regex(out.text!, /^4 sessions of 3 visitors, 14 page views \(30-minute timeout\)/);
  t.deepEqual(out.tables![6]!.columns, ['page', 'next page', 'clicks', '%']);
  const none = await runEngine({}, handTasks(files));
  t.is(clicks.render!(none.result, none.params).tables![0]!.title, 'Sessions per day');
});
