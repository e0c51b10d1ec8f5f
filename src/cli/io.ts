import { GeartrainError } from '../errors.ts';

/** What a command may touch of the process, so tests can run commands in-process. */
export interface CliIO {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Aborted when the user asks the command to stop; its reason is 'SIGINT' or 'SIGTERM'. */
  readonly signal: AbortSignal;
}

export function processIO(): CliIO {
  // `geartrain … | head`: the reader went away; stop quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort('SIGINT'));
  process.once('SIGTERM', () => ac.abort('SIGTERM'));
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal };
}

/** One line, no stack trace: what went wrong and, when we know, what to do. */
export function formatCliError(prefix: string, err: unknown): string {
  return `${prefix}: ${oneLine(describe(prefix, err))}`;
}

function describe(prefix: string, err: unknown): string {
  if (err instanceof GeartrainError) return err.message;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      // node:util parseArgs: its first sentence, then where the flags are listed.
      const first = err.message.split(/\.\s|\n/)[0]!.replace(/\.$/, '');
      const dash = /ambiguous/.test(err.message) ? "; a value starting with '-' goes after '=' (--flag=-1)" : '';
      return `${first}${dash} (try: ${prefix} -H)`;
    }
    return `${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`;
  }
  return String(err);
}

/** Echoed user input stays on one line: line breaks become spaces, control characters '?'. */
function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?');
}
