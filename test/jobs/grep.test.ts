/**
 * grep's GNU flags on a cluster: three nodes over dirty generated logs (one of them gzipped), map
 * tasks of 1 MiB so context groups cross task boundaries. Each run equals GNU grep's output on the
 * same files, put in the job's global order by test/mapreduce/reference/grep_groups.py (groups
 * sorted by the time, node, file and offset of their first selected line).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import test, { type ExecutionContext } from 'ava';
import { writeLog } from '../../src/logs/index.ts';
import { startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { cli } from '../helpers/in-process-cli.ts';

const REF = path.join(import.meta.dirname, '..', 'mapreduce', 'reference', 'grep_groups.py');

interface Served {
  readonly node: string;
  /** What the node serves (plain or .gz). */
  readonly served: string;
  /** The same bytes, plain, for GNU grep. */
  readonly plain: string;
}

async function cluster(t: ExecutionContext): Promise<{ servers: string; files: Served[] }> {
  const dir = tempDir(t, 'geartrain-grep-');
  const files: Served[] = [];
  for (let i = 0; i < 3; i++) {
    const plain = path.join(dir, `web${i}.log`);
    // ~2.2 MB each: two map tasks per plain file at --split-bytes 1 MiB.
    await writeLog(plain, { lines: 6000, node: i, seed: 21, invalidRate: 0.02, oddRate: 0.02 });
    let served = plain;
    if (i === 2) {
      served = `${plain}.gz`;
      fs.writeFileSync(served, zlib.gzipSync(fs.readFileSync(plain)));
    }
    files.push({ node: `web${i}`, served, plain });
  }
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  await Promise.all(
    files.map((f) => startNode(t, { name: f.node, servers: server.address, data: path.join(dir, `data-${f.node}`), logs: [f.served], extra: ['--concurrency', '2', '--poll-ms', '0'] })),
  );
  return { servers: server.address, files };
}

/** GNU grep's output for `args`, in the job's order; node:path prefixes name the served files. */
function reference(files: readonly Served[], args: readonly string[], extra: readonly string[] = []): string {
  const out = execFileSync('python3', [REF, ...extra, ...files.map((f) => `${f.node}=${f.plain}`), '--', '-F', ...args], { maxBuffer: 1 << 28 }).toString('latin1');
  return files.reduce((s, f) => (f.served === f.plain ? s : s.split(`${f.node}:${f.plain}`).join(`${f.node}:${f.served}`)), out);
}

async function grep(servers: string, args: readonly string[]): Promise<string> {
  const r = await cli(['run', 'grep', ...args, '--servers', servers, '--wait-nodes', '3', '--split-bytes', String(1024 * 1024), '-q']);
  if (r.code !== 0) throw new Error(`grep ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

test.serial('grep flags equal GNU grep on the same files, in the run\'s (time, node, file, offset) order', async (t) => {
  const { servers, files } = await cluster(t);
  const cases: { args: string[]; ref?: string[] }[] = [
    { args: ['-e', 'POST /login', '-e', 'wp-login'] },
    { args: ['-A', '3', 'POST'] },
    { args: ['-B', '2', '" 404 '] },
    { args: ['-C', '4', 'bot'] },
    // Wide context: groups run across the 1 MiB task boundaries of every plain file.
    { args: ['-C', '60', '-i', 'WP-LOGIN'] },
    { args: ['-v', '-C', '1', 'GET'] },
    { args: ['-o', '-e', 'login', '-e', 'POST /'] },
    { args: ['-o', '-i', '-B', '2', 'cart'] },
    { args: ['-H', 'POST /api/v1/cart'] },
    { args: ['-H', '-C', '1', '/cart'] },
    { args: ['-H', '-o', '/api/v1/'] },
    { args: ['-m', '25', 'GET'], ref: ['--max', '25'] },
    { args: ['-m', '4', '-A', '2', 'POST'], ref: ['--max', '4', '--after', '2'] },
    { args: ['-m', '9', '-C', '5', '-v', 'GET'], ref: ['--max', '9', '--after', '5'] },
    // The empty pattern matches every line, as in GNU grep.
    { args: [''] },
  ];
  for (const c of cases) {
    const expected = reference(files, c.args, c.ref);
    t.true(expected.length > 0, `grep ${c.args.join(' ')} must print something`);
    t.is(await grep(servers, c.args), expected, `grep ${c.args.join(' ')}`);
  }
});

test.serial('grep -l lists the files with a selected line as node:path, like grep -l per file', async (t) => {
  const { servers, files } = await cluster(t);
  for (const pattern of ['wp-login', 'no such text anywhere']) {
    const expected = files
      .filter((f) => execFileSync('sh', ['-c', 'grep -a -F -l -e "$1" "$2" || true', 'sh', pattern, f.plain]).toString().trim() !== '')
      .map((f) => `${f.node}:${f.served}\n`)
      .sort()
      .join('');
    t.is(await grep(servers, ['-l', pattern]), expected, pattern);
  }
});

test('grep: -H is --with-filename, help stays --help; -e with a PATTERN argument and -c with -m are refused', async (t) => {
  const help = await cli(['run', 'grep', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /-H, --with-filename/);
  t.regex(help.stdout, /^ {2}--help {2,}this help/m);
  const both = await cli(['run', 'grep', '-e', 'a', 'b', '-p', '1']);
  t.is(both.code, 2);
  t.regex(both.stderr, /with -e, give every pattern with -e/);
  const countMax = await cli(['run', 'grep', '-c', '-m', '3', 'x', '-p', '1']);
  t.is(countMax.code, 2);
  t.regex(countMax.stderr, /-m/);
});
