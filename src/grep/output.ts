/**
 * grep's output at the root of a run, record by record in the run's order: prefixes as GNU grep
 * writes them with -H -b (`NAME:OFFSET:line` for selected lines, `NAME-OFFSET-line` for context,
 * where NAME is `node:path`), `--` between context groups, -o's parts, and -m's end.
 */
import { partsMatcher, type PatternOptions } from './match.ts';
import { decodeGroup, keyParts, type KeyParts } from './record.ts';

export interface OutputOptions extends PatternOptions {
  readonly onlyMatching: boolean;
  readonly withNode: boolean;
  readonly withFilename: boolean;
  /** Context lines after and before each selected line; either > 0 means records are groups. */
  readonly after: number;
  readonly before: number;
  /** Stop after this many selected lines in all (0: no limit). */
  readonly maxCount: number;
}

/** Returns the bytes to print for a record, undefined for none, null once the output is complete. */
export type GrepFormatter = (key: Buffer, value: Buffer) => Buffer | undefined | null;

const SEPARATOR = Buffer.from('--');
const NL = Buffer.from('\n');

export function grepFormatter(o: OutputOptions): GrepFormatter {
  const parts = o.onlyMatching ? partsMatcher(o) : null;
  const grouped = o.after > 0 || o.before > 0;
  let printed = 0;
  let groups = 0;
  let done = false;

  const prefix = (k: KeyParts, offset: number, selected: boolean): string => {
    const sep = selected ? ':' : '-';
    if (o.withFilename) return `${k.node}:${k.file}${sep}${offset}${sep}`;
    return o.withNode ? `${k.node}${sep}` : '';
  };
  /** The output lines of one log line: the line, or with -o its matching parts (none for context). */
  const render = (out: Buffer[], k: KeyParts, offset: number, bytes: Buffer, selected: boolean) => {
    if (!parts) {
      const p = prefix(k, offset, selected);
      out.push(p ? Buffer.concat([Buffer.from(p, 'utf8'), bytes]) : bytes);
      return;
    }
    if (!selected) return;
    for (const [a, b] of parts(bytes)) out.push(Buffer.concat([Buffer.from(prefix(k, offset + a, true), 'utf8'), bytes.subarray(a, b)]));
  };
  const join = (out: Buffer[]) => (out.length === 0 ? undefined : out.length === 1 ? out[0]! : Buffer.concat(out.flatMap((b, i) => (i === 0 ? [b] : [NL, b]))));

  return (key, value) => {
    if (done) return null;
    const k = o.withNode || o.withFilename || parts ? keyParts(key) : { node: '', file: '', offset: 0 };
    const out: Buffer[] = [];
    if (!grouped) {
      render(out, k, k.offset, value, true);
      if (o.maxCount > 0 && ++printed >= o.maxCount) done = true;
      return join(out);
    }
    if (groups++ > 0) out.push(SEPARATOR);
    // After the last selected line -m allows, GNU grep still prints its trailing context.
    let trailing = -1;
    for (const line of decodeGroup(value)) {
      if (trailing === 0) break;
      if (trailing > 0) {
        trailing--;
        render(out, k, line.offset, line.bytes, false);
        continue;
      }
      render(out, k, line.offset, line.bytes, line.selected);
      if (line.selected && o.maxCount > 0 && ++printed >= o.maxCount) {
        done = true;
        trailing = o.after;
      }
    }
    return join(out);
  };
}
