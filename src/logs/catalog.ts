/**
 * The catalogue of a log node: every shard it can read, as `geartrain.catalog@<node>` returns it.
 * The coordinator imports `nodeCatalogSchema` and validates each answer with it.
 *
 * A shard is one file: a log file matched by a `--logs` glob (plain or gzip), or an ingested
 * segment (lines received through `logger`, written under `--data`).
 *
 * Shard ids:
 * - a log file: hash of (device, inode, truncation generation, first line). Stable across
 *   renames (rotation keeps the inode) and restarts; two nodes reading the same file on one
 *   machine report the same id. A file truncated in place restarts as a new id.
 * - a segment: chosen by the node that received the lines (its origin) when it opened the
 *   segment, and sent with every replicated batch, so each replica reports the same id. Read a
 *   segment id once, from any node that lists it; replicas still receiving batches may report
 *   fewer bytes than the origin: prefer the largest `size`.
 *
 * Times are epoch milliseconds (UTC) taken from the records' `%t`. `firstTime`/`lastTime` are the
 * exact minimum and maximum over the lines scanned when `timeExact` is true; otherwise they are an
 * estimate from the first and last lines (Apache writes a line when a request ends, stamped with
 * its start, so lines are out of order by up to the longest request), to be widened by
 * `timeToleranceMs` on both sides before filtering.
 */
import { z } from 'zod';
import { InvalidArgumentError } from '../errors.ts';

export const CATALOG_VERSION = 1;

/** How far an estimated first/last time may be from the true minimum/maximum (10 minutes). */
export const DEFAULT_TIME_TOLERANCE_MS = 10 * 60 * 1000;

const nonNegativeInt = z.number().int().nonnegative();
const epochMs = z.number().finite();

export const shardSchema = z.strictObject({
  /** Stable id (see the module comment); `f-…` for log files, `s-…` for segments. */
  id: z.string().regex(/^[fs]-[0-9a-f]{16,64}$/, 'expected f-<hex> or s-<hex>'),
  kind: z.enum(['file', 'segment']),
  /** Absolute path on the node, current at the time of the answer (rotation renames files). */
  path: z.string().min(1),
  /** The `--logs` glob that matched the file, or `ingest` for segments. */
  source: z.string().min(1),
  /** The LogFormat string of the lines. */
  format: z.string().min(1),
  /** Its nickname (`combined`), or null for a custom string. */
  formatName: z.string().nullable(),
  /** Gzip-compressed (read whole with readLogFile; plain files split into byte ranges). */
  gzip: z.boolean(),
  /**
   * Bytes to read. A plain file: its size when the catalogue was made (a growing file's last line
   * may be incomplete). A segment: the bytes whose batches are all stored (fsync'd) here, from
   * offset 0 without a gap. A gzip file: its compressed size.
   */
  size: nonNegativeInt,
  /** Bytes (decompressed for gzip) from the start whose lines are counted in `lines`. */
  scannedBytes: nonNegativeInt,
  /** Complete lines in the first `scannedBytes` bytes; null when nothing was scanned yet. */
  lines: nonNegativeInt.nullable(),
  /** True when `scannedBytes` covers the whole shard: `lines` is then its line count. */
  complete: z.boolean(),
  firstTime: epochMs.nullable(),
  lastTime: epochMs.nullable(),
  /** `firstTime`/`lastTime` are the exact min/max over the whole shard. */
  timeExact: z.boolean(),
  /** 0 when exact; otherwise how far the true min/max may lie outside `firstTime`/`lastTime`. */
  timeToleranceMs: nonNegativeInt,
  /** More lines may be appended (a live log file, or the segment a node is writing). */
  growing: z.boolean(),
  mtimeMs: epochMs,
  /** Segments: the node that received the lines and named the segment. */
  origin: z.string().min(1).optional(),
});

export type ShardInfo = z.infer<typeof shardSchema>;

export const nodeCatalogSchema = z.strictObject({
  version: z.literal(CATALOG_VERSION),
  /** The node's `--name`. */
  node: z.string().min(1),
  /** When the catalogue was made (epoch ms). */
  time: epochMs,
  /** Format of the lines ingested through `logger` on this node. */
  ingestFormat: z.string().min(1),
  /** Copies of each ingested batch the node keeps in the cluster (its `--replicas`). */
  replicas: z.number().int().min(1),
  shards: z.array(shardSchema),
  /** Scanning work, for operators and tests: a restart with a warm cache scans nothing. */
  scan: z.strictObject({
    bytesScanned: nonNegativeInt,
    filesScanned: nonNegativeInt,
    cacheHits: nonNegativeInt,
    /** Bytes of matched files not scanned yet (their times are estimates). */
    pendingBytes: nonNegativeInt,
  }),
});

export type NodeCatalog = z.infer<typeof nodeCatalogSchema>;

/** The request a `geartrain.catalog@<node>` job may carry (an empty payload means defaults). */
export const catalogRequestSchema = z.strictObject({
  /**
   * Scan up to this many unscanned bytes before answering, so small and growing files get exact
   * counts and times; larger backlogs are answered with estimates and scanned in the background.
   */
  scanBudgetBytes: nonNegativeInt.optional(),
});

export type CatalogRequest = z.infer<typeof catalogRequestSchema>;

/** Parses and validates a catalogue answer (a Buffer, string or parsed JSON). */
export function parseNodeCatalog(input: Buffer | string | unknown): NodeCatalog {
  let value: unknown = input;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      value = JSON.parse(input.toString());
    } catch (err) {
      throw new InvalidArgumentError(`catalog is not JSON: ${(err as Error).message}`, { field: 'catalog', cause: err });
    }
  }
  const result = nodeCatalogSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.length > 0 ? `catalog.${issue.path.join('.')}` : 'catalog';
    throw new InvalidArgumentError(`${field}: ${issue.message}`, { field });
  }
  return result.data;
}

/** Parses a catalogue request payload; empty means `{}`. */
export function parseCatalogRequest(payload: Buffer): CatalogRequest {
  if (payload.length === 0 || payload.toString().trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(payload.toString());
  } catch (err) {
    throw new InvalidArgumentError(`catalog request is not JSON: ${(err as Error).message}`, { field: 'request', cause: err });
  }
  const result = catalogRequestSchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.code === 'unrecognized_keys' ? String(issue.keys[0]) : issue.path.join('.') || 'request';
    throw new InvalidArgumentError(`catalog request ${field}: ${issue.message}`, { field });
  }
  return result.data;
}
