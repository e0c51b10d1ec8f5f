/**
 * What every sub-command shares: exit statuses, flag parsing with errors that say what to type
 * instead, and "did you mean" suggestions for commands, jobs and flags.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AbortError, InvalidArgumentError, LogFormatError, NodeUnavailableError } from '../errors.ts';

/** Exit statuses, the same for every command (README: "Exit statuses"). */
export const EXIT = {
  OK: 0,
  /** The command ran and failed: a server unreachable, a task that kept failing, a job that failed. */
  FAILURE: 1,
  /** The command line or its input is wrong: unknown flag, bad value, unknown job or field. */
  USAGE: 2,
  /** A run could not read every shard it needed and has no complete result (see --allow-partial). */
  INCOMPLETE: 3,
  /** Stopped by Ctrl-C (SIGINT) before it finished. */
  INTERRUPTED: 130,
  /** Stopped by SIGTERM before it finished. */
  TERMINATED: 143,
} as const;

/** The reason an `io.signal` is aborted with when the process gets a signal. */
export type StopSignal = 'SIGINT' | 'SIGTERM';

/** 130 after SIGINT, 143 after SIGTERM (128 + the signal's number, as shells report it). */
export function interruptedStatus(signal: AbortSignal): number {
  return signal.reason === 'SIGTERM' ? EXIT.TERMINATED : EXIT.INTERRUPTED;
}

/** The exit status of a command that threw `err`. */
export function exitStatusOf(err: unknown, signal: AbortSignal): number {
  if (signal.aborted && (err instanceof AbortError || isAbort(err))) return interruptedStatus(signal);
  if (err instanceof InvalidArgumentError || err instanceof LogFormatError || isParseArgsError(err)) return EXIT.USAGE;
  if (err instanceof NodeUnavailableError) return EXIT.INCOMPLETE;
  if (signal.aborted) return interruptedStatus(signal);
  return EXIT.FAILURE;
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR');
}

function isParseArgsError(err: unknown): boolean {
  const code = err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The help line every command lists. */
export const HELP_LINE = '  -H, --help             this help';

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `gerp` is one edit from
 * `grep`, `nod` one from `node`, `--limt` one from `--limit`.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The candidate closest to `word`, if it is close enough to be what the user meant: a unique
 * candidate that `word` starts (`ana` → `analyze`), else the nearest by edit distance within about
 * a third of the word's length. Ties go to the first candidate in alphabetical order.
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...new Set(candidates)].filter((c) => c !== word).sort();
  const bare = (s: string) => s.replace(/^-+/, '');
  if (bare(word).length >= 2) {
    const prefixed = list.filter((c) => c.startsWith(word) && bare(c).length > bare(word).length);
    if (prefixed.length === 1) return prefixed[0];
  }
  const limit = Math.max(1, Math.floor(bare(word).length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of list) {
    const dist = editDistance(word, c);
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean X?)`, or '' when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : ` (did you mean ${s}?)`;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** `--name` for every option and `-x` for every short letter: what a user may type. */
export function flagNames(options: Options): string[] {
  const names: string[] = [];
  for (const [name, o] of Object.entries(options)) {
    if (!name.startsWith('-')) names.push(`--${name}`);
    if (o.short) names.push(`-${o.short}`);
  }
  return names;
}

/**
 * node:util's parseArgs, always strict, with its errors turned into one-line InvalidArgumentErrors
 * that say what to type: the nearest known flag for an unknown one, that `-h` is the host (help is
 * `-H`), and where the command's flags are listed (`command -H`).
 */
export function parseFlags<const T extends ParseArgsConfig & { options: Options }>(command: string, config: T): ReturnType<typeof parseArgs<T & { strict: true }>> {
  try {
    return parseArgs({ ...config, strict: true });
  } catch (err) {
    throw translateParseError(command, err, config.options);
  }
}

function translateParseError(command: string, err: unknown, options: Options): unknown {
  if (!isParseArgsError(err)) return err;
  const e = err as NodeJS.ErrnoException;
  const hint = `(try: ${command} -H)`;
  const quoted = /'([^']*)'/.exec(e.message)?.[1] ?? '';
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const flag = quoted.split('=')[0]!;
      const near = suggest(flag, flagNames(options));
      return new InvalidArgumentError(`unknown flag ${flag}${near ? ` (did you mean ${near}?)` : ''} ${hint}`, { field: flag.replace(/^-+/, ''), cause: err });
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      // "Option '-h, --host <value>' argument missing" / "… argument ambiguous …" / "… does not take an argument"
      const flags = quoted.replace(/ <value>$/, '');
      const long = /--[\w-]+/.exec(flags)?.[0] ?? flags;
      if (/argument missing/.test(e.message)) {
        if (long === '--host') return new InvalidArgumentError(`-h needs a HOST: -h is the job server's host (-h HOST), as in gearman's tools; help is -H or --help`, { field: 'host', cause: err });
        return new InvalidArgumentError(`${flags} needs a value ${hint}`, { field: long.replace(/^-+/, ''), cause: err });
      }
      if (/ambiguous/.test(e.message)) {
        return new InvalidArgumentError(`${flags}: a value starting with '-' goes after '=' (${long}=-1) ${hint}`, { field: long.replace(/^-+/, ''), cause: err });
      }
      return new InvalidArgumentError(`${flags} takes no value ${hint}`, { field: long.replace(/^-+/, ''), cause: err });
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new InvalidArgumentError(`unexpected argument '${quoted}' ${hint}`, { field: 'arguments', cause: err });
    default:
      return new InvalidArgumentError(`${e.message.split(/\.\s|\n/)[0]!.replace(/\.$/, '')} ${hint}`, { cause: err });
  }
}
