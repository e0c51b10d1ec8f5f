/**
 * `--logs GLOB[:FORMAT]`: which files a node serves and their format. The part after the last
 * `:` is a format nickname only when it compiles as one (`combined`, `vhost_combined`, …), so a
 * path holding `:` (`/srv/logs/host:8080/access.log`) still works and takes the default format.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { compileLogFormat, type LogFormat } from './format.ts';
import { globBase, listLogFiles } from './glob.ts';

export interface LogSource {
  /** The glob, made absolute. */
  readonly pattern: string;
  readonly format: LogFormat;
}

function nickname(text: string): LogFormat | undefined {
  if (text.length === 0 || /[%/*?[{\s]/.test(text)) return undefined;
  try {
    return compileLogFormat(text);
  } catch {
    return undefined;
  }
}

/**
 * Parses one `--logs` value. `defaultFormat` (a nickname or LogFormat string) applies when no
 * format follows the glob. Relative globs are resolved against `cwd`.
 */
export function parseLogSource(spec: string, defaultFormat: string | LogFormat = 'combined', cwd = process.cwd()): LogSource {
  if (typeof spec !== 'string' || spec.trim().length === 0) throw new InvalidArgumentError('--logs needs a glob', { field: 'logs' });
  let glob = spec;
  let format: LogFormat | undefined;
  const colon = spec.lastIndexOf(':');
  if (colon > 0) {
    const suffix = spec.slice(colon + 1);
    format = nickname(suffix);
    if (format) glob = spec.slice(0, colon);
    else if (/^[A-Za-z][A-Za-z0-9_]*$/.test(suffix) && !fs.existsSync(path.resolve(cwd, spec))) {
      // `access.log:combinde`: a mistyped nickname, not a file name with a colon in it.
      try {
        compileLogFormat(suffix);
      } catch (err) {
        throw new InvalidArgumentError(`--logs ${spec}: ${(err as Error).message}`, { field: 'logs' });
      }
    }
  }
  format ??= typeof defaultFormat === 'string' ? compileLogFormat(defaultFormat) : defaultFormat;
  return Object.freeze({ pattern: path.resolve(cwd, glob), format });
}

/**
 * Why a `--logs` glob cannot serve anything, or undefined when it matches a file: it names a
 * directory (with the files in it), or it matches nothing (with what its directory holds).
 */
export async function unmatchedReason(pattern: string): Promise<string | undefined> {
  if ((await listLogFiles(pattern)).length > 0) return undefined;
  const stat = await fs.promises.stat(pattern).catch(() => null);
  if (stat?.isDirectory()) {
    const files = await filesIn(pattern);
    const example = files.find((f) => /access/.test(f)) ?? files[0];
    return `is a directory; give a glob of the log files in it, e.g. '${path.join(pattern, example ? `${example.replace(/\.\d+(\.gz)?$/, '')}*` : '*.log')}'${files.length > 0 ? ` (it holds ${listed(files)})` : ' (it is empty)'}`;
  }
  if (stat && !stat.isFile()) return 'is not a regular file (a device, socket or pipe): logs are read from files';
  // The deepest directory of the pattern without wildcards: say what is there.
  const dir = globBase(pattern);
  const dirStat = await fs.promises.stat(dir).catch(() => null);
  if (!dirStat?.isDirectory()) return `matches no file (there is no directory ${dir})`;
  const files = await filesIn(dir);
  return `matches no file${files.length > 0 ? ` (${dir} holds ${listed(files)})` : ` (${dir} is empty)`}`;
}

async function filesIn(dir: string): Promise<string[]> {
  const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
}

function listed(names: readonly string[]): string {
  return names.length > 6 ? `${names.slice(0, 6).join(', ')} and ${names.length - 6} more` : names.join(', ');
}
