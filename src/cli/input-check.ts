/**
 * Wrong input is not success: when most lines a run read are not records of their format
 * (`geartrain analyze /etc/passwd`, a vhost log read as combined), `run` and `analyze` say so,
 * with the reasons, samples and the formats the samples would parse as, and exit 1 instead of
 * printing empty tables. A few bad lines stay what they were: counted and sampled.
 */
import { compileLogFormat, LOG_FORMATS } from '../logs/format.ts';
import { INVALID_REASONS, invalidLinesOf, type ParseStatsJSON } from '../logs/parse-stats.ts';

/** More than half of the lines read are invalid. */
export function mostlyInvalid(stats: ParseStatsJSON | null): stats is ParseStatsJSON {
  if (!stats) return false;
  const invalid = invalidLinesOf(stats);
  return invalid > stats.records;
}

/** Nicknames whose format parses every sample that has text in it (empty lines say nothing). */
export function formatsParsing(stats: ParseStatsJSON): string[] {
  const lines = stats.samples.filter((s) => s.reason !== 'empty' && s.reason !== 'too_long').map((s) => s.line);
  if (lines.length === 0) return [];
  return Object.keys(LOG_FORMATS).filter((name) => {
    const parser = compileLogFormat(name).createParser('all');
    return lines.every((line) => typeof parser.parse(line) !== 'string');
  });
}

const SHOWN_SAMPLES = 5;
const SHOWN_CHARS = 100;

/** A sample (one char per byte) on one terminal line: other than printable ASCII as `\xNN`, cut at SHOWN_CHARS. */
function shown(line: string): string {
  const escaped = line.slice(0, SHOWN_CHARS).replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return line.length > SHOWN_CHARS ? `${escaped}...` : escaped;
}

export interface InvalidInputContext {
  /** `geartrain run` or `geartrain analyze`. */
  readonly command: string;
  /** The format the lines were read as, when one is known (analyze's --format). */
  readonly format?: string;
  /** How to show a sample's source (`node:path`). */
  readonly source?: (source: string) => string;
  /** What to change when the samples parse as the nickname `format` (`try --format vhost_combined`). */
  readonly remedy: (format: string) => string;
  /** What to change when no nickname parses them (give the LogFormat string). */
  readonly customRemedy: string;
}

/** The lines on stderr: how many lines are invalid and why, samples, and what to try. */
export function explainInvalidInput(stats: ParseStatsJSON, c: InvalidInputContext): string {
  const invalid = invalidLinesOf(stats);
  const lines = invalid + stats.records;
  const reasons = INVALID_REASONS.filter((r) => stats.invalid[r] > 0)
    .map((r) => `${r} ${stats.invalid[r]}`)
    .join(', ');
  const as = c.format ? ` ${c.format}` : '';
  const out = [`${c.command}: ${invalid} of ${lines} lines (${Math.round((100 * invalid) / lines)}%) are not valid${as} log lines (${reasons}); the result would be meaningless`];
  // The most frequent reasons first; empty lines only when there is nothing else to show.
  const byCount = [...stats.samples].sort((a, b) => Number(a.reason === 'empty') - Number(b.reason === 'empty') || stats.invalid[b.reason] - stats.invalid[a.reason]);
  for (const s of byCount.slice(0, SHOWN_SAMPLES)) {
    const where = s.source !== undefined ? `${c.source ? c.source(s.source) : s.source}${s.offset !== undefined ? `@${s.offset}` : ''}  ` : '';
    out.push(`  ${s.reason.padEnd(9)} ${where}${shown(s.line)}`);
  }
  const parsing = formatsParsing(stats).filter((f) => f !== c.format);
  out.push(
    parsing.length > 0
      ? `${c.command}: the samples parse as ${parsing.join(', ')}: ${c.remedy(parsing[0]!)}`
      : `${c.command}: none of the known formats (${Object.keys(LOG_FORMATS).join(', ')}) parses the samples: these are not access logs, or ${c.customRemedy}`,
  );
  return out.join('\n') + '\n';
}
