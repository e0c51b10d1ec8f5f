/**
 * Heap in use right after the last garbage collection: the live set, which (unlike `heapUsed`
 * at a random moment) says whether the server's memory really grows. A PerformanceObserver gets
 * one 'gc' entry per collection, delivered shortly after it; the heap is read in that callback.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import v8 from 'node:v8';

/** `detail.kind` of a gc entry. */
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export interface GcInfo {
  /** Collections seen since the watcher started, by kind (minor, major, incremental, weakcb). */
  readonly counts: Readonly<Record<string, number>>;
  /** Total pause time of those collections, seconds. */
  readonly pauseSeconds: number;
  /** V8 heap bytes in use just after the last collection; null before the first one. */
  readonly heapUsedAfterLastGc: number | null;
  /** V8 heap bytes in use just after the last major (mark-sweep) collection; null before one. */
  readonly heapUsedAfterLastMajorGc: number | null;
  /** When the last collection happened (ms since the epoch); null before the first one. */
  readonly lastGcAt: number | null;
  readonly lastGcKind: string | null;
}

export class GcWatcher {
  readonly #observer: PerformanceObserver;
  readonly #counts: Record<string, number> = {};
  #pause = 0;
  #after: number | null = null;
  #afterMajor: number | null = null;
  #lastAt: number | null = null;
  #lastKind: string | null = null;

  constructor() {
    this.#observer = new PerformanceObserver((list) => this.#record(list.getEntries()));
    this.#observer.observe({ entryTypes: ['gc'] });
  }

  #record(entries: PerformanceEntry[]): void {
    if (entries.length === 0) return;
    const used = v8.getHeapStatistics().used_heap_size;
    for (const e of entries) {
      const kindNo = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      const kind = GC_KINDS[kindNo] ?? 'other';
      this.#counts[kind] = (this.#counts[kind] ?? 0) + 1;
      this.#pause += e.duration / 1000;
      this.#lastKind = kind;
      if (kind === 'major') this.#afterMajor = used;
    }
    this.#after = used;
    this.#lastAt = Date.now();
  }

  info(): GcInfo {
    return {
      counts: { ...this.#counts },
      pauseSeconds: this.#pause,
      heapUsedAfterLastGc: this.#after,
      heapUsedAfterLastMajorGc: this.#afterMajor,
      lastGcAt: this.#lastAt,
      lastGcKind: this.#lastKind,
    };
  }

  close(): void {
    this.#observer.disconnect();
  }
}
