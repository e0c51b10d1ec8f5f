/**
 * The job server's job table (src/server/job-table.ts) against a plain model: whatever jobs are
 * added, queued, taken, requeued and ended, handles name exactly the live jobs, a submission
 * finds the job it coalesces with, every run queue is FIFO per function and priority, and a job
 * object kept for a job still reads what the job was after it ended.
 */
import test from 'ava';
import fc from 'fast-check';
import { FunctionEntry } from '../../src/server/function-entry.ts';
import { SLAB_BYTES } from '../../src/server/job-bytes.ts';
import { JobTable } from '../../src/server/job-table.ts';
import { Priority, type Job } from '../../src/server/job.ts';

const PREFIX = 'H:test';
const UNIQUES = ['', '-', 'a', 'b', 'ключ'];
const PAYLOADS = ['', 'x', 'y', 'z'.repeat(3000)];

interface ModelJob {
  slot: number;
  seq: number;
  fn: number;
  priority: number;
  unique: string;
  payload: string;
  background: boolean;
  state: 'storing' | 'queued' | 'running';
  keyed: boolean;
}

const keyOf = (j: { fn: number; unique: string; payload: string }) => (j.unique === '-' ? `${j.fn} P ${j.payload}` : `${j.fn} U ${j.unique}`);

const op = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      add: fc.record({ fn: fc.nat(1), priority: fc.nat(2), unique: fc.nat(UNIQUES.length - 1), payload: fc.nat(PAYLOADS.length - 1), background: fc.boolean(), queue: fc.boolean() }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ take: fc.record({ fn: fc.nat(1), priority: fc.nat(2) }) }) },
  { weight: 1, arbitrary: fc.record({ enqueue: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ free: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ unindex: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ keep: fc.nat() }) },
);

test('any sequence of adds, queueing, takes, requeues and ends: handles, coalescing and FIFO run queues match the model', (t) => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 600, size: 'max' }), fc.boolean(), (ops, bigSeqs) => {
      const table = new JobTable(PREFIX);
      const fns = [new FunctionEntry('f0'), new FunctionEntry('f1')];
      const live = new Map<number, ModelJob>();
      const queues = fns.map(() => [[], [], []] as number[][]);
      const ended: { job: Job; unique: string; payload: string; priority: number }[] = [];
      const gone: string[] = [];
      // Numbers above 2^32 as after a restart (the clock × 100), or from 1.
      let seq = bigSeqs ? 1_800_000_000_000_00 : 0;
      const pick = <T>(items: T[], n: number): T | undefined => (items.length === 0 ? undefined : items[n % items.length]);
      const remove = (queue: number[], slot: number) => queue.splice(queue.indexOf(slot), 1);

      for (const o of ops) {
        if ('add' in o) {
          const a = o.add;
          const unique = UNIQUES[a.unique]!;
          const payload = PAYLOADS[a.payload]!;
          const spec = { fn: a.fn, unique, payload };
          const joined = table.coalescing(fns[a.fn]!, Buffer.from(unique), Buffer.from(payload));
          const expected = unique === '' ? undefined : [...live.values()].find((j) => j.keyed && keyOf(j) === keyOf(spec));
          if (joined?.seq !== expected?.seq) throw new Error(`coalescing ${keyOf(spec)}: found ${joined?.handle}, expected seq ${expected?.seq}`);
          if (expected) continue; // the server joins the job it found instead of adding one
          const s = ++seq;
          const slot = table.add(
            { fn: fns[a.fn]!, unique: Buffer.from(unique), storeKey: null, data: Buffer.from(payload), priority: a.priority as Priority, background: a.background, whenToRun: 0, reducer: null },
            s,
            1000 + s,
          );
          live.set(slot, { slot, seq: s, fn: a.fn, priority: a.priority, unique, payload, background: a.background, state: 'storing', keyed: unique !== '' });
          if (a.queue) {
            table.enqueue(slot);
            live.get(slot)!.state = 'queued';
            queues[a.fn]![a.priority]!.push(slot);
          }
        } else if ('take' in o) {
          const { fn, priority } = o.take;
          const slot = table.take(fns[fn]!, priority);
          const expected = queues[fn]![priority]!.shift() ?? -1;
          if (slot !== expected) throw new Error(`take ${fn}/${priority}: slot ${slot}, expected ${expected}`);
          if (slot >= 0) live.get(slot)!.state = 'running';
        } else if ('enqueue' in o) {
          // A new job admitted, or a running one requeued: to the tail.
          const j = pick([...live.values()].filter((j) => j.state !== 'queued'), o.enqueue);
          if (!j) continue;
          table.enqueue(j.slot);
          j.state = 'queued';
          queues[j.fn]![j.priority]!.push(j.slot);
        } else if ('free' in o) {
          const j = pick([...live.values()], o.free);
          if (!j) continue;
          if (j.state === 'queued') remove(queues[j.fn]![j.priority]!, j.slot);
          gone.push(`${PREFIX}:${j.seq}`);
          table.free(j.slot);
          live.delete(j.slot);
        } else if ('unindex' in o) {
          const j = pick([...live.values()].filter((j) => j.keyed), o.unindex);
          if (!j) continue;
          table.unindexKey(j.slot);
          j.keyed = false;
        } else {
          const j = pick([...live.values()], o.keep);
          if (!j) continue;
          ended.push({ job: table.materialize(j.slot), unique: j.unique, payload: j.payload, priority: j.priority });
        }

        if (table.size !== live.size) throw new Error(`size ${table.size}, expected ${live.size}`);
        for (const [f, fn] of fns.entries()) {
          const listed = [...table.queued(fn)].map((job) => job.slot);
          const expected = [...queues[f]![0]!, ...queues[f]![1]!, ...queues[f]![2]!];
          if (listed.join() !== expected.join()) throw new Error(`queue of f${f}: [${listed}], expected [${expected}]`);
          if (fn.queuedTotal !== expected.length) throw new Error(`queued count of f${f}`);
        }
      }

      for (const j of live.values()) {
        const job = table.get(`${PREFIX}:${j.seq}`);
        if (!job || job.seq !== j.seq || job.slot !== j.slot) throw new Error(`handle of seq ${j.seq}`);
        if (job.state !== j.state || job.priority !== j.priority || job.background !== j.background || job.fn !== fns[j.fn]) throw new Error(`fields of seq ${j.seq}`);
        if (job.unique !== j.unique || job.data.toString() !== j.payload || job.createdAt !== 1000 + j.seq) throw new Error(`bytes of seq ${j.seq}`);
      }
      for (const handle of gone) if (table.has(handle) || table.get(handle)) throw new Error(`ended job ${handle} still has a handle`);
      if ([...table.values()].length !== live.size) throw new Error('values() lists another number of jobs');
      for (const e of ended) {
        if (e.job.state !== 'done' && !live.has(e.job.slot)) throw new Error(`kept view of ${e.job.handle} lost its job`);
        if (e.job.unique !== e.unique || e.job.data.toString() !== e.payload || e.job.priority !== e.priority) throw new Error(`kept view of ${e.job.handle} reads another job`);
      }
    }),
    { numRuns: 80 },
  );
  t.pass();
});

test('handles that name no job are refused: another prefix, a leading zero, a non-digit, a number never given', (t) => {
  const table = new JobTable(PREFIX);
  const fn = new FunctionEntry('f');
  table.add({ fn, unique: Buffer.alloc(0), storeKey: null, data: Buffer.from('p'), priority: Priority.NORMAL, background: true, whenToRun: 0, reducer: null }, 17, 0);
  t.is(table.get(`${PREFIX}:17`)?.data.toString(), 'p');
  for (const h of [`${PREFIX}:017`, `${PREFIX}:17 `, `${PREFIX}:1x7`, `${PREFIX}:18`, `${PREFIX}:`, `H:tes:17`, `H:testx:17`, `${PREFIX}:0`, `${PREFIX}:${'9'.repeat(17)}`, '']) {
    t.false(table.has(h), JSON.stringify(h));
  }
});

test('a table that grew for a deep queue shrinks back and gives its slabs back once it empties', (t) => {
  const table = new JobTable(PREFIX);
  const fn = new FunctionEntry('f');
  const initial = table.capacity;
  const slots: number[] = [];
  for (let i = 1; i <= 20_000; i++) {
    const slot = table.add({ fn, unique: Buffer.from(`u-${i}`), storeKey: null, data: Buffer.alloc(100, i), priority: Priority.NORMAL, background: true, whenToRun: 0, reducer: null }, i, 0);
    table.enqueue(slot);
    slots.push(slot);
  }
  t.true(table.capacity >= 20_000);
  t.is(table.keptViews, 0, 'queued background jobs have no job object');
  t.is(table.coalescing(fn, Buffer.from('u-12345'), Buffer.alloc(0))?.data[0], 12345 & 0xff);
  for (let taken = table.take(fn, Priority.NORMAL); taken !== -1; taken = table.take(fn, Priority.NORMAL)) table.free(taken);
  t.is(table.size, 0);
  t.is(table.capacity, initial);
  t.deepEqual({ ...table.bytesStats, movedRecords: 0 }, { slabs: 1, allocatedBytes: SLAB_BYTES, liveBytes: 0, movedRecords: 0 });
});
