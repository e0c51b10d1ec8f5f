/**
 * Ingestion on guarded nodes: `logger` stays open by default, takes only batches signed with the
 * ingest secret once a node has one (`geartrain ship` and `geartrain job` sign when
 * GEARTRAIN_INGEST_SECRET is set; plain `gearman -f logger` then cannot ingest), and replica
 * copies between nodes with the cluster secret are signed by the node that sends them.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { catFiles, geartrainShell, segmentFiles, sh, startNode, startServerProcess, tempDir, wcLines } from '../helpers/cluster.ts';
import { waitFor } from '../helpers/ports.ts';
import { submitRaw } from './helpers/node-fixture.ts';

const INGEST = 'ingest-secret-0123456789';

test('with an ingest secret, gearman -f logger is refused and stores nothing; geartrain ship and geartrain job sign and are stored', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const secretFile = path.join(dir, 'ingest.secret');
  fs.writeFileSync(secretFile, `${INGEST}\n`, { mode: 0o600 });
  const data = path.join(dir, 'data');
  await startNode(t, { name: 'i1', servers: server.address, data, extra: ['--ingest-secret-file', secretFile] });

  const plain = await sh(`printf 'plain line\\n' | gearman -h 127.0.0.1 -p ${server.port} -f logger`);
  t.is(plain.code, 1);
  t.regex(plain.stderr, /Job failed/);
  const raw = await submitRaw(server.port, 'logger@i1', 'raw line\n');
  t.is(raw.text, 'node i1 takes only log lines signed with the ingest secret (GEARTRAIN_INGEST_SECRET); this batch is unsigned');
  t.is(wcLines(segmentFiles(data)), 0);

  const env = { GEARTRAIN_INGEST_SECRET: INGEST };
  const ship = await sh(`printf 'shipped 1\\nshipped 2\\n' | ${geartrainShell('ship')} -f logger --servers ${server.address} --spool '${path.join(dir, 'spool')}'`, env);
  t.is(ship.code, 0, ship.stderr);
  await waitFor(() => wcLines(segmentFiles(data)) === 2, 'the shipped lines to be stored');
  const job = await sh(`printf 'job line\\n' | ${geartrainShell('job')} --servers ${server.address} -f logger@i1`, env);
  t.is(job.code, 0, job.stderr);
  t.is(catFiles(segmentFiles(data)), 'shipped 1\nshipped 2\njob line\n', 'stored without the envelope');
});

test('replicas between nodes with the cluster secret are signed; an unsigned copy from outside is refused', async (t) => {
  const dir = tempDir(t);
  const server = await startServerProcess(t, ['-q', 'memory', '-p', '0']);
  const env = { GEARTRAIN_SECRET: 'replica-secret-0123456789' };
  const dataA = path.join(dir, 'a');
  const dataB = path.join(dir, 'b');
  await startNode(t, { name: 'ra', servers: server.address, data: dataA, replicas: 2, env });
  await startNode(t, { name: 'rb', servers: server.address, data: dataB, replicas: 2, env });
  const r = await sh(`printf 'one\\ntwo\\n' | gearman -h 127.0.0.1 -p ${server.port} -f logger@ra`);
  t.is(r.code, 0, r.stderr);
  t.is(catFiles(segmentFiles(dataA)), 'one\ntwo\n');
  t.is(catFiles(segmentFiles(dataB)), 'one\ntwo\n', 'the copy on rb');

  const header = { v: 1, segmentId: 's-00000000deadbeef', origin: 'evil', segment: 'evil-20261001-0001', format: 'combined', created: Date.now(), offset: 0, lines: 1, firstTime: null, lastTime: null };
  const forged = await submitRaw(server.port, 'geartrain.replica@rb', JSON.stringify(header) + '\nforged\n');
  t.regex(forged.text, /^node rb takes only tasks signed with the cluster secret \(GEARTRAIN_SECRET\); this one is unsigned$/);
  t.is(segmentFiles(dataB).length, 1);
});
