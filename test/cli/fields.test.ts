/**
 * Fields are documented and derived fields exist: `geartrain fields` and every job's help list
 * each name count --by, top, sort --by and --where accept (type, example); day, hour, statusClass
 * equal awk over generated logs (in a non-UTC zone: the day and hour the lines show); browser, os,
 * device and bot are what a person reads in known User-Agents; a parser not asked for a derived
 * field does no derived work.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { compileLogFormat, FIELD_NAMES, GENERIC_FIELD_PREFIXES, LogParser, writeLog } from '../../src/logs/index.ts';
import { tempDir } from '../helpers/cluster.ts';
import { cli } from '../helpers/in-process-cli.ts';
import count from '../../jobs/count.ts';
import top from '../../jobs/top.ts';
import sort from '../../jobs/sort.ts';
import { parseWhere } from '../../src/mapreduce/filter.ts';

const JOBS = ['analyze', 'clicks', 'count', 'grep', 'sort', 'top'];

test('geartrain fields lists every field with its type and an example; count, top, sort and --where accept each', async (t) => {
  const r = await cli(['fields']);
  t.is(r.code, 0, r.stderr);
  const rows = new Map(
    r.stdout
      .split('\n')
      .map((l) => l.split(/ {2,}/))
      .filter((cells) => cells.length >= 4)
      .map((cells) => [cells[0]!.replace(/ \*$/, ''), cells]),
  );
  const listed = [...FIELD_NAMES, ...GENERIC_FIELD_PREFIXES.map((p) => `${p}${p === 'env:' ? 'VAR' : 'NAME'}`)];
  for (const name of listed) {
    const cells = rows.get(name);
    t.truthy(cells, `${name} is listed`);
    t.regex(cells?.[1] ?? '', /^(string|number)$/, `${name} has a type`);
    t.true((cells?.[2] ?? '').length > 0, `${name} has an example`);
  }
  const json = JSON.parse((await cli(['fields', '--json'])).stdout) as { name: string; type: string; example: string }[];
  t.deepEqual(json.map((d) => d.name).sort(), [...listed].sort());
  for (const name of listed.map((n) => n.replace(/(NAME|VAR)$/, 'X-Test'))) {
    if (name !== 'line') {
      t.true(count.params.safeParse({ by: name }).success, `count --by ${name}`);
      t.true(sort.params.safeParse({ by: name }).success, `sort --by ${name}`);
    }
    t.true(top.params.safeParse({ field: name }).success, `top ${name}`);
    t.notThrows(() => parseWhere(`${name}=x`), `--where ${name}=x`);
  }
});

test('every job\'s help ends with the fields; a mistyped field names the nearest one', async (t) => {
  for (const job of JOBS) {
    const r = await cli(['run', job, '--help']);
    t.is(r.code, 0, `${job}: ${r.stderr}`);
    t.regex(r.stdout, /^fields \(count --by, top, sort --by, --where/m, job);
    for (const name of ['status', 'statusClass', 'browser', 'header:NAME']) t.regex(r.stdout, new RegExp(`^${name}( \\*)? +(string|number) `, 'm'), `${job}: ${name}`);
  }
  const typo = await cli(['run', 'count', '--by', 'stauts', '-p', '1']);
  t.is(typo.code, 2);
  t.regex(typo.stderr, /unknown field 'stauts' \(did you mean status\?\)/);
  const where = await cli(['run', 'count', '--by', 'status', '--where', 'statusclass=4xx', '-p', '1']);
  t.is(where.code, 2);
  t.regex(where.stderr, /did you mean statusClass\?/);
});

test('day, hour and statusClass equal awk over the same lines, in the zone the lines show', async (t) => {
  const dir = tempDir(t, 'geartrain-fields-');
  const log = path.join(dir, 'access.log');
  await writeLog(log, { lines: 4000, seed: 9, tzOffset: 120, invalidRate: 0, oddRate: 0 });
  const months = 'JanFebMarAprMayJunJulAugSepOctNovDec';
  // $4 is [dd/Mon/yyyy:HH:MM:SS, $9 the status.
  const awk = (program: string) =>
    execFileSync('awk', ['-v', `months=${months}`, program, log])
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split(' '))
      .map(([k, n]) => [k!, Number(n)] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const dayHourAwk = awk(
    '{ d = substr($4, 2, 2); m = (index(months, substr($4, 5, 3)) + 2) / 3; y = substr($4, 9, 4); h = substr($4, 14, 2) + 0; k = sprintf("%s-%02d-%s|%d|%sxx", y, m, d, h, substr($9, 1, 1)); c[k]++ } END { for (k in c) print k, c[k] }',
  );
  const r = await cli(['analyze', log, '--job', 'count', '--by', 'day,hour,statusClass', '--json']);
  t.is(r.code, 0, r.stderr);
  const rows = (JSON.parse(r.stdout) as { result: { rows: (string | number)[][] } }).result.rows;
  const got = rows.map((row) => [`${row[0]}|${row[1]}|${row[2]}`, row[3] as number] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  t.deepEqual(got, dayHourAwk);

  const where = await cli(['analyze', log, '--job', 'count', '--by', 'status', '--where', 'statusClass=4xx and hour>=12', '--json']);
  t.is(where.code, 0, where.stderr);
  const total = (JSON.parse(where.stdout) as { result: { total: number } }).result.total;
  const expected = Number(execFileSync('awk', ['$9 ~ /^4/ && substr($4, 14, 2) + 0 >= 12 { n++ } END { print n + 0 }', log]).toString());
  t.true(expected > 0);
  t.is(total, expected);
});

test('browser, os, device and bot of known User-Agents, as a person reads them', async (t) => {
  const dir = tempDir(t, 'geartrain-fields-');
  const log = path.join(dir, 'ua.log');
  const agents: [string, string, string, string, string][] = [
    ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'Crawler', 'Crawler', 'bot', 'true'],
    ['curl/8.5.0', 'Crawler', 'Crawler', 'bot', 'true'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1', 'Mobile Safari', 'iOS', 'mobile', 'false'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox', 'Windows', 'desktop', 'false'],
    ['Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1', 'Mobile Safari', 'iOS', 'tablet', 'false'],
  ];
  fs.writeFileSync(log, agents.map(([ua], i) => `10.0.0.${i} - - [01/Oct/2026:10:00:0${i} +0000] "GET /p${i} HTTP/1.1" 200 10 "-" "${ua}"\n`).join(''));
  const r = await cli(['analyze', log, '--job', 'count', '--by', 'path,browser,os,device,bot', '--json']);
  t.is(r.code, 0, r.stderr);
  const rows = (JSON.parse(r.stdout) as { result: { rows: string[][] } }).result.rows;
  const byPath = new Map(rows.map((row) => [row[0], row.slice(1, 5)]));
  agents.forEach(([ua, ...expected], i) => t.deepEqual(byPath.get(`/p${i}`), expected, ua));
});

test('a parser asked for no derived field is a plain LogParser and its records hold no derived field', (t) => {
  const format = compileLogFormat('combined');
  const line = '10.0.0.1 - - [01/Oct/2026:10:00:00 +0200] "GET / HTTP/1.1" 404 10 "-" "curl/8"';
  const plain = format.createParser(['status', 'time']);
  t.is(Object.getPrototypeOf(plain), LogParser.prototype);
  const record = plain.parse(line) as Record<string, unknown>;
  t.deepEqual(Object.keys(record).sort(), ['status', 'time']);
  const derived = format.createParser(['statusClass', 'day', 'hour']).parse(line) as Record<string, unknown>;
  t.is(derived.statusClass, '4xx');
  t.is(derived.day, '2026-10-01');
  t.is(derived.hour, 10);
});
