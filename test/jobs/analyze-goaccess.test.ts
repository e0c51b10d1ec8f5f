/**
 * analyze against GoAccess on the same clean log (generator with no invalid lines, its usual odd
 * but valid ones): request totals and status-code counts agree, once the definition differences
 * listed in jobs/analyze.ts are accounted for. Those differences are measured on the raw lines
 * here with their own regexes:
 * - GoAccess 1.7 rejects a `%h` that is not an IPv4 or IPv6 address (HostnameLookups names);
 * - GoAccess reads lines through a 4,096-byte buffer: a longer line becomes several pieces, each a
 *   failed request, except a first piece cut inside the User-Agent, which it accepts (it tolerates
 *   a truncated agent).
 * (Empty lines, which GoAccess skips uncounted, cannot occur in a clean generated log.)
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import analyze from '../../jobs/analyze.ts';
import { writeLog, type FieldName } from '../../src/logs/index.ts';
import { parseRecords, runLocally } from './analyze-harness.ts';

interface GoAccessReport {
  general: { total_requests: number; valid_requests: number; failed_requests: number; bandwidth: number };
  status_codes: { data: { items: { data: string; hits: { count: number } }[] }[] };
}

test('request totals and status codes equal GoAccess on a clean log, but for the documented differences', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-goaccess-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'access.log');
  // A high odd-line rate so that hostnames and long lines occur in a small log.
  await writeLog(file, { lines: 20_000, seed: 21, days: 2, invalidRate: 0, oddRate: 0.05 });
  const out = path.join(dir, 'report.json');
  execFileSync('goaccess', [file, '--log-format=COMBINED', '--no-global-config', '-o', out], {
    env: { ...process.env, LANG: 'C', LC_ALL: 'C' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const go = JSON.parse(readFileSync(out, 'utf8')) as GoAccessReport;

  // Lines GoAccess does not count as valid requests.
  const lines = readFileSync(file).toString('latin1').split('\n').slice(0, -1);
  const address = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)$/;
  // The first 4,095 bytes of a long line reach into the User-Agent: GoAccess takes that piece.
  const reachesAgent = /^\S+ \S+ \S+ \[[^\]]+\] "(?:[^"\\]|\\.)*" \d{3} (?:\d+|-) "(?:[^"\\]|\\.)*" "/;
  const excluded = lines.filter((l) => !address.test(l.slice(0, l.indexOf(' '))) || (l.length > 4095 && !reachesAgent.test(l.slice(0, 4095))));
  const hostnames = excluded.filter((l) => l.length <= 4095).length;
  const long = excluded.length - hostnames;
  t.true(hostnames > 0 && long > 0, `the log exercises both differences (${hostnames} host names, ${long} long lines)`);
  t.true(lines.some((l) => l.length > 4095 && reachesAgent.test(l.slice(0, 4095))), 'and a long line GoAccess accepts cut short');
  const excludedStatus = new Map<number, number>();
  for (const l of excluded) {
    const code = Number(/" (\d{3}) (?:\d+|-) "/.exec(l)![1]);
    excludedStatus.set(code, (excludedStatus.get(code) ?? 0) + 1);
  }

  const params = analyze.params.parse({});
  const { records } = await parseRecords(file, (analyze.input(params) as { records: FieldName[] }).records);
  const r = runLocally(analyze, params, records, { parts: 4 });

  t.is(r.totals.requests, lines.length, 'every line of a clean log is a request here');
  t.is(r.totals.requests, go.general.valid_requests + hostnames + long);

  const goStatus = new Map<number, number>();
  for (const cls of go.status_codes.data) for (const item of cls.items) goStatus.set(Number(item.data.slice(0, 3)), item.hits.count);
  const codes = [...new Set([...goStatus.keys(), ...r.statusCodes.rows.map((s) => s.code)])].sort();
  for (const code of codes) {
    const ours = r.statusCodes.rows.find((s) => s.code === code)?.hits ?? 0;
    t.is(ours, (goStatus.get(code) ?? 0) + (excludedStatus.get(code) ?? 0), `status ${code}`);
  }
});
