/**
 * `LogCatalog`: the shards of one node (its log files and its segments) as `geartrain.catalog`
 * answers them, and the lookup of a shard by id for the tasks that read it.
 */
import { CATALOG_VERSION, nodeCatalogSchema, type CatalogRequest, type NodeCatalog, type ShardInfo } from './catalog.ts';
import { GROWING_WINDOW_MS, type FileShards } from './file-shards.ts';
import { LOG_FORMATS } from './format.ts';
import type { SegmentFile } from './segment-file.ts';
import type { SegmentStore } from './segments.ts';

/** Unscanned bytes a catalogue request scans before answering, by default. */
export const DEFAULT_SCAN_BUDGET_BYTES = 16 * 1024 * 1024;

export interface LogCatalogOptions {
  readonly node: string;
  readonly files: FileShards;
  readonly store: SegmentStore;
  /** LogFormat string of ingested lines. */
  readonly ingestFormat: string;
  readonly replicas: number;
  readonly scanBudgetBytes?: number;
  readonly now?: () => number;
}

/** Where a shard is and how to read it. */
export interface ShardLocation {
  readonly id: string;
  readonly kind: 'file' | 'segment';
  readonly path: string;
  readonly gzip: boolean;
  /** Bytes to read (see ShardInfo.size). */
  readonly size: number;
  readonly format: string;
}

export class LogCatalog {
  readonly node: string;
  readonly #o: LogCatalogOptions;
  readonly #now: () => number;
  #poll: NodeJS.Timeout | undefined;
  #background: Promise<void> | undefined;
  readonly #stop = new AbortController();

  constructor(opts: LogCatalogOptions) {
    this.node = opts.node;
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** Refreshes the files, scans up to the budget, and returns the catalogue (schema-checked). */
  async snapshot(req: CatalogRequest = {}): Promise<NodeCatalog> {
    const { files } = this.#o;
    await files.refresh();
    await files.scan(req.scanBudgetBytes ?? this.#o.scanBudgetBytes ?? DEFAULT_SCAN_BUDGET_BYTES, { signal: this.#stop.signal });
    const shards = [...(await files.shards()), ...this.#segmentShards()];
    return nodeCatalogSchema.parse({
      version: CATALOG_VERSION,
      node: this.node,
      time: this.#now(),
      ingestFormat: this.#o.ingestFormat,
      replicas: this.#o.replicas,
      shards,
      scan: { ...files.counters, pendingBytes: files.pendingBytes },
    });
  }

  /**
   * Where the shard with this id is now (a rotated file has a new path), or undefined when this
   * node does not hold it. Looks again at the files when the id is not known.
   */
  async locate(id: string): Promise<ShardLocation | undefined> {
    const seg = this.#o.store.get(id);
    if (seg) {
      return { id, kind: 'segment', path: seg.dataPath, gzip: false, size: seg.contiguous, format: seg.header.format };
    }
    let f = await this.#o.files.locate(id);
    if (!f) {
      await this.#o.files.refresh();
      f = await this.#o.files.locate(id);
    }
    return f ? { id, kind: 'file', ...f } : undefined;
  }

  /**
   * Keeps the catalogue warm: refreshes the files every `intervalMs` and scans what grew, so
   * requests seldom wait for a scan.
   */
  startPolling(intervalMs: number): void {
    if (this.#poll || intervalMs <= 0) return;
    const tick = () => {
      if (this.#background || this.#stop.signal.aborted) return;
      this.#background = (async () => {
        await this.#o.files.refresh();
        await this.#o.files.scan(Infinity, { signal: this.#stop.signal });
      })()
        .catch(() => {})
        .finally(() => (this.#background = undefined));
    };
    this.#poll = setInterval(tick, intervalMs);
    this.#poll.unref();
    tick();
  }

  /** Stops polling and any scan in progress. */
  async close(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = undefined;
    this.#stop.abort();
    await this.#background;
  }

  #segmentShards(): ShardInfo[] {
    const { store } = this.#o;
    const now = this.#now();
    const out: ShardInfo[] = [];
    for (const seg of store.segments()) {
      if (seg.contiguous === 0) continue;
      out.push(segmentShard(seg, store.node, now));
    }
    return out;
  }
}

/** The nickname whose format string is `spec`, if any. */
function nicknameOf(spec: string): string | null {
  for (const [name, s] of Object.entries(LOG_FORMATS)) if (s === spec) return name;
  return null;
}

function segmentShard(seg: SegmentFile, node: string, now: number): ShardInfo {
  const own = seg.header.origin === node;
  return {
    id: seg.id,
    kind: 'segment',
    path: seg.dataPath,
    source: 'ingest',
    format: seg.header.format,
    formatName: nicknameOf(seg.header.format),
    gzip: false,
    size: seg.contiguous,
    scannedBytes: seg.contiguous,
    lines: seg.lines,
    complete: true,
    firstTime: seg.firstTime,
    lastTime: seg.lastTime,
    timeExact: true,
    timeToleranceMs: 0,
    growing: own ? !seg.sealed : now - seg.mtimeMs < GROWING_WINDOW_MS,
    mtimeMs: seg.mtimeMs,
    origin: seg.header.origin,
  };
}
