/**
 * The layout of a compiled LogFormat (format.ts): its directives, the literals between them and
 * where each field comes from. The parser and the formatter read only this.
 */
import type { FieldName } from './fields.ts';
import type { TimePattern } from './strftime.ts';

/** How the parser finds the end of a directive's value. */
export type DirectiveKind =
  | 'text' // any text, ended by the literal that follows it
  | 'number' // decimal digits, or `-` (read as 0)
  | 'status' // three digits
  | 'seconds' // `%T`: digits with an optional fraction
  | 'time' // Apache's default `%t`: `[10/Oct/2000:13:55:36 -0700]`
  | 'customTime'; // `%{…}t`

export interface Directive {
  /** As written in the format, e.g. `%>s`, `%{User-Agent}i`. */
  readonly source: string;
  readonly letter: string;
  /** The `{…}` argument, if any. */
  readonly arg: string | undefined;
  readonly kind: DirectiveKind;
  /** The field this directive feeds, if any (`%{msec_frac}t` feeds `time` through the others). */
  readonly field: FieldName | undefined;
  /** Apache escapes this directive's value (`ap_escape_logitem`). */
  readonly escaped: boolean;
  /** Multiplier from the logged number to the field's unit (durations to microseconds). */
  readonly scale: number;
  readonly timePattern: TimePattern | undefined;
}

/** Where a field's value comes from: a directive index, or something computed. */
export type FieldSource =
  | { readonly from: 'directive'; readonly index: number }
  | { readonly from: 'request'; readonly part: 'method' | 'path' | 'query' | 'protocol'; readonly index: number }
  | { readonly from: 'time' }
  | { readonly from: 'tzOffset' }
  | { readonly from: 'line' }
  | { readonly from: 'offset' };

/** What the parser and the formatter read of a compiled format: its directives and literals. */
export interface FormatLayout {
  readonly directives: readonly Directive[];
  /** `literals[i]` is the text before `directives[i]`; the last one follows the last directive. */
  readonly literals: readonly string[];
  /** The fields a record of this format can have, in a stable order. */
  readonly fields: readonly FieldName[];
  /** Whether the format has Apache's default `%t` (which the parser uses to spot glued lines). */
  readonly timeMode: 'bracket' | 'custom' | 'none';
  provides(field: string): boolean;
  /** Where `field` comes from; throws LogFormatError when the format does not provide it. */
  sourceOf(field: string): FieldSource;
}
