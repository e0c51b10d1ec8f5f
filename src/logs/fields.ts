/**
 * The one place where record field names are defined and documented.
 *
 * A parser made by `LogFormat.createParser(fields)` returns records holding exactly the requested
 * fields. Which directives feed a field (first present wins):
 *
 * | field              | type   | directives                        | notes                                                        |
 * |--------------------|--------|-----------------------------------|--------------------------------------------------------------|
 * | `host`             | string | `%h`, else `%a`                   | client address or resolved name; never escaped by Apache     |
 * | `ip`               | string | `%a`, else `%h`                   | client IP (`%{c}a` gives `peerIp`)                           |
 * | `peerIp`           | string | `%{c}a`                           | address of the TCP peer (a proxy, with mod_remoteip)         |
 * | `localIp`          | string | `%A`                              |                                                              |
 * | `ident`            | string | `%l`                              | `-` when absent (kept as logged)                             |
 * | `user`             | string | `%u`                              | `-` when absent; Apache's `""` (empty user) reads as `''`    |
 * | `time`             | number | `%t`, `%{…}t`                     | epoch milliseconds, UTC                                      |
 * | `tzOffset`         | number | `%t`, `%{…%z…}t`                  | the logged zone in minutes east of UTC (`-0700` → -420)      |
 * | `request`          | string | `%r`                              | the request line, unescaped                                  |
 * | `method`           | string | `%m`, else from `%r`              | `''` when the request line has no method (`-`, TLS bytes)    |
 * | `path`             | string | `%U`, else from `%r`              | request target without the query; the whole `%r` when it cannot be split |
 * | `query`            | string | `%q`, else from `%r`              | without the leading `?`; `''` when absent                    |
 * | `protocol`         | string | `%H`, else from `%r`              | e.g. `HTTP/1.1`; `''` when absent                            |
 * | `status`           | number | `%>s`, `%s`, `%<s`                | always present in a valid line                               |
 * | `bytes`            | number | `%b`, else `%B`, else `%O`        | response bytes; `-` reads as 0                               |
 * | `bytesSent`        | number | `%O`                              | bytes sent including headers (mod_logio)                     |
 * | `bytesReceived`    | number | `%I`                              | bytes received including headers (mod_logio)                 |
 * | `bytesTransferred` | number | `%S`                              | `%I` + `%O` (mod_logio)                                      |
 * | `duration`         | number | `%D`, else `%T` / `%{ms}T` / `%{us}T` | microseconds (`%T` has a resolution of one second)       |
 * | `vhost`            | string | `%v`, else `%V`                   |                                                              |
 * | `port`             | number | `%p`, `%{canonical}p`, `%{local}p`| server port                                                  |
 * | `remotePort`       | number | `%{remote}p`                      |                                                              |
 * | `pid`              | number | `%P`, `%{pid}P`                   |                                                              |
 * | `filename`         | string | `%f`                              |                                                              |
 * | `connectionStatus` | string | `%X`                              | `X`, `+` or `-`                                              |
 * | `referer`          | string | `%{Referer}i`                     | `-` when the header was absent                               |
 * | `userAgent`        | string | `%{User-Agent}i`                  | `-` when absent, `''` when present but empty                 |
 * | `header:<Name>`    | string | `%{Name}i`                        | any other request header; names match case-insensitively     |
 * | `responseHeader:<Name>` | string | `%{Name}o`                   |                                                              |
 * | `env:<VAR>`        | string | `%{VAR}e`                         |                                                              |
 * | `note:<NAME>`      | string | `%{NAME}n`                        |                                                              |
 * | `cookie:<NAME>`    | string | `%{NAME}C`                        |                                                              |
 * | `line`             | string | (always)                          | the raw line as a binary string: `Buffer.from(line, 'latin1')` gives its bytes back |
 * | `offset`           | number | (always)                          | byte offset of the line in its file, when the caller knows it, else -1 |
 *
 * String fields are unescaped when they are extracted (`\"`, `\\`, `\xhh`, `\n`, …), and only for the
 * fields a parser was asked for; a line without a backslash or a non-ASCII byte costs nothing extra.
 * Escaped bytes that form valid UTF-8 become the characters they encode, other bytes become the
 * Latin-1 characters of the same value. `-` is kept as logged in string fields.
 *
 * Strings in records may share memory with their line (V8 sliced strings): a job that keeps
 * millions of distinct values for long can copy them with `detachString()`.
 */

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

/** Prefixes of the generic fields: `header:X-Forwarded-For`, `env:UNIQUE_ID`, … */
export const GENERIC_FIELD_PREFIXES = ['header:', 'responseHeader:', 'env:', 'note:', 'cookie:'] as const;

export type GenericFieldName =
  | `header:${string}`
  | `responseHeader:${string}`
  | `env:${string}`
  | `note:${string}`
  | `cookie:${string}`;

export type FieldName = FixedFieldName | GenericFieldName;

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
}

/** The value type of any field name, generic ones included. */
export type FieldValue<F extends FieldName> = F extends FixedFieldName ? LogRecordFields[F] : string;

/** A record holding the fields `F`. */
export type LogRecord<F extends FieldName = FieldName> = { [K in F]: FieldValue<K> };

/** Fields whose values are numbers; the others are strings. */
export const NUMERIC_FIELDS: ReadonlySet<string> = new Set<FixedFieldName>([
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
]);

const FIXED_SET: ReadonlySet<string> = new Set(FIXED_FIELDS);

/** True for a fixed field name or a generic one with a non-empty name after its prefix. */
export function isFieldName(name: string): name is FieldName {
  if (FIXED_SET.has(name)) return true;
  for (const prefix of GENERIC_FIELD_PREFIXES) {
    if (name.startsWith(prefix) && name.length > prefix.length) return true;
  }
  return false;
}

/**
 * A copy of `s` that does not keep a larger string alive. Substrings in V8 may be views into
 * their parent (a whole log line); keeping millions of them keeps the lines too.
 */
export function detachString(s: string): string {
  // Flattening the concatenation copies the characters; the slice is then a view of that copy only.
  return s.length < 13 ? s : (' ' + s).slice(1);
}
