/**
 * A truncated .gz among a node's logs: its readable part is mapped, and the run says which file
 * ends early and where. Without --allow-partial the run fails with exit status 3 naming the file
 * and the byte; with it, exit 0, a PARTIAL line on stderr, and the JSON says `partial: true` with
 * the file in `missing` and why. References: GNU grep and awk over the plain file and over what
 * zlib decompresses of the cut one (Python's zlib).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { awkTally, runGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';

interface Logs {
  dir: string;
  plain: string;
  cut: string;
  cutSize: number;
  /** What zlib decompresses of the cut file. */
  prefix: string;
}

async function logs(t: ExecutionContext): Promise<Logs> {
  const dir = tempDir(t);
  const plain = path.join(dir, 'access.log');
  const old = path.join(dir, 'access.log.2');
  for (const [file, node] of [[plain, 0], [old, 1]] as const) {
    const r = await runGeartrain(t, 'gen-logs', [file, '--lines', '6000', '--seed', '7', '--node', String(node), '--invalid-rate', '0', '--odd-rate', '0']);
    t.is(r.code, 0, r.stderr);
  }
  const gz = execFileSync('gzip', ['-c', old], { maxBuffer: 1 << 28 });
  fs.rmSync(old);
  const cut = `${old}.gz`;
  const cutSize = Math.floor(gz.length / 2);
  fs.writeFileSync(cut, gz.subarray(0, cutSize));
  const prefix = path.join(dir, 'prefix.txt');
  execFileSync('python3', ['-c', 'import zlib,sys; open(sys.argv[2],"wb").write(zlib.decompressobj(31).decompress(open(sys.argv[1],"rb").read()))', cut, prefix]);
  return { dir, plain, cut, cutSize, prefix };
}

async function cluster(t: ExecutionContext, l: Logs): Promise<string> {
  const server = await startServerProcess(t, ['-p', '0', '-q', 'memory']);
  await startNode(t, { name: 'web1', servers: server.address, data: path.join(l.dir, 'data'), logs: [`${l.dir}/access.log*`], extra: ['--concurrency', '1', '--poll-ms', '0'] });
  return server.address;
}

const sh = (script: string, ...args: string[]) => execFileSync('sh', ['-c', script, 'sh', ...args]).toString().trim();

test('without --allow-partial the run exits 3 naming the truncated file, the byte where it ends and what was read', async (t) => {
  const l = await logs(t);
  const servers = await cluster(t, l);
  const r = await runGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', servers, '--json', '-q']);
  t.is(r.code, 3, r.stderr);
  t.is(r.stdout, '');
  const read = fs.statSync(l.prefix).size;
  t.is(
    r.stderr,
    `geartrain run: 1 file(s) could not be read to their end: web1:${l.cut} (truncated gzip: unexpected end of file at byte ${l.cutSize}; ${read} bytes read before it); allow a partial result (--allow-partial) to get what was read\n`,
  );
});

test('with --allow-partial: exit 0, a PARTIAL line, partial: true and the file in missing with why; the readable part is counted (grep -c and count --by status equal grep and awk)', async (t) => {
  const l = await logs(t);
  const servers = await cluster(t, l);
  const grep = await runGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', servers, '--json', '--allow-partial']);
  t.is(grep.code, 0, grep.stderr);
  const report = JSON.parse(grep.stdout) as { partial: boolean; missing: unknown[]; result: { total: number } };
  t.true(report.partial);
  const reason = `truncated gzip: unexpected end of file at byte ${l.cutSize}; ${fs.statSync(l.prefix).size} bytes read before it`;
  t.deepEqual(report.missing, [{ node: 'web1', path: l.cut, reason }]);
  t.is(report.result.total, Number(sh('cat "$1" "$2" | grep -c -F GET', l.plain, l.prefix)));
  t.is(grep.stderr, `geartrain run: PARTIAL result: 1 shard(s) not read, or not to their end: web1:${l.cut} (${reason})\n`);

  // Records: the plain file and the whole lines of the readable part (the cut last line is not one).
  const count = await runGeartrain(t, 'run', ['count', '--by', 'status', '--servers', servers, '--json', '--allow-partial']);
  t.is(count.code, 0, count.stderr);
  const expected = awkTally(9, 'cat "$1"; head -n "$(wc -l < "$2")" "$2"', l.plain, l.prefix);
  t.deepEqual(Object.fromEntries((JSON.parse(count.stdout).result as { rows: [string, number][] }).rows), expected);
});

test('geartrain analyze over the same files: exit 3 without --allow-partial, exit 0 and a PARTIAL line with it', async (t) => {
  const l = await logs(t);
  const strict = await runGeartrain(t, 'analyze', [`${l.dir}/access.log*`, '--job', 'count', '--by', 'status']);
  t.is(strict.code, 3, strict.stderr);
  t.is(strict.stdout, '');
  t.regex(strict.stderr, new RegExp(`^geartrain analyze: 1 file\\(s\\) could not be read to their end: local:${l.cut.replace(/\./g, '\\.')} \\(truncated gzip: unexpected end of file at byte ${l.cutSize};`));
  const lenient = await runGeartrain(t, 'analyze', [`${l.dir}/access.log*`, '--job', 'count', '--by', 'status', '--allow-partial']);
  t.is(lenient.code, 0, lenient.stderr);
  t.regex(lenient.stdout, /^status +count$/m);
  t.regex(lenient.stderr, /^geartrain analyze: PARTIAL result: 1 shard\(s\) not read, or not to their end: local:.*access\.log\.2\.gz \(truncated gzip: /m);
});
