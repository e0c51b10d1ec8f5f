/**
 * The node catalogue over log files, as a library: plain and gzip files, growth, rotation,
 * truncation, the persistent scan cache and time estimates. Line counts come from `wc -l`/`zcat`,
 * times from the lines the tests write.
 */
import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { nodeCatalogSchema, parseNodeCatalog, type ShardInfo } from '../../src/logs/catalog.ts';
import { FileShards } from '../../src/logs/file-shards.ts';
import { parseLogSource } from '../../src/logs/log-sources.ts';
import { LogCatalog } from '../../src/logs/node-catalog.ts';
import { ScanCache } from '../../src/logs/scan-cache.ts';
import { SegmentStore } from '../../src/logs/segments.ts';
import { combinedLine, tempDir } from '../helpers/cluster.ts';

const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);

/** Lines one second apart from `start`, written out of order as Apache does (the earliest is not first). */
function lines(count: number, startMs: number, tag: string): { text: string; min: number; max: number } {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(combinedLine(new Date(startMs + i * 1000), `${tag}/${i}`));
  if (count > 2) [out[0], out[1]] = [out[1]!, out[0]!];
  return { text: out.join('\n') + '\n', min: startMs, max: startMs + (count - 1) * 1000 };
}

function wcL(file: string): number {
  return Number(execFileSync('sh', ['-c', 'wc -l < "$1"', 'sh', file]).toString().trim());
}

function zcatWcL(file: string): number {
  return Number(execFileSync('sh', ['-c', 'zcat "$1" | wc -l', 'sh', file]).toString().trim());
}

async function catalogOver(t: ExecutionContext, dataDir: string, globs: string[], opts: { budget?: number } = {}) {
  const store = await SegmentStore.open({ dir: path.join(dataDir, 'segments'), node: 'n1', format: 'combined' });
  const cache = new ScanCache(dataDir);
  const files = new FileShards({ sources: globs.map((g) => parseLogSource(g)), cache, exclude: [dataDir] });
  const catalog = new LogCatalog({ node: 'n1', files, store, ingestFormat: 'combined', replicas: 1, scanBudgetBytes: opts.budget });
  t.teardown(async () => {
    await catalog.close();
    await store.close();
  });
  return { catalog, cache, files };
}

const byPath = (shards: ShardInfo[], p: string) => shards.find((s) => s.path === p);

test('plain and gzip files become shards with wc -l line counts and exact first/last times', async (t) => {
  const dir = tempDir(t);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  const a = lines(50, T0, 'a');
  const b = lines(30, T0 - 86_400_000, 'b');
  const c = lines(20, T0 - 2 * 86_400_000, 'c');
  fs.writeFileSync(path.join(logs, 'access.log'), a.text);
  fs.writeFileSync(path.join(logs, 'access.log.1'), b.text);
  fs.writeFileSync(path.join(logs, 'access.log.2'), c.text);
  execFileSync('gzip', [path.join(logs, 'access.log.2')]);
  const { catalog } = await catalogOver(t, path.join(dir, 'data'), [path.join(logs, 'access.log*')]);
  const cat = await catalog.snapshot();
  t.true(nodeCatalogSchema.safeParse(cat).success);
  t.is(cat.shards.length, 3);

  const plain = byPath(cat.shards, path.join(logs, 'access.log'))!;
  t.like(plain, { kind: 'file', gzip: false, complete: true, timeExact: true, timeToleranceMs: 0, firstTime: a.min, lastTime: a.max, formatName: 'combined' });
  t.is(plain.lines, wcL(path.join(logs, 'access.log')));
  t.is(plain.size, fs.statSync(path.join(logs, 'access.log')).size);

  const gz = byPath(cat.shards, path.join(logs, 'access.log.2.gz'))!;
  t.like(gz, { gzip: true, complete: true, timeExact: true, firstTime: c.min, lastTime: c.max });
  t.is(gz.lines, zcatWcL(path.join(logs, 'access.log.2.gz')));
  t.is(gz.size, fs.statSync(path.join(logs, 'access.log.2.gz')).size);
  t.is(byPath(cat.shards, path.join(logs, 'access.log.1'))!.lines, 30);
  t.is(new Set(cat.shards.map((s) => s.id)).size, 3, 'ids are distinct');
});

test('a growing file keeps its id while its size, lines and last time grow; a line being written is not counted', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  const first = lines(10, T0, 'x');
  fs.writeFileSync(file, first.text);
  const { catalog } = await catalogOver(t, path.join(dir, 'data'), [file]);
  const before = (await catalog.snapshot()).shards[0]!;
  t.is(before.lines, 10);
  t.true(before.growing, 'just written');

  fs.appendFileSync(file, combinedLine(new Date(T0 + 3_600_000), 'later') + '\n' + combinedLine(new Date(T0 + 7_200_000), 'partial'));
  const after = (await catalog.snapshot()).shards[0]!;
  t.is(after.id, before.id);
  t.is(after.size, fs.statSync(file).size);
  t.is(after.lines, wcL(file));
  t.is(after.lastTime, T0 + 3_600_000, 'the unterminated line is not scanned yet');
  t.false(after.complete);

  fs.appendFileSync(file, '\n');
  const done = (await catalog.snapshot()).shards[0]!;
  t.is(done.lines, wcL(file));
  t.is(done.lastTime, T0 + 7_200_000);
  t.true(done.complete);
});

test('rotation: the renamed file keeps its shard id under its new path; the new file is a new shard', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  fs.writeFileSync(file, lines(5, T0, 'old').text);
  const { catalog } = await catalogOver(t, path.join(dir, 'data'), [path.join(dir, 'access.log*')]);
  const old = (await catalog.snapshot()).shards[0]!;

  fs.renameSync(file, file + '.1');
  fs.writeFileSync(file, lines(3, T0 + 600_000, 'new').text);
  const cat = await catalog.snapshot();
  t.is(cat.shards.length, 2);
  const rotated = byPath(cat.shards, file + '.1')!;
  t.is(rotated.id, old.id);
  t.is(rotated.lines, 5);
  const fresh = byPath(cat.shards, file)!;
  t.not(fresh.id, old.id);
  t.is(fresh.lines, 3);
  t.deepEqual(await catalog.locate(old.id), { id: old.id, kind: 'file', path: file + '.1', gzip: false, size: rotated.size, format: rotated.format });

  // Rotated out of the glob: gone from the catalogue.
  fs.renameSync(file + '.1', path.join(dir, 'archived'));
  const later = await catalog.snapshot();
  t.deepEqual(later.shards.map((s) => s.id), [fresh.id]);
  t.is(await catalog.locate(old.id), undefined);
});

test('a refresh asked for while another runs lists the files again: a rotation seen by the caller is never missed', async (t) => {
  const dir = tempDir(t);
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  fs.writeFileSync(path.join(logs, 'access.log'), lines(3, T0, 'a').text);
  const late = path.join(logs, 'late.log');
  let second: Promise<void> | undefined;
  // The scan cache is read for each new file after the directory was listed: from there, a file
  // made now is certainly not in the running refresh's listing.
  class HookedCache extends ScanCache {
    override get(key: string) {
      if (!second) {
        fs.writeFileSync(late, lines(2, T0, 'late').text);
        second = files.refresh();
      }
      return super.get(key);
    }
  }
  const files: FileShards = new FileShards({ sources: [parseLogSource(path.join(logs, '*.log'))], cache: new HookedCache(path.join(dir, 'data')) });
  await files.refresh();
  t.truthy(second, 'the first refresh read the scan cache');
  await second;
  t.deepEqual((await files.shards()).map((s) => path.basename(s.path)).sort(), ['access.log', 'late.log']);
});

test('truncation in place (copytruncate) restarts the shard with a new id and an empty count', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  fs.writeFileSync(file, lines(40, T0, 'before').text);
  const { catalog } = await catalogOver(t, path.join(dir, 'data'), [file]);
  const before = (await catalog.snapshot()).shards[0]!;
  t.is(before.lines, 40);

  fs.truncateSync(file, 0);
  fs.appendFileSync(file, lines(2, T0 + 86_400_000, 'after').text);
  const after = (await catalog.snapshot()).shards[0]!;
  t.not(after.id, before.id);
  t.is(after.lines, 2);
  t.is(after.firstTime, T0 + 86_400_000);

  // Truncated and refilled past its old size between two looks: the first line tells.
  const again = lines(60, T0 + 2 * 86_400_000, 'again');
  fs.writeFileSync(file, again.text);
  const third = (await catalog.snapshot()).shards[0]!;
  t.not(third.id, after.id);
  t.is(third.lines, 60);
  t.is(third.firstTime, again.min);
});

test('a restart reads exact counts from the scan cache instead of rescanning', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const a = lines(200, T0, 'a');
  fs.writeFileSync(path.join(dir, 'a.log'), a.text);
  fs.writeFileSync(path.join(dir, 'b.log'), lines(100, T0, 'b').text);
  execFileSync('gzip', [path.join(dir, 'b.log')]);
  const first = await catalogOver(t, data, [path.join(dir, '*.log*')]);
  const cold = await first.catalog.snapshot();
  t.true(cold.scan.bytesScanned > 0);
  t.true(cold.shards.every((s) => s.timeExact));
  first.cache.save();

  const second = await catalogOver(t, data, [path.join(dir, '*.log*')], { budget: 0 });
  const warm = await second.catalog.snapshot();
  t.is(warm.scan.bytesScanned, 0, 'nothing scanned');
  t.is(warm.scan.cacheHits, 2);
  t.deepEqual(
    warm.shards.map((s) => [s.id, s.lines, s.firstTime, s.lastTime, s.timeExact]),
    cold.shards.map((s) => [s.id, s.lines, s.firstTime, s.lastTime, s.timeExact]),
  );

  // The plain file grew while the node was down: only the new bytes are scanned.
  const extra = combinedLine(new Date(T0 + 10_000_000), 'grown') + '\n';
  fs.appendFileSync(path.join(dir, 'a.log'), extra);
  const third = await catalogOver(t, data, [path.join(dir, '*.log*')]);
  const grown = await third.catalog.snapshot();
  t.is(grown.scan.bytesScanned, Buffer.byteLength(extra));
  t.is(byPath(grown.shards, path.join(dir, 'a.log'))!.lines, 201);
  t.is(byPath(grown.shards, path.join(dir, 'a.log'))!.lastTime, T0 + 10_000_000);
});

test('a file not scanned yet gets estimated times from its first and last lines, with a tolerance', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'big.log');
  const l = lines(3000, T0, 'big');
  fs.writeFileSync(file, l.text);
  const { catalog } = await catalogOver(t, path.join(dir, 'data'), [file], { budget: 0 });
  const s = (await catalog.snapshot()).shards[0]!;
  t.false(s.timeExact);
  t.is(s.lines, null);
  t.true(s.timeToleranceMs > 0);
  t.true(Math.abs(s.firstTime! - l.min) <= s.timeToleranceMs);
  t.true(Math.abs(s.lastTime! - l.max) <= s.timeToleranceMs);
  t.true((await catalog.snapshot({ scanBudgetBytes: 0 })).scan.pendingBytes > 0);
  const exact = (await catalog.snapshot({ scanBudgetBytes: 1 << 30 })).shards[0]!;
  t.like(exact, { timeExact: true, firstTime: l.min, lastTime: l.max, lines: 3000 });
});

test('a format after the last colon applies to its glob; a colon in a path is kept', async (t) => {
  const dir = tempDir(t);
  const vdir = path.join(dir, 'host:8080');
  fs.mkdirSync(vdir);
  fs.writeFileSync(path.join(vdir, 'access.log'), lines(3, T0, 'c').text);
  const vhost = 'example.org:443 ' + combinedLine(new Date(T0), 'v').replace(/ 123 /, ' 456 ') + '\n';
  fs.writeFileSync(path.join(dir, 'other_vhosts_access.log'), vhost);
  const { catalog } = await catalogOver(t, path.join(dir, 'data'), [
    path.join(vdir, 'access.log'),
    path.join(dir, 'other_vhosts*:vhost_combined'),
  ]);
  const cat = await catalog.snapshot();
  t.is(byPath(cat.shards, path.join(vdir, 'access.log'))!.formatName, 'combined');
  const v = byPath(cat.shards, path.join(dir, 'other_vhosts_access.log'))!;
  t.is(v.formatName, 'vhost_combined');
  t.is(v.firstTime, T0);
  t.throws(() => parseNodeCatalog('{"version":1}'), { code: 'ERR_INVALID_ARGUMENT' });
});

test('a gzip file cut short is listed with estimated times and not rescanned until it changes', async (t) => {
  const dir = tempDir(t);
  const l = lines(2000, T0, 'cut');
  fs.writeFileSync(path.join(dir, 'whole.log'), l.text);
  execFileSync('gzip', [path.join(dir, 'whole.log')]);
  const gz = fs.readFileSync(path.join(dir, 'whole.log.gz'));
  fs.writeFileSync(path.join(dir, 'cut.log.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
  fs.rmSync(path.join(dir, 'whole.log.gz'));
  const { catalog } = await catalogOver(t, path.join(dir, 'data'), [path.join(dir, '*.gz')]);
  const first = await catalog.snapshot();
  const s = first.shards[0]!;
  t.like(s, { gzip: true, complete: false, timeExact: false, firstTime: l.min });
  t.true(s.lastTime! >= Math.floor(fs.statSync(path.join(dir, 'cut.log.gz')).mtimeMs), 'bounded by the mtime');
  t.is(first.scan.pendingBytes, 0);
  const again = await catalog.snapshot();
  t.is(again.scan.bytesScanned, first.scan.bytesScanned, 'not scanned again');
});
