import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  countLines,
  forEachLine,
  LineChunker,
  listLogFiles,
  matchGlob,
  planFileRanges,
  planRanges,
  readLogFile,
  readLogRange,
  writeLog,
} from '../../src/logs/index.ts';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'geartrain-files-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function sh(cmd: string, args: string[]): Buffer {
  return execFileSync(cmd, args, { maxBuffer: 1 << 30 });
}

async function collect(reader: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of reader) out.push(Buffer.from(c));
  return out;
}

/** A file with lines of very different lengths, some longer than the read size. */
function writeVariedFile(file: string, lines: number, finalNewline = true): void {
  const parts: string[] = [];
  for (let i = 0; i < lines; i++) {
    const len = i % 97 === 0 ? 3000 + (i % 5) * 700 : i % 13 === 0 ? 0 : 10 + ((i * 7919) % 230);
    parts.push(`${i}:` + 'abcdefghij'.repeat(Math.ceil(len / 10)).slice(0, len));
  }
  writeFileSync(file, parts.join('\n') + (finalNewline ? '\n' : ''));
}

test('byte ranges that tile a file yield exactly its bytes, each line once (checked against cat and wc -l)', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  writeVariedFile(file, 5000);
  const whole = sh('cat', [file]);
  const wcLines = Number(sh('wc', ['-l', file]).toString().trim().split(/\s+/)[0]);
  for (const parts of [1, 3, 64, 997]) {
    for (const chunkSize of [100, 65536]) {
      const ranges = planRanges(whole.length, parts, { minBytes: 1 });
      const chunks: Buffer[] = [];
      for (const r of ranges) {
        for (const c of await collect(readLogRange(file, r, { chunkSize }))) {
          t.is(c[c.length - 1], 10, 'every chunk ends on a line boundary');
          chunks.push(c);
        }
      }
      const joined = Buffer.concat(chunks);
      t.true(joined.equals(whole), `parts=${parts} chunkSize=${chunkSize}`);
      t.is(chunks.reduce((n, c) => n + countLines(c), 0), wcLines);
    }
  }
});

test('a range starting at an arbitrary byte begins at the next line start; ending anywhere finishes its line', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'a.log');
  writeFileSync(file, 'aaa\nbbbb\ncc\n\ndddd\n');
  const read = async (start: number, end: number) => Buffer.concat(await collect(readLogRange(file, { start, end }, { chunkSize: 3 }))).toString();
  t.is(await read(0, 1), 'aaa\n');
  t.is(await read(1, 4), '', 'the line at 0 belongs to the range holding byte 0');
  t.is(await read(1, 5), 'bbbb\n');
  t.is(await read(4, 5), 'bbbb\n');
  t.is(await read(4, 4), '');
  t.is(await read(5, 13), 'cc\n\n', 'the empty line starting at 12 is in [5,13)');
  t.is(await read(13, 100), 'dddd\n');
  t.is(await read(18, 100), '');
});

test('an unterminated last line is yielded and flagged (plain and gzip)', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'cut.log');
  writeVariedFile(file, 300, false);
  const whole = sh('cat', [file]);
  const reader = readLogRange(file, {}, { chunkSize: 1000 });
  const chunks = await collect(reader);
  t.true(Buffer.concat(chunks).equals(whole));
  t.true(reader.unterminated);
  t.not(chunks.at(-1)!.at(-1), 10);
  sh('gzip', ['-k', file]);
  const gz = readLogFile(file + '.gz');
  t.true(Buffer.concat(await collect(gz)).equals(whole));
  t.true(gz.unterminated);
  const complete = path.join(dir, 'ok.log');
  writeVariedFile(complete, 10);
  const r2 = readLogRange(complete);
  await collect(r2);
  t.false(r2.unterminated);
});

test('reading a .gz equals zcat, multi-member files included; gzip is detected by magic bytes', async (t) => {
  const dir = tempDir(t);
  const plain = path.join(dir, 'access.log.1');
  await writeLog(plain, { lines: 20_000, seed: 3, invalidRate: 0.01, oddRate: 0.01 });
  sh('gzip', ['-k', plain]);
  const gz = plain + '.gz';
  const zcat = sh('zcat', [gz]);
  const chunks = await collect(readLogFile(gz, { chunkSize: 8192 }));
  t.true(Buffer.concat(chunks).equals(zcat));
  t.true(chunks.every((c) => c.at(-1) === 10));
  // Two gzip members back to back (what `cat a.gz b.gz` or logrotate's delaycompress can leave).
  const multi = path.join(dir, 'multi.gz');
  writeFileSync(multi, Buffer.concat([sh('gzip', ['-c', plain]), sh('gzip', ['-c', plain])]));
  t.true(Buffer.concat(await collect(readLogFile(multi))).equals(sh('zcat', [multi])));
  // A gzip file without .gz in its name.
  const renamed = path.join(dir, 'access.log.2');
  writeFileSync(renamed, sh('cat', [gz]));
  t.true(Buffer.concat(await collect(readLogFile(renamed))).equals(zcat));
  const plan = await planFileRanges(renamed, 8, { minBytes: 1 });
  t.true(plan.gzip);
  t.is(plan.ranges.length, 1, 'gzip cannot be split');
  t.false((await planFileRanges(plain, 8, { minBytes: 1 })).gzip);
});

/** A gzip of a generated log, cut to `fraction` of its bytes. */
async function cutGzip(t: import('ava').ExecutionContext, fraction: number): Promise<{ cut: string; size: number }> {
  const dir = tempDir(t);
  const plain = path.join(dir, 'a.log');
  await writeLog(plain, { lines: 20_000, seed: 5 });
  const gz = sh('gzip', ['-c', plain]);
  const cut = path.join(dir, 'cut.gz');
  const size = Math.floor(gz.length * fraction);
  writeFileSync(cut, gz.subarray(0, size));
  return { cut, size };
}

test('a cut gzip file fails with CorruptFileError naming the file and the byte where it ends, after the lines before the cut', async (t) => {
  const { cut, size } = await cutGzip(t, 1 / 2);
  let got = 0;
  const err = await t.throwsAsync(async () => {
    for await (const c of readLogFile(cut)) got += c.length;
  });
  const prefix = zlibPrefix(cut);
  t.is((err as { code?: string }).code, 'ERR_CORRUPT_FILE');
  t.is(err!.message, `${cut}: truncated gzip: unexpected end of file at byte ${size}; ${prefix.length} bytes read before it`);
  t.true(got > 0 && got <= prefix.length, 'the whole lines before the cut were yielded');
});

/**
 * What zlib decompresses of a cut gzip file (Python's zlib, as a reference). zcat may stop a byte
 * or so earlier: gzip's own inflate keeps back the end of an incomplete block.
 */
function zlibPrefix(file: string): Buffer {
  return sh('python3', ['-c', 'import zlib,sys; sys.stdout.buffer.write(zlib.decompressobj(31).decompress(open(sys.argv[1],"rb").read()))', file]);
}

test('with tolerateDamage, a cut gzip file yields what zlib decompresses, and the reader says where and why it ends', async (t) => {
  const { cut, size } = await cutGzip(t, 1 / 3);
  const prefix = zlibPrefix(cut);
  const reader = readLogFile(cut, { tolerateDamage: true });
  const got = Buffer.concat(await collect(reader));
  t.true(got.equals(prefix));
  t.deepEqual(reader.damage, { kind: 'truncated', offset: size, bytesRead: prefix.length, detail: 'unexpected end of file' });
  t.is(reader.unterminated, prefix.at(-1) !== 0x0a);
  const whole = readLogFile(path.join(path.dirname(cut), 'a.log'), { tolerateDamage: true });
  await collect(whole);
  t.is(whole.damage, undefined);
});

test('reading honours an AbortSignal', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'a.log');
  writeVariedFile(file, 2000);
  const ac = new AbortController();
  await t.throwsAsync(
    async () => {
      for await (const _ of readLogRange(file, {}, { chunkSize: 512, signal: ac.signal })) ac.abort();
    },
    { code: 'ERR_ABORTED' },
  );
  const ac2 = new AbortController();
  ac2.abort();
  await t.throwsAsync(collect(readLogFile(file, { signal: ac2.signal })), { code: 'ERR_ABORTED' });
});

test('an overlong line is cut to maxLineBytes and still counts as one line', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'long.log');
  writeFileSync(file, 'a\n' + 'x'.repeat(50_000) + '\nb\n');
  const chunks = await collect(readLogRange(file, {}, { chunkSize: 1000, maxLineBytes: 4096 }));
  const text = Buffer.concat(chunks).toString();
  t.deepEqual(text.split('\n').map((l) => l.length), [1, 4096, 1, 0]);
});

test('with reuseBuffer, every chunk is a view of one buffer and the lines read are the same, lines across reads and overlong ones included', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'varied.log');
  writeVariedFile(file, 3000, false);
  const size = readFileSync(file).length;
  for (const range of [{}, { start: 0, end: size >> 1 }, { start: 12_345, end: size }]) {
    for (const chunkSize of [100, 4096, 65_536]) {
      const options = { chunkSize, maxLineBytes: 3500 };
      const fresh = Buffer.concat(await collect(readLogRange(file, range, options)));
      const stores = new Set<ArrayBufferLike>();
      const copies: Buffer[] = [];
      for await (const c of readLogRange(file, range, { ...options, reuseBuffer: true })) {
        if (c.length >= 10_000) stores.add(c.buffer); // not a line joined from two reads
        copies.push(Buffer.from(c)); // a chunk is valid until the next is read
      }
      t.deepEqual(Buffer.concat(copies), fresh, `range ${JSON.stringify(range)}, reads of ${chunkSize}`);
      if (chunkSize === 65_536) t.is(stores.size, 1, 'the large chunks share one buffer');
    }
  }
});

test('invalid range and read options are InvalidArgumentErrors', (t) => {
  t.throws(() => readLogRange('/nonexistent', { start: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => readLogRange('/nonexistent', { start: 10, end: 5 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => readLogRange('/nonexistent', {}, { chunkSize: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => planRanges(100, 0), { code: 'ERR_INVALID_ARGUMENT' });
});

test('planRanges tiles [0, size) with at most the parts asked for and at least minBytes each', (t) => {
  for (const [size, parts, minBytes] of [[0, 4, 1], [10, 3, 1], [1000, 7, 100], [1000, 7, 1], [5, 10, 1], [10 ** 9, 6, 1 << 20]] as const) {
    const r = planRanges(size, parts, { minBytes });
    t.is(r[0]!.start, 0);
    t.is(r.at(-1)!.end, size);
    for (let i = 1; i < r.length; i++) t.is(r[i]!.start, r[i - 1]!.end);
    t.true(r.length <= parts);
    if (r.length > 1) t.true(r.every((x) => x.end - x.start >= minBytes));
  }
});

test('LineChunker re-cuts arbitrary pieces into whole lines', (t) => {
  const text = Buffer.from('one\ntwo\nthree\n\nfour');
  for (let size = 1; size <= text.length; size++) {
    const c = new LineChunker();
    const out: Buffer[] = [];
    for (let i = 0; i < text.length; i += size) out.push(...c.push(text.subarray(i, i + size)));
    t.true(out.every((b) => b.at(-1) === 10));
    out.push(c.flush()!);
    t.is(Buffer.concat(out).toString(), text.toString());
  }
});

test('forEachLine and countLines see every line, an unterminated last one included', (t) => {
  const buf = Buffer.from('a\n\nbc\nd');
  const seen: string[] = [];
  t.is(forEachLine(buf, (s, e) => seen.push(buf.toString('latin1', s, e))), 4);
  t.deepEqual(seen, ['a', '', 'bc', 'd']);
  t.is(countLines(buf), 4);
  t.is(countLines(Buffer.from('a\nb\n')), 2);
  t.is(countLines(Buffer.alloc(0)), 0);
});

test('listLogFiles matches globs like find does, in natural order', async (t) => {
  const dir = tempDir(t);
  mkdirSync(path.join(dir, 'apache2', 'old'), { recursive: true });
  mkdirSync(path.join(dir, 'nginx'));
  const files = ['apache2/access.log', 'apache2/access.log.1', 'apache2/access.log.2.gz', 'apache2/access.log.10.gz', 'apache2/error.log', 'apache2/.hidden.log', 'apache2/old/access.log.30.gz', 'nginx/access.log'];
  for (const f of files) writeFileSync(path.join(dir, f), 'x\n');
  mkdirSync(path.join(dir, 'apache2', 'access.log.d')); // a directory matching the pattern is not a file

  const got = await listLogFiles(path.join(dir, 'apache2/access.log*'));
  t.deepEqual(got.map((f) => path.relative(dir, f)), ['apache2/access.log', 'apache2/access.log.1', 'apache2/access.log.2.gz', 'apache2/access.log.10.gz']);
  const viaFind = sh('find', [path.join(dir, 'apache2'), '-maxdepth', '1', '-type', 'f', '-name', 'access.log*']).toString().trim().split('\n').sort();
  t.deepEqual([...got].sort(), viaFind);

  const deep = await listLogFiles(path.join(dir, '**/access.log*'));
  const deepFind = sh('find', [dir, '-type', 'f', '-name', 'access.log*']).toString().trim().split('\n').sort();
  t.deepEqual([...deep].sort(), deepFind);

  const braces = await listLogFiles([path.join(dir, '{apache2,nginx}/access.log'), path.join(dir, 'nginx/access.log')]);
  t.deepEqual(braces.map((f) => path.relative(dir, f)), ['apache2/access.log', 'nginx/access.log']);
  t.deepEqual(await listLogFiles(path.join(dir, 'apache2/*.log')), [path.join(dir, 'apache2/access.log'), path.join(dir, 'apache2/error.log')], '* skips dotfiles');
  t.deepEqual(await listLogFiles(path.join(dir, 'apache2/access.log.[0-9]')), [path.join(dir, 'apache2/access.log.1')]);
  t.deepEqual(await listLogFiles(path.join(dir, 'nope/*.log')), []);

  const everything = await listLogFiles(path.join(dir, 'apache2/**'));
  const everythingFind = sh('find', [path.join(dir, 'apache2'), '-type', 'f', '-not', '-name', '.*']).toString().trim().split('\n').sort();
  t.deepEqual([...everything].sort(), everythingFind, 'a trailing ** is every file below');

  const relative = path.relative(process.cwd(), path.join(dir, 'nginx'));
  t.deepEqual(await listLogFiles(`${relative}/*.log`), [`${relative}/access.log`], 'relative patterns give relative paths');
});

test('matchGlob follows the same rules', (t) => {
  t.true(matchGlob('/var/log/apache2/access.log*', '/var/log/apache2/access.log.2.gz'));
  t.false(matchGlob('/var/log/apache2/access.log*', '/var/log/apache2/old/access.log'));
  t.true(matchGlob('/var/log/**/access.log', '/var/log/apache2/old/access.log'));
  t.true(matchGlob('/var/log/**/access.log', '/var/log/access.log'));
  t.true(matchGlob('a/{b,c}/?.log', 'a/c/x.log'));
  t.false(matchGlob('a/*.log', 'a/.x.log'));
});
