import test from 'ava';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mergeRunChunks, RunCursor, runFileChunks } from '../../src/mapreduce/run-cursor.ts';
import { SortedOutput } from '../../src/mapreduce/map-output.ts';
import { PartialStore } from '../../src/mapreduce/partial-store.ts';
import countJob from '../../jobs/count.ts';
import type { SummaryJob } from '../../src/mapreduce/job-definition.ts';

type Rec = [key: Buffer, value: Buffer];
const recordArb = fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ maxLength: 20 })).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as Rec);

/** The run layout written out by hand (u32 key length, u32 value length, key, value), not by the code under test. */
function encode(records: Rec[]): Buffer {
  return Buffer.concat(records.flatMap(([k, v]) => [Buffer.from([k.length >>> 24, (k.length >>> 16) & 255, (k.length >>> 8) & 255, k.length & 255, 0, 0, v.length >>> 8, v.length & 255]), k, v]));
}

/** Reference order: bytewise by key, stable (Array#sort is stable). */
const sortRef = (records: Rec[]) => [...records].sort((a, b) => Buffer.compare(a[0], b[0]));
const hex = (rs: Rec[]) => rs.map(([k, v]) => `${k.toString('hex')}:${v.toString('hex')}`);

async function* chunked(buf: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...cuts.map((x) => (buf.length ? x % buf.length : 0))].sort((a, b) => a - b)) {
    yield buf.subarray(at, Math.max(at, c));
    at = Math.max(at, c);
  }
  yield buf.subarray(at);
}

test('a run cursor reads every record whatever the chunk boundaries', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(recordArb, { maxLength: 25 }), fc.array(fc.nat(), { maxLength: 6 }), async (records, cuts) => {
      const c = new RunCursor(chunked(encode(records), cuts));
      const got: Rec[] = [];
      while (await c.next()) got.push([Buffer.from(c.buf.subarray(c.keyStart, c.keyEnd)), Buffer.from(c.buf.subarray(c.keyEnd, c.valueEnd))]);
      t.deepEqual(hex(got), hex(records));
    }),
    { numRuns: 200 },
  );
});

test('the k-way merge of sorted runs equals a sort of their union, stable by run order', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(recordArb, { maxLength: 30 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 4 }), async (runs, cuts) => {
      const sorted = runs.map(sortRef);
      const got: Rec[] = [];
      await mergeRunChunks(
        sorted.map((r) => chunked(encode(r), cuts)),
        (buf, _s, ks, ke, end) => void got.push([Buffer.from(buf.subarray(ks, ke)), Buffer.from(buf.subarray(ke, end))]),
      );
      t.deepEqual(hex(got), hex(sortRef(sorted.flat())));
    }),
    { numRuns: 200 },
  );
});

test('map output with a tiny memory budget (many spills) is one run sorted like the reference', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gt-spill-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const store = new PartialStore(dir, 'n');
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(recordArb, { maxLength: 300 }), async (records) => {
      const out = new SortedOutput(store, `r${run++}`, 'm', 256);
      for (const [k, v] of records) {
        out.add(k, v);
        await out.maybeSpill();
      }
      const ref = await out.finish();
      t.is(ref.records, records.length);
      const got: Rec[] = [];
      await mergeRunChunks([runFileChunks(store.localPath(ref.key), 7)], (buf, _s, ks, ke, end) => void got.push([Buffer.from(buf.subarray(ks, ke)), Buffer.from(buf.subarray(ke, end))]));
      t.deepEqual(hex(got), hex(sortRef(records)));
    }),
    { numRuns: 60 },
  );
});

test('count: merging partial states in any order and grouping equals one pass', (t) => {
  const job = countJob as unknown as SummaryJob<{ by: string; limit: number }, Record<string, number>, { rows: unknown[] }>;
  const params = { by: 'status', limit: 0 };
  const ctx = { params } as never;
  fc.assert(
    fc.property(fc.array(fc.array(fc.constantFrom(200, 301, 304, 404, 500), { maxLength: 50 }), { minLength: 1, maxLength: 6 }), fc.infiniteStream(fc.nat()), (chunks, picks) => {
      const onePass = job.create(params);
      for (const c of chunks) for (const status of c) job.map!(onePass, { status } as never, ctx);
      // Partials, round-tripped through the wire encoding, merged in a random tree.
      const partials = chunks.map((c) => {
        const s = job.create(params);
        for (const status of c) job.map!(s, { status } as never, ctx);
        return job.decode!(Buffer.from(job.encode!(s, params) as string), params);
      });
      const it = picks[Symbol.iterator]();
      while (partials.length > 1) {
        const i = it.next().value % partials.length;
        const [a] = partials.splice(i, 1);
        const j = it.next().value % partials.length;
        partials[j] = job.merge(partials[j]!, a!, params);
      }
      t.deepEqual(job.finalize(partials[0]!, params, {} as never), job.finalize(onePass, params, {} as never));
    }),
  );
});
