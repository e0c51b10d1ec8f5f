import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compileLogFormat,
  generateLog,
  INVALID_REASONS,
  ODD_KINDS,
  ParseStats,
  readLogRange,
  writeLog,
  type FieldName,
  type LogRecord,
} from '../../src/logs/index.ts';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-gen-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a shell pipeline over `file` (passed as $1) with the C locale, returns stdout. */
function sh(script: string, file: string): string {
  return execFileSync('sh', ['-c', script, 'sh', file], { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 1 << 28 }).toString();
}

function wcLines(file: string): number {
  return Number(sh('wc -l < "$1"', file).trim());
}

/** `uniq -c` output as a map. */
function uniqCounts(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.trim().split('\n')) {
    const [n, key] = line.trim().split(/\s+/);
    if (n !== undefined && key !== undefined) m.set(key, Number(n));
  }
  return m;
}

async function parseFile<F extends FieldName>(file: string, format: string, fields: F[], onRecord: (r: LogRecord<F>) => void = () => {}) {
  const parser = compileLogFormat(format).createParser(fields);
  const stats = new ParseStats();
  for await (const chunk of readLogRange(file)) parser.parseBuffer(chunk, onRecord, stats);
  return stats;
}

test('same options give the same bytes; another seed or node gives other bytes', async (t) => {
  const dir = tempDir(t);
  const files = { a: 'a.log', b: 'b.log', seed: 'seed.log', node: 'node.log' };
  const opts = { lines: 20_000, seed: 42, invalidRate: 0.01, oddRate: 0.02 };
  await writeLog(path.join(dir, files.a), opts);
  await writeLog(path.join(dir, files.b), { ...opts, chunkBytes: 4096 });
  await writeLog(path.join(dir, files.seed), { ...opts, seed: 43 });
  await writeLog(path.join(dir, files.node), { ...opts, node: 1 });
  const read = (f: string) => readFileSync(path.join(dir, f));
  t.true(read(files.a).equals(read(files.b)), 'the chunk size does not change the output');
  t.false(read(files.a).equals(read(files.seed)));
  t.false(read(files.a).equals(read(files.node)));
  // Nodes behind one load balancer share their visitors.
  const hosts = (f: string) => new Set(sh(`awk '{print $1}' "$1" | sort | uniq -c | sort -rn | head -20 | awk '{print $2}'`, path.join(dir, f)).trim().split('\n'));
  const shared = [...hosts(files.a)].filter((h) => hosts(files.node).has(h));
  t.true(shared.length >= 5, `top hosts shared by two nodes: ${shared.length}`);
});

test('the line count is what was asked for, as wc -l counts it', async (t) => {
  const dir = tempDir(t);
  for (const format of ['combined', 'common', 'vhost_combined'] as const) {
    const file = path.join(dir, `${format}.log`);
    const summary = await writeLog(file, { lines: 12_345, format, invalidRate: 0.02, oddRate: 0.02 });
    t.is(wcLines(file), 12_345, format);
    t.is(summary.lines, 12_345);
    t.is(summary.bytes, readFileSync(file).length);
  }
  const cut = path.join(dir, 'cut.log');
  await writeLog(cut, { lines: 1000, finalNewline: false });
  t.is(wcLines(cut), 999, 'no newline after the last line');
});

test('status counts of a clean combined log: awk $9 equals the parser', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'clean.log');
  await writeLog(file, { lines: 30_000, seed: 9, invalidRate: 0, oddRate: 0 });
  const awk = uniqCounts(sh(`awk '{print $9}' "$1" | sort | uniq -c`, file));
  const mine = new Map<string, number>();
  const stats = await parseFile(file, 'combined', ['status'], (r) => mine.set(String(r.status), (mine.get(String(r.status)) ?? 0) + 1));
  t.is(stats.records, 30_000);
  t.deepEqual(new Map([...mine].sort()), new Map([...awk].sort()));
  for (const code of ['200', '304', '404', '301', '500']) t.true((awk.get(code) ?? 0) > 0, `status ${code} occurs`);
  t.true(awk.get('200')! > awk.get('404')! && awk.get('404')! > awk.get('500')!, 'a realistic status mix');
});

test('status and vhost counts of a clean vhost_combined log: awk equals the parser', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'vhost.log');
  await writeLog(file, { lines: 20_000, seed: 4, format: 'vhost_combined', invalidRate: 0, oddRate: 0 });
  const awkStatus = uniqCounts(sh(`awk '{print $10}' "$1" | sort | uniq -c`, file));
  const awkVhost = uniqCounts(sh(`awk '{split($1, a, ":"); print a[1]}' "$1" | sort | uniq -c`, file));
  const status = new Map<string, number>();
  const vhost = new Map<string, number>();
  await parseFile(file, 'vhost_combined', ['status', 'vhost'], (r) => {
    status.set(String(r.status), (status.get(String(r.status)) ?? 0) + 1);
    vhost.set(r.vhost, (vhost.get(r.vhost) ?? 0) + 1);
  });
  t.deepEqual(new Map([...status].sort()), new Map([...awkStatus].sort()));
  t.deepEqual(new Map([...vhost].sort()), new Map([...awkVhost].sort()));
  t.true(vhost.size >= 4);
});

test('a dirty log: every kind occurs, bad lines are classified, good lines all count', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'dirty.log');
  const summary = await writeLog(file, { lines: 60_000, seed: 11, invalidRate: 0.03, oddRate: 0.06 });
  for (const k of [...ODD_KINDS, ...INVALID_REASONS]) t.true(summary.kinds[k] > 0, `kind ${k} generated`);
  const stats = await parseFile(file, 'combined', ['status', 'time', 'path', 'userAgent']);

  // References from grep/awk, not from the parser.
  t.is(stats.lines, wcLines(file));
  t.is(stats.invalid.empty, Number(sh(`grep -a -c '^$' "$1"`, file)));
  t.is(stats.invalid.nul, Number(sh(`grep -c -a -P '\\x00' "$1"`, file)));
  t.is(stats.invalid.too_long, Number(sh(`awk 'length($0) > 65536' "$1" | wc -l`, file)));

  // And the generator's own account of what it wrote.
  for (const r of INVALID_REASONS) t.is(stats.invalid[r], summary.kinds[r], r);
  const oddAndValid = summary.kinds.valid + ODD_KINDS.reduce((n, k) => n + summary.kinds[k], 0);
  t.is(stats.records, oddAndValid, 'every odd-but-valid line is a record');
});

test('a dirty common and vhost_combined log classify as the generator wrote them', async (t) => {
  const dir = tempDir(t);
  for (const format of ['common', 'vhost_combined'] as const) {
    const file = path.join(dir, `${format}.log`);
    const summary = await writeLog(file, { lines: 30_000, seed: 12, format, invalidRate: 0.03, oddRate: 0.05 });
    const stats = await parseFile(file, format, ['status']);
    for (const r of INVALID_REASONS) t.is(stats.invalid[r], summary.kinds[r], `${format} ${r}`);
    t.is(stats.lines, wcLines(file));
  }
});

test('traffic follows the day, stays in the date range, and is slightly out of order', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'days.log');
  const start = Date.UTC(2026, 9, 5);
  await writeLog(file, { lines: 40_000, seed: 2, start: '2026-10-05T00:00:00Z', days: 3, tzOffset: 120, invalidRate: 0, oddRate: 0 });
  // Hour of day from the text of %t, by awk: [05/Oct/2026:14:03:59 +0200] → 14.
  const hours = uniqCounts(sh(`awk '{split($4, a, ":"); print a[2]}' "$1" | sort | uniq -c`, file));
  t.true(hours.get('14')! > 3 * hours.get('04')!, `afternoon ${hours.get('14')} vs night ${hours.get('04')}`);
  t.is(sh(`awk '{print $5}' "$1" | sort -u`, file).trim(), '+0200]');
  let min = Infinity;
  let max = -Infinity;
  let backwards = 0;
  let prev = -Infinity;
  await parseFile(file, 'combined', ['time', 'tzOffset'], (r) => {
    min = Math.min(min, r.time);
    max = Math.max(max, r.time);
    if (r.time < prev) backwards++;
    prev = r.time;
    t.is(r.tzOffset, 120);
  });
  t.true(min >= start - 60_000 && max < start + 3 * 86_400_000, `${new Date(min).toISOString()} .. ${new Date(max).toISOString()}`);
  t.true(backwards > 0, 'some lines are logged before earlier-starting ones');
});

test('clients: IPv4 and IPv6, a few hundred distinct agents, crawlers among them, search keyphrases', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'mix.log');
  await writeLog(file, { lines: 60_000, seed: 8, invalidRate: 0, oddRate: 0 });
  t.true(Number(sh(`awk '$1 ~ /:/' "$1" | wc -l`, file)) > 1000, 'IPv6 clients');
  const agents = Number(sh(`awk -F'"' '{print $6}' "$1" | sort -u | wc -l`, file));
  t.true(agents >= 150 && agents <= 600, `distinct agents: ${agents}`);
  for (const bot of ['Googlebot', 'bingbot', 'curl/']) t.true(Number(sh(`grep -c '${bot}' "$1"`, file)) > 0, bot);
  t.true(Number(sh(`grep -c 'google.com/search?q=' "$1"`, file)) > 0);
  t.true(Number(sh(`grep -c '?v=3 ' "$1"`, file)) > 0, 'cache-busting query strings');
});

test('writeLog gzips a .gz file: zcat gives the plain output', async (t) => {
  const dir = tempDir(t);
  const opts = { lines: 5000, seed: 6, oddRate: 0.05, invalidRate: 0.02 };
  await writeLog(path.join(dir, 'a.log'), opts);
  await writeLog(path.join(dir, 'a.log.gz'), opts);
  const zcat = execFileSync('zcat', [path.join(dir, 'a.log.gz')], { maxBuffer: 1 << 28 });
  t.true(zcat.equals(readFileSync(path.join(dir, 'a.log'))));
});

test('generateLog is an async iterable of the same bytes', async (t) => {
  const gen = generateLog({ lines: 3000, seed: 1, chunkBytes: 10_000 });
  const chunks: Buffer[] = [];
  for await (const c of gen) chunks.push(c);
  t.true(chunks.length > 1);
  const again = generateLog({ lines: 3000, seed: 1 });
  t.true(Buffer.concat(chunks).equals(Buffer.concat([...again.chunks()])));
  t.is(gen.summary.lines, 3000);
});

test('bad generator options are InvalidArgumentErrors naming the option', (t) => {
  const bad = (opts: object, field: string) => {
    const err = t.throws(() => generateLog(opts as never), { code: 'ERR_INVALID_ARGUMENT' });
    t.is((err as unknown as { field: string }).field, field);
  };
  bad({ lines: -1 }, 'lines');
  bad({ lines: 10, format: 'w3c' }, 'format');
  bad({ lines: 10, invalidRate: 0.7, oddRate: 0.7 }, 'oddRate');
  bad({ lines: 10, start: 'yesterday-ish' }, 'start');
  bad({ lines: 10, colour: 'red' }, '');
});
