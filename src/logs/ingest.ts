/**
 * The job handlers of ingestion: `logger` / `logger@<node>` (lines from any client) and
 * `geartrain.replica@<node>` (a copy of a batch another node received).
 *
 * A logger job completes only once its lines are fsync'd here and, with replication, stored on
 * every peer of its segment. Jobs are appended in the order they were assigned, so lines sent
 * one job after the other keep their order in the segment.
 */
import type { JobContext, WorkerJob } from '../client/worker-job.ts';
import type { Logger } from '../client/options.ts';
import type { LogFormat } from './format.ts';
import { batchMeta, dedupeKey, normalizeBatch, type BatchMeta } from './ingest-batch.ts';
import { decodeReplica, replicaTarget, type Replicator } from './ingest-replication.ts';
import type { BatchLocation, SegmentStore } from './segments.ts';

export interface IngestorOptions {
  readonly store: SegmentStore;
  /** Format of the lines this node ingests (for the time range of each batch). */
  readonly format: LogFormat;
  /** Present when `--replicas` is 2 or more. */
  readonly replicator?: Replicator;
  readonly logger?: Logger;
  /**
   * Called after a batch is stored (and replicated) and before its job completes. A hook for
   * tests that need a node to die in that window; it may return a promise that never settles.
   */
  readonly afterStore?: (job: WorkerJob) => void | Promise<void>;
}

/** Counters for operators and tests. */
export interface IngestCounters {
  jobs: number;
  lines: number;
  bytes: number;
  duplicates: number;
  replicaBatches: number;
  replicaDuplicates: number;
}

export class Ingestor {
  readonly #o: IngestorOptions;
  /** Appends go through this chain one at a time, in the order jobs arrived. */
  #tail: Promise<unknown> = Promise.resolve();
  readonly counters: IngestCounters = { jobs: 0, lines: 0, bytes: 0, duplicates: 0, replicaBatches: 0, replicaDuplicates: 0 };

  constructor(opts: IngestorOptions) {
    this.#o = opts;
  }

  /** Handler of `logger` and `logger@<node>`: the result is empty (nothing for `gearman` to print). */
  readonly logger = async (job: WorkerJob, _ctx: JobContext): Promise<string> => {
    const data = normalizeBatch(job.payload);
    if (data.length === 0) return '';
    const key = dedupeKey(job, data);
    const { store, replicator } = this.#o;
    let meta: BatchMeta | undefined;
    const step = this.#tail.then(async (): Promise<{ loc: BatchLocation; fresh: boolean }> => {
      const existing = store.lookup(key);
      if (existing) return { loc: existing, fresh: false };
      meta = batchMeta(data, this.#o.format);
      const segment = store.target(data.length);
      if (replicator) await replicator.prepare(segment);
      return { loc: store.append(segment, data, { ...meta, key }), fresh: true };
    });
    this.#tail = step.catch(() => {});
    const { loc, fresh } = await step;
    this.counters.jobs++;
    if (fresh) {
      this.counters.lines += meta!.lines;
      this.counters.bytes += data.length;
    } else {
      this.counters.duplicates++;
      this.#o.logger?.debug?.(`logger job ${job.handle} already stored (${key}); not stored again`);
    }
    const own = loc.segment.header.origin === store.node;
    await Promise.all([loc.committed, replicator && own ? replicator.replicate(loc, data, meta ?? batchMeta(data, this.#o.format), key) : undefined]);
    await this.#o.afterStore?.(job);
    return '';
  };

  /** Handler of `geartrain.replica@<node>`: stores a batch at its origin's offset. */
  readonly replica = async (job: WorkerJob, _ctx: JobContext): Promise<string> => {
    const { header, data } = decodeReplica(job.payload);
    const outcome = await this.#o.store.writeReplica(replicaTarget(header), data, {
      lines: header.lines,
      firstTime: header.firstTime,
      lastTime: header.lastTime,
      key: header.key,
    });
    this.counters.replicaBatches++;
    if (outcome === 'duplicate') this.counters.replicaDuplicates++;
    return outcome;
  };
}
