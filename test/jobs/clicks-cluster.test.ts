/**
 * clicks end to end, every piece a separate process: a geartrain job server, two `geartrain
 * node` processes over generated logs that share a client population (a visitor's clicks are on
 * several nodes), and `geartrain run clicks --json` as the coordinator. Map tasks run in the
 * nodes' task threads, the keyed shuffle's runs are fetched between nodes over Gearman. The result
 * must equal test/jobs/clicks-reference.ts over the raw files, for R = 1 and R = 2.
 */
import test from 'ava';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { clicksResultSchema, type ClicksResult } from '../../src/weblog/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { nearestRank, ranked, reference } from './clicks-reference.ts';

const STATIC = ['css', 'js', 'svg', 'ico', 'woff2', 'webp', 'jpg', 'png', 'txt', 'pdf'];
const FUNNEL = '/,/products/*,/login';

test('geartrain run clicks over two node processes equals the reference, with R = 1 and R = 2', async (t) => {
  const dir = tempDir(t);
  const files: string[] = [];
  for (let i = 0; i < 2; i++) {
    const file = path.join(dir, `web${i}.log`);
    await writeLog(file, { lines: 3000, seed: 23, node: i, start: '2026-10-01T22:00:00Z', days: 0.2, invalidRate: 0.01, oddRate: 0.02 });
    files.push(file);
  }
  const servers = (await startServerProcess(t, ['-q', 'memory', '-p', '0'])).address;
  await Promise.all(
    files.map((file, i) => startNode(t, { name: `web${i}`, servers, data: path.join(dir, `data-${i}`), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0'] })),
  );

  const ref = reference(files, { timeoutMinutes: 30, staticExtensions: STATIC, crawlers: 'exclude', visitor: 'ip+agent', funnel: FUNNEL.split(',') });
  t.true(ref.sessions > 150, `${ref.sessions} sessions`);
  const results: ClicksResult[] = [];
  for (const partitions of ['1', '2']) {
    const p = spawnGeartrain(t, 'run', ['clicks', '--funnel', FUNNEL, '--static-ext', STATIC.join(','), '--limit', '100000', '--partitions', partitions, '--json', '--servers', servers, '--wait-nodes', '2', '-q']);
    const code = await p.exited();
    t.is(code, 0, p.stderrText());
    // The helper reads stdout as Latin-1; the JSON is UTF-8 (pages such as /blog/café-crème).
    const doc = JSON.parse(Buffer.from(p.stdoutText(), 'latin1').toString('utf8')) as { result: ClicksResult; counters: Record<string, number> };
    const r = doc.result;
    t.true(clicksResultSchema.safeParse(r).success, 'the result matches its schema');
    t.is(doc.counters.clicks, ref.pageViews, 'clicks counted on the nodes');
    t.is(r.sessions.visitors, ref.visitors);
    t.is(r.sessions.count, ref.sessions);
    t.is(r.sessions.pageViews, ref.pageViews);
    t.is(r.sessions.bounces, ref.bounces);
    t.is(r.sessions.medianDurationSeconds, nearestRank(ref.durations, 50));
    t.deepEqual(r.sessions.entryPages.rows.map((x) => [x.key, x.hits]), ranked(ref.entry));
    t.deepEqual(r.sessions.exitPages.rows.map((x) => [x.key, x.hits]), ranked(ref.exit));
    t.deepEqual(r.clickPaths.rows.map((x) => [`${x.from}\0${x.to}`, x.hits]), ranked(ref.paths));
    t.deepEqual(r.funnel?.steps.map((x) => x.count), ref.funnel);
    results.push(r);
  }
  t.deepEqual(results[1], results[0], 'R = 2 gives the result of R = 1');
});
