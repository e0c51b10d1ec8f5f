/**
 * The incremental decoder: every packet type 1–42 built by hand, fed whole, byte by byte, split at
 * every offset and many per chunk; limits, bad input and admin lines.
 */
import test from 'ava';
import fc from 'fast-check';
import { Decoder, type DecoderOptions, type Frame } from '../../src/protocol/decoder.ts';
import { PACKET_SPECS } from '../../src/protocol/packet-types.ts';
import { PacketTooLargeError, ProtocolError } from '../../src/errors.ts';
import { REFERENCE_TABLE, frame, header, rawFrame, samples, type Sample } from './frames.ts';

type Plain = { kind: 'packet'; magic: string; type: number; args: string[]; size: number } | { kind: 'admin'; line: string };

/** Frames as plain data (arguments as hex), so comparisons look at bytes, not at buffer identity. */
function plain(f: Frame): Plain {
  if (f.kind === 'admin') return { kind: 'admin', line: f.line };
  return { kind: 'packet', magic: f.magic, type: f.type, args: f.args.map((a) => a.toString('hex')), size: f.size };
}

function expected(s: Sample): Plain {
  const size = s.bytes.length - 12;
  return { kind: 'packet', magic: s.magic, type: s.type, args: s.args.map((a) => a.toString('hex')), size };
}

/** Feed chunks; return the frames as the decoder handed them out (not copied). */
function decode(chunks: readonly Buffer[], options: DecoderOptions = {}): Frame[] {
  const frames: Frame[] = [];
  const d = new Decoder((f) => frames.push(f), options);
  for (const c of chunks) d.push(c);
  return frames;
}

function byteByByte(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) out.push(Buffer.from(buf.subarray(i, i + 1)));
  return out;
}

/** Fresh copies, as a socket would deliver them. */
function splitAt(buf: Buffer, ...offsets: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const o of [...offsets, buf.length]) {
    out.push(Buffer.from(buf.subarray(prev, o)));
    prev = o;
  }
  return out;
}

const SAMPLES = samples();

test('the packet table agrees with the reference table of gearmand-notes §1 (numbers, names, arg counts)', (t) => {
  for (const [type, name, magic, argc] of REFERENCE_TABLE) {
    const spec = PACKET_SPECS[type];
    t.truthy(spec, `type ${type}`);
    t.is(spec!.name, name);
    t.is(spec!.args.length, argc, name);
    t.is(spec!.magic, magic, name);
  }
  t.is(PACKET_SPECS[0], undefined);
  t.is(PACKET_SPECS[43], undefined);
});

test('every sample covers types 1..42, with NULs inside the last argument', (t) => {
  const types = new Set(SAMPLES.map((s) => s.type));
  t.deepEqual([...types].sort((a, b) => a - b), Array.from({ length: 42 }, (_, i) => i + 1));
  t.true(SAMPLES.some((s) => s.args.length > 0 && s.args.at(-1)!.includes(0)));
});

for (const s of SAMPLES) {
  const label = `${s.name} (${s.type}) ${s.magic} [${s.args.map((a) => a.length).join(',')}]`;

  test(`${label}: whole frame`, (t) => {
    t.deepEqual(decode([s.bytes]).map(plain), [expected(s)]);
  });

  test(`${label}: byte by byte`, (t) => {
    t.deepEqual(decode(byteByByte(s.bytes)).map(plain), [expected(s)]);
  });

  test(`${label}: split at every offset`, (t) => {
    for (let i = 1; i < s.bytes.length; i++) {
      t.deepEqual(decode(splitAt(s.bytes, i)).map(plain), [expected(s)], `split at ${i}`);
    }
  });

  test(`${label}: three per chunk, and split across a frame boundary`, (t) => {
    const three = Buffer.concat([s.bytes, s.bytes, s.bytes]);
    t.deepEqual(decode([three]).map(plain), [expected(s), expected(s), expected(s)]);
    for (let i = 1; i < three.length; i += 7) {
      t.deepEqual(decode(splitAt(three, i)).map(plain), [expected(s), expected(s), expected(s)], `split at ${i}`);
    }
  });
}

test('all 42 types in one chunk, in order', (t) => {
  const all = Buffer.concat(SAMPLES.map((s) => s.bytes));
  t.deepEqual(decode([all]).map(plain), SAMPLES.map(expected));
});

test('all types, cut into arbitrary chunks (property)', (t) => {
  const all = Buffer.concat(SAMPLES.map((s) => s.bytes));
  const want = SAMPLES.map(expected);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: all.length - 1 }), { maxLength: 60 }), (cuts) => {
      const got = decode(splitAt(all, ...cuts.sort((a, b) => a - b))).map(plain);
      t.deepEqual(got, want);
      return true;
    }),
    { numRuns: 200 },
  );
});

test('admin lines interleaved with binary frames when allowAdmin, in any chunking (property)', (t) => {
  const lines = ['status', 'workers', 'show jobs', 'maxqueue f 1 2 3', '', 'version'];
  const parts: Buffer[] = [];
  const want: Plain[] = [];
  SAMPLES.forEach((s, i) => {
    parts.push(s.bytes);
    want.push(expected(s));
    if (i % 7 === 0) {
      const line = lines[(i / 7) % lines.length]!;
      parts.push(Buffer.from(line + (i % 2 === 0 ? '\n' : '\r\n'), 'latin1'));
      want.push({ kind: 'admin', line });
    }
  });
  const all = Buffer.concat(parts);
  t.deepEqual(decode([all], { allowAdmin: true }).map(plain), want);
  t.deepEqual(decode(byteByByte(all), { allowAdmin: true }).map(plain), want);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 1, max: all.length - 1 }), { maxLength: 40 }), (cuts) => {
      t.deepEqual(decode(splitAt(all, ...cuts.sort((a, b) => a - b)), { allowAdmin: true }).map(plain), want);
      return true;
    }),
    { numRuns: 100 },
  );
});

test('admin lines: LF and CRLF endings are stripped, other bytes kept, an empty line is a line', (t) => {
  const got = decode([Buffer.from('status\nworkers\r\n\n\r\nshow  jobs \r\nx\ry\n', 'latin1')], { allowAdmin: true }).map(plain);
  t.deepEqual(got, [
    { kind: 'admin', line: 'status' },
    { kind: 'admin', line: 'workers' },
    { kind: 'admin', line: '' },
    { kind: 'admin', line: '' },
    { kind: 'admin', line: 'show  jobs ' },
    { kind: 'admin', line: 'x\ry' },
  ]);
});

test('an admin line without its newline is held until the newline arrives', (t) => {
  const frames: Frame[] = [];
  const d = new Decoder((f) => frames.push(f), { allowAdmin: true });
  d.push(Buffer.from('stat'));
  d.push(Buffer.from('us\r'));
  t.is(frames.length, 0);
  d.push(Buffer.from('\n'));
  t.deepEqual(frames.map(plain), [{ kind: 'admin', line: 'status' }]);
});

test('payloads handed out earlier are not clobbered by later chunks (small, tail and large frames)', (t) => {
  // A mix of sizes so the decoder goes through its whole-chunk, kept-tail and assembly paths.
  const big = (n: number, seed: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
    return b;
  };
  const specs: Array<{ type: number; args: Buffer[] }> = [];
  for (let i = 0; i < 30; i++) {
    const size = [3, 200, 70_000, 5, 300_000, 64 * 1024, 1][i % 7]!;
    specs.push({ type: 28, args: [Buffer.from(`H:x:${i}`), big(size, i)] });
    specs.push({ type: 7, args: [Buffer.from('f'), Buffer.from(`u${i}`), big(i * 13, i + 1)] });
  }
  const all = Buffer.concat(specs.map((s) => frame('REQ', s.type, s.args)));
  const kept: Frame[] = [];
  const d = new Decoder((f) => kept.push(f));
  // Uneven chunks, each a fresh buffer, many of which straddle frame boundaries.
  let pos = 0;
  let step = 1;
  while (pos < all.length) {
    const n = Math.min(all.length - pos, (step * 7919) % 90_001 + 1);
    d.push(Buffer.from(all.subarray(pos, pos + n)));
    pos += n;
    step++;
  }
  t.is(kept.length, specs.length);
  kept.forEach((f, i) => {
    t.is(f.kind, 'packet');
    if (f.kind !== 'packet') return;
    t.is(f.type, specs[i]!.type);
    t.true(f.args.length === specs[i]!.args.length && f.args.every((a, j) => a.equals(specs[i]!.args[j]!)), `frame ${i}`);
  });
  t.is(d.buffered, 0);
});

test('a frame kept from one push survives many later pushes byte by byte', (t) => {
  const first = frame('REQ', 16, [Buffer.from('keep\0me\0')]);
  const second = frame('RES', 13, [Buffer.from('H:a:1'), Buffer.alloc(1000, 0x5a)]);
  const kept: Frame[] = [];
  const d = new Decoder((f) => kept.push(f));
  // The first frame completes in a chunk that also starts the second.
  const joined = Buffer.concat([first, second]);
  d.push(Buffer.from(joined.subarray(0, first.length + 5)));
  t.is(kept.length, 1);
  for (const b of byteByByte(joined.subarray(first.length + 5))) d.push(b);
  t.is(kept.length, 2);
  t.deepEqual(plain(kept[0]!), { kind: 'packet', magic: 'REQ', type: 16, args: [Buffer.from('keep\0me\0').toString('hex')], size: 8 });
  t.true((kept[1] as { args: Buffer[] }).args[1]!.equals(Buffer.alloc(1000, 0x5a)));
});

test('a packet larger than maxPacketSize fails with PacketTooLargeError as soon as its header arrives', (t) => {
  const d = new Decoder(() => t.fail('no frame expected'), { maxPacketSize: 100 });
  const err = t.throws(() => d.push(header('REQ', 7, 101)), { instanceOf: PacketTooLargeError });
  t.is(err!.code, 'ERR_PACKET_TOO_LARGE');
  t.is((err as PacketTooLargeError).size, 101);
  t.is((err as PacketTooLargeError).limit, 100);
  // The decoder is spent: more input is refused with the same error.
  const again = t.throws(() => d.push(Buffer.alloc(101)));
  t.is((again as PacketTooLargeError).code, 'ERR_PACKET_TOO_LARGE');
});

test('a packet of exactly maxPacketSize is accepted', (t) => {
  const payload = Buffer.alloc(100, 7);
  const frames = decode([rawFrame('REQ', 16, payload)], { maxPacketSize: 100 });
  t.is(frames.length, 1);
  t.true((frames[0] as { args: Buffer[] }).args[0]!.equals(payload));
});

test('the default limit refuses a header declaring 4 GiB - 1', (t) => {
  const err = t.throws(() => decode([header('REQ', 16, 0xffffffff)]));
  t.is((err as PacketTooLargeError).code, 'ERR_PACKET_TOO_LARGE');
});

test('bad magic is a ProtocolError', (t) => {
  const bad = Buffer.from(header('REQ', 16, 0));
  bad[3] = 0x58; // "\0REX"
  const err = t.throws(() => decode([bad]), { instanceOf: ProtocolError });
  t.is(err!.code, 'ERR_PROTOCOL');
});

test('a non-NUL first byte is a ProtocolError when admin lines are not allowed', (t) => {
  const err = t.throws(() => decode([Buffer.from('status\n')]), { instanceOf: ProtocolError });
  t.is(err!.code, 'ERR_PROTOCOL');
});

for (const type of [0, 43, 44, 255, 0x10000, 0xffffffff]) {
  test(`packet type ${type} is a ProtocolError`, (t) => {
    for (const magic of ['REQ', 'RES'] as const) {
      const err = t.throws(() => decode([header(magic, type, 0)]), { instanceOf: ProtocolError });
      t.is(err!.code, 'ERR_PROTOCOL');
    }
  });
}

test('a packet type that takes no arguments but carries a payload is decoded with no arguments (gearmand ignores the payload)', (t) => {
  for (const type of [3, 4, 6, 9, 10, 24, 30, 39]) {
    const frames = decode([rawFrame('REQ', type, Buffer.from('x'))]);
    t.is(frames.length, 1, `type ${type}`);
    t.deepEqual(frames[0]!.kind === 'packet' ? frames[0]!.args : null, [], `type ${type}`);
  }
});

test('a TLS record header at a packet boundary fails at once, naming TLS', (t) => {
  const d = new Decoder(() => t.fail('no frame expected'), { allowAdmin: true });
  d.push(Buffer.from([0x16])); // one byte could still be anything
  const err = t.throws(() => d.push(Buffer.from([0x03, 0x01, 0x02, 0x00])), { instanceOf: ProtocolError });
  t.regex(err!.message, /TLS/);
});

test('a whole TLS ClientHello on an admin-allowing decoder fails on its first push, naming TLS', (t) => {
  // Record header 16 03 01, then handshake bytes; no 0x0a anywhere, so it never ends a "line".
  const hello = Buffer.alloc(517);
  hello.set([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]);
  for (let i = 11; i < hello.length; i++) hello[i] = ((i * 97) % 200) + 11;
  t.false(hello.includes(0x0a));
  const d = new Decoder(() => t.fail('no frame expected'), { allowAdmin: true, maxAdminLineLength: 1024 });
  const err = t.throws(() => d.push(hello), { instanceOf: ProtocolError });
  t.is(err!.code, 'ERR_PROTOCOL');
  t.regex(err!.message, /TLS/);
});

test('an over-long admin line that is not TLS fails with a ProtocolError that does not claim TLS', (t) => {
  const d = new Decoder(() => t.fail('no frame expected'), { allowAdmin: true, maxAdminLineLength: 16 });
  const err = t.throws(() => d.push(Buffer.from('x'.repeat(17))), { instanceOf: ProtocolError });
  t.is(err!.code, 'ERR_PROTOCOL');
  t.notRegex(err!.message, /TLS/);
});

test('fewer NULs than the table asks for yields fewer arguments (the session decides)', (t) => {
  const cases: Array<[number, string, string[]]> = [
    [7, 'func', ['func']],
    [7, 'func\0uniq', ['func', 'uniq']],
    [7, 'func\0uniq\0da\0ta', ['func', 'uniq', 'da\0ta']],
    [13, 'H:a:1', ['H:a:1']],
    [12, 'H:a:1\x003', ['H:a:1', '3']],
    // PROTOCOL's three-field reduce form: DATA lands where the aggregate field would be.
    [37, 'map\0u\0red\0payload', ['map', 'u', 'red', 'payload']],
    [20, '', ['']],
  ];
  for (const [type, payload, args] of cases) {
    const frames = decode([rawFrame('REQ', type, Buffer.from(payload, 'latin1'))]);
    t.deepEqual(
      frames.map((f) => (f.kind === 'packet' ? f.args.map((a) => a.toString('latin1')) : null)),
      [args],
      `type ${type} ${JSON.stringify(payload)}`,
    );
  }
});

test('buffered counts the bytes of an incomplete frame', (t) => {
  const d = new Decoder(() => {});
  const f = frame('REQ', 16, [Buffer.alloc(50)]);
  d.push(f.subarray(0, 20));
  t.is(d.buffered, 20);
  d.push(f.subarray(20));
  t.is(d.buffered, 0);
});
