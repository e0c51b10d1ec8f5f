/**
 * Files a node reads and writes (issue 13, attacks 5 and 6): log files are served by their real
 * path, and only from the directories of the --logs globs unless --follow-symlinks; a replica
 * batch is written where its segment ends or before, never past it (no holes, no sparse files).
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { spawnGeartrain } from '../helpers/cluster.ts';
import { adminRequest } from '../helpers/gearmand.ts';
import { waitFor } from '../helpers/ports.ts';
import { combinedLine } from '../helpers/cluster.ts';
import { catalogShards, listing, nodeCluster, submitRaw } from './helpers/node-fixture.ts';

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

function replicaPayload(offset: number, data: string, segmentId = 's-00000000deadbeef'): Buffer {
  const header = { v: 1, segmentId, origin: 'evil', segment: 'evil-20261001-0001', format: 'combined', created: Date.now(), offset, lines: 1, firstTime: null, lastTime: null };
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), Buffer.from(data)]);
}

test('a replica batch at offset 2^31 is refused (no 2 GiB sparse file); batches that arrive out of order still fill their segment', async (t) => {
  const c = await nodeCluster(t);
  const port = c.server.port;
  const before = listing(c.data);
  const r = await submitRaw(port, 'geartrain.replica@n1', replicaPayload(2 ** 31, 'x\n'));
  t.is(r.outcome, 'exception');
  t.regex(r.text, /replica batch at evil-20261001-0001:2147483648 starts past the end of the segment here \(0 bytes\): the batches before it did not arrive/);
  t.deepEqual(listing(c.data), before, 'no segment file was created');
  // An overlapping batch is refused as well.
  const line = combinedLine(new Date('2026-10-01T00:00:00Z'), 'a') + '\n';
  t.is((await submitRaw(port, 'geartrain.replica@n1', replicaPayload(0, line))).text, 'stored');
  const overlap = await submitRaw(port, 'geartrain.replica@n1', replicaPayload(3, line));
  t.regex(overlap.text, /overlaps batches stored before/);

  // Honest copies sent at once may arrive in any order: the later one waits for the earlier.
  const id = 's-00000000feedface';
  const later = submitRaw(port, 'geartrain.replica@n1', replicaPayload(line.length, line, id));
  await waitFor(async () => /^geartrain\.replica@n1\t1\t1\t/m.test(await adminRequest(port, 'status')), 'the later batch to be waiting on the node');
  const earlier = await submitRaw(port, 'geartrain.replica@n1', replicaPayload(0, line, id));
  t.deepEqual([(await later).text, earlier.text], ['stored', 'stored']);
  const sizes = Object.entries(listing(path.join(c.data, 'segments'))).filter(([name]) => name.endsWith('.log')).map(([, size]) => size).sort((a, b) => a - b);
  t.deepEqual(sizes, [line.length, 2 * line.length]);
});
