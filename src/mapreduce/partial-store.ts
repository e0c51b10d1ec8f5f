/**
 * Where a node keeps the partial results and sorted runs of map and reduce tasks until the next
 * tier fetches them: files under `<data>/runs/<runId>/`, so a node process that is killed and
 * restarted can still serve what it computed before. Runs are dropped by the coordinator at the
 * end, or swept after `ttlMs` of inactivity.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError } from '../errors.ts';
import { pathUnder, splitPartialKey } from './store-names.ts';
import type { Ref } from './wire.ts';

export const DEFAULT_RUN_TTL_MS = 6 * 60 * 60 * 1000;

export class PartialStore {
  readonly root: string;
  readonly node: string;
  readonly dataDir: string;
  readonly #ttlMs: number;
  #sweeper: NodeJS.Timeout | null = null;

  constructor(dataDir: string, node: string, options: { ttlMs?: number } = {}) {
    this.dataDir = dataDir;
    this.root = path.join(dataDir, 'runs');
    this.node = node;
    this.#ttlMs = options.ttlMs ?? DEFAULT_RUN_TTL_MS;
    fs.mkdirSync(this.root, { recursive: true });
  }

  /** Start sweeping runs nobody touched for the TTL. */
  startSweeping(intervalMs = 10 * 60 * 1000): void {
    this.#sweeper = setInterval(() => void this.sweep(), intervalMs);
    this.#sweeper.unref();
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }

  #runDir(runId: string): string {
    return pathUnder(this.root, [runId], 'runId');
  }

  /** File path for a new partial; the key is `<runId>/<name>`. */
  pathFor(runId: string, name: string): { key: string; file: string } {
    const file = pathUnder(this.root, [runId, name], 'partial name');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    return { key: `${runId}/${name}`, file };
  }

  #resolve(key: string): string {
    const parts = splitPartialKey(key);
    if (!parts) throw new InvalidArgumentError(`bad partial key ${JSON.stringify(key)}: expected <runId>/<name>`, { field: 'key' });
    return pathUnder(this.root, [parts.runId, parts.name], 'key');
  }

  /** Store bytes (atomically: a crash leaves no half-written partial). */
  async putBuffer(runId: string, name: string, data: Buffer, records = 0): Promise<Ref> {
    const { key, file } = this.pathFor(runId, name);
    const tmp = `${file}.tmp`;
    await fs.promises.writeFile(tmp, data);
    await fs.promises.rename(tmp, file);
    return { node: this.node, key, size: data.length, records };
  }

  /** A ref for a file already written at `pathFor(...).file`. */
  async refFor(runId: string, name: string, records = 0): Promise<Ref> {
    const { key, file } = this.pathFor(runId, name);
    const st = await fs.promises.stat(file);
    return { node: this.node, key, size: st.size, records };
  }

  async read(key: string, offset = 0, length?: number): Promise<Buffer> {
    const file = this.#resolve(key);
    const fh = await fs.promises.open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const n = Math.max(0, Math.min(length ?? size, size - offset));
      const buf = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(buf, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return buf.subarray(0, done);
    } finally {
      await fh.close();
    }
  }

  localPath(key: string): string {
    return this.#resolve(key);
  }

  async drop(runId: string): Promise<void> {
    await fs.promises.rm(this.#runDir(runId), { recursive: true, force: true });
  }

  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    let entries: string[];
    try {
      entries = await fs.promises.readdir(this.root);
    } catch {
      return 0;
    }
    for (const runId of entries) {
      const dir = path.join(this.root, runId);
      try {
        const st = await fs.promises.stat(dir);
        if (now - st.mtimeMs > this.#ttlMs) {
          await fs.promises.rm(dir, { recursive: true, force: true });
          removed++;
        }
      } catch {
        // raced with a drop
      }
    }
    return removed;
  }
}
