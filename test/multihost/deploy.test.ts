/**
 * docs/deploy.md's systemd units do what the page says: the server unit's ExecStart, run on a host
 * with the address it names (10.0.0.5), listens there on 4730; the node unit's, on two web servers
 * (`%H` their host names, the secret from its EnvironmentFile), registers each node; the
 * coordinator's commands then count the status classes of both hosts' logs, as awk does.
 *
 * What systemd would do around ExecStart is done by the test: the StateDirectory is made, the
 * WorkingDirectory entered, the EnvironmentFile read (from a file of the test in place of
 * /etc/geartrain/secret.env), and User= is not switched. Hosts and paths are those of
 * test/helpers/doc-hosts.ts, in a namespace bed (root).
 */
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { tempDir, waitForLine } from '../helpers/cluster.ts';
import { awkStatusClasses, DocHosts, makeLogs, shownStatusClasses } from '../helpers/doc-hosts.ts';
import { TestBed } from '../helpers/netns.ts';
import { readmeBlocks } from '../helpers/readme-blocks.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEPLOY = fs.readFileSync(path.join(ROOT, 'docs/deploy.md'), 'utf8');
const SECRET_FILE = '/etc/geartrain/secret.env';

/** The [Service] settings of the unit whose Description starts with `what`. */
function unit(what: string): Record<string, string> {
  const block = readmeBlocks(DEPLOY).find((b) => b.lang === 'ini' && new RegExp(`^Description=${what}`, 'm').test(b.code));
  if (!block) throw new Error(`docs/deploy.md has no unit described as '${what}'`);
  return Object.fromEntries(block.code.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** What systemd does to start the unit, as a shell script for the bed (see the top). */
function startScript(u: Record<string, string>, host: string, secretFile: string): string {
  return [
    u.StateDirectory ? `mkdir -p /var/lib/${u.StateDirectory}` : '',
    u.WorkingDirectory ? `cd ${u.WorkingDirectory}` : '',
    u.EnvironmentFile ? `set -a; . '${u.EnvironmentFile === SECRET_FILE ? secretFile : u.EnvironmentFile}'; set +a` : '',
    `exec ${u.ExecStart!.replace(/^\/usr\/local\/bin\/geartrain /, 'geartrain ').replace(/%H/g, host)}`,
  ].join('\n');
}

test("docs/deploy.md's units start a server listening on 10.0.0.5:4730 and a node on each web server; the coordinator's run counts both", async (t) => {
  t.timeout(10 * 60_000);
  const hosts = ['srv', 'web1', 'web2', 'coord'];
  const bed = await TestBed.create(t, 6, hosts);
  const addresses: Record<string, string> = { srv: '10.0.0.5/24', web1: '10.0.0.11/24', web2: '10.0.0.12/24', coord: '10.0.0.20/24' };
  for (const h of hosts) await bed.addAddress(h, addresses[h]!);
  const dir = tempDir(t, 'geartrain-deploy-');
  const doc = new DocHosts(bed, hosts, dir);
  const secretFile = path.join(dir, 'secret.env');
  fs.writeFileSync(secretFile, 'GEARTRAIN_SECRET=deploy-test-secret-0123456789\n');
  const logs = [...(await makeLogs(doc.path('web1', '/var/log'), 60)), ...(await makeLogs(doc.path('web2', '/var/log'), 70))];

  const server = doc.start(t, 'srv', startScript(unit('geartrain job server'), 'srv', secretFile), 1);
  await waitForLine(server, /^listening on 10\.0\.0\.5:4730$/m, 'the server unit', 120_000);
  let n = 2;
  for (const web of ['web1', 'web2']) {
    const node = doc.start(t, web, startScript(unit('geartrain log node'), web, secretFile), n++);
    await waitForLine(node, new RegExp(`^node ${web} ready \\(4 shards\\)$`, 'm'), `the node unit on ${web}`, 120_000);
  }
  t.true(fs.existsSync(doc.path('web1', '/var/lib/geartrain-node')), 'the node keeps its data in its StateDirectory');

  const coordinator = readmeBlocks(DEPLOY).find((b) => b.lang === 'sh' && b.code.includes('geartrain run'))!;
  const run = doc.start(t, 'coord', coordinator.code.replaceAll(SECRET_FILE, secretFile), n++);
  const code = await run.exited();
  t.is(code, 0, run.stderrText());
  t.deepEqual(shownStatusClasses(run.stdoutText()), awkStatusClasses(logs));
  await doc.stopAll();
});
