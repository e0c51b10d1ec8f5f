/**
 * Ctrl-C on the coordinator cancels the run and its tasks on the nodes: the mapper command a node
 * was running is killed and the node takes no more of the run's tasks.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { writeLog } from '../../src/logs/index.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { spawnGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/ports.ts';

function running(pattern: string): boolean {
  try {
    execFileSync('pgrep', ['-f', pattern]);
    return true;
  } catch {
    return false;
  }
}

/** --allow-exec needs the cluster secret. */
const SECRET = 'cancel-test-secret-0123456789';

test.serial('SIGINT to geartrain run cancels the tasks running on the nodes and exits 130', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const log = path.join(dir, 'a.log');
  await writeLog(log, { lines: 1000, seed: 1 });
  await startNode(t, { name: 'slow', servers: server.address, data: path.join(dir, 'd'), logs: [log], extra: ['--concurrency', '1', '--poll-ms', '0', '--allow-exec'], env: { GEARTRAIN_SECRET: SECRET } });
  // A mapper that blocks: a marker in its command line lets the test find the process.
  const marker = `gt_cancel_${process.pid}_${Date.now()}`;
  const run = spawnGeartrain(t, 'run', ['--mapper', `sleep 300 # ${marker}`, '--servers', server.address, '--wait-nodes', '1', '-q'], { GEARTRAIN_SECRET: SECRET });
  // The coordinator's own command line holds the marker too: look for the shell the node started.
  const mapper = `^sh -c sleep 300 # ${marker}`;
  await waitFor(() => running(mapper), 'the mapper command running on the node', 20_000);
  run.kill('SIGINT');
  const code = await run.exited();
  t.is(code, 130, 'exit status 130 after Ctrl-C');
  t.regex(run.stderrText(), /cancelled/);
  await waitFor(() => !running(mapper), 'the mapper command killed by the cancel', 10_000);
  let status = '';
  await waitFor(async () => /^geartrain\.map@slow\t0\t0\t/m.test((status = await adminRequest(server.port, 'status'))), 'no map task left on the server', 10_000).catch((err) => {
    t.log(status);
    throw err;
  });
  t.pass();
});
