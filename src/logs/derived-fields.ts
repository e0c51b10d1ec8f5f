/**
 * Derived fields (`day`, `hour`, `statusClass`, `browser`, `os`, `device`, `bot`): computed from
 * the fields they come from, after a line parses, by a parser asked for them. `createParser`
 * returns a plain LogParser when no derived field is asked for, so other jobs pay nothing.
 */
import { isDerivedField, type DerivedFieldName, type FieldName, type LogRecord } from './fields.ts';
import type { FormatLayout } from './format-layout.ts';
import { LogParser, type ParseResult, type ParserOptions } from './parser.ts';
import { civilFromDays } from './time.ts';
import { classifyUserAgent } from './user-agent.ts';

const DAY_MS = 86_400_000;

type Source = Record<string, unknown>;

interface Derivation {
  readonly needs: readonly FieldName[];
  readonly compute: (r: Source) => string | number;
}

/** Milliseconds of the wall clock the line shows: time plus the logged zone. */
const localMs = (r: Source) => (r.time as number) + ((r.tzOffset as number | undefined) ?? 0) * 60_000;

function isoDay(ms: number): string {
  const [y, m, d] = civilFromDays(Math.floor(ms / DAY_MS));
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

const DERIVATIONS: Readonly<Record<DerivedFieldName, Derivation>> = {
  day: { needs: ['time', 'tzOffset'], compute: (r) => isoDay(localMs(r)) },
  hour: { needs: ['time', 'tzOffset'], compute: (r) => Math.floor((((localMs(r) % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000) },
  statusClass: { needs: ['status'], compute: (r) => `${Math.floor((r.status as number) / 100)}xx` },
  browser: { needs: ['userAgent'], compute: (r) => classifyUserAgent(r.userAgent as string).browser },
  os: { needs: ['userAgent'], compute: (r) => classifyUserAgent(r.userAgent as string).os },
  device: { needs: ['userAgent'], compute: (r) => classifyUserAgent(r.userAgent as string).device },
  bot: { needs: ['userAgent'], compute: (r) => String(classifyUserAgent(r.userAgent as string).crawler) },
};

/** The fields a derived one is computed from. */
export function derivedFrom(field: DerivedFieldName): readonly FieldName[] {
  return DERIVATIONS[field].needs;
}

/**
 * A derived field computed from a record that holds the fields it comes from (`derivedFrom`), as
 * the parser computes it for a job that asks for it.
 */
export function deriveField(field: DerivedFieldName, record: Readonly<Record<string, unknown>>): string | number {
  return DERIVATIONS[field].compute(record);
}

/** A LogParser that adds derived fields to each record (with the fields they are computed from). */
class DerivingParser<F extends FieldName> extends LogParser<F> {
  readonly #derived: readonly (readonly [DerivedFieldName, Derivation['compute']])[];

  constructor(format: FormatLayout, fields: readonly F[], options?: ParserOptions) {
    const derived = (fields as readonly string[]).filter(isDerivedField);
    const base = new Set<FieldName>(fields.filter((f) => !isDerivedField(f)));
    for (const d of derived) for (const f of DERIVATIONS[d].needs) if (format.provides(f)) base.add(f);
    super(format, [...base] as F[], options);
    this.#derived = derived.map((d) => [d, DERIVATIONS[d].compute] as const);
  }

  override parse(line: string, offset = -1): ParseResult<F> {
    const r = super.parse(line, offset);
    if (typeof r === 'string') return r;
    const rec = r as Source;
    for (const [name, compute] of this.#derived) rec[name] = compute(rec);
    return r as LogRecord<F>;
  }
}

/** A parser for `fields`; derived fields make it compute them, at no cost to other parsers. */
export function createRecordParser<F extends FieldName>(format: FormatLayout, fields: readonly F[], options?: ParserOptions): LogParser<F> {
  return fields.some(isDerivedField) ? new DerivingParser(format, fields, options) : new LogParser(format, fields, options);
}
