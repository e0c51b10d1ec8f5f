import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { compileLogFormat, formatRecord, requestLine, type LogRecord } from '../../src/logs/index.ts';

/**
 * Property: writing a record in a format and parsing the line back gives the record again.
 * The arbitraries cover what a format can represent: anything at all in quoted fields (quotes,
 * backslashes, control characters, any Unicode), no spaces in unquoted ones, a request made of a
 * method, a path without `?` or spaces, a query and an HTTP protocol.
 */

/** Characters that escaping must handle, mixed with plain ASCII and any Unicode code point. */
const char = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('"', '\\', ' ', '\t', '\n', '\r', '\b', '\v', '\x00', '\x1b', '\x7f', '[', ']', '?', 'é', 'ß', '☃', '\u{1F600}', '\\"', '\\x41') },
  { weight: 5, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
const textOf = (min: number, max: number) => fc.array(char, { minLength: min, maxLength: max }).map((cs) => cs.join(''));
const anyText = textOf(0, 30);
const token = textOf(1, 16).filter((s) => !s.includes(' '));
const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
const ident = fc.oneof(fc.constant('-'), token);
const user = fc.oneof(fc.constant('-'), fc.constant(''), token);
// From 1970-01-02 to 9999-12-30 UTC, whole seconds: %t has no fraction, and its year has four digits.
const time = fc.integer({ min: 86_400, max: 253_402_128_000 }).map((s) => s * 1000);
const tzOffset = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
const method = fc.stringMatching(/^[A-Z]{1,10}$/);
const path = textOf(0, 30).filter((s) => !s.includes(' ') && !s.includes('?')).map((s) => '/' + s);
const query = fc.oneof(fc.constant(''), textOf(1, 30).filter((s) => !s.includes(' ')));
const protocol = fc.constantFrom('HTTP/1.0', 'HTTP/1.1', 'HTTP/2.0');
const status = fc.integer({ min: 100, max: 999 });
const count = fc.nat(2 ** 40);

const base = {
  host,
  ident,
  user,
  time,
  tzOffset,
  method,
  path,
  query,
  protocol,
  status,
};

function check(t: import('ava').ExecutionContext, formatName: string, arb: fc.Arbitrary<Partial<LogRecord>>, expected: (r: Partial<LogRecord>) => Partial<LogRecord>) {
  const format = compileLogFormat(formatName);
  const parser = format.createParser('all');
  fc.assert(
    fc.property(arb, (record) => {
      const line = formatRecord(format, record);
      const parsed = parser.parse(line);
      if (typeof parsed === 'string') throw new Error(`${parsed}: ${JSON.stringify(line)}`);
      const want = expected(record);
      const got: Record<string, unknown> = {};
      for (const k of Object.keys(want)) got[k] = (parsed as Record<string, unknown>)[k];
      assert.deepStrictEqual(got, want, line);
    }),
    { numRuns: 300 },
  );
  t.pass();
}

const withRequest = (r: Partial<LogRecord>) => ({ ...r, request: requestLine(r)! });

test('common: format then parse gives the record back', (t) => {
  check(t, 'common', fc.record({ ...base, bytes: count }), (r) => ({ ...withRequest(r), ip: r.host! }));
});

test('combined: format then parse gives the record back', (t) => {
  check(t, 'combined', fc.record({ ...base, bytes: count, referer: anyText, userAgent: anyText }), withRequest);
});

test('combinedio: format then parse gives the record back', (t) => {
  check(t, 'combinedio', fc.record({ ...base, bytes: count, referer: anyText, userAgent: anyText, bytesReceived: count, bytesSent: count }), withRequest);
});

test('vhost_combined: format then parse gives the record back (bytes are %O)', (t) => {
  const vhost = fc.domain();
  const port = fc.integer({ min: 0, max: 65535 });
  check(t, 'vhost_combined', fc.record({ ...base, vhost, port, bytesSent: count, referer: anyText, userAgent: anyText }), (r) => ({
    ...withRequest(r),
    bytes: r.bytesSent!,
  }));
});

test('a custom format with most directives: format then parse gives the record back', (t) => {
  const spec =
    '%v %a %A %p %{remote}p %P %h %l %u %{%Y-%m-%dT%H:%M:%S%z}t "%r" %>s %b %O %I %S %D %{ms}T "%{Referer}i" "%{User-Agent}i" ' +
    '"%{X-Forwarded-For}i" %{UNIQUE_ID}e "%{Content-Type}o" %m %U%q %H %X %f';
  const arb = fc.record({
    ...base,
    vhost: fc.domain(),
    ip: fc.ipV4(),
    localIp: fc.ipV6(),
    port: fc.integer({ min: 0, max: 65535 }),
    remotePort: fc.integer({ min: 0, max: 65535 }),
    pid: fc.nat(4_000_000),
    bytes: count,
    bytesSent: count,
    bytesReceived: count,
    bytesTransferred: count,
    duration: fc.nat(10 ** 9).map((ms) => ms * 1000),
    referer: anyText,
    userAgent: anyText,
    'header:X-Forwarded-For': anyText,
    'env:UNIQUE_ID': token,
    'responseHeader:Content-Type': anyText,
    connectionStatus: fc.constantFrom('X', '+', '-'),
    filename: token,
  });
  check(t, spec, arb as fc.Arbitrary<Partial<LogRecord>>, withRequest);
});
