/**
 * geartrain report: reads the --json document of a run (a file or stdin), writes one HTML file,
 * and refuses input that is not such a document, naming what is wrong.
 */
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { run, summary } from '../../src/cli/report.ts';
import type { CliIO } from '../../src/cli/io.ts';
import { chartWindow } from '../../src/report/index.ts';

function io(stdin = ''): CliIO & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const input = new PassThrough();
  input.end(stdin);
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  return { stdin: input, stdout, stderr, env: {}, signal: new AbortController().signal, out: () => out, err: () => err };
}

const doc = { job: 'top', result: { field: 'status', total: 3, missing: 0, distinct: 2, limit: 10, rows: [{ value: 200, count: 2, share: 2 / 3 }, { value: 404, count: 1, share: 1 / 3 }] }, counters: { records: 3 } };

test('writes one self-contained HTML file from a file or from stdin', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-report-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const json = path.join(dir, 'r.json');
  writeFileSync(json, JSON.stringify(doc));
  const out = path.join(dir, 'r.html');
  t.is(await run([json, '--out', out, '--title', 'Status <today>'], io()), 0);
  const html = readFileSync(out, 'utf8');
  t.regex(html, /^<!doctype html>/);
  t.regex(html, /<title>Status &lt;today&gt;<\/title>/);
  t.notRegex(html, /<(link|img|iframe)\b|\bsrc=|https?:\/\/(?!www\.w3)/, 'nothing loaded from elsewhere');
  t.regex(html, /Content-Security-Policy" content="default-src 'none'/);

  const piped = io(JSON.stringify(doc));
  t.is(await run(['-'], piped), 0);
  t.regex(piped.out(), /data-value="2"/);
  t.is(typeof summary, 'string');
});

test('refuses what is not a run document, naming the field', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-report-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, text);
    return f;
  };
  const notJson = await t.throwsAsync(run([write('a.json', '{ nope')], io()));
  t.is((notJson as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  const noResult = await t.throwsAsync(run([write('b.json', JSON.stringify({ counters: {} }))], io()));
  t.is((noResult as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
  t.regex((noResult as Error).message, /result/);
  const badCounters = await t.throwsAsync(run([write('c.json', JSON.stringify({ result: {}, counters: { x: 'many' } }))], io()));
  t.regex((badCounters as Error).message, /counters\.x/);
  const missing = await t.throwsAsync(run([path.join(dir, 'absent.json')], io()));
  t.is((missing as NodeJS.ErrnoException).code, 'ENOENT');
  const usage = io();
  t.is(await run([], usage), 2);
  t.regex(usage.err(), /usage: geartrain report/);
});

test('the time charts cover the days holding 99.5 % of the requests, leaving stray dates out', (t) => {
  const days = [
    { date: '2025-01-01', hits: 1 },
    ...Array.from({ length: 7 }, (_, i) => ({ date: `2026-10-0${i + 1}`, hits: 1000 })),
    { date: '2027-11-11', hits: 2 },
  ];
  const w = chartWindow(days)!;
  t.is(new Date(w.from * 86_400_000).toISOString().slice(0, 10), '2026-10-01');
  t.is(new Date(w.to * 86_400_000).toISOString().slice(0, 10), '2026-10-07');
  t.deepEqual(chartWindow([{ date: '2026-10-01', hits: 5 }]), { from: w.from, to: w.from });
  t.is(chartWindow([]), undefined);
});
