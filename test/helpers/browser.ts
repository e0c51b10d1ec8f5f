/**
 * Checking an HTML report in Debian's chromium (playwright-core): offline (every request but the
 * file itself is refused), charts with marks of non-zero size, numbers tied to the data equal to
 * the JSON, no console errors, no horizontal overflow.
 */
import { pathToFileURL } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { Browser, Page } from 'playwright-core';

/** Chromium flags for this machine: headless, and no background traffic to the closed network. */
export const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface PageCheck {
  errors: string[];
  requests: string[];
}

/** Opens a report with every request but the file itself refused, collecting errors and requests. */
export async function openOffline(browser: Browser, file: string, width: number): Promise<{ page: Page; check: PageCheck }> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const url = pathToFileURL(file).href;
  const check: PageCheck = { errors: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') check.errors.push(m.text());
  });
  page.on('pageerror', (e) => check.errors.push(e.message));
  page.on('request', (r) => check.requests.push(r.url()));
  await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
  await page.goto(url);
  return { page, check };
}

function at(doc: unknown, p: string): unknown {
  return p.split('.').reduce<unknown>((o, k) => (o === null || o === undefined ? undefined : (o as Record<string, unknown>)[k]), doc);
}

export async function checkPage(t: ExecutionContext, page: Page, check: PageCheck, doc: unknown, file: string, label: string, minCharts: number, minNumbers: number): Promise<void> {
  const layout = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
  t.true(layout.scroll <= layout.client, `${label}: no horizontal overflow (${layout.scroll} > ${layout.client})`);

  const charts = await page.evaluate(() =>
    Array.from(document.querySelectorAll('.chart')).map((c) => {
      const marks = Array.from(c.querySelectorAll('.mark')).map((m) => {
        const r = m.getBoundingClientRect();
        return { value: Number(m.getAttribute('data-value')), w: r.width, h: r.height };
      });
      return { label: c.getAttribute('aria-label') ?? c.querySelector('svg')?.getAttribute('aria-label') ?? c.closest('section')?.id ?? '?', marks };
    }),
  );
  t.true(charts.length >= minCharts, `${label}: ${charts.length} charts`);
  for (const c of charts) {
    const drawn = c.marks.filter((m) => m.value > 0);
    t.true(drawn.length > 0, `${label}: chart "${c.label}" has marks`);
    for (const m of drawn) t.true(m.w > 0 && m.h > 0, `${label}: a mark of "${c.label}" (value ${m.value}) has size ${m.w}×${m.h}`);
  }

  const numbers = await page.evaluate(() =>
    Array.from(document.querySelectorAll('[data-json]')).map((e) => ({ path: e.getAttribute('data-json')!, value: Number(e.getAttribute('data-value')), text: e.classList.contains('num') ? e.textContent ?? '' : null })),
  );
  t.true(numbers.length >= minNumbers, `${label}: ${numbers.length} numbers tied to the data`);
  for (const n of numbers) {
    t.is(n.value as unknown, at(doc, n.path), `${label}: ${n.path}`);
    if (n.text !== null && /^[\d,]+$/.test(n.text)) t.is(Number(n.text.replace(/,/g, '')), n.value, `${label}: text of ${n.path}`);
  }
  const embedded = await page.evaluate(() => JSON.parse(document.getElementById('report-data')!.textContent!));
  t.deepEqual(embedded.result, (doc as { result: unknown }).result, `${label}: embedded data is the result`);

  t.deepEqual(check.errors, [], `${label}: console errors`);
  const url = pathToFileURL(file).href;
  t.deepEqual(check.requests.filter((r) => r !== url && !r.startsWith('data:')), [], `${label}: requests other than the file`);
}

