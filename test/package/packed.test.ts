/**
 * The package as the README installs it: `npm pack`, then `npm install -g` of the tarball (into a
 * temporary prefix instead of /usr/local), then the README's job file run with the installed
 * command from an empty directory, against a job server and a node (with the cluster secret)
 * started with that same installed command. Dependencies come from npm's cache or the registry;
 * better-sqlite3 is compiled if no prebuilt binary can be had, which takes a minute or two.
 *
 * The tarball is packed from a staging copy of the files package.json's `files` names, with dist/
 * built there, so the checkout's own dist/ (which other tests may be running) is left alone.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { runProcess } from '../client/helpers/cli.ts';
import { spawnProcess, tempDir, waitForLine } from '../helpers/cluster.ts';
import { readmeBlocks } from '../helpers/readme-blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SECRET = 'packed-test-secret-0123456789';

/** What the README's "Your own job" writes to status-class.ts. */
function readmeJobFile(): { name: string; code: string } {
  for (const b of readmeBlocks(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'))) {
    const file = b.directives?.find((d) => d.kind === 'file');
    if (file?.kind === 'file' && b.lang === 'ts') return { name: file.name, code: b.code };
  }
  throw new Error('the README has no job file block');
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

/** The files `npm pack` takes from the checkout (package.json `files`), copied, with dist/ built into the copy. */
async function stage(dir: string): Promise<void> {
  const listed = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT)) as { files: { path: string }[] }[];
  for (const { path: rel } of listed[0]!.files) {
    if (rel.startsWith('dist/')) continue;
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), path.join(dir, rel));
  }
  const build = await runProcess(process.execPath, ['-e', `import(${JSON.stringify(path.join(ROOT, 'scripts/build.mjs'))}).then((m) => m.buildDist(${JSON.stringify(path.join(dir, 'dist'))}))`]);
  if (build.code !== 0) throw new Error(`build failed: ${build.stderr}`);
}

function awkStatusClasses(files: readonly string[]): string[][] {
  const out = execFileSync('sh', ['-c', `awk '{print substr($9,1,1) "xx"}' "$@" | sort | uniq -c | sort -k1,1nr -k2,2`, 'sh', ...files], { env: { ...process.env, LC_ALL: 'C' } }).toString();
  return out.trim().split('\n').map((l) => l.trim().split(/\s+/)).map(([n, k]) => [k!, Number(n).toLocaleString('en-US')]);
}

test('npm pack, npm install -g of the tarball, and the README job file runs with the installed command from an empty directory', async (t) => {
  t.timeout(20 * 60_000);
  const work = tempDir(t, 'geartrain-packed-');
  const staged = path.join(work, 'stage');
  await stage(staged);
  const packed = JSON.parse(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], staged)) as { filename: string; files: { path: string }[] }[];
  const tarball = path.join(work, packed[0]!.filename);
  const inside = packed[0]!.files.map((f) => f.path);
  for (const f of ['bin/geartrain.js', 'dist/geartrain.mjs', 'dist/jobs.mjs', 'dist/jobs/count.mjs', 'dist/BUILT', 'src/job-kit.ts', 'tsconfig.json']) t.true(inside.includes(f), `the tarball holds ${f}`);
  t.false(inside.some((f) => f.startsWith('test/')), 'and no tests');

  const prefix = path.join(work, 'prefix');
  npm(['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', tarball], work);
  const bin = path.join(prefix, 'bin');
  const env = { PATH: `${bin}:${process.env.PATH}`, GEARTRAIN_SECRET: SECRET };
  const installed = path.join(prefix, 'lib', 'node_modules', 'geartrain');
  // The installed command runs its dist/: it works with tsx (which the sources need) taken away.
  const tsx = path.join(installed, 'node_modules', 'tsx');
  fs.renameSync(tsx, `${tsx}.away`);
  const withoutTsx = await runProcess(path.join(bin, 'geartrain'), ['--version'], '', { ...process.env, ...env });
  fs.renameSync(`${tsx}.away`, tsx);
  t.is(withoutTsx.code, 0, `the installed command runs its dist/, not the sources: ${withoutTsx.stderr}`);
  const version = await runProcess(path.join(bin, 'geartrain'), ['--version'], '', { ...process.env, ...env });
  t.is(version.stdout.trim(), 'geartrain 0.1.0', version.stderr);

  const logs = path.join(work, 'logs');
  fs.mkdirSync(logs);
  const files = [path.join(logs, 'access.log'), path.join(logs, 'access.log.1')];
  for (const [i, f] of files.entries()) await writeLog(f, { lines: 2000, node: 0, seed: 40 + i, invalidRate: 0, oddRate: 0 });

  const server = spawnProcess(t, ['geartrain', 'server', '-p', '0', '-q', 'memory', '-L', '127.0.0.1'], env, work);
  const address = `127.0.0.1:${(await waitForLine(server, /^listening on 127\.0\.0\.1:(\d+)$/m, 'installed geartrain server', 120_000))[1]}`;
  const node = spawnProcess(t, ['geartrain', 'node', '--name', 'p1', '--servers', address, '--allow-code', '--data', path.join(work, 'node-data'), '--logs', `${logs}/access.log*`, '--poll-ms', '0'], env, work);
  await waitForLine(node, /^node p1 ready \(2 shards\)$/m, 'installed geartrain node', 120_000);

  const empty = path.join(work, 'empty');
  fs.mkdirSync(empty);
  const job = readmeJobFile();
  fs.writeFileSync(path.join(empty, job.name), job.code);
  const run = spawnProcess(t, ['geartrain', 'run', `./${job.name}`, '--servers', address], env, empty);
  const code = await run.exited();
  t.is(code, 0, run.stderrText());
  const rows = [...run.stdoutText().matchAll(/^([1-5]xx) +([\d,]+)$/gm)].map((m) => [m[1]!, m[2]!]);
  t.deepEqual(rows, awkStatusClasses(files));

  // A plain Node app of a project that depends on the package gets the job kit from dist/.
  const app = path.join(work, 'app');
  fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
  fs.symlinkSync(installed, path.join(app, 'node_modules', 'geartrain'));
  fs.writeFileSync(path.join(app, 'app.mjs'), "import { HyperLogLog, defineJob } from 'geartrain/jobs';\nconsole.log(import.meta.resolve('geartrain/jobs'), typeof HyperLogLog, typeof defineJob);\n");
  const plain = await runProcess(process.execPath, [path.join(app, 'app.mjs')]);
  t.is(plain.code, 0, plain.stderr);
  t.regex(plain.stdout, /\/geartrain\/dist\/jobs\.mjs function function$/m);
});
