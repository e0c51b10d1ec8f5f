/**
 * The HTML report in a real browser (Debian's chromium through playwright-core): every chart
 * draws marks of non-zero size, every number tied to the data (`data-json`) equals the JSON it
 * was rendered from, no console errors, no request but the file itself, no horizontal overflow
 * on a 375 px phone. Screenshots go to test-artifacts/ for a human to look at.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { chromium, type Browser } from 'playwright-core';
import analyze from '../../jobs/analyze.ts';
import top from '../../jobs/top.ts';
import { run as reportCli } from '../../src/cli/report.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { writeLog, type FieldName } from '../../src/logs/index.ts';
import { renderReport } from '../../src/report/index.ts';
import { parseRecords, runLocally } from '../jobs/analyze-harness.ts';
import { BROWSER_ARGS, checkPage, openOffline } from '../helpers/browser.ts';

const ARTIFACTS = path.resolve('test-artifacts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-report-'));
let browser: Browser;

test.before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: BROWSER_ARGS,
  });
});
test.after.always(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

function io(): CliIO {
  return { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough(), env: {}, signal: new AbortController().signal };
}

/** The `--json` document of an analyze run over a generated log with dirty lines. */
async function analyzeDocument(): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'access.log');
  await writeLog(file, { lines: 8000, seed: 4, days: 3, invalidRate: 0.01, oddRate: 0.02 });
  const params = analyze.params.parse({ limit: 12 });
  const { records, stats } = await parseRecords(file, (analyze.input(params) as { records: FieldName[] }).records);
  const counters = { records: stats.records, bad_lines: stats.invalidLines, lines_read: stats.lines, bytes_read: 2_000_000 };
  const result = runLocally(analyze, params, records, { parts: 3, counters });
  return { job: 'analyze', result, counters, stats: stats.toJSON(), nodes: ['web1', 'web2'], timings: { plan: 3, map: 800, reduce: 40, merge: 5, total: 880 }, partial: false, missing: [] };
}

test('an analyze report: charts drawn, numbers equal to the JSON, offline, no overflow on a phone', async (t) => {
  const doc = await analyzeDocument();
  const json = path.join(dir, 'result.json');
  const html = path.join(dir, 'report.html');
  writeFileSync(json, JSON.stringify(doc, null, 2));
  t.is(await reportCli([json, '--out', html], io()), 0);

  for (const [width, label] of [[1280, 'desktop'], [375, 'phone']] as const) {
    const { page, check } = await openOffline(browser, html, width);
    try {
      const ids = await page.evaluate(() => Array.from(document.querySelectorAll('section.panel')).map((s) => s.id));
      for (const id of ['overview', 'days', 'hours', 'hour-of-day', 'status', 'requests', 'staticFiles', 'notFound', 'hosts', 'browsers', 'operatingSystems', 'devices', 'crawlers', 'referringSites', 'keyphrases', 'referrers', 'responseSizes', 'bad-lines', 'definitions', 'run']) {
        t.true(ids.includes(id), `${label}: panel ${id}`);
      }
      t.false(ids.includes('latency'), 'no latency panel without %D');
      await checkPage(t, page, check, doc, html, label, 18, 200);
      const requests = await page.textContent('#overview .card .value');
      t.is(requests, ((doc.result as { totals: { requests: number } }).totals.requests).toLocaleString('en-US'));
      await page.screenshot({ path: path.join(ARTIFACTS, `report-analyze-${label}.png`), fullPage: true });
    } finally {
      await page.close();
    }
  }
});

test('panels follow the sections present: sessions, funnel and unknown top lists; a top job result', async (t) => {
  const result = {
    sessions: {
      count: 1234,
      timeoutMinutes: 30,
      medianDurationSeconds: 95,
      meanPagesPerSession: 3.25,
      bounceRate: 0.41,
      days: [
        { date: '2026-10-01', sessions: 400 },
        { date: '2026-10-02', sessions: 834 },
      ],
      entryPages: { total: 1234, distinct: 2, rows: [{ key: '/', hits: 1000, share: 0.81 }, { key: '/blog/', hits: 234, share: 0.19 }] },
    },
    funnel: { steps: [{ name: '/products/', count: 900 }, { name: '/cart', count: 300 }, { name: '/checkout', count: 120 }] },
    // A hostile key: markup and a script end tag must stay text (an <img> would show up as a request).
    paths: { total: 12, distinct: 2, rows: [{ key: '/a → /b → /c', hits: 10, share: 10 / 12 }, { key: '</script><img src="https://example.com/x.png" onerror="alert(1)">\u0016\u0003', hits: 2, share: 2 / 12 }] },
  };
  const doc = { job: 'clicks', result };
  const html = path.join(dir, 'clicks.html');
  writeFileSync(html, renderReport(result, { job: 'clicks' }));
  const { page, check } = await openOffline(browser, html, 375);
  try {
    const ids = await page.evaluate(() => Array.from(document.querySelectorAll('section.panel')).map((s) => s.id));
    t.deepEqual(ids, ['sessions', 'sessions-entryPages', 'funnel', 'paths']);
    await checkPage(t, page, check, doc, html, 'clicks', 4, 15);
    t.is(await page.locator('img').count(), 0, 'markup in keys is shown as text');
    await page.screenshot({ path: path.join(ARTIFACTS, 'report-clicks-phone.png'), fullPage: true });
  } finally {
    await page.close();
  }

  const topParams = top.params.parse({ field: 'status', limit: 5 });
  const file = path.join(dir, 'top.log');
  await writeLog(file, { lines: 2000, seed: 2, days: 1 });
  const { records } = await parseRecords(file, ['status']);
  const topResult = runLocally(top, topParams, records);
  const topHtml = path.join(dir, 'top.html');
  writeFileSync(topHtml, renderReport(topResult, { job: 'top' }));
  const opened = await openOffline(browser, topHtml, 375);
  try {
    const values = await opened.page.evaluate(() => Array.from(document.querySelectorAll('#rows .mark')).map((m) => Number(m.getAttribute('data-value'))));
    t.deepEqual(values, topResult.rows.map((r) => r.count));
    t.deepEqual(opened.check.errors, []);
  } finally {
    await opened.page.close();
  }
});
