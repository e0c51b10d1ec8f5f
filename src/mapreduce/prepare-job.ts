/**
 * A job made ready to run, once: `loadJob` imports a built-in module, or bundles a job file with
 * esbuild and imports that bundle (what the nodes will run); `prepareJob` validates the parameters
 * by the job's schema, with one wording, and picks the concrete definition. The CLI loads a job to
 * learn its flags and hands the prepared job to the coordinator, which ships the same bundle:
 * nothing is bundled, imported or validated twice.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { resolveJob, type AnyJob, type CliSpec, type JobDefinition } from './job-definition.ts';
import { builtinJobPath, importJobFile, isJobFile, sha256Hex } from './job-loader.ts';
import type { StreamingSpec } from './wire.ts';

export type { StreamingSpec } from './wire.ts';

export type JobSource =
  | { readonly type: 'builtin'; readonly name: string; readonly file: string }
  /** A job file, bundled: the bytes the nodes get and their sha256. */
  | { readonly type: 'file'; readonly path: string; readonly code: Buffer; readonly hash: string };

export interface LoadedJob {
  /** As given: a built-in job's name or a file path. */
  readonly name: string;
  readonly job: AnyJob;
  readonly source: JobSource;
}

export type PreparedJob =
  | (LoadedJob & { readonly type: 'module'; readonly params: unknown; readonly def: JobDefinition })
  | { readonly type: 'streaming'; readonly name: 'streaming'; readonly spec: StreamingSpec };

/** Load a built-in job by name, or bundle and load a job file (`./my-job.ts`). */
export async function loadJob(name: string): Promise<LoadedJob> {
  if (!isJobFile(name)) {
    const file = builtinJobPath(name);
    return { name, job: await importJobFile(file), source: { type: 'builtin', name, file } };
  }
  // esbuild (a CommonJS package with a native binary) loads only when a job file is bundled.
  const { bundleJobFile } = await import('./job-bundle.ts');
  const code = await bundleJobFile(name);
  const hash = sha256Hex(code);
  // Imported from the bundle, so the coordinator runs what the nodes will run.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'geartrain-job-'));
  try {
    const local = path.join(dir, `${hash}.mjs`);
    fs.writeFileSync(local, code);
    return { name, job: await importJobFile(local), source: { type: 'file', path: name, code, hash } };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Validate the parameters and pick the definition for them. */
export function prepareJob(loaded: LoadedJob, rawParams: unknown): PreparedJob {
  const params = checkParams(loaded.job, rawParams);
  return { ...loaded, type: 'module', params, def: resolveJob(loaded.job, params) };
}

export function prepareStreamingJob(spec: StreamingSpec): PreparedJob {
  if (!spec.mapper && !spec.mapperFunction && !spec.reducer) {
    throw new InvalidArgumentError('a streaming job needs --mapper, --mapper-function or --reducer', { field: 'mapper' });
  }
  return { type: 'streaming', name: 'streaming', spec };
}

/**
 * The parameters as the job's schema makes them, or an error naming the parameter as the command
 * line does (`PATTERN`, `--by`), with the job's usage.
 */
export function checkParams(job: AnyJob, raw: unknown): unknown {
  const parsed = job.params.safeParse(raw ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const top = issue.path[0];
  const field = issue.path.join('.') || 'params';
  const given = top !== undefined && typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[String(top)] : raw;
  const label = top === undefined ? 'parameters' : paramLabel(job.cli, String(top));
  const usage = job.cli?.usage ? ` (usage: geartrain run ${job.cli.usage})` : '';
  throw new InvalidArgumentError(`${job.name}: ${label}: ${given === undefined ? 'missing' : issue.message}${usage}`, { field });
}

/** A parameter as the command line names it: a positional in capitals, else its flag. */
function paramLabel(cli: CliSpec | undefined, param: string): string {
  if (cli?.positionals?.some((p) => p.replace(/^\.\.\./, '') === param)) return param.toUpperCase();
  const flag = Object.entries(cli?.flags ?? {}).find(([, spec]) => spec.param === param)?.[0];
  if (flag !== undefined) return flag.length === 1 ? `-${flag}` : `--${flag}`;
  return `'${param}'`;
}

