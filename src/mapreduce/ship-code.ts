/**
 * Ad-hoc jobs: `geartrain run ./my-job.ts` bundles the file and its imports into one ES module
 * (once: prepare-job.ts, with job-bundle.ts), signs its hash with GEARTRAIN_SECRET, and serves the
 * bundle as `geartrain.code@<hash>` while the run lasts. Nodes started with --allow-code fetch it
 * once, check hash and signature, and cache it by hash.
 */
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
