import test from 'ava';
import fc from 'fast-check';
import { mergeRuns, sortRecords } from '../../src/mapreduce/kway-merge.ts';
import { RunDecoder, decodeRecords, encodeRecords, type RunRecord } from '../../src/mapreduce/runs.ts';
import countJob from '../../jobs/count.ts';
import type { SummaryJob } from '../../src/mapreduce/job-definition.ts';

const recordArb = fc.record({ key: fc.uint8Array({ maxLength: 12 }), value: fc.uint8Array({ maxLength: 20 }) }).map((r) => ({ key: Buffer.from(r.key), value: Buffer.from(r.value) }));

async function* fromArray(records: RunRecord[]): AsyncGenerator<RunRecord> {
  for (const r of records) yield r;
}

async function collect(it: AsyncIterable<RunRecord>): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const plain = (rs: RunRecord[]) => rs.map((r) => [r.key.toString('hex'), r.value.toString('hex')]);

test('the k-way merge of sorted runs equals a sort of their union (stable by run order)', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(recordArb, { maxLength: 30 }), { maxLength: 8 }), async (runs) => {
      const sorted = runs.map((r) => sortRecords([...r]));
      const merged = await collect(mergeRuns(sorted.map(fromArray)));
      const expected = sortRecords(sorted.flat());
      t.deepEqual(plain(merged), plain(expected));
    }),
    { numRuns: 200 },
  );
});

test('runs survive encoding split at every byte boundary', (t) => {
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 20 }), fc.nat(), (records, cut) => {
      const bytes = encodeRecords(records);
      const at = bytes.length === 0 ? 0 : cut % bytes.length;
      const d = new RunDecoder();
      const out: RunRecord[] = [];
      d.push(bytes.subarray(0, at), out);
      d.push(bytes.subarray(at), out);
      t.is(d.pending, 0);
      t.deepEqual(plain(out), plain(records));
      t.deepEqual(plain(decodeRecords(bytes)), plain(records));
    }),
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
      let partials = chunks.map((c) => {
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
