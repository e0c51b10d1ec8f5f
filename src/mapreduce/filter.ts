/**
 * Record filters shared by every job: `--since/--until` (ISO 8601), `--vhost`, and `--where EXPR`.
 *
 * EXPR grammar (case-insensitive keywords):
 *   expr    := or
 *   or      := and ('or' and)*
 *   and     := unary ('and' unary)*
 *   unary   := 'not' unary | '(' expr ')' | compare
 *   compare := FIELD OP VALUE
 *   OP      := '=' | '!=' | '<' | '<=' | '>' | '>=' | '~' (regex) | '!~'
 * `=`/`!=` compare numbers numerically and strings exactly, or as a glob when VALUE has `*`/`?`.
 * VALUE is a bare word or a quoted string ("…" or '…'). Examples:
 *   status>=500
 *   method=POST and path~^/api/
 *   not (path=/static/* or status=304)
 */
import { InvalidArgumentError } from '../errors.ts';
import { FIELD_NAMES, isFieldName, NUMERIC_FIELDS, type FieldName, type LogRecord } from '../logs/fields.ts';
import { didYouMean } from '../suggest.ts';
import { hasWildcard, wildcardRegExp } from '../wildcard.ts';
import type { FilterSpec } from './wire.ts';

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~' | '!~';

export type WhereNode =
  | { readonly type: 'and' | 'or'; readonly left: WhereNode; readonly right: WhereNode }
  | { readonly type: 'not'; readonly operand: WhereNode }
  | { readonly type: 'compare'; readonly field: FieldName; readonly op: Op; readonly value: string };

type Token = { kind: 'word' | 'string' | 'op' | 'lparen' | 'rparen'; text: string; pos: number };

const OPS: readonly Op[] = ['!=', '<=', '>=', '!~', '=', '<', '>', '~'];

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'lparen' : 'rparen', text: c, pos: i });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && j + 1 < expr.length) j++;
        text += expr[j];
        j++;
      }
      if (j >= expr.length) throw whereError(`unterminated string starting at column ${i + 1}`);
      tokens.push({ kind: 'string', text, pos: i });
      i = j + 1;
      continue;
    }
    const op = OPS.find((o) => expr.startsWith(o, i));
    if (op) {
      tokens.push({ kind: 'op', text: op, pos: i });
      i += op.length;
      continue;
    }
    let j = i;
    // A value may contain ( ) only inside quotes; a bare word ends at space, paren or operator.
    while (j < expr.length && !' \t()'.includes(expr[j]!) && !OPS.some((o) => expr.startsWith(o, j))) j++;
    tokens.push({ kind: 'word', text: expr.slice(i, j), pos: i });
    i = j;
  }
  return tokens;
}

function whereError(message: string): InvalidArgumentError {
  return new InvalidArgumentError(`--where: ${message}`, { field: 'where' });
}

/** Parse a --where expression; errors name the column and what was expected. */
export function parseWhere(expr: string): WhereNode {
  const tokens = tokenize(expr);
  let i = 0;
  const peek = () => tokens[i];
  const keyword = (t: Token | undefined, k: string) => t?.kind === 'word' && t.text.toLowerCase() === k;
  const parseOr = (): WhereNode => {
    let left = parseAnd();
    while (keyword(peek(), 'or')) {
      i++;
      left = { type: 'or', left, right: parseAnd() };
    }
    return left;
  };
  const parseAnd = (): WhereNode => {
    let left = parseUnary();
    while (keyword(peek(), 'and')) {
      i++;
      left = { type: 'and', left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): WhereNode => {
    const t = peek();
    if (!t) throw whereError('expression ends early; expected a comparison such as status>=500');
    if (keyword(t, 'not')) {
      i++;
      return { type: 'not', operand: parseUnary() };
    }
    if (t.kind === 'lparen') {
      i++;
      const inner = parseOr();
      if (peek()?.kind !== 'rparen') throw whereError(`expected ')' at column ${(peek()?.pos ?? expr.length) + 1}`);
      i++;
      return inner;
    }
    if (t.kind !== 'word') throw whereError(`expected a field name at column ${t.pos + 1}`);
    if (!isFieldName(t.text)) throw whereError(`unknown field '${t.text}' at column ${t.pos + 1}${didYouMean(t.text, FIELD_NAMES)} (geartrain fields lists them)`);
    i++;
    const op = peek();
    if (op?.kind !== 'op') throw whereError(`expected an operator (= != < <= > >= ~ !~) after '${t.text}'`);
    i++;
    const v = peek();
    if (!v || (v.kind !== 'word' && v.kind !== 'string')) throw whereError(`expected a value after '${t.text}${op.text}'`);
    i++;
    if (op.text === '~' || op.text === '!~') {
      try {
        new RegExp(v.text);
      } catch (err) {
        throw whereError(`bad regular expression '${v.text}': ${(err as Error).message}`);
      }
    }
    return { type: 'compare', field: t.text as FieldName, op: op.text as Op, value: v.text };
  };
  const tree = parseOr();
  if (i < tokens.length) throw whereError(`unexpected '${tokens[i]!.text}' at column ${tokens[i]!.pos + 1}`);
  return tree;
}

export function whereFields(node: WhereNode, out = new Set<FieldName>()): Set<FieldName> {
  if (node.type === 'compare') out.add(node.field);
  else if (node.type === 'not') whereFields(node.operand, out);
  else {
    whereFields(node.left, out);
    whereFields(node.right, out);
  }
  return out;
}

type Predicate = (record: Record<string, unknown>) => boolean;

function compile(node: WhereNode): Predicate {
  switch (node.type) {
    case 'and': {
      const a = compile(node.left);
      const b = compile(node.right);
      return (r) => a(r) && b(r);
    }
    case 'or': {
      const a = compile(node.left);
      const b = compile(node.right);
      return (r) => a(r) || b(r);
    }
    case 'not': {
      const a = compile(node.operand);
      return (r) => !a(r);
    }
    case 'compare':
      return compileCompare(node.field, node.op, node.value);
  }
}

function compileCompare(field: FieldName, op: Op, value: string): Predicate {
  const numeric = NUMERIC_FIELDS.has(field);
  if (op === '~' || op === '!~') {
    const re = new RegExp(value);
    const neg = op === '!~';
    return (r) => re.test(String(r[field] ?? '')) !== neg;
  }
  if (numeric) {
    const n = Number(value);
    if (Number.isNaN(n)) throw whereError(`'${field}' is a number; '${value}' is not`);
    switch (op) {
      case '=':
        return (r) => r[field] === n;
      case '!=':
        return (r) => r[field] !== n;
      case '<':
        return (r) => (r[field] as number) < n;
      case '<=':
        return (r) => (r[field] as number) <= n;
      case '>':
        return (r) => (r[field] as number) > n;
      case '>=':
        return (r) => (r[field] as number) >= n;
    }
  }
  if ((op === '=' || op === '!=') && hasWildcard(value)) {
    const re = wildcardRegExp(value);
    const neg = op === '!=';
    return (r) => re.test(String(r[field] ?? '')) !== neg;
  }
  switch (op) {
    case '=':
      return (r) => r[field] === value;
    case '!=':
      return (r) => r[field] !== value;
    case '<':
      return (r) => String(r[field]) < value;
    case '<=':
      return (r) => String(r[field]) <= value;
    case '>':
      return (r) => String(r[field]) > value;
    default:
      return (r) => String(r[field]) >= value;
  }
}

/** A compiled filter: the fields it reads and the test. `test` is null when nothing is filtered. */
export interface RecordFilter {
  readonly fields: readonly FieldName[];
  readonly test: ((record: LogRecord<FieldName>) => boolean) | null;
}

export function compileFilter(spec: FilterSpec): RecordFilter {
  const fields = new Set<FieldName>();
  const parts: Predicate[] = [];
  if (spec.since !== undefined || spec.until !== undefined) {
    fields.add('time');
    const since = spec.since ?? -Infinity;
    const until = spec.until ?? Infinity;
    parts.push((r) => (r.time as number) >= since && (r.time as number) < until);
  }
  if (spec.vhost !== undefined) {
    fields.add('vhost');
    const v = spec.vhost;
    if (hasWildcard(v)) {
      const re = wildcardRegExp(v);
      parts.push((r) => re.test(String(r.vhost)));
    } else parts.push((r) => r.vhost === v);
  }
  if (spec.where) {
    const tree = parseWhere(spec.where);
    whereFields(tree, fields);
    parts.push(compile(tree));
  }
  if (parts.length === 0) return { fields: [], test: null };
  const test = parts.length === 1 ? parts[0]! : (r: Record<string, unknown>) => parts.every((p) => p(r));
  return { fields: [...fields], test: test as (record: LogRecord<FieldName>) => boolean };
}

/**
 * Parse `--since`/`--until`: an ISO 8601 date (`2026-10-01`) or date-time with an offset or `Z`.
 * A value without a zone is read in `defaultOffsetMinutes` (the logs' zone), UTC if unknown.
 * `--until` is exclusive, and a date alone includes that day: `--until 2026-10-03` ends at the
 * start of 2026-10-04.
 */
export function parseTimeBound(value: string, field: 'since' | 'until', defaultOffsetMinutes = 0): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`--${field}: '${value}' is not an ISO 8601 date or date-time (e.g. 2026-10-01 or 2026-10-01T12:00:00Z)`, { field });
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', zone] = m;
  let offset = defaultOffsetMinutes;
  if (zone === 'Z') offset = 0;
  else if (zone) {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  }
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Number(frac.slice(0, 3).padEnd(3, '0')));
  const check = new Date(ms);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) {
    throw new InvalidArgumentError(`--${field}: '${value}' is not a real date`, { field });
  }
  const wholeDay = field === 'until' && m[4] === undefined ? 86_400_000 : 0;
  return ms + wholeDay - offset * 60_000;
}
