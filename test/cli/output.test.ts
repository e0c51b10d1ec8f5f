/**
 * What a run prints: --csv writes every table (sections, or one file per table with --out DIR/,
 * the funnel included); on a terminal the run's summary and its counters; bytes in binary units
 * and percentages as "81.4 %" wherever they are shown, the report showing a job's own table as the
 * terminal does; a progress bar that never goes back or past 100 % and gives an ETA from the rate;
 * `admin --drop-function`'s help says what it does. References from awk, grep and wc.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { ProgressBar, ProgressMeter } from '../../src/cli/progress.ts';
import { writeLog } from '../../src/logs/index.ts';
import type { RunProgress } from '../../src/mapreduce/coordinator.ts';
import { tempDir } from '../helpers/cluster.ts';
import { cli } from '../helpers/in-process-cli.ts';

async function generated(t: ExecutionContext, lines = 3000): Promise<string> {
  const log = path.join(tempDir(t, 'geartrain-output-'), 'access.log');
  await writeLog(log, { lines, seed: 12, invalidRate: 0, oddRate: 0 });
  return log;
}

/** awk's count of each status (field 9). */
function statusCounts(log: string): Map<string, number> {
  const out = execFileSync('awk', ['{ c[$9]++ } END { for (s in c) print s, c[s] }', log]).toString().trim().split('\n');
  return new Map(out.map((l) => l.split(' ')).map(([s, n]) => [s!, Number(n)]));
}

test('--csv writes every table of analyze as "# Title" sections; the status codes equal awk', async (t) => {
  const log = await generated(t);
  const r = await cli(['analyze', log, '--csv']);
  t.is(r.code, 0, r.stderr);
  const sections = new Map(
    r.stdout
      .split(/\n(?=# )/)
      .map((s) => s.trim().split('\n'))
      .map(([title, ...rows]) => [title!.replace(/^# /, ''), rows]),
  );
  for (const title of ['Status codes', 'Requested files', 'Hosts', 'Browsers', 'Response sizes']) t.true([...sections.keys()].some((k) => k.startsWith(title)), `a ${title} section`);
  const status = sections.get('Status codes')!;
  t.is(status[0], 'code,name,hits,%,bytes');
  t.deepEqual(new Map(status.slice(1).map((l) => l.split(',')).map((c) => [c[0]!, Number(c[2])])), statusCounts(log));
});

test('--csv --out DIR/ writes one file per table, the funnel of clicks among them', async (t) => {
  const log = await generated(t);
  const dir = path.join(tempDir(t, 'geartrain-output-'), 'tables') + '/';
  const r = await cli(['analyze', log, '--job', 'clicks', '--funnel', '/,/products/*', '--csv', '--out', dir]);
  t.is(r.code, 0, r.stderr);
  const files = fs.readdirSync(dir).sort();
  t.true(files.includes('funnel.csv') && files.includes('sessions-per-day.csv') && files.includes('click-paths.csv'), files.join(' '));
  const json = await cli(['analyze', log, '--job', 'clicks', '--funnel', '/,/products/*', '--json']);
  const steps = (JSON.parse(json.stdout) as { result: { funnel: { steps: { name: string; count: number }[] } } }).result.funnel.steps;
  const funnel = fs.readFileSync(path.join(dir, 'funnel.csv'), 'utf8').trim().split('\n');
  t.is(funnel[0], 'step,page,sessions,% of first,% of previous');
  t.deepEqual(funnel.slice(1).map((l) => l.split(',').slice(1, 3)), steps.map((s) => [s.name, String(s.count)]));
});

test('on a terminal: the run summary in binary units, then every counter; percentages read "81.4 %"', async (t) => {
  const log = await generated(t, 6000);
  const r = await cli(['analyze', log], { tty: true });
  t.is(r.code, 0, r.stderr);
  const lines = Number(execFileSync('wc', ['-l', log]).toString().trim().split(/\s+/)[0]);
  const size = fs.statSync(log).size;
  t.regex(r.stderr, new RegExp(`analyze: ${(size / 1024 / 1024).toFixed(1)} MiB on 1 node\\(s\\)`));
  t.notRegex(r.stderr, /\d (KB|MB|GB)\b/);
  const counters = /^counters: (.*)$/m.exec(r.stderr)?.[1] ?? '';
  t.regex(counters, new RegExp(`lines_read ${lines.toLocaleString('en-US')}\\b`));
  t.regex(counters, new RegExp(`records ${lines.toLocaleString('en-US')}\\b`));
  t.regex(counters, /bytes_read \d+(\.\d)? MiB/);
  // The status table: percentages with one decimal and a space, bytes in binary units.
  const status = r.stdout.slice(r.stdout.indexOf('Status codes')).split('\n\n')[0]!.split('\n').slice(3);
  t.true(status.length > 3);
  for (const row of status) t.regex(row, /(\d+\.\d|< 0\.1) % +\d+(\.\d)? (B|KiB|MiB|GiB)$/, row);
});

test('the report shows a job\'s own table (grep -c) with the cells the terminal shows', async (t) => {
  const log = await generated(t);
  const html = path.join(tempDir(t, 'geartrain-output-'), 'r.html');
  const r = await cli(['analyze', log, '--job', 'grep', '-c', 'GET', '--html', html]);
  t.is(r.code, 0, r.stderr);
  const n = Number(execFileSync('grep', ['-c', 'GET', log]).toString()).toLocaleString('en-US');
  t.regex(r.stdout, new RegExp(`^total +${n}$`, 'm'));
  t.regex(fs.readFileSync(html, 'utf8'), new RegExp(`<td class="k">total</td><td class="n">${n}</td>`));
});

/** What the meter draws for a sequence of reports, one every 200 ms of a fake clock. */
function draw(reports: readonly RunProgress[], stepMs = 200): string[] {
  let now = 0;
  const meter = new ProgressMeter(() => now);
  const out: string[] = [];
  for (const p of reports) {
    out.push(meter.line(p));
    now += stepMs;
  }
  return out;
}

const map = (bytesDone: number, extra: Partial<RunProgress> = {}): RunProgress => ({ phase: 'map', bytesDone, bytesTotal: 1000, tasksDone: 0, tasksRunning: 2, tasksTotal: 4, retries: 0, ...extra });

test('the progress bar never goes back or past 100 %, whatever the bytes reported', (t) => {
  // A retried task reports from 0 again, a speculative copy reports bytes already counted, and a
  // file that grew reports more than planned, then is corrected down when its task ends.
  const bytes = [0, 100, 250, 240, 400, 380, 600, 1300, 1100, 900, 1000, 950];
  const lines = draw([...bytes.map((b, i) => map(b, { retries: i > 3 ? 1 : 0 })), map(1000, { phase: 'reduce' }), map(1000, { phase: 'done', tasksDone: 4 })]);
  let last = -1;
  let lastBytes = -1;
  for (const l of lines) {
    const pct = Number(/\] +(\d+)%/.exec(l)![1]);
    t.true(pct >= last && pct <= 100, l);
    last = pct;
    const shown = /(\d+) B\/1000 B/.exec(l);
    if (shown) {
      t.true(Number(shown[1]) >= lastBytes && Number(shown[1]) <= 1000, l);
      lastBytes = Number(shown[1]);
    }
    t.notRegex(l, /ETA 0 ms/);
  }
  t.regex(lines.at(-1)!, /100% done/);
});

test('the ETA is the rest at the recent rate, and only once there is a rate', (t) => {
  // 50 bytes per 200 ms = 250 B/s; the first second gives no ETA.
  const lines = draw(Array.from({ length: 11 }, (_, i) => map(i * 50)));
  t.notRegex(lines[0]!, /ETA/);
  t.notRegex(lines[4]!, /ETA/);
  // After 2 s: 500 bytes done, 500 left at 250 B/s.
  t.regex(lines[10]!, /500 B\/1000 B .*ETA 2\.0 s/);
  const stalled = draw([map(0), ...Array.from({ length: 60 }, () => map(100))]);
  t.notRegex(stalled.at(-1)!, /ETA/, 'no ETA after 12 s without progress (the window is 10 s)');
  const slowing = draw([...Array.from({ length: 6 }, (_, i) => map(i * 100)), ...Array.from({ length: 60 }, (_, i) => map(500 + (i + 1) * 5))]);
  // The window follows the recent rate (5 bytes per 200 ms = 25 B/s): 200 B left take 8 s, not 1.
  t.regex(slowing.at(-1)!, /800 B\/1000 B .*ETA 8\.0 s/);
});

test('on a terminal the bar is drawn from the start of the line and cleared when the run ends', (t) => {
  const written: string[] = [];
  const tty = Object.assign(new Writable({ write: (chunk, _enc, done) => (written.push(String(chunk)), done()) }), { isTTY: true, columns: 60 });
  const bar = new ProgressBar(tty);
  bar.update(map(250));
  bar.stop();
  const text = written.join('');
  // ESC[1G: to column 1; the line cut to the 60 columns of the terminal; ESC[2K: the line cleared.
  t.true(text.includes('\x1b[1G[######..................]  25% map 250 B/1000 B, tasks 0/4 (2 running)'.slice(0, 60 + 4)), JSON.stringify(text));
  t.true(text.endsWith('\x1b[1G\x1b[2K'), JSON.stringify(text));
});

test('admin --drop-function: the help says queued jobs fail and when it is refused', async (t) => {
  const r = await cli(['admin', '-H']);
  t.regex(r.stdout, /--drop-function FUNC +remove a function[^]*queued jobs fail \(waiting clients get WORK_FAIL[^]*refused while a worker/);
});
