/** `geartrain ARGS` run in this process (as bin/geartrain.js runs it), its output captured. */
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { cleanEnv, type Ran } from '../client/helpers/cli.ts';

export interface InProcessOptions {
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Pretend stderr is a terminal (progress bar, run summary). */
  readonly tty?: boolean;
  readonly signal?: AbortSignal;
}

export async function cli(args: readonly string[], o: InProcessOptions = {}): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough().setEncoding('latin1');
  const err = Object.assign(new PassThrough().setEncoding('latin1'), o.tty ? { isTTY: true } : {});
  out.on('data', (d: string) => (stdout += d));
  err.on('data', (d: string) => (stderr += d));
  const code = await main([...args], { stdin: Readable.from([o.input ?? '']), stdout: out, stderr: err, env: o.env ?? cleanEnv(), signal: o.signal ?? new AbortController().signal });
  await new Promise((r) => setImmediate(r));
  return { stdout, stderr, code };
}
