/**
 * Scan results kept in the node's data directory (`scan-cache.json`), so a restart does not
 * rescan its log files. An entry is keyed by (device, inode) and trusted only while the file's
 * head, format and, for gzip, its size and mtime are those recorded; a plain file that only grew
 * resumes its scan where it stopped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Logger } from '../client/options.ts';

const entrySchema = z.object({
  size: z.number().int().nonnegative(),
  mtimeMs: z.number(),
  gzip: z.boolean(),
  headHash: z.string(),
  /** The head held a whole first line (else a changed head is a line still being written). */
  headComplete: z.boolean().optional(),
  generation: z.number().int().nonnegative(),
  format: z.string(),
  scannedBytes: z.number().int().nonnegative(),
  lines: z.number().int().nonnegative(),
  firstTime: z.number().nullable(),
  lastTime: z.number().nullable(),
  /** The whole file was scanned at `size`/`mtimeMs`. */
  complete: z.boolean(),
});

const fileSchema = z.object({ version: z.literal(1), entries: z.record(z.string(), entrySchema) });

export type ScanCacheEntry = z.infer<typeof entrySchema>;

export const SCAN_CACHE_FILE = 'scan-cache.json';

/** Most entries kept; the oldest are dropped first (files long gone). */
const MAX_ENTRIES = 100_000;

export class ScanCache {
  readonly file: string;
  readonly #entries = new Map<string, ScanCacheEntry>();
  readonly #logger: Logger | undefined;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(dataDir: string, logger?: Logger) {
    this.file = path.join(dataDir, SCAN_CACHE_FILE);
    this.#logger = logger;
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return;
    }
    try {
      const parsed = fileSchema.parse(JSON.parse(text));
      for (const [k, v] of Object.entries(parsed.entries)) this.#entries.set(k, v);
    } catch (err) {
      this.#logger?.warn?.(`ignoring unreadable scan cache ${this.file}: ${(err as Error).message}`);
    }
  }

  get(key: string): ScanCacheEntry | undefined {
    return this.#entries.get(key);
  }

  set(key: string, entry: ScanCacheEntry): void {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    while (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#dirty = true;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.save();
    }, 1000).unref();
  }

  /** Writes the cache now if it changed (atomically: a crash leaves the old or the new file). */
  save(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#dirty) return;
    this.#dirty = false;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, JSON.stringify({ version: 1, entries: Object.fromEntries(this.#entries) }));
      fs.renameSync(tmp, this.file);
    } catch (err) {
      this.#logger?.warn?.(`cannot write scan cache ${this.file}: ${(err as Error).message}`);
    }
  }
}
