/**
 * The contract of the proof scripts with .ci/run: a summary of checks, then one line
 * `proof: N passed, N failed`, and exit status 1 when a check failed or the script broke.
 * Also the percentiles the scripts print (nearest rank, against values worked out by hand).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { percentiles, Samples } from '../../scripts/proof/lib/stats.ts';

const REPORT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/proof/lib/report.ts');

async function runScript(t: ExecutionContext, body: string): Promise<{ stdout: string; code: number | null }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-proof-report-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'script.mts');
  fs.writeFileSync(file, `import { Proof } from ${JSON.stringify(REPORT)};\n${body}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, code }));
  });
}

const lastLine = (s: string) => s.trimEnd().split('\n').at(-1);

test('all checks passing: the verdict line counts them and the exit status is 0', async (t) => {
  const r = await runScript(t, `const p = new Proof('demo'); p.run(async () => { p.check('one', true, 'x'); p.check('two', true); });`);
  t.is(r.code, 0);
  t.is(lastLine(r.stdout), 'proof: 2 passed, 0 failed');
  t.regex(r.stdout, /PASS\s+one\s+x/);
});

test('a failing check: counted, shown with what was measured, exit status 1', async (t) => {
  const r = await runScript(t, `const p = new Proof('demo'); p.run(async () => { p.check('fine', true); p.check('heap back', false, '10 MiB -> 50 MiB'); });`);
  t.is(r.code, 1);
  t.is(lastLine(r.stdout), 'proof: 1 passed, 1 failed');
  t.regex(r.stdout, /FAIL\s+heap back\s+10 MiB -> 50 MiB/);
});

test('a script that throws still ends with the verdict line, as one more failure', async (t) => {
  const r = await runScript(t, `const p = new Proof('demo'); p.run(async () => { p.check('fine', true); throw new Error('server fell over'); });`);
  t.is(r.code, 1);
  t.is(lastLine(r.stdout), 'proof: 1 passed, 1 failed');
  t.regex(r.stdout, /server fell over/);
});

test('a script that overruns its budget is stopped by its watchdog and fails', async (t) => {
  const r = await runScript(t, `const p = new Proof('demo'); p.watchdog(200); p.run(() => new Promise(() => { setInterval(() => {}, 1000); }));`);
  t.is(r.code, 1);
  t.is(lastLine(r.stdout), 'proof: 0 passed, 1 failed');
  t.regex(r.stdout, /finished within its time budget/);
});

test('percentiles are nearest-rank', (t) => {
  const values = [15, 20, 35, 40, 50];
  // Nearest rank: the ceil(p/100 * n)-th smallest value.
  t.deepEqual(percentiles(values, [5, 30, 40, 50, 100]), [15, 20, 20, 35, 50]);
  const s = new Samples();
  for (let i = 1000; i >= 1; i--) s.add(i);
  t.deepEqual(s.percentiles([50, 99, 99.9]), [500, 990, 999]);
  t.is(s.max, 1000);
  t.is(s.countAbove(990), 10);
  t.true(Number.isNaN(new Samples().percentile(50)));
});
