import { GeartrainError } from '../errors.ts';

/** What a command may touch of the process, so tests can run commands in-process. */
export interface CliIO {
  readonly stdin: NodeJS.ReadableStream;
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** Resolves when the user asks the command to stop (SIGINT/SIGTERM). */
  readonly signal: AbortSignal;
}

export function processIO(): CliIO {
  // `geartrain … | head`: the reader went away; stop quietly, as Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal };
}

/** One line, no stack trace: what went wrong and, when we know, what to do. */
export function formatCliError(prefix: string, err: unknown): string {
  if (err instanceof GeartrainError) return `${prefix}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return `${prefix}: ${err.message}${code && !err.message.includes(code) ? ` (${code})` : ''}`;
  }
  return `${prefix}: ${String(err)}`;
}
