/**
 * Finds a job's definition: built-in jobs are modules in jobs/, ad-hoc jobs are bundles shipped by
 * content hash and cached on the node, and a job file given on the command line is loaded as is.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT, RUNNING_FROM_DIST } from '../dist-mode.ts';
import { CodeRefusedError, InvalidArgumentError } from '../errors.ts';
import { didYouMean } from '../suggest.ts';
import type { AnyJob } from './job-definition.ts';
import { isModuleKind } from './kinds/index.ts';
import type { JobRef } from './wire.ts';

/** Built-in jobs: jobs/*.ts from the sources, or dist/jobs/*.mjs from the bundle. */
export const JOBS_DIR = RUNNING_FROM_DIST ? path.join(PACKAGE_ROOT, 'dist', 'jobs') : path.join(PACKAGE_ROOT, 'jobs');
const JOB_EXT = RUNNING_FROM_DIST ? '.mjs' : '.ts';

const BUILTIN_NAME = /^[a-z][a-z0-9-]*$/;

/** The module of a built-in job; an unknown name is refused with the nearest known one. */
export function builtinJobPath(name: string): string {
  // The name pattern keeps a name from leaving JOBS_DIR.
  const file = BUILTIN_NAME.test(name) ? path.join(JOBS_DIR, `${name}${JOB_EXT}`) : null;
  if (file === null || !fs.existsSync(file)) {
    const builtin = builtinJobNames();
    throw new InvalidArgumentError(`unknown job '${name}'${didYouMean(name, builtin)} (built-in jobs: ${builtin.join(', ')}; or give a job file path)`, { field: 'job' });
  }
  return file;
}

export function builtinJobNames(): string[] {
  try {
    return fs
      .readdirSync(JOBS_DIR)
      .filter((f) => f.endsWith(JOB_EXT) && BUILTIN_NAME.test(f.slice(0, -JOB_EXT.length)))
      .map((f) => f.slice(0, -JOB_EXT.length))
      .sort();
  } catch {
    return [];
  }
}

/** Whether a job name on the command line is a job file (else a built-in job's name). */
export function isJobFile(name: string): boolean {
  return name.includes('/') || /\.(m?[jt]s)$/.test(name);
}

function isJob(value: unknown): value is AnyJob {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AnyJob).name === 'string' &&
    isModuleKind((value as AnyJob).kind)
  );
}

/** Import a job module file and return its default export, checked. */
export async function importJobFile(file: string): Promise<AnyJob> {
  const mod = (await import(pathToFileURL(path.resolve(file)).href)) as { default?: unknown };
  if (!isJob(mod.default)) {
    throw new InvalidArgumentError(`${file} does not default-export a job (export default defineJob({...}))`, { field: 'job' });
  }
  return mod.default;
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function signCode(hash: string, secret: string): string {
  return createHmac('sha256', secret).update(hash).digest('hex');
}

/** Throws CodeRefusedError unless `signature` is HMAC-SHA256(secret, hash). */
export function verifyCodeSignature(hash: string, signature: string, secret: string | undefined): void {
  if (!secret) throw new CodeRefusedError('this node has no GEARTRAIN_SECRET: it runs no shipped code');
  const expected = Buffer.from(signCode(hash, secret), 'hex');
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new CodeRefusedError(`the signature of job code ${hash.slice(0, 12)}… does not match this node's GEARTRAIN_SECRET`);
  }
}

/** Node-side cache of shipped job bundles, by content hash. */
export class CodeCache {
  readonly dir: string;
  constructor(dataDir: string) {
    this.dir = path.join(dataDir, 'code');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  file(hash: string): string {
    return path.join(this.dir, `${hash}.mjs`);
  }

  has(hash: string): boolean {
    return fs.existsSync(this.file(hash));
  }

  /** Store a bundle after checking that its bytes hash to `hash`. */
  async put(hash: string, code: Buffer): Promise<string> {
    const actual = sha256Hex(code);
    if (actual !== hash) throw new CodeRefusedError(`shipped code hashes to ${actual.slice(0, 12)}…, not ${hash.slice(0, 12)}…`);
    const file = this.file(hash);
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, code);
    await fs.promises.rename(tmp, file);
    return file;
  }
}

/** Module file to import for a job reference (built-in or cached code). */
export function jobModulePath(ref: JobRef, cache: CodeCache | null): string {
  if (ref.type === 'builtin') return builtinJobPath(ref.name);
  if (ref.type === 'code') {
    if (!cache || !cache.has(ref.hash)) throw new CodeRefusedError(`job code ${ref.hash.slice(0, 12)}… is not in this node's cache`);
    return cache.file(ref.hash);
  }
  throw new InvalidArgumentError('streaming jobs have no module', { field: 'job' });
}
