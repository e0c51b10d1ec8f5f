/**
 * Ad-hoc jobs: `geartrain run ./my-job.ts` bundles the file and its imports (relative files and npm
 * packages such as zod) into one ES module with esbuild (once: prepare-job.ts), signs its hash
 * with GEARTRAIN_SECRET, and serves the bundle as `geartrain.code@<hash>` while the run lasts.
 * Nodes started with --allow-code fetch it once, check hash and signature, and cache it by hash.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import { Worker, type WorkerOptions } from '../client/index.ts';
import { InvalidArgumentError } from '../errors.ts';
import { signCode } from './job-loader.ts';
import { codeFunction } from '../wire-names.ts';

export interface ShippedCode {
  readonly hash: string;
  readonly signature: string;
  /** Stop serving the bundle. */
  close(): Promise<void>;
}

export async function bundleJobFile(file: string): Promise<Buffer> {
  if (!fs.existsSync(file)) throw new InvalidArgumentError(`job file ${file} does not exist`, { field: 'job' });
  try {
    const result = await build({
      entryPoints: [path.resolve(file)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      // Packages that need `require` at run time still work inside an ES module bundle.
      banner: { js: "import { createRequire as __gtCreateRequire } from 'node:module'; const require = __gtCreateRequire(import.meta.url);" },
    });
    return Buffer.from(result.outputFiles[0]!.contents);
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new InvalidArgumentError(`cannot bundle ${file}: ${first?.text ?? (err as Error).message}${where}`, { field: 'job', cause: err });
  }
}

/**
 * Serve a bundle (prepare-job.ts built it) as `geartrain.code@<hash>` until `close()`, and sign its
 * hash for the nodes.
 */
export async function serveJobCode(code: Buffer, hash: string, servers: readonly string[], secret: string | undefined, tls?: WorkerOptions['tls']): Promise<ShippedCode> {
  if (!secret) {
    throw new InvalidArgumentError('set GEARTRAIN_SECRET (the same value on the nodes) to run a job file on nodes', { field: 'GEARTRAIN_SECRET' });
  }
  const worker = new Worker({ servers: [...servers], concurrency: 8, ...(tls ? { tls } : {}) });
  worker.register(codeFunction(hash), () => code);
  await worker.start();
  return {
    hash,
    signature: signCode(hash, secret),
    async close() {
      await worker.close({ timeoutMs: 2000 });
    },
  };
}
