/**
 * The job result cache (`geartrain server --result-cache SIZE[,TTL] --result-cache-functions F,…`).
 *
 * What is kept: the WORK_COMPLETE payload of a finished foreground job with a unique key, of a
 * function the operator opted in, together with the WORK_DATA and WORK_WARNING packets its worker
 * sent on the successful attempt (not WORK_STATUS), in order. A later foreground submit of the
 * same function and unique key is answered from it: JOB_CREATED with a fresh handle, the data
 * packets replayed, then WORK_COMPLETE, without reaching a worker.
 *
 * Rules:
 * - The key is the server-side function name (a tenant's functions carry its prefix, so tenants
 *   never share entries) and the unique key, as for coalescing: the payload is not part of it,
 *   except for the unique key `-`, which keys on the payload (its SHA-1).
 * - Only WORK_COMPLETE is kept; WORK_FAIL, WORK_EXCEPTION and jobs dropped or cancelled are not.
 * - Background submits never use it: they are not answered from it, and their results (which
 *   nobody receives) are not stored.
 * - A submit while the job runs joins the running job (coalescing) as before.
 * - SIZE bounds the bytes of the kept payloads (result, data chunks and keys); the least recently
 *   used entries leave first; an entry lives at most TTL seconds from when it was stored. An
 *   entry larger than SIZE is not kept; recording a job's chunks stops once they pass SIZE.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PacketType, response } from '../protocol/index.ts';
import type { Connection } from './connection.ts';
import type { FunctionEntry } from './function-entry.ts';
import { functionMatcher } from './function-pattern.ts';
import type { Job } from './job.ts';
import type { Tenant } from './tenants.ts';

export const resultCacheSchema = z.strictObject({
  /** Bytes of kept results (payloads, replayed data chunks and keys). */
  maxBytes: z.number().int().min(1),
  /** Seconds an entry is served after it was stored; absent = until evicted or flushed. */
  ttlSeconds: z.number().positive().optional(),
  /** Function names or globs whose results are kept (opt-in). */
  functions: z.array(z.string().min(1)).min(1, 'name at least one function (or "*")'),
});

export type ResultCacheConfig = z.output<typeof resultCacheSchema>;

type ChunkType = PacketType.WORK_DATA | PacketType.WORK_WARNING;

interface Chunk {
  readonly type: ChunkType;
  readonly data: Buffer;
}

export interface CacheEntry {
  readonly key: string;
  readonly functionName: string;
  readonly owner: Tenant | null;
  readonly localName: string;
  readonly unique: string;
  readonly result: Buffer;
  readonly chunks: readonly Chunk[];
  readonly bytes: number;
  readonly storedAt: number;
  readonly expiresAt: number;
  hits: number;
}

/** Data packets of one attempt of a running job, kept until it completes. */
interface Recording {
  readonly startedAt: number;
  chunks: Chunk[];
  bytes: number;
  overflow: boolean;
}

export interface ResultCacheStats {
  hits: number;
  misses: number;
  stores: number;
  evictions: number;
  expired: number;
  /** Results not kept because they alone were larger than the cache. */
  tooLarge: number;
}

/** Expired entries are swept at most this often when room is needed (the sweep is O(entries)). */
const SWEEP_INTERVAL_MS = 1000;

export class ResultCache {
  readonly config: ResultCacheConfig;
  readonly stats: ResultCacheStats = { hits: 0, misses: 0, stores: 0, evictions: 0, expired: 0, tooLarge: 0 };
  /** In least-recently-used order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, CacheEntry>();
  readonly #recordings = new WeakMap<Job, Recording>();
  readonly #covers: (fn: FunctionEntry) => boolean;
  readonly #now: () => number;
  readonly #ttlMs: number;
  #bytes = 0;
  #lastSweep = 0;

  constructor(config: ResultCacheConfig, clock: () => number = Date.now) {
    this.config = config;
    this.#covers = functionMatcher(config.functions);
    this.#now = clock;
    this.#ttlMs = config.ttlSeconds !== undefined ? config.ttlSeconds * 1000 : Infinity;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Whether the function's results are kept. */
  covers(fn: FunctionEntry): boolean {
    return this.#covers(fn);
  }

  /** The entry answering a foreground submit, or undefined (counted as a miss when it could have hit). */
  lookup(fn: FunctionEntry, unique: string, data: Buffer): CacheEntry | undefined {
    if (unique === '' || !this.#covers(fn)) return undefined;
    const key = keyOf(fn.name, unique, data);
    const entry = this.#entries.get(key);
    if (!entry) {
      this.stats.misses++;
      return undefined;
    }
    if (entry.expiresAt <= this.#now()) {
      this.#delete(entry);
      this.stats.expired++;
      this.stats.misses++;
      return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    entry.hits++;
    this.stats.hits++;
    return entry;
  }

  /** A WORK_DATA or WORK_WARNING of a running job: kept for replay if the job's result will be. */
  record(job: Job, type: ChunkType, data: Buffer): void {
    if (!this.#wants(job)) return;
    let rec = this.#recordings.get(job);
    // A new attempt (the previous worker vanished): only the attempt that completes counts.
    if (!rec || rec.startedAt !== job.startedAt) {
      rec = { startedAt: job.startedAt, chunks: [], bytes: 0, overflow: false };
      this.#recordings.set(job, rec);
    }
    if (rec.overflow) return;
    rec.bytes += data.length;
    if (rec.bytes > this.config.maxBytes) {
      rec.overflow = true;
      rec.chunks = [];
      return;
    }
    // Copy: `data` is a view into a socket chunk.
    rec.chunks.push({ type, data: Buffer.from(data) });
  }

  /** A job completed with `result`: keep it if the job is one the cache is for. */
  store(job: Job, result: Buffer): void {
    const rec = this.#recordings.get(job);
    this.#recordings.delete(job);
    if (!this.#wants(job) || job.ignore) return;
    const current = rec !== undefined && rec.startedAt === job.startedAt;
    if (current && rec.overflow) {
      this.stats.tooLarge++;
      return;
    }
    const chunks = current ? rec.chunks : [];
    const key = keyOf(job.fn.name, job.unique, job.data);
    const bytes = result.length + (current ? rec.bytes : 0) + Buffer.byteLength(key);
    if (bytes > this.config.maxBytes) {
      this.stats.tooLarge++;
      return;
    }
    const old = this.#entries.get(key);
    if (old) this.#delete(old);
    this.#makeRoom(bytes);
    const now = this.#now();
    const entry: CacheEntry = {
      key,
      functionName: job.fn.name,
      owner: job.fn.owner,
      localName: job.fn.localName,
      unique: job.unique,
      result: Buffer.from(result),
      chunks,
      bytes,
      storedAt: now,
      expiresAt: now + this.#ttlMs,
      hits: 0,
    };
    this.#entries.set(key, entry);
    this.#bytes += bytes;
    this.stats.stores++;
  }

  /** Live entries, least recently used first (expired ones are dropped on the way). */
  entries(): CacheEntry[] {
    this.#sweep();
    return [...this.#entries.values()];
  }

  /** Drop the entries `which` selects (all by default); returns how many. */
  flush(which: (e: CacheEntry) => boolean = () => true): number {
    let n = 0;
    for (const e of [...this.#entries.values()]) {
      if (which(e)) {
        this.#delete(e);
        n++;
      }
    }
    return n;
  }

  #wants(job: Job): boolean {
    return !job.background && job.unique !== '' && this.#covers(job.fn);
  }

  #makeRoom(bytes: number): void {
    const max = this.config.maxBytes;
    if (this.#bytes + bytes <= max) return;
    const now = this.#now();
    if (this.#ttlMs !== Infinity && now - this.#lastSweep >= SWEEP_INTERVAL_MS) {
      this.#lastSweep = now;
      this.#sweep();
    }
    for (const e of this.#entries.values()) {
      if (this.#bytes + bytes <= max) break;
      this.#delete(e);
      this.stats.evictions++;
    }
  }

  #sweep(): void {
    if (this.#ttlMs === Infinity) return;
    const now = this.#now();
    for (const e of [...this.#entries.values()]) {
      if (e.expiresAt <= now) {
        this.#delete(e);
        this.stats.expired++;
      }
    }
  }

  #delete(e: CacheEntry): void {
    if (this.#entries.get(e.key) !== e) return;
    this.#entries.delete(e.key);
    this.#bytes -= e.bytes;
  }
}

/** Cache key: function and unique key as for coalescing (`-` keys on the payload's hash). */
function keyOf(functionName: string, unique: string, data: Buffer): string {
  const u = unique === '-' ? `-\0${createHash('sha1').update(data).digest('base64')}` : unique;
  return `${functionName}\0${u}`;
}

/**
 * Answer a foreground submit from the cache: JOB_CREATED with a handle no job has, the kept data
 * packets in their order, then WORK_COMPLETE. One write, in order with the connection's replies.
 */
export function answerFromCache(conn: Connection, handle: string, entry: CacheEntry): void {
  conn.send(response(PacketType.JOB_CREATED, handle));
  for (const c of entry.chunks) conn.send(response(c.type, handle, c.data));
  conn.send(response(PacketType.WORK_COMPLETE, handle, entry.result));
}
