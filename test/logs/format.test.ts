import test from 'ava';
import { compileLogFormat, LOG_FORMATS } from '../../src/logs/index.ts';

test('nicknames compile to the documented Apache/Debian format strings', (t) => {
  t.is(compileLogFormat('common').spec, '%h %l %u %t "%r" %>s %b');
  t.is(compileLogFormat('combined').spec, '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"');
  t.is(compileLogFormat('combinedio').spec, '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %I %O');
  t.is(compileLogFormat('vhost_combined').spec, '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"');
  t.is(compileLogFormat('vhost_combined').name, 'vhost_combined');
});

test('nginx (and other aliases, any case) name the combined layout', (t) => {
  t.is(compileLogFormat('nginx').spec, LOG_FORMATS.combined);
  t.is(compileLogFormat('COMBINED').name, 'combined');
  t.is(compileLogFormat('clf').spec, LOG_FORMATS.common);
});

test('an unknown nickname is a LogFormatError listing the known ones', (t) => {
  const err = t.throws(() => compileLogFormat('combind'), { code: 'ERR_LOG_FORMAT' });
  t.regex(err!.message, /combined/);
});

test('an unknown directive is a LogFormatError naming it', (t) => {
  const err = t.throws(() => compileLogFormat('%h %l %Z %t'), { code: 'ERR_LOG_FORMAT' });
  t.regex(err!.message, /%Z/);
  const err2 = t.throws(() => compileLogFormat('%h %{X}w'), { code: 'ERR_LOG_FORMAT' });
  t.regex(err2!.message, /%\{X\}w/);
});

test('malformed directives are LogFormatErrors', (t) => {
  t.throws(() => compileLogFormat('%h %'), { code: 'ERR_LOG_FORMAT' });
  t.throws(() => compileLogFormat('%h %{Referer'), { code: 'ERR_LOG_FORMAT' });
  t.throws(() => compileLogFormat('%h %i'), { code: 'ERR_LOG_FORMAT' }); // %i needs a header name
  t.throws(() => compileLogFormat('%h %{fortnights}T'), { code: 'ERR_LOG_FORMAT' });
  t.throws(() => compileLogFormat('%h %{%Q}t'), { code: 'ERR_LOG_FORMAT' }); // unsupported strftime conversion
});

test('two text directives with nothing between them are refused', (t) => {
  const err = t.throws(() => compileLogFormat('%h%l %t'), { code: 'ERR_LOG_FORMAT' });
  t.regex(err!.message, /%h.*%l/);
});

test('%U%q is accepted: the two are split at the ?', (t) => {
  const f = compileLogFormat('%h "%m %U%q %H" %>s');
  const p = f.createParser(['path', 'query', 'method', 'protocol']);
  t.deepEqual(p.parse('1.2.3.4 "GET /a/b?x=1&y=2 HTTP/1.1" 200'), { path: '/a/b', query: 'x=1&y=2', method: 'GET', protocol: 'HTTP/1.1' });
  t.deepEqual(p.parse('1.2.3.4 "GET /a/b HTTP/1.1" 200'), { path: '/a/b', query: '', method: 'GET', protocol: 'HTTP/1.1' });
});

test('a format pasted from apache2.conf with \\" escapes compiles like the plain one', (t) => {
  const f = compileLogFormat('%h %l %u %t \\"%r\\" %>s %b');
  t.deepEqual(f.literals, compileLogFormat('common').literals);
});

test('%% is a literal percent sign', (t) => {
  const f = compileLogFormat('%h 100%% %>s');
  t.deepEqual(f.literals, ['', ' 100% ', '']);
  t.deepEqual(f.createParser(['status']).parse('h 100% 204'), { status: 204 });
  t.is(f.createParser(['status']).parse('h 100 204'), 'garbage');
});

test('the fields a format provides, with fallbacks', (t) => {
  const combined = compileLogFormat('combined');
  for (const f of ['host', 'ip', 'ident', 'user', 'time', 'tzOffset', 'request', 'method', 'path', 'query', 'protocol', 'status', 'bytes', 'referer', 'userAgent', 'line', 'offset']) {
    t.true(combined.provides(f), f);
  }
  t.false(combined.provides('vhost'));
  t.false(combined.provides('bytesSent'));
  const vhost = compileLogFormat('vhost_combined');
  t.true(vhost.provides('vhost') && vhost.provides('port') && vhost.provides('bytesSent'));
  t.deepEqual(vhost.sourceOf('bytes'), vhost.sourceOf('bytesSent'), 'bytes falls back to %O');
  const io = compileLogFormat('combinedio');
  t.true(io.provides('bytesReceived') && io.provides('bytesSent'));
  t.true(combined.provides('header:referer') && combined.provides('header:USER-AGENT'), 'headers match case-insensitively');
});

test('asking for a field the format lacks, or a made-up one, is a LogFormatError', (t) => {
  const f = compileLogFormat('common');
  t.throws(() => f.createParser(['userAgent']), { code: 'ERR_LOG_FORMAT', message: /userAgent/ });
  t.throws(() => f.createParser(['colour' as never]), { code: 'ERR_LOG_FORMAT', message: /colour/ });
});

/** One line per directive: format, line, and the fields it must give. */
const DIRECTIVE_CASES: Array<[string, string, Record<string, unknown>]> = [
  ['%h', 'web1.example.com', { host: 'web1.example.com', ip: 'web1.example.com' }],
  ['%a', '2001:db8::7', { ip: '2001:db8::7', host: '2001:db8::7' }],
  ['%{c}a', '10.0.0.9', { peerIp: '10.0.0.9' }],
  ['%A', '192.0.2.10', { localIp: '192.0.2.10' }],
  ['%l', 'identd-user', { ident: 'identd-user' }],
  ['%u', 'alice', { user: 'alice' }],
  ['%u', '""', { user: '' }],
  ['%t', '[10/Oct/2000:13:55:36 -0700]', { time: Date.parse('2000-10-10T13:55:36-07:00'), tzOffset: -420 }],
  ['"%r"', '"GET /a?b=1 HTTP/1.1"', { request: 'GET /a?b=1 HTTP/1.1', method: 'GET', path: '/a', query: 'b=1', protocol: 'HTTP/1.1' }],
  ['%>s', '404', { status: 404 }],
  ['%s', '302', { status: 302 }],
  ['%<s', '301', { status: 301 }],
  ['%b', '-', { bytes: 0 }],
  ['%b', '2326', { bytes: 2326 }],
  ['%B', '0', { bytes: 0 }],
  ['%O', '2611', { bytesSent: 2611, bytes: 2611 }],
  ['%I', '377', { bytesReceived: 377 }],
  ['%S', '2988', { bytesTransferred: 2988 }],
  ['%D', '153045', { duration: 153045 }],
  ['%T', '3', { duration: 3_000_000 }],
  ['%{ms}T', '153', { duration: 153_000 }],
  ['%{us}T', '153045', { duration: 153045 }],
  ['%{s}T', '2', { duration: 2_000_000 }],
  ['%v', 'www.example.com', { vhost: 'www.example.com' }],
  ['%V', 'example.com', { vhost: 'example.com' }],
  ['%p', '443', { port: 443 }],
  ['%{canonical}p', '80', { port: 80 }],
  ['%{remote}p', '51234', { remotePort: 51234 }],
  ['%P', '4242', { pid: 4242 }],
  ['%U', '/caf\\xc3\\xa9', { path: '/café' }],
  ['%q', '?a=1&b=2', { query: 'a=1&b=2' }],
  ['%m', 'PROPFIND', { method: 'PROPFIND' }],
  ['%H', 'HTTP/2.0', { protocol: 'HTTP/2.0' }],
  ['%f', '/var/www/html/index.html', { filename: '/var/www/html/index.html' }],
  ['%X', '+', { connectionStatus: '+' }],
  ['"%{Referer}i"', '"https://example.org/"', { referer: 'https://example.org/' }],
  ['"%{User-Agent}i"', '"curl/8.5.0"', { userAgent: 'curl/8.5.0' }],
  ['"%{X-Forwarded-For}i"', '"203.0.113.9, 10.0.0.1"', { 'header:X-Forwarded-For': '203.0.113.9, 10.0.0.1' }],
  ['"%{Content-Type}o"', '"text/html; charset=UTF-8"', { 'responseHeader:Content-Type': 'text/html; charset=UTF-8' }],
  ['%{UNIQUE_ID}e', 'ZxyAbc', { 'env:UNIQUE_ID': 'ZxyAbc' }],
  ['%{ratio}n', '87pct', { 'note:ratio': '87pct' }],
  ['%{session}C', 'abc123', { 'cookie:session': 'abc123' }],
  ['%{sec}t', '971211336', { time: 971211336000, tzOffset: 0 }],
  ['%{msec}t', '971211336123', { time: 971211336123 }],
  ['%{usec}t', '971211336123456', { time: 971211336123 }],
  ['%{end:sec}t', '971211336', { time: 971211336000 }],
  ['[%{%d/%b/%Y %H:%M:%S}t.%{msec_frac}t %{%z}t]', '[10/Oct/2000 13:55:36.250 +0200]', { time: Date.parse('2000-10-10T13:55:36.250+02:00'), tzOffset: 120 }],
  ['%{%Y-%m-%dT%H:%M:%S%z}t', '2026-03-29T01:30:00+01:00', { time: Date.parse('2026-03-29T01:30:00+01:00'), tzOffset: 60 }],
  ['%{%FT%T}t.%{usec_frac}t', '2026-03-29T01:30:00.123456', { time: Date.parse('2026-03-29T01:30:00.123Z') }],
  ['%{%a, %e %B %Y %I:%M:%S %p %Z}t', 'Sat,  3 October 2026 01:05:09 PM UTC', { time: Date.parse('2026-10-03T13:05:09Z') }],
  ['%{%D %R}t', '10/03/26 13:05', { time: Date.parse('2026-10-03T13:05:00Z') }],
  ['%{%s}t', '1791640536', { time: 1791640536000 }],
];

for (const [dir, value, want] of DIRECTIVE_CASES) {
  test(`directive ${dir} reads ${JSON.stringify(value)}`, (t) => {
    // Surround the directive with other fields so its end is found by the separator, not the line end.
    const f = compileLogFormat(`%{X-Before}i ${dir} %{X-After}i`);
    const p = f.createParser(Object.keys(want) as never[]);
    const r = p.parse(`before ${value} after`);
    t.is(typeof r, 'object', `parse result: ${JSON.stringify(r)}`);
    t.like(r as object, want);
  });
}

test('conditional directives (%400,501{…}i, %!200…) and modifiers are accepted', (t) => {
  const f = compileLogFormat('%h %>s "%400,501{User-agent}i" "%!200,304{Referer}i"');
  t.deepEqual(f.directives.map((d) => d.letter), ['h', 's', 'i', 'i']);
  t.deepEqual(f.createParser(['userAgent', 'referer']).parse('h 200 "-" "-"'), { userAgent: '-', referer: '-' });
});

test('a custom time format without a date provides no time field', (t) => {
  const f = compileLogFormat('%h %{%H:%M:%S}t %>s');
  t.false(f.provides('time'));
  t.is(typeof f.createParser(['status']).parse('h 13:55:36 200'), 'object');
  t.is(f.createParser(['status']).parse('h 25:55:36 200'), 'bad_date');
});

test('fields are listed in the documented order, generic ones last', (t) => {
  const f = compileLogFormat('%{X-Id}i %h %>s %t');
  t.deepEqual(f.fields, ['host', 'ip', 'time', 'tzOffset', 'status', 'line', 'offset', 'header:X-Id']);
});
