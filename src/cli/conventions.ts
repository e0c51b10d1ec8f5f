/**
 * What every sub-command shares: exit statuses, and flag parsing with errors that say what to
 * type instead (the nearest flag, from ../suggest.ts).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AbortError, IncompleteResultError, InvalidArgumentError, LogFormatError, NodeUnavailableError } from '../errors.ts';
import { suggest } from '../suggest.ts';


/** Exit statuses, the same for every command (README: "Exit statuses"). */
export const EXIT = {
  OK: 0,
  /** The command ran and failed: a server unreachable, a task that kept failing, a job that failed. */
  FAILURE: 1,
  /** The command line or its input is wrong: unknown flag, bad value, unknown job or field. */
  USAGE: 2,
  /**
   * A run could not read every shard it needed (a node gone, a truncated .gz) and has no complete
   * result (see --allow-partial).
   */
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
  if (err instanceof NodeUnavailableError || err instanceof IncompleteResultError) return EXIT.INCOMPLETE;
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
