import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';

/**
 * Why a line is not a record:
 * - `empty`: nothing, or only blanks;
 * - `truncated`: a record cut short (a crash, a rotation, a copy in progress);
 * - `garbage`: not a record of the format (error-log lines, binary, a wrong format, status `-`);
 * - `glued`: two records on one line (a lost newline, interleaved writers);
 * - `bad_date`: a time field holding an impossible date (`32/Oct`, `00/Foo`, ISO in a `%t` field);
 * - `nul`: NUL bytes (the zero-filled blocks a crash leaves behind);
 * - `too_long`: longer than the parser's `maxLineLength`.
 */
export const INVALID_REASONS = ['empty', 'truncated', 'garbage', 'glued', 'bad_date', 'nul', 'too_long'] as const;

export type InvalidReason = (typeof INVALID_REASONS)[number];

const REASON_SET: ReadonlySet<string> = new Set(INVALID_REASONS);

export function isInvalidReason(value: unknown): value is InvalidReason {
  return typeof value === 'string' && REASON_SET.has(value);
}

/** A kept bad line. `line` is a binary string (one character per byte), cut to `SAMPLE_CHARS`. */
export interface BadLineSample {
  reason: InvalidReason;
  line: string;
  /** Length of the whole line in bytes. */
  length: number;
  /** Where it came from, e.g. `web1:/var/log/apache2/access.log`, when known. */
  source?: string;
  /** Byte offset of the line in its source, when known. */
  offset?: number;
}

export interface ParseStatsJSON {
  records: number;
  invalid: Record<InvalidReason, number>;
  /** Last lines of a file with no newline after them (counted as records or as invalid as well). */
  unterminated: number;
  samples: BadLineSample[];
  sampleLimit: number;
}

/** Invalid lines of any reason (a reason missing from `invalid`, as in an older document, is 0). */
export function invalidLinesOf(stats: { readonly invalid: Partial<Record<InvalidReason, number>> }): number {
  let n = 0;
  for (const r of INVALID_REASONS) n += stats.invalid[r] ?? 0;
  return n;
}

export const DEFAULT_SAMPLES_PER_REASON = 3;
/** Characters of a bad line kept in a sample. */
export const SAMPLE_CHARS = 512;

const count = z.number().int().nonnegative();

export const parseStatsSchema = z.object({
  records: count,
  invalid: z.object(Object.fromEntries(INVALID_REASONS.map((r) => [r, count])) as Record<InvalidReason, typeof count>),
  unterminated: count,
  samples: z.array(
    z.object({
      reason: z.enum(INVALID_REASONS),
      line: z.string(),
      length: count,
      source: z.string().optional(),
      offset: count.optional(),
    }),
  ),
  sampleLimit: z.number().int().min(0).max(1000),
});

/** FNV-1a over the sample's identity: the kept samples are the ones with the smallest hashes. */
function sampleHash(s: BadLineSample): number {
  let h = 0x811c9dc5;
  const mix = (text: string) => {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    h ^= 0xff;
    h = Math.imul(h, 0x01000193);
  };
  mix(s.reason);
  mix(s.line);
  mix(s.source ?? '');
  mix(String(s.offset ?? -1));
  return h >>> 0;
}

interface Kept {
  hash: number;
  key: string;
  sample: BadLineSample;
}

function keyOf(s: BadLineSample): string {
  return `${s.source ?? ''}\u0000${s.offset ?? -1}\u0000${s.line}`;
}

function compareKept(a: Kept, b: Kept): number {
  return a.hash - b.hash || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * Counts of records and of invalid lines by reason, with a bounded sample of bad lines.
 *
 * Merging is commutative and associative, and the sample is deterministic whatever the order:
 * each reason keeps the `sampleLimit` lines whose hash is smallest (a bottom-k sample), so a
 * partial computed on any node and merged in any tree gives the same result.
 */
export class ParseStats {
  records = 0;
  unterminated = 0;
  readonly invalid: Record<InvalidReason, number>;
  readonly sampleLimit: number;
  readonly #kept = new Map<InvalidReason, Kept[]>();

  constructor(options: { samplesPerReason?: number } = {}) {
    const limit = options.samplesPerReason ?? DEFAULT_SAMPLES_PER_REASON;
    if (!Number.isInteger(limit) || limit < 0 || limit > 1000) {
      throw new InvalidArgumentError('samplesPerReason must be an integer from 0 to 1000', { field: 'samplesPerReason' });
    }
    this.sampleLimit = limit;
    this.invalid = Object.fromEntries(INVALID_REASONS.map((r) => [r, 0])) as Record<InvalidReason, number>;
  }

  /** Lines seen: records plus invalid lines. */
  get lines(): number {
    return this.records + this.invalidLines;
  }

  get invalidLines(): number {
    return invalidLinesOf(this);
  }

  addRecords(n = 1): void {
    this.records += n;
  }

  /** Counts an invalid line and offers it to the sample. */
  addInvalid(reason: InvalidReason, line: string, source?: string, offset?: number): void {
    this.invalid[reason]++;
    if (this.sampleLimit === 0) return;
    const sample: BadLineSample = { reason, line: line.length > SAMPLE_CHARS ? line.slice(0, SAMPLE_CHARS) : line, length: line.length };
    if (source !== undefined) sample.source = source;
    if (offset !== undefined && offset >= 0) sample.offset = offset;
    this.#offer(sample);
  }

  /** Samples, by reason in INVALID_REASONS order, then by hash. */
  get samples(): BadLineSample[] {
    const out: BadLineSample[] = [];
    for (const r of INVALID_REASONS) for (const k of this.#kept.get(r) ?? []) out.push({ ...k.sample });
    return out;
  }

  #offer(sample: BadLineSample): void {
    const kept = this.#kept.get(sample.reason) ?? [];
    const item: Kept = { hash: sampleHash(sample), key: keyOf(sample), sample };
    if (kept.length >= this.sampleLimit && compareKept(item, kept[kept.length - 1]!) >= 0) return;
    let i = kept.length;
    while (i > 0 && compareKept(item, kept[i - 1]!) < 0) i--;
    if (i > 0 && compareKept(item, kept[i - 1]!) === 0) return; // the same line seen twice
    kept.splice(i, 0, item);
    if (kept.length > this.sampleLimit) kept.pop();
    this.#kept.set(sample.reason, kept);
  }

  /** Adds another partial (a ParseStats or its JSON form) into this one. */
  merge(other: ParseStats | ParseStatsJSON): this {
    const o = other instanceof ParseStats ? other.toJSON() : other;
    this.records += o.records;
    this.unterminated += o.unterminated;
    for (const r of INVALID_REASONS) this.invalid[r] += o.invalid[r] ?? 0;
    if (this.sampleLimit > 0) for (const s of o.samples) this.#offer({ ...s });
    return this;
  }

  toJSON(): ParseStatsJSON {
    return {
      records: this.records,
      invalid: { ...this.invalid },
      unterminated: this.unterminated,
      samples: this.samples,
      sampleLimit: this.sampleLimit,
    };
  }

  /** Rebuilds stats from JSON that crossed a process boundary; InvalidArgumentError names a bad field. */
  static fromJSON(value: unknown): ParseStats {
    const parsed = parseStatsSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = issue.path.join('.');
      throw new InvalidArgumentError(`invalid parse stats at ${field || '(root)'}: ${issue.message}`, { field });
    }
    const stats = new ParseStats({ samplesPerReason: parsed.data.sampleLimit });
    return stats.merge(parsed.data as ParseStatsJSON);
  }
}
