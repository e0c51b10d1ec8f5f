/**
 * Conformance, framing (gearmand-notes §9 "Framing"): headers, split and batched packets, ECHO,
 * wrong magic, packets a server must not receive, and job handles.
 */
import { HANDLE_RE, T, conformance, expectError, submit } from './fixture.ts';
import { frame, header } from '../protocol/frames.ts';

conformance('ECHO of 0 B, 2 KiB and 1 MiB comes back byte-identical', async (t, h) => {
  const c = await h.connect();
  const twoK = Buffer.alloc(2048);
  for (let i = 0; i < twoK.length; i++) twoK[i] = i & 0xff; // includes NULs
  const oneM = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < oneM.length; i++) oneM[i] = (i * 7) & 0xff;
  for (const payload of [Buffer.alloc(0), twoK, oneM]) {
    c.send(T.ECHO_REQ, payload);
    const p = await c.next(T.ECHO_RES);
    t.is(p.magic, 'RES');
    t.true(p.args[0]!.equals(payload), `${payload.length} bytes`);
    t.is(p.raw.length, 12 + payload.length);
  }
});

conformance('an empty ECHO is a bare 12-byte header both ways', async (t, h) => {
  const c = await h.connect();
  c.sendRaw(header('REQ', 16, 0));
  const p = await c.next(T.ECHO_RES);
  t.is(p.raw.toString('hex'), header('RES', 17, 0).toString('hex'));
});

conformance('1000 pipelined ECHOs in one write come back in order', async (t, h) => {
  const c = await h.connect();
  c.sendRaw(Buffer.concat(Array.from({ length: 1000 }, (_, i) => frame('REQ', 16, [Buffer.from(`echo ${i}\0`)]))));
  const got = await c.nextN(1000);
  t.deepEqual(
    got.map((p) => p.text[0]),
    Array.from({ length: 1000 }, (_, i) => `echo ${i}\0`),
  );
});

conformance('a packet fed one byte per write is understood', async (t, h) => {
  const c = await h.connect();
  const bytes = frame('REQ', 7, [Buffer.from('f'), Buffer.from('u'), Buffer.from('a\0b')]);
  for (let i = 0; i < bytes.length; i++) {
    c.sendRaw(bytes.subarray(i, i + 1));
    // Let each byte leave as its own segment.
    await new Promise((r) => setImmediate(r));
  }
  const p = await c.next(T.JOB_CREATED);
  t.regex(p.text[0]!, HANDLE_RE);
});

conformance('a packet with \\0RES magic gets ERROR INVALID_MAGIC and the connection stays usable', async (t, h) => {
  const c = await h.connect();
  c.sendRaw(frame('RES', 16, [Buffer.from('x')]));
  await expectError(t, c, 'INVALID_MAGIC', 'Request magic expected');
  c.send(T.ECHO_REQ, 'still here');
  t.is((await c.next(T.ECHO_RES)).text[0], 'still here');
});

const NOT_FOR_THE_SERVER: Array<[string, number, number]> = [
  ['NOOP', 6, 0],
  ['SUBMIT_JOB_SCHED', 35, 8],
  ['ALL_YOURS', 24, 0],
  ['the unused number 5', 5, 1],
  ['JOB_CREATED', 8, 1],
  ['NO_JOB', 10, 0],
  ['JOB_ASSIGN', 11, 3],
  ['ECHO_RES', 17, 1],
  ['ERROR', 19, 2],
  ['STATUS_RES', 20, 5],
  ['OPTION_RES', 27, 1],
  ['JOB_ASSIGN_UNIQ', 31, 4],
  ['JOB_ASSIGN_ALL', 40, 5],
  ['STATUS_RES_UNIQUE', 42, 6],
];

conformance('NOOP, SCHED, ALL_YOURS, number 5 and response packets sent to the server get ERROR INVALID_COMMAND', async (t, h) => {
  const c = await h.connect();
  for (const [name, type, argc] of NOT_FOR_THE_SERVER) {
    const args = Array.from({ length: argc }, (_, i) => Buffer.from(i === 0 ? 'f' : '1'));
    c.sendRaw(frame('REQ', type, args));
    const p = await c.next();
    t.is(p.type, T.ERROR, name);
    t.deepEqual(p.text, ['INVALID_COMMAND', 'Command not expected'], name);
  }
  c.send(T.ECHO_REQ, 'alive');
  t.is((await c.next(T.ECHO_RES)).text[0], 'alive');
});

for (const [what, bytes] of [
  ['garbage magic \\0REX', Buffer.from([0, 0x52, 0x45, 0x58, 0, 0, 0, 16, 0, 0, 0, 0])],
  ['type 0', header('REQ', 0, 0)],
  ['type 43', header('REQ', 43, 0)],
  ['type 0xFFFFFFFF', header('REQ', 0xffffffff, 0)],
] as const) {
  conformance(`${what} makes the server close the connection without an ERROR`, async (t, h) => {
    const c = await h.connect();
    c.sendRaw(bytes);
    await c.closedByServer();
    t.true(c.isClosed);
    await t.throwsAsync(c.next(undefined, 100));
  });
}

conformance('JOB_CREATED carries a handle H:<host>:<n> of at most 63 bytes', async (t, h) => {
  const c = await h.connect();
  c.send(T.SUBMIT_JOB, 'f', '', 'x');
  const p = await c.next(T.JOB_CREATED);
  t.is(p.args.length, 1);
  t.regex(p.text[0]!, HANDLE_RE);
  t.true(p.args[0]!.length <= 63);
  t.false(p.args[0]!.includes(0));
});

conformance('N pipelined submits get N JOB_CREATED in order, with distinct increasing handles', async (t, h) => {
  const c = await h.connect();
  const n = 200;
  // Mixed submit kinds in one write; empty uniques so nothing coalesces.
  const kinds = [T.SUBMIT_JOB, T.SUBMIT_JOB_BG, T.SUBMIT_JOB_HIGH, T.SUBMIT_JOB_LOW_BG, T.SUBMIT_JOB_LOW, T.SUBMIT_JOB_HIGH_BG];
  c.sendRaw(Buffer.concat(Array.from({ length: n }, (_, i) => frame('REQ', kinds[i % kinds.length]!, [Buffer.from('f'), Buffer.alloc(0), Buffer.from(`job ${i}`)]))));
  const got = await c.nextN(n);
  t.true(got.every((p) => p.type === T.JOB_CREATED));
  const handles = got.map((p) => p.text[0]!);
  t.true(handles.every((x) => HANDLE_RE.test(x)));
  t.is(new Set(handles).size, n);
  const prefix = handles[0]!.replace(/\d+$/, '');
  t.true(handles.every((x) => x.startsWith(prefix)), 'one handle prefix per server');
  const numbers = handles.map((x) => Number(x.slice(prefix.length)));
  for (let i = 1; i < n; i++) t.true(numbers[i]! > numbers[i - 1]!, `handle ${i} increases`);
});

conformance('a submit split across writes and many packets in one write are both understood', async (t, h) => {
  const c = await h.connect();
  const a = frame('REQ', 7, [Buffer.from('f'), Buffer.from('ua'), Buffer.from('A')]);
  const b = frame('REQ', 16, [Buffer.from('between')]);
  const d = frame('REQ', 7, [Buffer.from('f'), Buffer.from('ud'), Buffer.from('D')]);
  const all = Buffer.concat([a, b, d]);
  c.sendRaw(all.subarray(0, 5));
  await new Promise((r) => setImmediate(r));
  c.sendRaw(all.subarray(5, a.length + 3));
  await new Promise((r) => setImmediate(r));
  c.sendRaw(all.subarray(a.length + 3));
  const [p1, p2, p3] = await c.nextN(3);
  t.is(p1!.type, T.JOB_CREATED);
  t.deepEqual([p2!.type, p2!.text[0]], [T.ECHO_RES, 'between']);
  t.is(p3!.type, T.JOB_CREATED);
  t.not(p1!.text[0], p3!.text[0]);
});

conformance('unique of 64 bytes is accepted, 65 bytes gets ERROR ARGUMENT_TOO_LARGE', async (t, h) => {
  const c = await h.connect();
  t.regex(await submit(c, 'f', 'u'.repeat(64), 'x'), HANDLE_RE);
  c.send(T.SUBMIT_JOB, 'f', 'v'.repeat(65), 'x');
  await expectError(t, c, 'ARGUMENT_TOO_LARGE', 'Unique value too large');
  c.send(T.SUBMIT_JOB_BG, 'f', 'w'.repeat(65), 'x');
  await expectError(t, c, 'ARGUMENT_TOO_LARGE', 'Unique value too large');
  t.regex(await submit(c, 'f', 'ok', 'x'), HANDLE_RE);
});

conformance(
  '--job-handle-prefix P gives handles P:<n>',
  async (t, h) => {
    const c = await h.connect();
    const a = await submit(c, 'f', '', 'x');
    const b = await submit(c, 'f', '', 'y');
    t.regex(a, /^GT-pfx:\d+$/);
    t.regex(b, /^GT-pfx:\d+$/);
    t.not(a, b);
  },
  { gearmandArgs: ['--job-handle-prefix', 'GT-pfx'], geartrain: { jobHandlePrefix: 'GT-pfx' } },
);

conformance('a 16 MiB workload and a 16 MiB result pass through unchanged', async (t, h) => {
  const size = 16 * 1024 * 1024;
  const workload = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) workload.writeUInt32BE(i, i); // NULs and markers throughout
  const c = await h.connect();
  const handle = await submit(c, 'big', '', workload);
  const w = await h.connect();
  w.send(T.CAN_DO, 'big');
  w.send(T.GRAB_JOB);
  const job = await w.next(T.JOB_ASSIGN, 20_000);
  t.true(job.args[2]!.equals(workload), 'workload');
  const result = Buffer.from(workload).reverse();
  w.send(T.WORK_COMPLETE, handle, result);
  const done = await c.next(T.WORK_COMPLETE, 20_000);
  t.true(done.args[1]!.equals(result), 'result');
});
