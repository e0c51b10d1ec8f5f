/**
 * Conformance, job selection (gearmand-notes §3 "Priority and function selection"): priorities
 * within a function, and the policy across the functions of one worker, where geartrain departs
 * from gearmand 1.1 on purpose (DESIGN.md): priority is global, round-robin among functions at the
 * same priority. gearmand 1.1 walks the worker's functions newest CAN_DO first (#173).
 */
import { T, conformance, grab, submit, worker, type RawClient } from './fixture.ts';

/** Grab `n` jobs and return their workloads. */
async function take(w: RawClient, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = await grab(w);
    if (p.type !== T.JOB_ASSIGN_UNIQ) throw new Error(`grab ${i}: got packet ${p.name}`);
    out.push(p.text[3]!);
  }
  return out;
}

conformance('within a function: HIGH before NORMAL before LOW, FIFO within a priority, foreground and background alike', async (t, h) => {
  const c = await h.connect();
  const plan: Array<[T, string]> = [
    [T.SUBMIT_JOB_LOW, 'l1'],
    [T.SUBMIT_JOB, 'n1'],
    [T.SUBMIT_JOB_HIGH, 'h1'],
    [T.SUBMIT_JOB_LOW_BG, 'l2'],
    [T.SUBMIT_JOB_BG, 'n2'],
    [T.SUBMIT_JOB_HIGH_BG, 'h2'],
    [T.SUBMIT_JOB_LOW, 'l3'],
    [T.SUBMIT_JOB, 'n3'],
    [T.SUBMIT_JOB_HIGH, 'h3'],
  ];
  for (const [type, name] of plan) await submit(c, 'f', name, name, type);
  const w = await worker(h, 'f');
  t.deepEqual(await take(w, plan.length), ['h1', 'h2', 'h3', 'n1', 'n2', 'n3', 'l1', 'l2', 'l3']);
  t.is((await grab(w)).type, T.NO_JOB);
});

conformance('across functions: a HIGH job of the older CAN_DO against a LOW job of the newer one', async (t, h) => {
  const c = await h.connect();
  await submit(c, 'a', '', 'a-high', T.SUBMIT_JOB_HIGH);
  await submit(c, 'b', '', 'b-low', T.SUBMIT_JOB_LOW);
  const w = await worker(h, 'a', 'b');
  const order = await take(w, 2);
  if (h.kind === 'gearmand') {
    // 1.1: the newest CAN_DO (b) is looked at first, whatever the priorities (#173).
    t.deepEqual(order, ['b-low', 'a-high']);
  } else {
    t.deepEqual(order, ['a-high', 'b-low']);
  }
});

conformance('across functions at one priority: gearmand drains the newest CAN_DO first; geartrain alternates', async (t, h) => {
  const c = await h.connect();
  for (const f of ['a', 'b']) for (let i = 0; i < 3; i++) await submit(c, f, '', `${f}${i}`);
  const w = await worker(h, 'a', 'b');
  const order = await take(w, 6);
  if (h.kind === 'gearmand') {
    t.deepEqual(order, ['b0', 'b1', 'b2', 'a0', 'a1', 'a2']);
  } else {
    // Round-robin: never the same function twice in a row while both have work; FIFO per function.
    for (let i = 1; i < order.length; i++) t.not(order[i]![0], order[i - 1]![0], order.join(' '));
    t.deepEqual(order.filter((x) => x.startsWith('a')), ['a0', 'a1', 'a2']);
    t.deepEqual(order.filter((x) => x.startsWith('b')), ['b0', 'b1', 'b2']);
  }
});

conformance(
  'round-robin mode alternates functions at one priority (gearmand --round-robin)',
  async (t, h) => {
    const c = await h.connect();
    for (const f of ['a', 'b']) for (let i = 0; i < 3; i++) await submit(c, f, '', `${f}${i}`);
    const w = await worker(h, 'a', 'b');
    const order = await take(w, 6);
    for (let i = 1; i < order.length; i++) t.not(order[i]![0], order[i - 1]![0], order.join(' '));
  },
  { roundRobin: true },
);

conformance(
  'per-function priority mode reproduces gearmand 1.1 (geartrain --priority-per-function)',
  async (t, h) => {
    const c = await h.connect();
    await submit(c, 'a', '', 'a-high', T.SUBMIT_JOB_HIGH);
    await submit(c, 'b', '', 'b-low', T.SUBMIT_JOB_LOW);
    await submit(c, 'b', '', 'b-normal');
    const w = await worker(h, 'a', 'b');
    t.deepEqual(await take(w, 3), ['b-normal', 'b-low', 'a-high']);
  },
  (kind) => (kind === 'geartrain' ? { geartrain: { priorityPerFunction: true } } : {}),
);
