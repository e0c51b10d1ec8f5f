/**
 * The encoder: byte-exact against hand-built frames, round-trips through the decoder for every
 * packet type, and refuses argument lists of the wrong length.
 */
import test from 'ava';
import { Decoder, type Frame } from '../../src/protocol/decoder.ts';
import { encodePacket, request, response } from '../../src/protocol/encoder.ts';
import type { PacketType } from '../../src/protocol/packet-types.ts';
import { ProtocolError } from '../../src/errors.ts';
import { REFERENCE_TABLE, frame, samples } from './frames.ts';

function decodeOne(buf: Buffer): Frame {
  const frames: Frame[] = [];
  new Decoder((f) => frames.push(f)).push(buf);
  if (frames.length !== 1) throw new Error(`expected one frame, got ${frames.length}`);
  return frames[0]!;
}

for (const s of samples()) {
  test(`${s.name} (${s.type}) ${s.magic} [${s.args.map((a) => a.length).join(',')}]: encodes byte-exact and round-trips`, (t) => {
    const bytes = encodePacket(s.magic, s.type as PacketType, s.args);
    t.is(bytes.toString('hex'), s.bytes.toString('hex'));
    const f = decodeOne(bytes);
    t.is(f.kind, 'packet');
    if (f.kind !== 'packet') return;
    t.is(f.magic, s.magic);
    t.is(f.type, s.type);
    t.deepEqual(
      f.args.map((a) => a.toString('hex')),
      s.args.map((a) => a.toString('hex')),
    );
  });
}

test('request() uses \\0REQ and response() uses \\0RES', (t) => {
  t.is(request(16 as PacketType, 'x').toString('hex'), frame('REQ', 16, [Buffer.from('x')]).toString('hex'));
  t.is(response(17 as PacketType, 'x').toString('hex'), frame('RES', 17, [Buffer.from('x')]).toString('hex'));
});

test('string arguments are written as UTF-8', (t) => {
  const bytes = request(7 as PacketType, 'fünc', 'ü', 'données ✓');
  t.is(bytes.toString('hex'), frame('REQ', 7, [Buffer.from('fünc'), Buffer.from('ü'), Buffer.from('données ✓')]).toString('hex'));
});

test('packets without arguments have an empty payload', (t) => {
  for (const [type, , magic, argc] of REFERENCE_TABLE) {
    if (argc !== 0) continue;
    const m = magic === 'both' ? 'REQ' : magic;
    t.is(encodePacket(m, type as PacketType, []).toString('hex'), frame(m, type, []).toString('hex'));
  }
});

test('a wrong number of arguments throws ProtocolError for every type', (t) => {
  for (const [type, name, , argc] of REFERENCE_TABLE) {
    for (const n of [argc - 1, argc + 1]) {
      if (n < 0) continue;
      const args = Array.from({ length: n }, () => 'a');
      const err = t.throws(() => encodePacket('REQ', type as PacketType, args), { instanceOf: ProtocolError }, `${name} with ${n}`);
      t.is(err!.code, 'ERR_PROTOCOL');
    }
  }
});

test('unknown packet types cannot be encoded', (t) => {
  for (const type of [0, 43, 100]) {
    const err = t.throws(() => encodePacket('REQ', type as PacketType, []), { instanceOf: ProtocolError });
    t.is(err!.code, 'ERR_PROTOCOL');
  }
});

test('a NUL inside an argument that the wire terminates with NUL is refused (it would shift every later argument)', (t) => {
  const err = t.throws(() => encodePacket('REQ', 7, ['fu\0nc', 'u', 'data']), { instanceOf: ProtocolError });
  t.regex(err!.message, /NUL/);
  t.throws(() => encodePacket('REQ', 7, ['func', Buffer.from([0x61, 0, 0x62]), 'data']), { instanceOf: ProtocolError });
  // The last argument is the unterminated remainder: NULs are fine there.
  t.notThrows(() => encodePacket('REQ', 7, ['func', 'u', 'da\0ta']));
});
