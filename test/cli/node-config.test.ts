/**
 * Mistakes in a node's configuration fail at once, before any job server is contacted: a --logs
 * glob that names a directory or matches no file, an unknown format name after the glob or in
 * --format. Exit status 2 (usage) and one line saying which flag, why, and what would do.
 * Before, such a node printed `ready (0 shards)` and runs later said `no partial results to merge`.
 */
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { runGeartrain, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { refusedPort } from '../helpers/ports.ts';

const FORMATS = 'common, combined, combinedio, vhost_combined, vhost_common, nginx, nginx_combined, clf, ncsa';

function logDir(dir: string): string {
  const logs = path.join(dir, 'apache2');
  fs.mkdirSync(logs);
  for (const f of ['access.log', 'access.log.1', 'error.log']) fs.writeFileSync(path.join(logs, f), '');
  return logs;
}

async function node(t: ExecutionContext, dir: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runGeartrain(t, 'node', ['--name', 'cfg', '--data', path.join(dir, 'data'), '-p', String(await refusedPort()), ...args]);
}

test('--logs naming a directory exits 2, saying it is one, with a glob to use and the files in it', async (t) => {
  const dir = tempDir(t);
  const logs = logDir(dir);
  const r = await node(t, dir, ['--logs', logs]);
  t.is(r.code, 2, r.stderr);
  t.is(r.stdout, '');
  t.is(r.stderr, `geartrain node: --logs ${logs}: is a directory; give a glob of the log files in it, e.g. '${logs}/access.log*' (it holds access.log, access.log.1, error.log)\n`);
});

test('--logs matching no file exits 2, saying what its directory holds, or that the directory does not exist', async (t) => {
  const dir = tempDir(t);
  const logs = logDir(dir);
  const typo = await node(t, dir, ['--logs', `${logs}/acess.log*`]);
  t.is(typo.code, 2, typo.stderr);
  t.is(typo.stderr, `geartrain node: --logs ${logs}/acess.log*: matches no file (${logs} holds access.log, access.log.1, error.log)\n`);
  const nowhere = await node(t, dir, ['--logs', `${dir}/nginx/*.log`]);
  t.is(nowhere.code, 2, nowhere.stderr);
  t.is(nowhere.stderr, `geartrain node: --logs ${dir}/nginx/*.log: matches no file (there is no directory ${dir}/nginx)\n`);
  // One good glob does not excuse a bad one.
  const mixed = await node(t, dir, ['--logs', `${logs}/access.log*`, '--logs', `${logs}/other_vhosts*:vhost_combined`]);
  t.is(mixed.code, 2, mixed.stderr);
  t.regex(mixed.stderr, /^geartrain node: --logs .*\/other_vhosts\*:vhost_combined: matches no file /);
});

test('--logs naming a device exits 2 saying it is not a regular file (not that its directory is empty)', async (t) => {
  const dir = tempDir(t);
  const r = await node(t, dir, ['--logs', '/dev/null']);
  t.is(r.code, 2, r.stderr);
  t.is(r.stderr, 'geartrain node: --logs /dev/null: is not a regular file (a device, socket or pipe): logs are read from files\n');
});

test('an unknown format name after the glob or in --format exits 2 with the known names and the likely one', async (t) => {
  const dir = tempDir(t);
  const logs = logDir(dir);
  const suffix = await node(t, dir, ['--logs', `${logs}/access.log:combinde`]);
  t.is(suffix.code, 2, suffix.stderr);
  t.is(suffix.stderr, `geartrain node: --logs ${logs}/access.log:combinde: unknown log format name "combinde" (did you mean combined?); known: ${FORMATS}\n`);
  const flag = await node(t, dir, ['--logs', `${logs}/access.log`, '--format', 'vhost_comon']);
  t.is(flag.code, 2, flag.stderr);
  t.is(flag.stderr, `geartrain node: --format "vhost_comon": unknown log format name "vhost_comon" (did you mean vhost_common?); known: ${FORMATS}\n`);
  const far = await node(t, dir, ['--logs', `${logs}/access.log:apache`]);
  t.is(far.code, 2, far.stderr);
  t.is(far.stderr, `geartrain node: --logs ${logs}/access.log:apache: unknown log format name "apache"; known: ${FORMATS}\n`);
});

test('a file whose name has a colon followed by a word is still served as a path', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'app:prod');
  fs.writeFileSync(file, '127.0.0.1 - - [01/Oct/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "x"\n');
  const server = await startServerProcess(t, ['-p', '0', '-q', 'memory']);
  const n = await startNode(t, { name: 'colon', servers: server.address, data: path.join(dir, 'data'), logs: [file] });
  t.is(n.readyShards, 1);
});
