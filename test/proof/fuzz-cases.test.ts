/**
 * The fuzz case generator (scripts/proof/lib/fuzz-cases.ts): a run replays from its seed, frames
 * are laid out as the protocol text says (checked byte by byte here, not with the project's
 * decoder), splitting never changes the bytes, and every kind of case comes up.
 */
import test from 'ava';
import {
  ALL_TYPES,
  buildFrame,
  CASE_KINDS,
  joinArgs,
  mutate,
  nextCase,
  PACKET_ARGS,
  Rng,
  split,
  validFrame,
  type FuzzContext,
} from '../../scripts/proof/lib/fuzz-cases.ts';

const ctx: FuzzContext = { handles: ['H:test:1', 'H:test:2'], tlsHello: Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]), nowSeconds: 1_800_000_000 };

test('the same seed gives the same cases, another seed other ones', (t) => {
  const run = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 200 }, () => nextCase(rng, ctx)).map((c) => `${c.kind}:${c.after}:${Buffer.concat(c.writes).toString('hex')}`);
  };
  t.deepEqual(run(42), run(42));
  t.notDeepEqual(run(42), run(43));
});

test('the random source covers its range evenly enough', (t) => {
  const rng = new Rng(7);
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) buckets[rng.int(10)]++;
  for (const b of buckets) t.true(b > 9_000 && b < 11_000, String(buckets));
});

test('a frame is magic, type and size big-endian, then the arguments joined by NUL', (t) => {
  const f = buildFrame('REQ', 7, joinArgs([Buffer.from('rev'), Buffer.from('u1'), Buffer.from('data\0with nul')]));
  t.deepEqual([...f.subarray(0, 4)], [0, 0x52, 0x45, 0x51]);
  t.is(f.readUInt32BE(4), 7);
  t.is(f.readUInt32BE(8), f.length - 12);
  t.is(f.subarray(12).toString('latin1'), 'rev\0u1\0data\0with nul');
  t.is(buildFrame('RES', 17, Buffer.alloc(0), 0xffffffff).readUInt32BE(8), 0xffffffff);
});

test('valid frames of every packet type carry the argument count of the protocol table', (t) => {
  const rng = new Rng(3);
  for (const type of ALL_TYPES) {
    for (let i = 0; i < 20; i++) {
      const f = validFrame(rng, type, ctx);
      t.is(f.readUInt32BE(4), type);
      t.is(f.readUInt32BE(8), f.length - 12, `type ${type}: declared size`);
      const argc = PACKET_ARGS[type]!.length;
      const nuls = [...f.subarray(12)].filter((b) => b === 0).length;
      // Arguments before the last hold no NUL of their own (only data may), so at least argc-1 NULs.
      t.true(nuls >= Math.max(0, argc - 1), `type ${type}: ${nuls} NULs for ${argc} arguments`);
    }
  }
});

test('splitting a case into writes keeps its bytes', (t) => {
  const rng = new Rng(9);
  for (let i = 0; i < 500; i++) {
    const bytes = rng.bytes(rng.range(0, 300));
    t.true(Buffer.concat(split(rng, bytes)).equals(bytes));
  }
});

test('mutations change what they say they change', (t) => {
  const rng = new Rng(5);
  const f = buildFrame('REQ', 16, Buffer.from('hello'));
  const sizes = Array.from({ length: 100 }, () => mutate(rng, f, 'size').readUInt32BE(8));
  t.true(sizes.filter((s) => s !== 5).length > 80, 'a size mutation declares another size than the payload has');
  t.true(sizes.some((s) => s > 64 * 1024 * 1024), 'some declare more than the server accepts');
  t.true(mutate(rng, f, 'truncate').length < f.length);
  const stripped = mutate(rng, buildFrame('REQ', 7, Buffer.from('a\0b\0c')), 'nul-strip');
  t.is(stripped.subarray(12).toString(), 'abc');
  t.is(stripped.readUInt32BE(8), 3);
  const repeated = mutate(rng, f, 'repeat');
  t.is(repeated.length % f.length, 0);
  t.true(repeated.length >= 2 * f.length);
  t.true(mutate(rng, f, 'extend').subarray(0, f.length).equals(f));
});

test('every kind of case comes up within a few thousand cases', (t) => {
  const rng = new Rng(1);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(nextCase(rng, ctx).kind);
  t.deepEqual([...seen].sort(), [...CASE_KINDS].sort());
});

test('a TLS case sends the ClientHello it was given', (t) => {
  const rng = new Rng(2);
  for (let i = 0; i < 5000; i++) {
    const c = nextCase(rng, ctx);
    if (c.kind !== 'tls-hello') continue;
    t.true(Buffer.concat(c.writes).equals(ctx.tlsHello));
    return;
  }
  t.fail('no TLS case');
});
