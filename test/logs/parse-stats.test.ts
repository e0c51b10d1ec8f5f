import test from 'ava';
import fc from 'fast-check';
import { INVALID_REASONS, ParseStats, type InvalidReason } from '../../src/logs/index.ts';

type Event = { kind: 'record' } | { kind: 'bad'; reason: InvalidReason; line: string; offset: number };

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  fc.constant({ kind: 'record' as const }),
  fc.record({
    kind: fc.constant('bad' as const),
    reason: fc.constantFrom(...INVALID_REASONS),
    line: fc.string({ maxLength: 40 }),
    offset: fc.nat(1_000_000),
  }),
);

function statsOf(events: readonly Event[], source: string): ParseStats {
  const s = new ParseStats({ samplesPerReason: 2 });
  for (const e of events) {
    if (e.kind === 'record') s.addRecords(1);
    else s.addInvalid(e.reason, e.line, source, e.offset);
  }
  return s;
}

const json = (s: ParseStats) => JSON.parse(JSON.stringify(s));

test('merge is commutative and associative, samples included', (t) => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 30 }), fc.array(eventArb, { maxLength: 30 }), fc.array(eventArb, { maxLength: 30 }), (a, b, c) => {
      const ab_c = statsOf(a, 'a').merge(statsOf(b, 'b')).merge(statsOf(c, 'c'));
      const a_bc = statsOf(a, 'a').merge(statsOf(b, 'b').merge(statsOf(c, 'c')));
      const cba = statsOf(c, 'c').merge(statsOf(b, 'b')).merge(statsOf(a, 'a'));
      t.deepEqual(json(ab_c), json(a_bc));
      t.deepEqual(json(ab_c), json(cba));
    }),
  );
});

test('merging partials equals counting everything in one place', (t) => {
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 60 }), fc.nat(60), (events, cut) => {
      const whole = new ParseStats({ samplesPerReason: 2 });
      const left = new ParseStats({ samplesPerReason: 2 });
      const right = new ParseStats({ samplesPerReason: 2 });
      events.forEach((e, i) => {
        for (const s of [whole, i < cut ? left : right]) {
          if (e.kind === 'record') s.addRecords(1);
          else s.addInvalid(e.reason, e.line, 'f', e.offset);
        }
      });
      t.deepEqual(json(left.merge(right)), json(whole));
    }),
  );
});

test('counts per reason and the sample bound', (t) => {
  const s = new ParseStats({ samplesPerReason: 3 });
  for (let i = 0; i < 100; i++) s.addInvalid('garbage', `junk ${i}`, 'f', i * 10);
  s.addInvalid('empty', '', 'f', 5);
  s.addRecords(7);
  t.is(s.invalid.garbage, 100);
  t.is(s.invalidLines, 101);
  t.is(s.lines, 108);
  t.is(s.samples.filter((x) => x.reason === 'garbage').length, 3);
  t.is(s.samples.filter((x) => x.reason === 'empty').length, 1);
});

test('long bad lines are cut in samples but keep their length', (t) => {
  const s = new ParseStats();
  s.addInvalid('too_long', 'x'.repeat(100_000));
  t.is(s.samples[0]!.line.length, 512);
  t.is(s.samples[0]!.length, 100_000);
});

test('JSON round trip through fromJSON, which validates and names the bad field', (t) => {
  const s = statsOf([{ kind: 'record' }, { kind: 'bad', reason: 'nul', line: '\0\0', offset: 3 }], 'web1:/var/log/a.log');
  const back = ParseStats.fromJSON(JSON.parse(JSON.stringify(s)));
  t.deepEqual(json(back), json(s));
  const bad = { ...json(s), invalid: { ...json(s).invalid, glued: -1 } };
  const err = t.throws(() => ParseStats.fromJSON(bad), { code: 'ERR_INVALID_ARGUMENT' });
  t.is((err as unknown as { field: string }).field, 'invalid.glued');
  t.throws(() => ParseStats.fromJSON({ records: 1 }), { code: 'ERR_INVALID_ARGUMENT' });
  t.throws(() => new ParseStats({ samplesPerReason: -1 }), { code: 'ERR_INVALID_ARGUMENT' });
});
