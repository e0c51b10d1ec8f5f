import { LogFormatError } from '../errors.ts';
import { didYouMean } from '../suggest.ts';
import { createRecordParser, derivedFrom } from './derived-fields.ts';
import { FIXED_FIELDS, isDerivedField, isFieldName, type FieldName, type LogRecord } from './fields.ts';
import type { Directive, DirectiveKind, FieldSource, FormatLayout } from './format-layout.ts';
import { compileFormatter } from './format-record.ts';
import type { LogParser, ParserOptions } from './parser.ts';
import { compileTimePattern } from './strftime.ts';

/**
 * Apache `LogFormat` strings compiled into a directive list, the fields they provide, a parser
 * factory and a formatter.
 *
 * Supported directives: `%h %a %{c}a %A %l %u %t %{…}t %r %>s %s %<s %b %B %O %I %S %D %T %{ms|us|s}T
 * %v %V %p %{canonical|local|remote}p %P %U %q %m %H %f %X %k %L %R %{Name}i %{Name}o %{VAR}e
 * %{NAME}n %{NAME}C %%`. Status conditions (`%400,501{User-agent}i`, `%!200i`) and the `<`/`>`
 * modifiers are accepted; a condition that does not hold logs `-`, which is read as any value.
 *
 * Time: Apache's default `%t`, or `%{…}t` with a strftime subset (`%d %e %m %b %h %B %Y %y %H %k
 * %I %l %M %S %p %a %A %z %Z %s %T %R %F %D %n %t %%`) and `sec msec usec msec_frac usec_frac`,
 * several of which may make up one time (`[%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t]`). Apache writes
 * `%{…}t` in the server's local time: without `%z` the zone cannot be known and UTC is assumed.
 */

/** The format strings behind the nicknames, as Apache (upstream, Debian) and nginx ship them. */
export const LOG_FORMATS = Object.freeze({
  common: '%h %l %u %t "%r" %>s %b',
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"',
  combinedio: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %I %O',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
  vhost_common: '%v %h %l %u %t "%r" %>s %b',
});
export type LogFormatName = keyof typeof LOG_FORMATS;

function isFormatName(name: string): name is LogFormatName {
  return Object.hasOwn(LOG_FORMATS, name);
}

/** Other accepted names: nginx's default `combined` has the same layout as Apache's. */
const ALIASES: Readonly<Record<string, LogFormatName>> = Object.freeze({
  nginx: 'combined',
  nginx_combined: 'combined',
  clf: 'common',
  ncsa: 'combined',
});

/** Every nickname compileLogFormat accepts. */
export const FORMAT_NAMES: readonly string[] = Object.freeze([...Object.keys(LOG_FORMATS), ...Object.keys(ALIASES)]);

/** A compiled LogFormat: its layout, a parser factory and a formatter. */
export interface LogFormat extends FormatLayout {
  /** The nickname this format was compiled from (`combined`), or undefined for a custom string. */
  readonly name: string | undefined;
  /** The LogFormat string. */
  readonly spec: string;
  /** A parser that extracts only `fields` (or every field the format provides). */
  createParser<F extends FieldName>(fields: readonly F[], options?: ParserOptions): LogParser<F>;
  createParser(fields: 'all', options?: ParserOptions): LogParser<FieldName>;
  /** Writes a record as one line of this format (without the newline), escaping as Apache does. */
  format(record: Partial<LogRecord>): string;
}

function unescapeSpec(spec: string): string {
  return spec.replace(/\\(["\\tn])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : c));
}

interface RawDirective {
  source: string;
  letter: string;
  arg: string | undefined;
  modifier: '<' | '>' | undefined;
}

/** Splits a format string into literals and directives (mod_log_config's grammar). */
function tokenize(spec: string): { literals: string[]; raw: RawDirective[] } {
  const literals: string[] = [];
  const raw: RawDirective[] = [];
  let lit = '';
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c !== '%') {
      lit += c;
      continue;
    }
    const begin = i;
    if (spec[i + 1] === '%') {
      lit += '%';
      i++;
      continue;
    }
    let arg: string | undefined;
    let modifier: '<' | '>' | undefined;
    for (;;) {
      i++;
      const m = spec[i];
      if (m === undefined) throw new LogFormatError(`unterminated directive at the end of the format: ${spec.slice(begin)}`);
      if (m === '!' || m === ',' || (m >= '0' && m <= '9')) continue; // status conditions
      if (m === '<' || m === '>') {
        modifier = m;
        continue;
      }
      if (m === '{') {
        const close = spec.indexOf('}', i);
        if (close < 0) throw new LogFormatError(`unterminated {…} in directive ${spec.slice(begin)}`);
        arg = spec.slice(i + 1, close);
        i = close;
        continue;
      }
      literals.push(lit);
      lit = '';
      raw.push({ source: spec.slice(begin, i + 1), letter: m, arg, modifier });
      break;
    }
  }
  literals.push(lit);
  return { literals, raw };
}

function genericField(prefix: string, arg: string | undefined, source: string): FieldName {
  if (!arg) throw new LogFormatError(`directive ${source} needs a {name}`);
  return `${prefix}${arg}` as FieldName;
}

function headerField(arg: string | undefined, source: string): FieldName {
  const lower = arg?.toLowerCase();
  if (lower === 'referer' || lower === 'referrer') return 'referer';
  if (lower === 'user-agent') return 'userAgent';
  return genericField('header:', arg, source);
}

function makeDirective(r: RawDirective): Directive {
  const base = { source: r.source, letter: r.letter, arg: r.arg, escaped: true, scale: 1, timePattern: undefined };
  const text = (field: FieldName | undefined, escaped = true): Directive => ({ ...base, kind: 'text', field, escaped });
  const number = (field: FieldName | undefined, scale = 1): Directive => ({ ...base, kind: 'number', field, escaped: false, scale });
  switch (r.letter) {
    case 'h': return text('host', false);
    case 'a': return text(r.arg === 'c' ? 'peerIp' : 'ip', false);
    case 'A': return text('localIp', false);
    case 'l': return text('ident');
    case 'u': return text('user');
    case 'r': return text('request');
    case 'm': return text('method');
    case 'U': return text('path');
    case 'q': return text('query');
    case 'H': return text('protocol');
    case 'v': return text('vhost');
    case 'V': return text('vhost');
    case 'f': return text('filename');
    case 'X': return text('connectionStatus');
    case 'L': return text(undefined);
    case 'R': return text(undefined);
    case 'i': return text(headerField(r.arg, r.source));
    case 'o': return text(genericField('responseHeader:', r.arg, r.source));
    case 'e': return text(genericField('env:', r.arg, r.source));
    case 'n': return text(genericField('note:', r.arg, r.source));
    case 'C': return text(genericField('cookie:', r.arg, r.source));
    case 's': return { ...base, kind: 'status', field: 'status', escaped: false };
    case 'b':
    case 'B': return number('bytes');
    case 'O': return number('bytesSent');
    case 'I': return number('bytesReceived');
    case 'S': return number('bytesTransferred');
    case 'D': return number('duration');
    case 'k': return number(undefined);
    case 'P': return number(r.arg === undefined || r.arg === 'pid' ? 'pid' : undefined);
    case 'p': {
      if (r.arg === 'remote') return number('remotePort');
      if (r.arg === undefined || r.arg === 'canonical' || r.arg === 'local') return number('port');
      throw new LogFormatError(`unknown port type in directive ${r.source}`);
    }
    case 'T': {
      if (r.arg === undefined || r.arg === 's') return { ...base, kind: 'seconds', field: 'duration', escaped: false, scale: 1e6 };
      if (r.arg === 'ms') return number('duration', 1000);
      if (r.arg === 'us') return number('duration', 1);
      throw new LogFormatError(`unknown time unit in directive ${r.source}`);
    }
    case 't': {
      if (r.arg === undefined) return { ...base, kind: 'time', field: 'time', escaped: false };
      return { ...base, kind: 'customTime', field: 'time', escaped: false, timePattern: compileTimePattern(r.arg, r.source) };
    }
    default:
      throw new LogFormatError(`unknown directive ${r.source} in the log format`);
  }
}

/** Primary directives of the fields fed through fallbacks: first present wins. */
const FALLBACKS: ReadonlyArray<readonly [FieldName, readonly string[]]> = [
  ['host', ['h', 'a']],
  ['ip', ['a', 'h']],
  ['bytes', ['b', 'B', 'O']],
  ['status', ['>s', 's', '<s']],
  ['vhost', ['v', 'V']],
];

/** A key for lookups: header names are case-insensitive. */
function lookupKey(field: string): string {
  const lower = field.toLowerCase();
  if (lower === 'header:referer' || lower === 'header:referrer') return 'referer';
  if (lower === 'header:user-agent') return 'userAgent';
  if (lower.startsWith('header:') || lower.startsWith('responseheader:')) return lower;
  return field;
}

class CompiledLogFormat implements LogFormat {
  readonly name: string | undefined;
  readonly spec: string;
  readonly directives: readonly Directive[];
  readonly literals: readonly string[];
  readonly fields: readonly FieldName[];
  readonly timeMode: 'bracket' | 'custom' | 'none';
  readonly #sources = new Map<string, FieldSource>();
  #formatter: ((record: Partial<LogRecord>) => string) | undefined;

  constructor(name: string | undefined, spec: string) {
    this.name = name;
    this.spec = spec;
    const { literals, raw } = tokenize(unescapeSpec(spec));
    if (raw.length === 0) throw new LogFormatError(`the log format ${JSON.stringify(spec)} has no directive`);
    this.literals = Object.freeze(literals);
    this.directives = Object.freeze(raw.map(makeDirective).map((d) => Object.freeze(d)));
    this.#checkSeparators();
    const hasCustomTime = this.directives.some((d) => d.kind === 'customTime');
    const hasBracketTime = this.directives.some((d) => d.kind === 'time');
    this.timeMode = hasCustomTime ? 'custom' : hasBracketTime ? 'bracket' : 'none';
    this.#resolveSources(raw);
    const names = [...this.#sources.keys()].map((k) => this.#canonicalName(k));
    const rank = (f: string) => {
      const i = (FIXED_FIELDS as readonly string[]).indexOf(f);
      return i >= 0 ? i : FIXED_FIELDS.length;
    };
    this.fields = Object.freeze(names.map((f, i) => [f, i] as const).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([f]) => f));
  }

  #checkSeparators(): void {
    const ds = this.directives;
    for (let i = 0; i + 1 < ds.length; i++) {
      if (this.literals[i + 1] !== '') continue;
      const d = ds[i]!;
      const next = ds[i + 1]!;
      const numeric = (k: DirectiveKind) => k === 'number' || k === 'status' || k === 'seconds';
      if (d.kind === 'text' && next.letter === 'q' && d.letter !== 'q') continue; // `%U%q`: split at the `?`
      if (d.kind === 'text' || (numeric(d.kind) && numeric(next.kind))) {
        throw new LogFormatError(`directive ${d.source} is followed directly by ${next.source}: their values cannot be told apart`);
      }
    }
  }

  #canonicalName(key: string): FieldName {
    if (key.startsWith('header:') || key.startsWith('responseheader:')) {
      const d = this.#sources.get(key)!;
      if (d.from === 'directive') return this.directives[d.index]!.field!;
    }
    return key as FieldName;
  }

  #resolveSources(raw: readonly RawDirective[]): void {
    const byLetter = (spec: string): number => {
      const letter = spec[spec.length - 1]!;
      const modifier = spec.length > 1 ? spec[0] : undefined;
      return raw.findIndex((r, i) => r.letter === letter && (modifier === undefined ? r.modifier === undefined : r.modifier === modifier) && this.directives[i]!.field !== 'peerIp');
    };
    const add = (field: string, source: FieldSource) => {
      const key = lookupKey(field);
      if (!this.#sources.has(key)) this.#sources.set(key, source);
    };
    for (const [field, letters] of FALLBACKS) {
      for (const l of letters) {
        const index = byLetter(l);
        if (index >= 0) {
          add(field, { from: 'directive', index });
          break;
        }
      }
    }
    const request = this.directives.findIndex((d) => d.letter === 'r');
    this.directives.forEach((d, index) => {
      if (d.field === undefined || d.kind === 'time' || d.kind === 'customTime') return;
      add(d.field, { from: 'directive', index });
    });
    if (request >= 0) {
      for (const part of ['method', 'path', 'query', 'protocol'] as const) add(part, { from: 'request', part, index: request });
    }
    if (this.#providesTime()) {
      add('time', { from: 'time' });
      add('tzOffset', { from: 'tzOffset' });
    }
    add('line', { from: 'line' });
    add('offset', { from: 'offset' });
  }

  #providesTime(): boolean {
    if (this.timeMode === 'bracket') return true;
    if (this.timeMode === 'none') return false;
    return this.directives.some(
      (d) => d.kind === 'time' || (d.timePattern !== undefined && (d.timePattern.provides.has('date') || d.timePattern.provides.has('epoch'))),
    );
  }

  provides(field: string): boolean {
    if (isDerivedField(field)) return derivedFrom(field).every((f) => f === 'tzOffset' || this.provides(f));
    return this.#sources.has(lookupKey(field));
  }

  sourceOf(field: string): FieldSource {
    const source = this.#sources.get(lookupKey(field));
    if (source === undefined) {
      if (!isFieldName(field)) throw new LogFormatError(`unknown field name ${JSON.stringify(field)}`);
      throw new LogFormatError(`the log format ${this.name ?? JSON.stringify(this.spec)} does not provide the field ${field}`);
    }
    return source;
  }

  createParser<F extends FieldName>(fields: readonly F[] | 'all', options?: ParserOptions): LogParser<F> {
    return createRecordParser<F>(this, fields === 'all' ? (this.fields as readonly F[]) : fields, options);
  }

  format(record: Partial<LogRecord>): string {
    this.#formatter ??= compileFormatter(this);
    return this.#formatter(record);
  }
}

const cache = new Map<string, LogFormat>();

/**
 * Compiles a LogFormat string, or one of the nicknames `common`, `combined`, `combinedio`,
 * `vhost_combined`, `vhost_common` (and `nginx`, `clf`, `ncsa`). Nicknames are case-insensitive.
 * A format string may be pasted from an Apache config with its `\"` escapes.
 * Throws LogFormatError for an unknown nickname or directive.
 */
export function compileLogFormat(specOrName: string): LogFormat {
  const cached = cache.get(specOrName);
  if (cached) return cached;
  let format: LogFormat;
  if (!specOrName.includes('%')) {
    const key = specOrName.trim().toLowerCase();
    // Own keys only: a name such as `constructor` is not a format.
    const name = Object.hasOwn(ALIASES, key) ? ALIASES[key] : key;
    if (name === undefined || !isFormatName(name)) {
      throw new LogFormatError(`unknown log format name ${JSON.stringify(specOrName)}${didYouMean(key, FORMAT_NAMES)}; known: ${FORMAT_NAMES.join(', ')}`);
    }
    format = new CompiledLogFormat(name, LOG_FORMATS[name]);
  } else {
    format = new CompiledLogFormat(undefined, specOrName);
  }
  if (cache.size < 64) cache.set(specOrName, format);
  return format;
}

/** Writes `record` as one line of `format` (a LogFormat, a format string or a nickname). */
export function formatRecord(format: LogFormat | string, record: Partial<LogRecord>): string {
  return (typeof format === 'string' ? compileLogFormat(format) : format).format(record);
}
