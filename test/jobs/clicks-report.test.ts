/**
 * The clicks sections of the HTML report, in a real browser (Debian's chromium through
 * playwright-core), from the `--json` document of a clicks run rendered by `geartrain report`:
 * a panel per section, every number tied to the data (`data-json`) equal to the JSON, every bar of
 * non-zero size, a page name holding markup shown as text, nothing loaded but the file, no
 * horizontal overflow on a 375 px phone. Screenshots go to test-artifacts/.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { run as reportCli } from '../../src/cli/report.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { writeLog } from '../../src/logs/index.ts';
import { clicksResultSchema } from '../../src/weblog/index.ts';
import { runEngine, shard } from './clicks-harness.ts';

const ARTIFACTS = path.resolve('test-artifacts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-clicks-report-'));
let browser: Browser;

test.before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
test.after.always(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

function io(): CliIO {
  return { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, signal: new AbortController().signal };
}

function at(doc: unknown, p: string): unknown {
  return p.split('.').reduce<unknown>((o, k) => (o === null || o === undefined ? undefined : (o as Record<string, unknown>)[k]), doc);
}

const HOSTILE = '/</script><img src="https://example.com/x.png" onerror="alert(1)">';

test('a clicks report: sessions, length, pages per session, entry/exit pages, funnel and click paths panels tied to the JSON', async (t) => {
  const files: string[] = [];
  for (let n = 0; n < 2; n++) {
    const f = path.join(dir, `web${n}.log`);
    await writeLog(f, { lines: 4000, seed: 5, node: n, start: '2026-10-01T20:00:00Z', days: 0.5, invalidRate: 0.005, oddRate: 0.01 });
    files.push(f);
  }
  // A visitor going back and forth between / and a page whose name carries markup (a top click path;
  // Apache logs its quotes as \"): it must stay text.
  const evil = path.join(dir, 'evil.log');
  const ua = 'Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0';
  const evilLines = Array.from({ length: 60 }, (_, i) => {
    const sec = String(i % 60).padStart(2, '0');
    return `203.0.113.9 - - [01/Oct/2026:21:00:${sec} +0000] "GET ${i % 2 ? '/' : HOSTILE.replace(/"/g, '\\"')} HTTP/1.1" 200 10 "-" "${ua}"`;
  });
  writeFileSync(evil, evilLines.join('\n') + '\n');
  const run = await runEngine({ funnel: '/,/products/*,/login', limit: 12 }, [
    { node: 'web0', shards: [shard(files[0]!), shard(evil)] },
    { node: 'web1', shards: [shard(files[1]!)] },
  ], { partitions: 2 });
  t.true(clicksResultSchema.safeParse(run.result).success);
  t.true(run.result.clickPaths.rows.length === 12 && run.result.sessions.pagesPerSession.length > 15, 'lists longer than what the panels show');
  const doc = { job: 'clicks', result: run.result, counters: run.counters, nodes: ['web0', 'web1'], timings: { total: 1234 } };
  const json = path.join(dir, 'clicks.json');
  const html = path.join(dir, 'clicks.html');
  writeFileSync(json, JSON.stringify(doc));
  t.is(await reportCli([json, '--out', html], io()), 0);

  for (const [width, label] of [[1280, 'desktop'], [375, 'phone']] as const) {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    const url = pathToFileURL(html).href;
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => requests.push(r.url()));
    await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
    try {
      await page.goto(url);
      const ids = await page.evaluate(() => Array.from(document.querySelectorAll('section.panel')).map((s) => s.id));
      t.deepEqual(
        ids.filter((id) => id !== 'overview' && id !== 'run'),
        ['sessions', 'sessions-length', 'sessions-pages', 'sessions-entryPages', 'sessions-exitPages', 'funnel', 'clickPaths', 'definitions'],
        label,
      );
      const layout = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      t.true(layout.scroll <= layout.client, `${label}: no horizontal overflow (${layout.scroll} > ${layout.client})`);

      const marks = await page.evaluate(() =>
        Array.from(document.querySelectorAll('.mark')).map((m) => {
          const r = m.getBoundingClientRect();
          return { path: m.getAttribute('data-json')!, value: Number(m.getAttribute('data-value')), w: r.width, h: r.height };
        }),
      );
      for (const m of marks.filter((x) => x.value > 0)) t.true(m.w > 0 && m.h > 0, `${label}: mark ${m.path} has size`);
      for (const prefix of ['result.sessions.days.', 'result.sessions.durationBuckets.', 'result.sessions.pagesPerSession.', 'result.sessions.entryPages.', 'result.sessions.exitPages.', 'result.funnel.steps.', 'result.clickPaths.rows.']) {
        t.true(marks.some((m) => m.path.startsWith(prefix)), `${label}: a chart of ${prefix}`);
      }
      t.is(marks.filter((m) => m.path.startsWith('result.sessions.pagesPerSession.')).length, 15, 'pages per session: the first 15 rows');

      const numbers = await page.evaluate(() =>
        Array.from(document.querySelectorAll('[data-json]')).map((e) => ({ path: e.getAttribute('data-json')!, value: Number(e.getAttribute('data-value')), text: e.classList.contains('num') ? (e.textContent ?? '') : null })),
      );
      t.true(numbers.length > 60, `${label}: ${numbers.length} numbers tied to the data`);
      for (const n of numbers) {
        t.is(n.value as unknown, at(doc, n.path), `${label}: ${n.path}`);
        if (n.text !== null && /^[\d,]+$/.test(n.text)) t.is(Number(n.text.replace(/,/g, '')), n.value, `${label}: text of ${n.path}`);
      }
      t.is(await page.locator('img').count(), 0, 'markup in a page name is shown as text');
      t.true((await page.textContent('#clickPaths'))!.includes('</script><img'), 'the hostile page is shown');
      t.deepEqual(errors, [], `${label}: console errors`);
      t.deepEqual(requests.filter((r) => r !== url && !r.startsWith('data:')), [], `${label}: requests other than the file`);
      await page.screenshot({ path: path.join(ARTIFACTS, `report-clicks-run-${label}.png`), fullPage: true });
    } finally {
      await page.close();
    }
  }
});
