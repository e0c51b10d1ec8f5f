/**
 * Files a node reads (issue 13, attack 5): log files are served by their real path, and only from
 * the directories of the --logs globs unless --follow-symlinks.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { spawnGeartrain } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/ports.ts';
import { combinedLine } from '../helpers/cluster.ts';
import { catalogShards, nodeCluster } from './helpers/node-fixture.ts';

/** A file outside the logs directory, in the log format, with a marker line. */
function secretFile(dir: string): string {
  const file = path.join(dir, 'private', 'shadow');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, combinedLine(new Date('2026-10-01T00:00:00Z'), 'SECRET-MARKER') + '\n');
  return file;
}

async function grepCount(t: Parameters<typeof spawnGeartrain>[0], servers: string, pattern: string): Promise<string> {
  const p = spawnGeartrain(t, 'run', ['grep', pattern, '--servers', servers, '--wait-nodes', '1', '-q']);
  t.is(await p.exited(), 0, p.stderrText());
  return p.stdoutText();
}

test('a symlink in the logs directory to a file outside it is not catalogued nor read, with a warning; --follow-symlinks serves it', async (t) => {
  let secret = '';
  let link = '';
  let inside = '';
  const logs = async (dir: string) => {
    secret = secretFile(dir);
    link = path.join(dir, 'logs', 'x.log');
    fs.symlinkSync(secret, link);
    // A link that stays inside the directory is fine (served under its real path).
    inside = path.join(dir, 'logs', 'current.log');
    fs.symlinkSync(path.join(dir, 'logs', 'access.log'), inside);
    return [path.join(dir, 'logs', '*.log')];
  };
  const c = await nodeCluster(t, { logs });
  const shards = await catalogShards(c.server.port, 'n1');
  t.deepEqual(shards.map((s) => s.path).sort(), [c.log], 'the access log once, by its real path; not the secret');
  await waitFor(() => /not serving .*x\.log: it leads to .*private\/shadow, outside the --logs directories \(start the node with --follow-symlinks to serve it\)/.test(c.node.stderrText()), 'the warning');
  t.is(c.node.stderrText().split('not serving').length - 1, 1, 'warned once');
  t.is(await grepCount(t, c.server.address, 'SECRET-MARKER'), '');

  const followed = await nodeCluster(t, { logs, extra: ['--follow-symlinks'] });
  t.true((await catalogShards(followed.server.port, 'n1')).some((s) => s.path === secret));
  t.regex(await grepCount(t, followed.server.address, 'SECRET-MARKER'), /SECRET-MARKER/);
});
