/**
 * Code that travels: an ad-hoc job file (bundled, signed, shipped by hash) and Hadoop Streaming
 * shell commands. Both need the node's consent (--allow-code, --allow-exec, each only with the
 * shared secret); without it they are refused with a message that says why.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import type { ExecutionContext } from 'ava';

const JOB = path.join(import.meta.dirname, 'fixtures', 'status-class.ts');
const SECRET = 'test-secret-0123456789';

async function cluster(t: ExecutionContext, nodeArgs: string[], env: Record<string, string> = {}) {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const logs: string[] = [];
  for (let i = 0; i < 2; i++) {
    const file = path.join(dir, `w${i}.log`);
    await writeLog(file, { lines: 3000, node: i, seed: 3, invalidRate: 0, oddRate: 0 });
    logs.push(file);
    await startNode(t, { name: `w${i}`, servers: server.address, data: path.join(dir, `d${i}`), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0', ...nodeArgs], env });
  }
  return { dir, servers: server.address, logs };
}

async function run(t: ExecutionContext, servers: string, args: string[], env: Record<string, string> = {}) {
  const p = spawnGeartrain(t, 'run', [...args, '--servers', servers, '--wait-nodes', '2', '-q', '--retries', '0', '--task-timeout', '10'], env);
  const code = await p.exited();
  return { code, stdout: p.stdoutText(), stderr: p.stderrText() };
}

function awkClasses(files: string[]): Record<string, number> {
  const out = execFileSync('sh', ['-c', `awk '{c[substr($9,1,1) "xx"]++} END {for (k in c) print k, c[k]}' ${files.map((f) => `'${f}'`).join(' ')}`]).toString();
  return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ')).map(([k, v]) => [k!, Number(v)]));
}

test.serial('an ad-hoc job file importing zod and a relative helper runs on nodes started with --allow-code', async (t) => {
  const c = await cluster(t, ['--allow-code'], { GEARTRAIN_SECRET: SECRET });
  const r = await run(t, c.servers, [JOB, '--json'], { GEARTRAIN_SECRET: SECRET });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout).result, awkClasses(c.logs));
});

test.serial('shipped code is refused: without --allow-code, without a secret on the node, and with a signature made with another secret', async (t) => {
  const noFlag = await cluster(t, [], { GEARTRAIN_SECRET: SECRET });
  const a = await run(t, noFlag.servers, [JOB], { GEARTRAIN_SECRET: SECRET });
  t.is(a.code, 1);
  t.regex(a.stderr, /not started with --allow-code/);

  // Without a secret on the node, --allow-code is refused at start (test/security/node-exec.test.ts);
  // the node then runs built-in jobs only.
  const noSecret = await cluster(t, []);
  const b = await run(t, noSecret.servers, [JOB], { GEARTRAIN_SECRET: SECRET });
  t.is(b.code, 1);
  t.regex(b.stderr, /not started with --allow-code/);

  const otherSecret = await cluster(t, ['--allow-code'], { GEARTRAIN_SECRET: SECRET });
  const c = await run(t, otherSecret.servers, [JOB], { GEARTRAIN_SECRET: 'a-tampered-or-wrong-secret' });
  t.is(c.code, 1);
  // Every task is signed with the coordinator's secret too: the first request is refused already.
  t.regex(c.stderr, /signature does not match this node's secret/);

  const unsigned = await run(t, otherSecret.servers, [JOB], { GEARTRAIN_SECRET: '' });
  t.is(unsigned.code, 2, 'a usage error: the secret is missing');
  t.regex(unsigned.stderr, /set GEARTRAIN_SECRET/);
});

test.serial('streaming: a shell --mapper/--reducer word count equals the same pipeline run locally; stderr counters reach the output', async (t) => {
  const c = await cluster(t, ['--allow-exec'], { GEARTRAIN_SECRET: SECRET });
  const mapper = `awk '{ n++; for (i = 7; i <= 7; i++) print $i } END { print "reporter:counter:wc,lines," n > "/dev/stderr" }'`;
  const out = path.join(c.dir, 'out');
  const r = await run(t, c.servers, ['--mapper', mapper, '--reducer', 'uniq -c', '--output', out, '--partitions', '3', '--json'], { GEARTRAIN_SECRET: SECRET });
  t.is(r.code, 0, r.stderr);
  const parts = fs.readdirSync(out).sort();
  t.deepEqual(parts, ['part-00000', 'part-00001', 'part-00002']);
  const got = parts.flatMap((p) => fs.readFileSync(path.join(out, p), 'utf8').split('\n').filter(Boolean)).map((l) => l.trim()).sort();
  const local = execFileSync('sh', ['-c', `cat ${c.logs.map((f) => `'${f}'`).join(' ')} | ${mapper} 2>/dev/null | LC_ALL=C sort | uniq -c`]).toString();
  const expected = local.split('\n').filter(Boolean).map((l) => l.trim()).sort();
  t.deepEqual(got, expected);
  const lines = Number(execFileSync('sh', ['-c', `cat ${c.logs.map((f) => `'${f}'`).join(' ')} | wc -l`]).toString());
  t.is(JSON.parse(r.stdout).counters['wc.lines'], lines);
});

test.serial('streaming commands are refused on nodes without --allow-exec', async (t) => {
  const c = await cluster(t, [], { GEARTRAIN_SECRET: SECRET });
  const r = await run(t, c.servers, ['--mapper', 'cat'], { GEARTRAIN_SECRET: SECRET });
  t.is(r.code, 1);
  t.regex(r.stderr, /not started with --allow-exec/);
});
