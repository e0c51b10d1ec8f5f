import type { LogRecord } from './fields.ts';
import { escapeLogText } from './escape.ts';
import type { Directive, FormatLayout } from './format-layout.ts';
import { formatBracketTime } from './time.ts';

type Rec = Partial<LogRecord> & Record<string, unknown>;
type Render = (r: Rec) => string;

function escaped(v: unknown): string {
  return v === undefined || v === null ? '-' : escapeLogText(String(v));
}

function verbatim(v: unknown): string {
  return v === undefined || v === null ? '-' : String(v);
}

function num(v: unknown, dash = false): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '-';
  return dash && v === 0 ? '-' : String(Math.trunc(v));
}

/** The request line of a record: its `request`, or one made of method, path, query and protocol. */
export function requestLine(r: Partial<LogRecord>): string | undefined {
  if (r.request !== undefined) return r.request;
  if (r.method === undefined && r.path === undefined) return undefined;
  let line = r.method ? `${r.method} ` : '';
  line += r.path ?? '/';
  if (r.query) line += `?${r.query}`;
  if (r.protocol) line += ` ${r.protocol}`;
  return line;
}

function renderer(d: Directive, text: (v: unknown) => string): Render {
  switch (d.letter) {
    case 'h': return (r) => String(r.host ?? r.ip ?? '-');
    case 'a': return d.field === 'peerIp' ? (r) => String(r.peerIp ?? '-') : (r) => String(r.ip ?? r.host ?? '-');
    case 'A': return (r) => String(r.localIp ?? '-');
    case 'u': return (r) => (r.user === '' ? '""' : text(r.user));
    case 'r': return (r) => text(requestLine(r));
    case 'q': return (r) => (r.query ? '?' + text(r.query) : '');
    case 's': return (r) => num(r.status);
    case 'b': return (r) => num(r.bytes, true);
    case 'B': return (r) => num(r.bytes ?? 0);
    case 'O': return (r) => num(r.bytesSent ?? r.bytes ?? 0);
    case 'I': return (r) => num(r.bytesReceived ?? 0);
    case 'S': return (r) => num(r.bytesTransferred ?? 0);
    case 'D': return (r) => num(r.duration ?? 0);
    case 'T': return (r) => num(Math.floor((r.duration ?? 0) / d.scale));
    case 'k': return () => '0';
    case 't': {
      if (d.timePattern === undefined) return (r) => formatBracketTime(r.time ?? 0, r.tzOffset ?? 0);
      const p = d.timePattern;
      return (r) => p.format(r.time ?? 0, r.tzOffset ?? 0);
    }
    default: {
      const field = d.field;
      if (field === undefined) return () => '-';
      if (d.kind !== 'text') return (r) => num(r[field]);
      return (r) => text(r[field]);
    }
  }
}

/**
 * A function writing records as lines of `format` (no newline), escaping as Apache does.
 * `escape: false` skips the escaping, for callers whose text is known to be printable ASCII
 * without `"` or `\` (the generator's ordinary lines).
 */
export function compileFormatter(format: FormatLayout, options: { escape?: boolean } = {}): (record: Partial<LogRecord>) => string {
  const lits = format.literals;
  const text = options.escape === false ? verbatim : escaped;
  const parts = format.directives.map((d) => renderer(d, text));
  const n = parts.length;
  return (record) => {
    const r = record as Rec;
    let out = lits[0]!;
    for (let i = 0; i < n; i++) out += parts[i]!(r) + lits[i + 1]!;
    return out;
  };
}
