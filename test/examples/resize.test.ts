/**
 * examples/resize runs as its README says: the worker serves `resize`, an image submitted as a
 * job comes back as a 200×150 JPEG (checked with file(1), not with sharp), and a payload that is
 * not an image fails the job with the decoder's message. The example has its own dependencies
 * (`npm ci --prefix examples/resize`, which .ci/run does).
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { Client } from '../../src/client/index.ts';
import { JobExceptionError } from '../../src/errors.ts';
import { JobServer } from '../../src/server/index.ts';
import { waitFor } from '../helpers/ports.ts';

const WORKER = fileURLToPath(new URL('../../examples/resize/worker.ts', import.meta.url));

/** A 640×480 picture as SVG text (one of the formats sharp decodes). */
const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">
<rect width="640" height="480" fill="#3a6ea5"/><circle cx="320" cy="240" r="180" fill="#f2c14e"/></svg>`;

test('examples/resize: an image becomes a 200×150 JPEG; a payload that is not an image fails the job', async (t) => {
  const server = new JobServer({ port: 0 });
  const { port } = await server.listen();
  t.teardown(() => server.destroy());
  const worker = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, GEARMAN_SERVERS: `127.0.0.1:${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  worker.stdout!.on('data', (d) => (out += String(d)));
  worker.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise((resolve) => worker.once('close', resolve));
  t.teardown(async () => {
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await exited;
  });
  await waitFor(() => {
    if (worker.exitCode !== null) throw new Error(`the worker exited (dependencies installed? npm ci --prefix examples/resize): ${out}`);
    return /^serving "resize"/m.test(out);
  }, 'the resize worker to start', 30_000);

  const client = new Client({ servers: `127.0.0.1:${port}` });
  t.teardown(() => client.destroy());
  const thumb = await client.call('resize', Buffer.from(SVG));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-resize-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'thumb.jpg');
  fs.writeFileSync(file, thumb);
  t.regex(execFileSync('file', ['-b', file], { encoding: 'utf8' }), /^JPEG image data\b.*\b200x150\b/);

  const err = await t.throwsAsync(client.call('resize', Buffer.from('not an image')), { instanceOf: JobExceptionError });
  t.regex(err!.message, /unsupported image format|Input buffer/i);
});
