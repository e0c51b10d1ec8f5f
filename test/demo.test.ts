/**
 * The README's demo (`npm run demo`, here with fewer lines) runs from start to end on this
 * machine and its report passes the browser checks: charts drawn, numbers equal to the run's JSON,
 * offline, readable on a phone.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { spawnGeartrain, tempDir } from './helpers/cluster.ts';
import { BROWSER_ARGS, checkPage, openOffline } from './helpers/browser.ts';

test('geartrain demo runs end to end and writes a report that passes the browser checks', async (t) => {
  const dir = tempDir(t);
  const html = path.join(dir, 'report.html');
  const demo = spawnGeartrain(t, 'demo', ['--lines', '20000', '--out', html]);
  t.is(await demo.exited(), 0, demo.stderrText());
  const out = demo.stdoutText();
  for (const line of [/^job server +listening on 127\.0\.0\.1:\d+/m, /^nodes +web1, web2, web3 ready/m, /^ingestion +3,000 live lines/m, /^grep +[\d,]+ lines match/m, /^analyze +[\d,]+ lines on 3 nodes/m, /^done .*everything stopped$/m]) {
    t.regex(out, line);
  }
  const doc = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
  // 3 nodes × 20,000 generated lines plus 3,000 shipped ones.
  t.is(doc.counters.lines_read, 63_000);

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: BROWSER_ARGS });
  t.teardown(() => browser.close());
  fs.mkdirSync('test-artifacts', { recursive: true });
  for (const [width, label] of [[1280, 'desktop'], [375, 'phone']] as const) {
    const { page, check } = await openOffline(browser, html, width);
    await checkPage(t, page, check, doc, html, `demo ${label}`, 10, 100);
    await page.screenshot({ path: path.join('test-artifacts', `demo-report-${label}.png`), fullPage: true });
    await page.close();
  }
});
