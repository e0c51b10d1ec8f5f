/**
 * Wrong input is not success: when more than half of the lines read are not valid for the
 * format, `geartrain analyze` (and `run`, test/cli/bad-input.test.ts) prints no tables but the
 * reasons, samples and the formats the samples parse as, and exits 1. A few invalid lines are
 * counted and sampled, and the result stands. `analyze -` reads standard input.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { awkTally, geartrainShell, runGeartrain, sh, tempDir } from '../helpers/cluster.ts';

const wcLines = (file: string) => Number(execFileSync('wc', ['-l', file]).toString().trim().split(/\s+/)[0]);

async function genLogs(t: ExecutionContext, file: string, args: string[]): Promise<void> {
  const r = await runGeartrain(t, 'gen-logs', [file, '--seed', '6', ...args]);
  t.is(r.code, 0, r.stderr);
}

test('a file that is not an access log: exit 1, no tables, every line counted as invalid with samples, and no known format parses them', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'passwd');
  fs.writeFileSync(file, Array.from({ length: 40 }, (_, i) => `user${i}:x:${1000 + i}:${1000 + i}:User ${i},,,:/home/user${i}:/bin/bash\n`).join(''));
  const r = await runGeartrain(t, 'analyze', [file]);
  t.is(r.code, 1, r.stderr);
  t.is(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  t.regex(lines[0]!, new RegExp(`^geartrain analyze: ${wcLines(file)} of 40 lines \\(100%\\) are not valid combined log lines \\(.+\\); the result would be meaningless$`));
  t.true(lines.slice(1, -1).length >= 1 && lines.slice(1, -1).every((l) => new RegExp(`^  (garbage|truncated) +${file.replace(/\./g, '\\.')}@\\d+  user\\d+:x:`).test(l)), r.stderr);
  t.regex(lines.at(-1)!, /^geartrain analyze: none of the known formats \(common, combined, combinedio, vhost_combined, vhost_common\) parses the samples: these are not access logs, or give their LogFormat with --format '...'/);
});

test('a vhost_combined log read as combined: exit 1 naming vhost_combined as the format the samples parse as; with --format vhost_combined it succeeds', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'other_vhosts_access.log');
  await genLogs(t, file, ['--lines', '3000', '--format', 'vhost_combined', '--invalid-rate', '0', '--odd-rate', '0']);
  const wrong = await runGeartrain(t, 'analyze', [file, '--job', 'count', '--by', 'status']);
  t.is(wrong.code, 1, wrong.stderr);
  t.is(wrong.stdout, '');
  t.regex(wrong.stderr, /^geartrain analyze: 3000 of 3000 lines \(100%\) are not valid combined log lines \(glued 3000\); the result would be meaningless$/m);
  t.regex(wrong.stderr, /^geartrain analyze: the samples parse as vhost_combined: try --format vhost_combined$/m);

  const right = await runGeartrain(t, 'analyze', [file, '--format', 'vhost_combined', '--job', 'count', '--by', 'status', '--json']);
  t.is(right.code, 0, right.stderr);
  // vhost_combined puts the vhost first: the status is awk's $10.
  const expected = awkTally(10, 'cat "$1"', file);
  t.deepEqual(Object.fromEntries((JSON.parse(right.stdout).result as { rows: [string, number][] }).rows), expected);
});

test('a few invalid lines (1 %) are counted and sampled and the run succeeds', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  await genLogs(t, file, ['--lines', '2000', '--invalid-rate', '0.01']);
  const r = await runGeartrain(t, 'analyze', [file, '--job', 'count', '--by', 'status', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { counters: { bad_lines: number; records: number; lines_read: number } };
  t.is(report.counters.lines_read, wcLines(file));
  t.true(report.counters.bad_lines > 0 && report.counters.bad_lines * 2 < report.counters.lines_read, JSON.stringify(report.counters));
  t.is(report.counters.records + report.counters.bad_lines, report.counters.lines_read);
});

test('analyze - reads standard input, plain or gzip, with the same result as awk over the file', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  await genLogs(t, file, ['--lines', '3000', '--invalid-rate', '0', '--odd-rate', '0']);
  const expected = awkTally(9, 'cat "$1"', file);
  for (const reader of ['cat', 'gzip -c']) {
    const r = await sh(`${reader} '${file}' | ${geartrainShell('analyze')} - --job count --by status --json`);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(Object.fromEntries((JSON.parse(r.stdout).result as { rows: [string, number][] }).rows), expected);
  }
});
