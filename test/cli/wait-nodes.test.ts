/**
 * `run --wait-nodes N` waits with a limit: on a terminal it says who has registered so far; after
 * --wait-timeout S (default 30) it gives up with exit status 1 naming the nodes it saw (no result
 * was computed: a failure, not an incomplete result). Before, it waited 60 s in silence.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { geartrainShell, runGeartrain, sh, spawnProcess, startNode, startServerProcess, tempDir } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/ports.ts';

async function oneNode(t: ExecutionContext): Promise<{ dir: string; servers: string; log: string }> {
  const dir = tempDir(t);
  const log = path.join(dir, 'access.log');
  const g = await runGeartrain(t, 'gen-logs', [log, '--lines', '1000', '--seed', '8']);
  t.is(g.code, 0, g.stderr);
  const server = await startServerProcess(t, ['-p', '0', '-q', 'memory']);
  await startNode(t, { name: 'web1', servers: server.address, data: path.join(dir, 'd1'), logs: [log], extra: ['--concurrency', '1'] });
  return { dir, servers: server.address, log };
}

test('without enough nodes, --wait-timeout 2 gives up after 2 s with exit 1 naming the nodes seen; not on a terminal, nothing else is printed', async (t) => {
  const { servers } = await oneNode(t);
  const r = await runGeartrain(t, 'run', ['grep', '-c', 'GET', '--servers', servers, '--wait-nodes', '3', '--wait-timeout', '2']);
  t.is(r.code, 1, r.stderr);
  t.is(r.stdout, '');
  t.is(r.stderr, 'geartrain run: waited 2 s for 3 node(s); 1 registered: web1 (start the others, lower --wait-nodes, or wait longer with --wait-timeout S)\n');
});

test('on a terminal, the wait says how many nodes are there and which, and how long it will still wait', async (t) => {
  const { servers } = await oneNode(t);
  // script(1) gives the command a terminal; its output is what the terminal showed.
  const r = await sh(`script -qec "${geartrainShell('run').replace(/"/g, '\\"')} grep -c GET --servers ${servers} --wait-nodes 2 --wait-timeout 2" /dev/null`);
  t.is(r.code, 1, r.stdout);
  t.regex(r.stdout, /\r\x1b\[Kwaiting for 2 nodes: 1 registered \(web1\); giving up in [12] s/);
  t.regex(r.stdout, /geartrain run: waited 2 s for 2 node\(s\); 1 registered: web1 /);
});

test('a node that registers while the run waits is waited for and its logs are read', async (t) => {
  const { dir, servers, log } = await oneNode(t);
  const out = path.join(dir, 'result.json');
  // On a terminal (script(1)), so the wait shows: web2 starts once the run says it is waiting.
  const run = spawnProcess(t, ['script', '-qec', `${geartrainShell('run')} grep -c GET --servers ${servers} --wait-nodes 2 --json --out ${out}`, '/dev/null']);
  await waitFor(() => /waiting for 2 nodes: 1 registered \(web1\)/.test(run.stdoutText()), 'the run to wait', 60_000);
  // A copy: the same file served by two nodes would be one shard with two holders.
  const copy = path.join(dir, 'web2.log');
  fs.copyFileSync(log, copy);
  await startNode(t, { name: 'web2', servers, data: path.join(dir, 'd2'), logs: [copy], extra: ['--concurrency', '1'] });
  t.is(await run.exited(), 0, run.stdoutText());
  const gets = Number(execFileSync('grep', ['-c', '-F', 'GET', log]).toString().trim());
  t.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')).result, { total: 2 * gets, perNode: { web1: gets, web2: gets } });
});
