/**
 * The one place where record field names are defined and documented: `FIELD_DOCS` below is what
 * `geartrain fields` and every job's help print.
 *
 * A parser made by `LogFormat.createParser(fields)` returns records holding the requested fields
 * (derived ones with the fields they come from). Which directives feed a field, first present
 * wins, is in each entry's `from`.
 *
 * String fields are unescaped when they are extracted (`\"`, `\\`, `\xhh`, `\n`, …), and only for the
 * fields a parser was asked for; a line without a backslash or a non-ASCII byte costs nothing extra.
 * Escaped bytes that form valid UTF-8 become the characters they encode, other bytes become the
 * Latin-1 characters of the same value. `-` is kept as logged in string fields.
 *
 * Strings in records may share memory with their line (V8 sliced strings): a job that keeps
 * millions of distinct values for long can copy them with `detachString()`.
 */

import { didYouMean } from '../suggest.ts';

/** Every field name with a fixed spelling. */
export const FIXED_FIELDS = [
  'host',
  'ip',
  'peerIp',
  'localIp',
  'ident',
  'user',
  'time',
  'tzOffset',
  'request',
  'method',
  'path',
  'query',
  'protocol',
  'status',
  'bytes',
  'bytesSent',
  'bytesReceived',
  'bytesTransferred',
  'duration',
  'vhost',
  'port',
  'remotePort',
  'pid',
  'filename',
  'connectionStatus',
  'referer',
  'userAgent',
  'line',
  'offset',
] as const;

export type FixedFieldName = (typeof FIXED_FIELDS)[number];

/**
 * Fields computed from others when a parser is asked for them (logs/derived-fields.ts), so a
 * job that does not ask pays nothing.
 */
export const DERIVED_FIELDS = ['day', 'hour', 'statusClass', 'browser', 'os', 'device', 'bot'] as const;

export type DerivedFieldName = (typeof DERIVED_FIELDS)[number];

/** Prefixes of the generic fields: `header:X-Forwarded-For`, `env:UNIQUE_ID`, … */
export const GENERIC_FIELD_PREFIXES = ['header:', 'responseHeader:', 'env:', 'note:', 'cookie:'] as const;

export type GenericFieldName =
  | `header:${string}`
  | `responseHeader:${string}`
  | `env:${string}`
  | `note:${string}`
  | `cookie:${string}`;

export type FieldName = FixedFieldName | DerivedFieldName | GenericFieldName;

/** Types of the fields of a record. */
export interface LogRecordFields {
  host: string;
  ip: string;
  peerIp: string;
  localIp: string;
  ident: string;
  user: string;
  time: number;
  tzOffset: number;
  request: string;
  method: string;
  path: string;
  query: string;
  protocol: string;
  status: number;
  bytes: number;
  bytesSent: number;
  bytesReceived: number;
  bytesTransferred: number;
  duration: number;
  vhost: string;
  port: number;
  remotePort: number;
  pid: number;
  filename: string;
  connectionStatus: string;
  referer: string;
  userAgent: string;
  line: string;
  offset: number;
  day: string;
  hour: number;
  statusClass: string;
  browser: string;
  os: string;
  device: string;
  bot: string;
}

/** The value type of any field name, generic ones included. */
export type FieldValue<F extends FieldName> = F extends keyof LogRecordFields ? LogRecordFields[F] : string;

/** A record holding the fields `F`. */
export type LogRecord<F extends FieldName = FieldName> = { [K in F]: FieldValue<K> };

/** Fields whose values are numbers; the others are strings. */
export const NUMERIC_FIELDS: ReadonlySet<string> = new Set<FixedFieldName | DerivedFieldName>([
  'time',
  'tzOffset',
  'status',
  'bytes',
  'bytesSent',
  'bytesReceived',
  'bytesTransferred',
  'duration',
  'port',
  'remotePort',
  'pid',
  'offset',
  'hour',
]);

/** Fixed and derived field names (generic ones have a prefix and any name). */
export const FIELD_NAMES: readonly string[] = [...FIXED_FIELDS, ...DERIVED_FIELDS];

const FIXED_SET: ReadonlySet<string> = new Set(FIELD_NAMES);

export function isDerivedField(name: string): name is DerivedFieldName {
  return (DERIVED_FIELDS as readonly string[]).includes(name);
}

/** True for a fixed or derived field name, or a generic one with a non-empty name after its prefix. */
export function isFieldName(name: string): name is FieldName {
  if (FIXED_SET.has(name)) return true;
  for (const prefix of GENERIC_FIELD_PREFIXES) {
    if (name.startsWith(prefix) && name.length > prefix.length) return true;
  }
  return false;
}

/** What `geartrain fields` prints for one field name (or one generic prefix). */
export interface FieldDoc {
  readonly name: string;
  readonly type: 'string' | 'number';
  readonly example: string;
  /** Where the value comes from: directives, or the fields a derived one is computed from. */
  readonly from: string;
  readonly about: string;
  readonly derived?: true;
}

const doc = (name: string, type: FieldDoc['type'], example: string, from: string, about: string): FieldDoc => ({ name, type, example, from, about });
const derived = (name: DerivedFieldName, type: FieldDoc['type'], example: string, from: string, about: string): FieldDoc => ({ ...doc(name, type, example, from, about), derived: true });

/** Every field `count --by`, `top`, `sort --by` and `--where` accept, in the order they are listed. */
export const FIELD_DOCS: readonly FieldDoc[] = [
  doc('host', 'string', '203.0.113.7', '%h, else %a', 'client address or resolved name; never escaped by Apache'),
  doc('ip', 'string', '203.0.113.7', '%a, else %h', 'client IP'),
  doc('peerIp', 'string', '10.0.0.2', '%{c}a', 'address of the TCP peer (a proxy, with mod_remoteip)'),
  doc('localIp', 'string', '10.0.0.5', '%A', 'address the request came in on'),
  doc('ident', 'string', '-', '%l', 'identd answer, - when absent (kept as logged)'),
  doc('user', 'string', 'alice', '%u', "authenticated user, - when absent; Apache's \"\" reads as ''"),
  doc('time', 'number', '1759312800000', '%t, %{…}t', 'epoch milliseconds, UTC (--where time>=…)'),
  doc('tzOffset', 'number', '120', '%t, %{…%z…}t', 'the logged zone in minutes east of UTC (-0700 is -420)'),
  doc('request', 'string', 'GET /cart?id=7 HTTP/1.1', '%r', 'the request line, unescaped'),
  doc('method', 'string', 'POST', '%m, else from %r', "'' when the request line has none (-, TLS bytes)"),
  doc('path', 'string', '/cart', '%U, else from %r', 'request target without the query; the whole %r when it cannot be split'),
  doc('query', 'string', 'id=7', '%q, else from %r', "without the leading ?; '' when absent"),
  doc('protocol', 'string', 'HTTP/1.1', '%H, else from %r', "'' when absent"),
  doc('status', 'number', '404', '%>s, %s, %<s', 'always present in a valid line'),
  doc('bytes', 'number', '5120', '%b, else %B, else %O', 'response bytes; - reads as 0'),
  doc('bytesSent', 'number', '5480', '%O', 'bytes sent including headers (mod_logio)'),
  doc('bytesReceived', 'number', '712', '%I', 'bytes received including headers (mod_logio)'),
  doc('bytesTransferred', 'number', '6192', '%S', '%I + %O (mod_logio)'),
  doc('duration', 'number', '1500', '%D, else %T, %{ms}T, %{us}T', 'microseconds (%T has a resolution of one second)'),
  doc('vhost', 'string', 'www.example.com', '%v, else %V', 'virtual host'),
  doc('port', 'number', '443', '%p, %{canonical}p, %{local}p', 'server port'),
  doc('remotePort', 'number', '51234', '%{remote}p', 'client port'),
  doc('pid', 'number', '4242', '%P, %{pid}P', 'process id of the child that served the request'),
  doc('filename', 'string', '/var/www/index.html', '%f', 'file served'),
  doc('connectionStatus', 'string', '+', '%X', 'X (aborted), + (kept alive) or - (closed)'),
  doc('referer', 'string', 'https://www.example.com/', '%{Referer}i', '- when the header was absent'),
  doc('userAgent', 'string', 'Mozilla/5.0 (X11; Linux x86_64) …', '%{User-Agent}i', "- when absent, '' when present but empty"),
  doc('header:NAME', 'string', '198.51.100.4', '%{NAME}i', 'any other request header (header:X-Forwarded-For); names match case-insensitively'),
  doc('responseHeader:NAME', 'string', 'text/html', '%{NAME}o', 'a response header (responseHeader:Content-Type)'),
  doc('env:VAR', 'string', 'Zc3Rk0x1', '%{VAR}e', 'an environment variable (env:UNIQUE_ID)'),
  doc('note:NAME', 'string', '87', '%{NAME}n', 'a note from another module (note:ratio)'),
  doc('cookie:NAME', 'string', 'b1946ac9', '%{NAME}C', 'a cookie of the request (cookie:session)'),
  doc('line', 'string', '(the raw line)', 'every line', 'the raw line as a binary string'),
  doc('offset', 'number', '81920', 'every line', 'byte offset of the line in its file'),
  derived('day', 'string', '2026-10-01', 'time, tzOffset', 'date in the logged zone, as the line shows it'),
  derived('hour', 'number', '14', 'time, tzOffset', 'hour 0-23 in the logged zone'),
  derived('statusClass', 'string', '4xx', 'status', '1xx … 5xx'),
  derived('browser', 'string', 'Chrome', 'userAgent', 'Chrome, Firefox, Safari, Mobile Safari, Edge, …, Crawler, Other, Unknown'),
  derived('os', 'string', 'Android', 'userAgent', 'Windows, macOS, iOS, Android, Linux, …, Crawler, Unknown'),
  derived('device', 'string', 'mobile', 'userAgent', 'desktop, mobile, tablet, bot or unknown'),
  derived('bot', 'string', 'true', 'userAgent', 'true for crawlers and automated clients (curl, scanners), else false'),
];

/** Why a name is not a field, with the nearest field name when there is a close one. */
export function unknownFieldMessage(name: string): string {
  return `unknown field '${name}'${didYouMean(name, FIELD_NAMES)} (geartrain fields lists them)`;
}

/**
 * A copy of `s` that does not keep a larger string alive. Substrings in V8 may be views into
 * their parent (a whole log line); keeping millions of them keeps the lines too.
 */
export function detachString(s: string): string {
  // Flattening the concatenation copies the characters; the slice is then a view of that copy only.
  return s.length < 13 ? s : (' ' + s).slice(1);
}
