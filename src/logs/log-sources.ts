/**
 * `--logs GLOB[:FORMAT]`: which files a node serves and their format. The part after the last
 * `:` is a format nickname only when it compiles as one (`combined`, `vhost_combined`, …), so a
 * path holding `:` (`/srv/logs/host:8080/access.log`) still works and takes the default format.
 */
import path from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { compileLogFormat, type LogFormat } from './format.ts';

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
    format = nickname(spec.slice(colon + 1));
    if (format) glob = spec.slice(0, colon);
  }
  format ??= typeof defaultFormat === 'string' ? compileLogFormat(defaultFormat) : defaultFormat;
  return Object.freeze({ pattern: path.resolve(cwd, glob), format });
}
