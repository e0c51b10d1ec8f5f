/**
 * The segment store as a library: group-committed appends in arrival order, rotation by size and
 * by day, recovery after a crash (torn index line, data never indexed), the deduplication index,
 * and replica batches written out of order.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { GeartrainError } from '../../src/errors.ts';
import { SegmentStore, type SegmentStoreOptions } from '../../src/logs/segments.ts';
import { tempDir } from '../helpers/cluster.ts';

const meta = (lines: number, key?: string) => ({ lines, firstTime: null, lastTime: null, key });

async function openStore(t: ExecutionContext, dir: string, extra: Partial<SegmentStoreOptions> = {}): Promise<SegmentStore> {
  const store = await SegmentStore.open({ dir, node: 'n1', format: 'combined', ...extra });
  t.teardown(() => store.close());
  return store;
}

test('appends made at once are stored in arrival order, each resolving once fsync\'d, in one segment file', async (t) => {
  const dir = path.join(tempDir(t), 'segments');
  const store = await openStore(t, dir);
  const batches = Array.from({ length: 200 }, (_, i) => Buffer.from(`line ${i}\n`));
  const locs = batches.map((b, i) => store.append(store.target(b.length), b, meta(1, `k${i}`)));
  await Promise.all(locs.map((l) => l.committed));
  const seg = locs[0]!.segment;
  t.true(locs.every((l) => l.segment === seg));
  t.is(fs.readFileSync(seg.dataPath, 'utf8'), batches.join(''));
  t.is(seg.contiguous, fs.statSync(seg.dataPath).size);
  t.is(seg.lines, 200);
  t.is(Number(execFileSync('sh', ['-c', 'grep -c \'"t":"b"\' "$1"', 'sh', seg.indexPath]).toString()), 200, 'one index record per batch');
  t.is(store.lookup('k7')?.offset, locs[7]!.offset);
});

test('a segment is closed when the next batch would pass the size limit, and when the UTC day changes', async (t) => {
  const dir = path.join(tempDir(t), 'segments');
  let now = Date.UTC(2026, 9, 1, 23, 59, 0);
  const store = await openStore(t, dir, { maxSegmentBytes: 25, now: () => now });
  const put = async (text: string) => {
    const b = Buffer.from(text);
    await store.append(store.target(b.length), b, meta(1)).committed;
  };
  await put('0123456789\n');
  await put('0123456789\n');
  await put('0123456789\n'); // 33 bytes would pass 25
  now += 2 * 60_000;
  await put('next day\n');
  const names = fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort();
  t.deepEqual(names, ['n1-20261001-0001.log', 'n1-20261001-0002.log', 'n1-20261002-0001.log']);
  t.is(fs.readFileSync(path.join(dir, names[0]!), 'utf8'), '0123456789\n0123456789\n');
  // A batch larger than the limit still goes somewhere: alone in a fresh segment.
  await put('x'.repeat(40) + '\n');
  t.is(fs.readdirSync(dir).filter((n) => n.endsWith('.log')).length, 4);
});

test('after a crash, data never indexed and a torn index line are cut off; keys survive; a new segment is opened', async (t) => {
  const dir = path.join(tempDir(t), 'segments');
  const first = await SegmentStore.open({ dir, node: 'n1', format: 'combined' });
  const b = Buffer.from('kept 1\nkept 2\n');
  const loc = first.append(first.target(b.length), b, meta(2, 'u:job-1:abc'));
  await loc.committed;
  await first.close();
  const seg = loc.segment;
  fs.appendFileSync(seg.dataPath, 'half written, never acknowledged\n');
  fs.appendFileSync(seg.indexPath, '{"t":"b","o":14,"n":33,');

  const store = await openStore(t, dir);
  t.is(fs.readFileSync(seg.dataPath, 'utf8'), 'kept 1\nkept 2\n');
  t.true(fs.readFileSync(seg.indexPath, 'utf8').endsWith('}\n'));
  const again = store.get(seg.id)!;
  t.like(again, { contiguous: 14, lines: 2, sealed: true });
  t.is(store.lookup('u:job-1:abc')?.segment, again);
  const next = store.target(5);
  t.not(next, again);
  t.is(next.header.name, 'n1-' + seg.header.name.split('-')[1] + '-0002');
});

test('replica batches may arrive out of order: a later one waits for the batches before it, one past the end alone is refused; a resent batch is a duplicate', async (t) => {
  const dir = path.join(tempDir(t), 'segments');
  const store = await openStore(t, dir, { node: 'n2', replicaGapWaitMs: 10_000 });
  const target = { segmentId: 's-0123456789abcdef', origin: 'n1', segment: 'n1-20261001-0001', format: 'combined', created: 1 };
  const a = Buffer.from('aaaa\n');
  const b = Buffer.from('bbb\n');
  const later = store.writeReplica({ ...target, offset: a.length }, b, meta(1, 'kb'));
  t.is(store.get(target.segmentId), undefined, 'nothing is written past the end of the segment (no hole)');
  t.is(await store.writeReplica({ ...target, offset: 0 }, a, meta(1, 'ka')), 'stored');
  t.is(await later, 'stored');
  const seg = store.get(target.segmentId)!;
  t.is(seg.contiguous, a.length + b.length);
  t.is(fs.readFileSync(seg.dataPath, 'utf8'), 'aaaa\nbbb\n');
  t.is(await store.writeReplica({ ...target, offset: 0 }, a, meta(1, 'ka')), 'duplicate');
  const err = await t.throwsAsync<GeartrainError>(store.writeReplica({ ...target, offset: 0 }, Buffer.from('other\n'), meta(1)));
  t.is(err?.code, 'ERR_STORE');
  t.is(store.lookup('kb')?.segment, seg, 'replica keys are known too (a retried job landing here is not stored again)');
  const own = store.target(3);
  await store.append(own, Buffer.from('x\n'), meta(1)).committed;
  const refused = await t.throwsAsync<GeartrainError>(store.writeReplica({ ...target, segmentId: own.id, segment: own.header.name, offset: 0 }, a, meta(1)));
  t.is(refused?.code, 'ERR_STORE');

  // Alone, a batch past the end waits for the ones before it, then is refused; nothing is created.
  const hurried = await openStore(t, path.join(tempDir(t), 'segments'), { node: 'n3', replicaGapWaitMs: 50 });
  const past = await t.throwsAsync<GeartrainError>(hurried.writeReplica({ ...target, offset: 2 ** 31 }, a, meta(1)));
  t.is(past?.code, 'ERR_INVALID_ARGUMENT');
  t.regex(past!.message, /starts past the end of the segment here \(0 bytes\)/);
  t.is(hurried.get(target.segmentId), undefined);
});
