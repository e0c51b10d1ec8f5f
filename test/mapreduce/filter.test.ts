import test from 'ava';
import { compileFilter, parseTimeBound, parseWhere } from '../../src/mapreduce/filter.ts';

const rec = (r: Record<string, unknown>) => r as never;

test('--where compares numbers numerically and strings exactly, with and/or/not and parentheses', (t) => {
  const f = compileFilter({ where: 'status>=500 or (method=POST and not path~^/api/)' });
  t.deepEqual([...f.fields].sort(), ['method', 'path', 'status']);
  t.true(f.test!(rec({ status: 503, method: 'GET', path: '/' })));
  t.true(f.test!(rec({ status: 200, method: 'POST', path: '/login' })));
  t.false(f.test!(rec({ status: 200, method: 'POST', path: '/api/x' })));
  t.false(f.test!(rec({ status: 404, method: 'GET', path: '/' })));
});

test('--where: = with * or ? is a glob; quoted values may hold spaces and operators', (t) => {
  const f = compileFilter({ where: 'path=/blog/* and userAgent!="curl/7.1 (x>y)"' });
  t.true(f.test!(rec({ path: '/blog/a/b', userAgent: 'Mozilla' })));
  t.false(f.test!(rec({ path: '/blog', userAgent: 'Mozilla' })));
  t.false(f.test!(rec({ path: '/blog/x', userAgent: 'curl/7.1 (x>y)' })));
});

test('--where errors name what is wrong and where', (t) => {
  for (const [expr, msg] of [
    ['stat>=500', /unknown field 'stat'/],
    ['status>=', /expected a value/],
    ['status>=5xx', /is a number/],
    ['(status=200', /expected '\)'/],
    ['path~[', /bad regular expression/],
    ['status=200 status=201', /unexpected/],
  ] as const) {
    const err = t.throws(() => compileFilter({ where: expr }), undefined, expr);
    t.is((err as { code?: string }).code, 'ERR_INVALID_ARGUMENT');
    t.regex(err!.message, msg, expr);
  }
  t.truthy(parseWhere('not not status=1'));
});

test('--since/--until take ISO dates and date-times, with or without a zone; --until DATE includes that day', (t) => {
  t.is(parseTimeBound('2026-10-01', 'since'), Date.UTC(2026, 9, 1));
  t.is(parseTimeBound('2026-10-01T12:30:00Z', 'since'), Date.UTC(2026, 9, 1, 12, 30));
  t.is(parseTimeBound('2026-10-01T12:30:00+02:00', 'since'), Date.UTC(2026, 9, 1, 10, 30));
  // Without a zone: the logs' zone (here -07:00).
  t.is(parseTimeBound('2026-10-01T00:00', 'until', -420), Date.UTC(2026, 9, 1, 7, 0));
  // --until is exclusive, but a date alone includes that day.
  t.is(parseTimeBound('2026-10-03', 'until'), Date.UTC(2026, 9, 4));
  t.is(parseTimeBound('2026-10-03', 'until', 120), Date.UTC(2026, 9, 3, 22, 0));
  t.throws(() => parseTimeBound('2026-02-30', 'since'), { message: /not a real date/ });
  t.throws(() => parseTimeBound('yesterday', 'since'), { message: /ISO 8601/ });
  const f = compileFilter({ since: 1000, until: 2000 });
  t.true(f.test!(rec({ time: 1000 })));
  t.false(f.test!(rec({ time: 2000 })));
});
