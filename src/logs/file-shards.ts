/**
 * The log files a node serves, tracked by identity (device, inode) across refreshes:
 *
 * - a file renamed by rotation keeps its inode, so it keeps its shard id under its new path as
 *   long as the glob still matches it (`access.log` → `access.log.1`); a new `access.log` is a new
 *   shard;
 * - a file that shrank, or whose first line changed, was truncated in place (copytruncate): its
 *   shard restarts with a new id and an empty scan;
 * - a plain file that grew is scanned from where the last scan stopped (`tail -f`).
 *
 * Files are served by their real path (symlinks resolved). One whose real path leaves the
 * directories of the `--logs` globs (`ln -s /etc/shadow logs/x.log`) is refused with a warning,
 * unless `followSymlinks`; so is anything under the node's data directory.
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../client/options.ts';
import { DEFAULT_TIME_TOLERANCE_MS, type ShardInfo } from './catalog.ts';
import { isGzipFile } from './files.ts';
import { globBase, listLogFiles } from './glob.ts';
import type { LogSource } from './log-sources.ts';
import type { ScanCache } from './scan-cache.ts';
import { emptyScan, estimateTimes, readHead, scanPlainFile, scanWholeFile, type ScanState } from './shard-scan.ts';

/** A plain file modified this recently is reported as growing. */
export const GROWING_WINDOW_MS = 60_000;

/** Largest piece of a plain file scanned in one step (other work runs between steps). */
const SCAN_STEP_BYTES = 16 * 1024 * 1024;

interface TrackedFile {
  readonly key: string;
  readonly dev: number;
  readonly ino: number;
  path: string;
  source: LogSource;
  gzip: boolean;
  size: number;
  mtimeMs: number;
  headHash: string;
  headComplete: boolean;
  generation: number;
  id: string;
  scan: ScanState;
  /** The scan covers the whole file at `size`. */
  complete: boolean;
  estimate: { size: number; firstTime: number | null; lastTime: number | null } | undefined;
  scanning: Promise<void> | undefined;
  /** The last scan failed (a corrupt or still-written gzip file): not retried until the file changes. */
  unreadable: boolean;
}

export interface ScanCounters {
  bytesScanned: number;
  filesScanned: number;
  cacheHits: number;
}

export interface FileShardsOptions {
  readonly sources: readonly LogSource[];
  readonly cache: ScanCache;
  /** Files below these directories are never served as log files (the node's own data). */
  readonly exclude?: readonly string[];
  /** Serve files whose real path lies outside the directories of their glob (symlinks). */
  readonly followSymlinks?: boolean;
  readonly logger?: Logger;
  readonly now?: () => number;
}

function isUnder(file: string, dir: string): boolean {
  return file === dir || file.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** The real path of the directory a glob lists, in a list (empty when it does not exist). */
async function realDirectories(pattern: string): Promise<string[]> {
  const dir = await realpath(globBase(pattern)).catch(() => undefined);
  return dir === undefined ? [] : [dir];
}

function shardId(dev: number, ino: number, generation: number, headHash: string): string {
  return 'f-' + createHash('sha256').update(`${dev}:${ino}:${generation}:${headHash}`).digest('hex').slice(0, 16);
}

export class FileShards {
  readonly #sources: readonly LogSource[];
  readonly #cache: ScanCache;
  readonly #exclude: readonly string[];
  readonly #followSymlinks: boolean;
  /** Links already warned about (each once). */
  readonly #refused = new Set<string>();
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  #files = new Map<string, TrackedFile>();
  #refreshing: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  readonly counters: ScanCounters = { bytesScanned: 0, filesScanned: 0, cacheHits: 0 };

  constructor(opts: FileShardsOptions) {
    this.#sources = opts.sources;
    this.#cache = opts.cache;
    this.#exclude = (opts.exclude ?? []).map((d) => path.resolve(d) + path.sep);
    this.#followSymlinks = opts.followSymlinks ?? false;
    this.#logger = opts.logger;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Re-lists the globs and stats every file. The listing a caller gets always starts after its
   * call: one that arrives while a refresh runs (which may have listed the directory before a
   * rotation the caller already saw) waits for a second refresh, shared by every such caller.
   */
  refresh(): Promise<void> {
    if (!this.#refreshing) {
      this.#refreshing = this.#refresh().finally(() => (this.#refreshing = undefined));
      return this.#refreshing;
    }
    this.#queued ??= this.#refreshing
      .catch(() => undefined)
      .then(() => {
        this.#queued = undefined;
        return this.refresh();
      });
    return this.#queued;
  }

  async #refresh(): Promise<void> {
    const next = new Map<string, TrackedFile>();
    for (const source of this.#sources) {
      let paths: string[];
      try {
        paths = await listLogFiles(source.pattern);
      } catch (err) {
        this.#logger?.warn?.(`cannot list ${source.pattern}: ${(err as Error).message}`);
        continue;
      }
      const roots = this.#followSymlinks ? [] : await realDirectories(source.pattern);
      for (const p of paths) {
        const abs = path.resolve(p);
        try {
          const real = await this.#admit(abs, roots);
          if (real === undefined) continue;
          const f = await this.#track(real, source);
          if (f && !next.has(f.key)) next.set(f.key, f);
        } catch (err) {
          // Rotated or deleted between the listing and the stat: it shows up at its new name next time.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#logger?.warn?.(`cannot read ${abs}: ${(err as Error).message}`);
        }
      }
    }
    this.#files = next;
  }

  /**
   * The real path to serve for a listed file, or undefined when it is refused: it is in the data
   * directory, or (without followSymlinks) it leaves the glob's directories.
   */
  async #admit(listed: string, roots: readonly string[]): Promise<string | undefined> {
    const real = await realpath(listed);
    if (this.#exclude.some((d) => listed.startsWith(d) || real.startsWith(d))) return undefined;
    if (this.#followSymlinks || roots.some((r) => isUnder(real, r))) return real;
    if (!this.#refused.has(listed)) {
      this.#refused.add(listed);
      this.#logger?.warn?.(`not serving ${listed}: it leads to ${real}, outside the --logs directories (start the node with --follow-symlinks to serve it)`);
    }
    return undefined;
  }

  async #track(file: string, source: LogSource): Promise<TrackedFile | undefined> {
    const st = await stat(file);
    if (!st.isFile()) return undefined;
    const key = `${st.dev}:${st.ino}`;
    const prev = this.#files.get(key);
    if (prev && prev.size === st.size && prev.mtimeMs === st.mtimeMs && prev.headComplete) {
      prev.path = file;
      return prev;
    }
    const gzip = prev?.gzip ?? (st.size >= 2 && (await isGzipFile(file)));
    const head = await readHead(file, gzip);
    if (prev) {
      const truncated = st.size < prev.size || (prev.headComplete && head.hash !== prev.headHash) || (gzip && prev.complete);
      prev.path = file;
      prev.source = source;
      if (truncated) {
        prev.generation++;
        prev.scan = emptyScan();
        prev.complete = false;
        prev.estimate = undefined;
        this.#logger?.info?.(`${file} was truncated or rewritten: its shard restarts`);
      }
      prev.size = st.size;
      prev.mtimeMs = st.mtimeMs;
      prev.unreadable = false;
      prev.headHash = head.hash;
      prev.headComplete = head.complete;
      prev.id = shardId(prev.dev, prev.ino, prev.generation, prev.headHash);
      if (!gzip && prev.complete && prev.scan.scannedBytes !== st.size) prev.complete = false;
      return prev;
    }
    const f: TrackedFile = {
      key,
      dev: st.dev,
      ino: st.ino,
      path: file,
      source,
      gzip,
      size: st.size,
      mtimeMs: st.mtimeMs,
      headHash: head.hash,
      headComplete: head.complete,
      generation: 0,
      id: '',
      scan: emptyScan(),
      complete: false,
      estimate: undefined,
      scanning: undefined,
      unreadable: false,
    };
    const cached = this.#cache.get(key);
    if (cached) {
      const sameContent = cached.headHash === head.hash && cached.format === source.format.spec && cached.gzip === gzip;
      const usable = gzip ? sameContent && cached.complete && cached.size === st.size && cached.mtimeMs === st.mtimeMs : sameContent && st.size >= cached.scannedBytes;
      if (usable) {
        f.generation = cached.generation;
        f.scan = { scannedBytes: cached.scannedBytes, lines: cached.lines, firstTime: cached.firstTime, lastTime: cached.lastTime };
        f.complete = gzip || st.size === cached.scannedBytes;
        this.counters.cacheHits++;
      } else if (!gzip && cached.headComplete !== false) {
        // Same inode, other content: truncated while the node was down, or the inode was reused.
        f.generation = cached.generation + 1;
      }
    }
    if (!gzip && f.scan.scannedBytes === st.size) f.complete = true;
    f.id = shardId(f.dev, f.ino, f.generation, f.headHash);
    return f;
  }

  /** Bytes not scanned yet over all files (compressed size for unscanned gzip files). */
  get pendingBytes(): number {
    let n = 0;
    for (const f of this.#files.values()) if (!f.complete && !f.unreadable) n += f.gzip ? f.size : f.size - f.scan.scannedBytes;
    return n;
  }

  /**
   * Scans what is not scanned yet, up to about `budgetBytes` (a gzip file is scanned only when it
   * fits in what is left, or when the budget is unlimited). Files being scanned by another caller
   * are waited for when they fit the budget.
   */
  async scan(budgetBytes: number, opts: { signal?: AbortSignal } = {}): Promise<void> {
    let left = budgetBytes;
    const files = [...this.#files.values()].filter((f) => !f.complete && !f.unreadable).sort((a, b) => pending(a) - pending(b));
    for (const f of files) {
      if (left <= 0 || opts.signal?.aborted) break;
      while (!f.complete && !f.unreadable && left > 0 && this.#files.get(f.key) === f) {
        if (f.scanning) {
          if (pending(f) > left) break;
          await f.scanning;
          continue;
        }
        if (f.gzip && f.size > left && Number.isFinite(left)) break;
        const before = this.counters.bytesScanned;
        const scannedBefore = f.scan.scannedBytes;
        const step = this.#scanStep(f, Math.min(left, SCAN_STEP_BYTES), opts.signal);
        f.scanning = step;
        try {
          await step;
        } finally {
          f.scanning = undefined;
        }
        left -= Math.max(this.counters.bytesScanned - before, 1);
        if (!f.complete && f.scan.scannedBytes === scannedBefore) break; // only a line still being written is left
      }
    }
  }

  async #scanStep(f: TrackedFile, maxBytes: number, signal: AbortSignal | undefined): Promise<void> {
    const { size, mtimeMs, generation } = f;
    try {
      if (f.gzip) {
        const { state, bytesRead } = await scanWholeFile(f.path, f.source.format, { signal });
        if (f.generation !== generation) return;
        this.counters.bytesScanned += Math.max(bytesRead, f.size);
        f.scan = state;
        f.complete = true;
      } else {
        const limit = Math.min(size, f.scan.scannedBytes + maxBytes);
        // A file no longer written to may end without a newline: its last line is then complete too.
        const final = limit === size && this.#now() - mtimeMs >= GROWING_WINDOW_MS;
        const { state, bytesRead } = await scanPlainFile(f.path, f.scan, limit, f.source.format, { signal, final });
        if (f.generation !== generation) return;
        this.counters.bytesScanned += bytesRead;
        f.scan = state;
        f.complete = state.scannedBytes === f.size;
      }
      if (f.complete) this.counters.filesScanned++;
      this.#cache.set(f.key, {
        size,
        mtimeMs,
        gzip: f.gzip,
        headHash: f.headHash,
        headComplete: f.headComplete,
        generation: f.generation,
        format: f.source.format.spec,
        scannedBytes: f.scan.scannedBytes,
        lines: f.scan.lines,
        firstTime: f.scan.firstTime,
        lastTime: f.scan.lastTime,
        complete: f.complete,
      });
    } catch (err) {
      if (signal?.aborted) return;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // gone; the next refresh drops it
      this.#logger?.warn?.(`cannot scan ${f.path}: ${(err as Error).message}; its times stay estimates`);
      f.unreadable = true;
    }
  }

  /** The shards, with estimates computed for files not fully scanned. */
  async shards(): Promise<ShardInfo[]> {
    const out: ShardInfo[] = [];
    const now = this.#now();
    for (const f of this.#files.values()) {
      let firstTime = f.scan.firstTime;
      let lastTime = f.scan.lastTime;
      let exact = f.complete;
      if (!f.complete) {
        if (!f.estimate || f.estimate.size !== f.size) {
          try {
            f.estimate = { size: f.size, ...(await estimateTimes(f.path, f.gzip, f.size, f.source.format)) };
          } catch {
            f.estimate = { size: f.size, firstTime: null, lastTime: null };
          }
        }
        const e = f.estimate;
        firstTime = minOf(firstTime, e.firstTime);
        lastTime = maxOf(lastTime, e.lastTime);
        // A gzip file's lines were all written before its mtime (gzip keeps the original's).
        if (f.gzip) lastTime = maxOf(lastTime, Math.floor(f.mtimeMs));
        exact = false;
      }
      out.push({
        id: f.id,
        kind: 'file',
        path: f.path,
        source: f.source.pattern,
        format: f.source.format.spec,
        formatName: f.source.format.name ?? null,
        gzip: f.gzip,
        size: f.size,
        scannedBytes: f.scan.scannedBytes,
        lines: f.scan.scannedBytes > 0 || f.complete ? f.scan.lines : null,
        complete: f.complete,
        firstTime,
        lastTime,
        timeExact: exact,
        timeToleranceMs: exact ? 0 : DEFAULT_TIME_TOLERANCE_MS,
        growing: !f.gzip && now - f.mtimeMs < GROWING_WINDOW_MS,
        mtimeMs: f.mtimeMs,
      });
    }
    return out;
  }

  /**
   * The tracked file with this shard id (after the last refresh), checked against the disk just
   * before a task reads it: its path must still be its real path and name the same file (device,
   * inode), so a symlink put in its place since the last refresh is not followed. Undefined when
   * there is no such file or the check fails.
   */
  async locate(id: string): Promise<{ path: string; gzip: boolean; size: number; format: string } | undefined> {
    for (const f of this.#files.values()) {
      if (f.id !== id) continue;
      try {
        const [real, st] = await Promise.all([realpath(f.path), stat(f.path)]);
        if (real !== f.path || `${st.dev}:${st.ino}` !== f.key) return undefined;
      } catch {
        return undefined;
      }
      return { path: f.path, gzip: f.gzip, size: f.size, format: f.source.format.spec };
    }
    return undefined;
  }

  get size(): number {
    return this.#files.size;
  }
}

function pending(f: TrackedFile): number {
  return f.gzip ? f.size : f.size - f.scan.scannedBytes;
}

function minOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}
