/**
 * The package as a user installs it: `import { … } from 'geartrain'` in a plain Node 20 script
 * (no tsx) resolves through package.json's exports to the built library and serves a job. The
 * package is built by scripts/build.mjs into a temporary copy, so the checkout's dist/ (which the
 * CLI tests may be running) is left alone.
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { runProcess } from '../client/helpers/cli.ts';
import { tempDir } from '../helpers/cluster.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

const APP = `
import { Client, Worker, JobServer, defineJob, JobFailedError } from 'geartrain';
const server = new JobServer({ port: 0, host: '127.0.0.1' });
const { port } = await server.listen();
const worker = new Worker({ servers: '127.0.0.1:' + port });
worker.register('reverse', (job) => [...job.payload.toString()].reverse().join(''));
await worker.start();
const client = new Client({ servers: '127.0.0.1:' + port });
const reply = (await client.call('reverse', 'Hello World!')).toString();
await client.close();
await worker.close();
await server.close();
console.log(JSON.stringify({ reply, defineJob: typeof defineJob, errors: typeof JobFailedError }));
`;

test('plain Node imports the library by its package name and runs a job', async (t) => {
  const dir = tempDir(t, 'geartrain-package-');
  const pkg = path.join(dir, 'node_modules', 'geartrain');
  fs.mkdirSync(pkg, { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  const build = await runProcess(process.execPath, ['-e', `import(${JSON.stringify(path.join(ROOT, 'scripts/build.mjs'))}).then((m) => m.buildDist(${JSON.stringify(path.join(pkg, 'dist'))}))`]);
  t.is(build.code, 0, build.stderr);

  fs.writeFileSync(path.join(dir, 'app.mjs'), APP);
  // No --import tsx: what a user's `node app.mjs` does.
  const run = await runProcess(process.execPath, [path.join(dir, 'app.mjs')]);
  t.is(run.code, 0, run.stderr);
  t.deepEqual(JSON.parse(run.stdout.trim().split('\n').at(-1)!), { reply: '!dlroW olleH', defineJob: 'function', errors: 'function' });
});
