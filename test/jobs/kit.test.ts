/**
 * The job kit as a user meets it: a job file in an empty directory outside the checkout (no
 * package.json, no node_modules) imports `geartrain/jobs` and `zod`, uses the kit's counts,
 * derived fields, HyperLogLog and top-K, and runs with `geartrain run ./job.ts` on a cluster; its
 * result prints without `--json` (the default rendering of a job without `render`). References
 * come from awk, sort and uniq over the same files.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeLog } from '../../src/logs/index.ts';
import { bundleJobFile } from '../../src/mapreduce/job-bundle.ts';
import { GEARTRAIN } from '../client/helpers/cli.ts';
import { spawnProcess, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';

const SECRET = 'kit-test-secret-0123456789';

/** A user's job: status classes (a derived field), distinct client addresses, the 5 busiest paths. */
const USER_JOB = `
import { z } from 'zod';
import { addCount, createCounts, decodeCounts, defineJob, hash53, HyperLogLog, mergeCounts, topK, type Counts } from 'geartrain/jobs';

interface State { classes: Counts; hosts: HyperLogLog; paths: Counts }

export default defineJob({
  kind: 'summary',
  name: 'site-summary',
  description: 'status classes, distinct clients, busiest paths',
  params: z.object({ top: z.number().int().min(1).default(5) }),
  cli: { flags: { top: { param: 'top', type: 'number' } } },
  input: () => ({ records: ['statusClass', 'host', 'path'] }),
  create: (): State => ({ classes: createCounts(), hosts: new HyperLogLog({ p: 12 }), paths: createCounts() }),
  map(s, r) {
    addCount(s.classes, r.statusClass as string);
    s.hosts.add(hash53(r.host as string));
    addCount(s.paths, r.path as string);
  },
  merge(a, b) {
    mergeCounts(a.classes, b.classes);
    a.hosts.merge(b.hosts);
    mergeCounts(a.paths, b.paths);
    return a;
  },
  encode: (s) => JSON.stringify({ c: s.classes, h: s.hosts.encode(), p: s.paths }),
  decode(data) {
    const o = JSON.parse(data.toString());
    return { classes: decodeCounts(JSON.stringify(o.c)), hosts: HyperLogLog.decode(o.h), paths: decodeCounts(JSON.stringify(o.p)) };
  },
  finalize: (s, p) => ({
    clients: Math.round(s.hosts.estimate()),
    classes: s.classes,
    busiest: topK(Object.entries(s.paths), (n) => n, p.top).map(([path, hits]) => ({ path, hits })),
  }),
});
`;

function sh(script: string, files: readonly string[]): string {
  return execFileSync('sh', ['-c', script, 'sh', ...files], { env: { ...process.env, LC_ALL: 'C' } }).toString();
}

async function logs(t: Parameters<typeof tempDir>[0], n: number): Promise<{ dir: string; files: string[] }> {
  const dir = tempDir(t, 'geartrain-kit-logs-');
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `w${i}.log`);
    await writeLog(file, { lines: 2500, node: i, seed: 11, invalidRate: 0, oddRate: 0 });
    files.push(file);
  }
  return { dir, files };
}

test('a job file in an empty directory outside the checkout, importing geartrain/jobs and zod, runs on a cluster and prints its result without --json', async (t) => {
  const { dir, files } = await logs(t, 2);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  for (const [i, file] of files.entries()) {
    await startNode(t, { name: `k${i}`, servers: server.address, data: path.join(dir, `d${i}`), logs: [file], extra: ['--concurrency', '1', '--poll-ms', '0', '--allow-code'], env: { GEARTRAIN_SECRET: SECRET } });
  }
  const work = tempDir(t, 'geartrain-kit-user-');
  t.false(work.startsWith(path.resolve(import.meta.dirname, '../..')), 'the job directory is outside the checkout');
  fs.writeFileSync(path.join(work, 'site-summary.ts'), USER_JOB);

  const p = spawnProcess(t, [process.execPath, GEARTRAIN, 'run', './site-summary.ts', '--top', '3', '--servers', server.address, '--wait-nodes', '2', '--retries', '0'], { GEARTRAIN_SECRET: SECRET }, work);
  const code = await p.exited();
  const out = p.stdoutText();
  t.is(code, 0, p.stderrText());

  // clients: one line of the scalars table
  const clients = Number(sh(`awk '{print $1}' "$@" | sort -u | wc -l`, files).trim());
  t.regex(out, new RegExp(`^clients +${clients.toLocaleString('en-US')}$`, 'm'));
  // classes: a key/value table under its title, largest first
  const classes = sh(`awk '{print substr($9,1,1) "xx"}' "$@" | sort | uniq -c | sort -k1,1nr -k2,2`, files).trim().split('\n').map((l) => l.trim().split(/\s+/));
  const classBlock = out.slice(out.indexOf('\nclasses\n') + 1).split('\n').slice(3, 3 + classes.length);
  t.deepEqual(classBlock.map((l) => l.trim().split(/\s+/)), classes.map(([n, k]) => [k!, Number(n).toLocaleString('en-US')]));
  // busiest: a table with a column per property
  const busiest = sh(`awk '{print $7}' "$@" | sed 's/?.*//' | sort | uniq -c | sort -k1,1nr -k2,2 | head -3`, files).trim().split('\n').map((l) => l.trim().split(/\s+/));
  const busiestBlock = out.slice(out.indexOf('\nbusiest\n') + 1).split('\n');
  t.regex(busiestBlock[1]!, /^path +hits$/);
  t.deepEqual(busiestBlock.slice(3, 6).map((l) => l.trim().split(/\s+/)), busiest.map(([n, k]) => [k!, n!]));
});

test('in a job file, geartrain and geartrain/jobs are the CLI’s own copies: only what the job uses is bundled, and a helper carrying a bundle banner does not collide', async (t) => {
  const work = tempDir(t, 'geartrain-kit-bundle-');
  // A module built like dist/*.mjs, whose first line declared __gtCreateRequire, as the job bundle's banner did.
  fs.writeFileSync(path.join(work, 'built-helper.mjs'), "import { createRequire as __gtCreateRequire } from 'node:module'; const require = __gtCreateRequire(import.meta.url);\nexport const sep = () => require('node:path').sep;\n");
  fs.writeFileSync(
    path.join(work, 'job.ts'),
    [
      "import { z } from 'zod';",
      "import { defineJob } from 'geartrain';",
      "import { statusClass } from 'geartrain/jobs';",
      "import { sep } from './built-helper.mjs';",
      "export default defineJob({ kind: 'summary', name: 'tiny', description: sep() + statusClass(404), params: z.object({}), input: () => ({ records: ['status'] }), create: () => 0, map: () => {}, merge: (a: number, b: number) => a + b, finalize: (s: number) => s });",
    ].join('\n'),
  );
  const code = await bundleJobFile(path.join(work, 'job.ts'));
  const text = code.toString('utf8');
  t.false(/better-sqlite3|ioredis|class JobServer/.test(text), 'the job server and its stores are not in a job bundle');
  const bundled = path.join(work, 'bundle.mjs');
  fs.writeFileSync(bundled, code);
  const job = (await import(pathToFileURL(bundled).href)) as { default: { name: string; description: string } };
  t.is(job.default.name, 'tiny');
  t.is(job.default.description, '/4xx');

  fs.writeFileSync(path.join(work, 'bad.ts'), "export { x } from 'geartrain/internal';\n");
  const err = await t.throwsAsync(bundleJobFile(path.join(work, 'bad.ts')));
  t.regex(err!.message, /geartrain has no entry 'geartrain\/internal'/);
});
