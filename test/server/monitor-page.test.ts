/**
 * The monitor page in headless Chromium (Debian's, never a downloaded browser): it follows the
 * server live, loads nothing from elsewhere, and fits a phone's width.
 */
import test from 'ava';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Client } from '../../src/client/client.ts';
import { Worker } from '../../src/client/worker.ts';
import { JobServer } from '../../src/server/index.ts';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** How long the page may take to show a change (it polls every 200 ms here). */
const DEADLINE_MS = 10_000;

let browser: Browser;

test.before(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

test.after.always(async () => {
  await browser?.close();
});

async function serve(t: { teardown(f: () => unknown): void }) {
  const server = new JobServer({ port: 0, httpPort: 0 });
  t.teardown(() => server.destroy());
  const { port } = await server.listen();
  const h = server.httpAddress()!;
  const origin = `http://${h.host}:${h.port}`;
  const own = <T extends { destroy(): void }>(x: T) => (t.teardown(() => x.destroy()), x);
  return {
    server,
    origin,
    client: () => own(new Client({ servers: `127.0.0.1:${port}` })),
    worker: () => own(new Worker({ servers: `127.0.0.1:${port}` })),
  };
}

/** Text of a function row's cell, or null while the row is absent. */
function cell(page: Page, fn: string, field: string): Promise<string | null> {
  return page.evaluate(
    ([f, k]) => {
      for (const row of document.querySelectorAll('tr[data-function]')) {
        if (row.getAttribute('data-function') === f) return row.querySelector(`[data-field="${k}"]`)?.textContent ?? null;
      }
      return null;
    },
    [fn, field] as const,
  );
}

async function until(page: Page, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`page never showed ${what}; body: ${await page.evaluate(() => document.body.innerText)}`);
    await page.waitForTimeout(50);
  }
}

test('the page shows a function\'s queue change as jobs are submitted and worked off', async (t) => {
  const s = await serve(t);
  const page = await browser.newPage();
  t.teardown(() => page.close());
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  await page.goto(`${s.origin}/?interval=200`);
  await page.waitForSelector('#state.live', { timeout: DEADLINE_MS });
  t.is(await cell(page, 'browser_fn', 'queued'), null, 'no such function yet');

  const client = s.client();
  for (let i = 0; i < 3; i++) await client.submitBackground('browser_fn', String(i), { priority: i === 0 ? 'high' : 'normal' });
  await until(page, 'three queued jobs', async () => (await cell(page, 'browser_fn', 'queued')) === '3');
  t.is(await cell(page, 'browser_fn', 'high'), '1');
  t.is(await cell(page, 'browser_fn', 'normal'), '2');
  t.is(await cell(page, 'browser_fn', 'workers'), '0');

  await s.worker().register('browser_fn', () => 'done').start();
  await until(page, 'the queue emptied and three jobs done', async () => (await cell(page, 'browser_fn', 'queued')) === '0' && (await cell(page, 'browser_fn', 'completed')) === '3');
  t.is(await cell(page, 'browser_fn', 'workers'), '1');
  await until(page, 'the worker listed', async () => (await page.locator('#workers tr[data-worker]').count()) === 1);

  // Everything the page loaded came from the server itself.
  t.true(requests.length > 2);
  for (const url of requests) t.true(url.startsWith(s.origin + '/'), url);
});

test('the page is self-contained and fits a phone screen', async (t) => {
  const s = await serve(t);
  const html = await (await fetch(`${s.origin}/`)).text();
  t.notRegex(html, /<(script|link|img|iframe)[^>]+(src|href)=/i, 'no external script, style sheet or image');
  t.notRegex(html, /@import|url\(/i);
  t.regex(html, /<meta name="viewport" content="width=device-width/);

  await s.client().submitBackground('a_function_with_a_rather_long_name_for_a_phone_screen', 'x');
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  t.teardown(() => page.close());
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${s.origin}/?interval=200`);
  await page.waitForSelector('tr[data-function]', { timeout: DEADLINE_MS });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  t.true(width <= 390, `the page does not scroll sideways (scrollWidth ${width})`);
  t.deepEqual(errors, []);
});

test('the page says so when the server goes away', async (t) => {
  const s = await serve(t);
  const page = await browser.newPage();
  t.teardown(() => page.close());
  await page.goto(`${s.origin}/?interval=200`);
  await page.waitForSelector('#state.live', { timeout: DEADLINE_MS });
  s.server.destroy();
  await page.waitForSelector('#state.down', { timeout: DEADLINE_MS });
  t.regex((await page.textContent('#state'))!, /unreachable/);
});
