/**
 * Replication of ingested batches (`--replicas R`): the node that received a batch (its origin)
 * stores it and sends it to R-1 other nodes through `geartrain.replica@<peer>`; the job completes
 * once all R copies are stored.
 *
 * Each segment has one replica set, chosen when the origin opens it (rendezvous hashing of the
 * live nodes on the segment id, so segments spread over the cluster) and kept in its index. Every
 * batch of a segment goes to the same peers at the same offset, so every copy of a segment is the
 * same file with the same shard id. When a peer fails, the origin seals the segment (new batches go
 * to a new segment with a new set), picks a replacement node, copies the whole segment to it and
 * then finishes the pending batches there.
 *
 * Replica stores are a separate function from `logger@<name>`, served by a separate Worker: a
 * store never waits for anything, so two nodes whose logger slots are all busy waiting for each
 * other's copies still make progress (with one shared pool they could deadlock).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Client } from '../client/client.ts';
import type { Logger } from '../client/options.ts';
import { InvalidArgumentError, NodeUnavailableError } from '../errors.ts';
import type { BatchMeta } from './ingest-batch.ts';
import { replicaFunction, type PeerDiscovery } from './ingest-peers.ts';
import type { SegmentFile } from './segment-file.ts';
import type { BatchLocation, ReplicaTarget } from './segments.ts';

/** How long one copy may take before its peer counts as failed. */
export const DEFAULT_REPLICA_TIMEOUT_MS = 10_000;
/** While a copy is pending, how often the peer's registration is checked. */
const LIVENESS_CHECK_MS = 500;

export const replicaHeaderSchema = z.strictObject({
  v: z.literal(1),
  segmentId: z.string().regex(/^s-[0-9a-f]{16,64}$/),
  origin: z.string().min(1),
  segment: z.string().min(1).regex(/^[^/\\\0]+$/, 'a file name'),
  format: z.string().min(1),
  created: z.number(),
  offset: z.number().int().nonnegative(),
  lines: z.number().int().nonnegative(),
  firstTime: z.number().nullable(),
  lastTime: z.number().nullable(),
  key: z.string().optional(),
});

export type ReplicaHeader = z.infer<typeof replicaHeaderSchema>;

/** The payload of a replica store: one JSON header line, then the batch's bytes. */
export function encodeReplica(header: ReplicaHeader, data: Buffer): Buffer {
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), data]);
}

export function decodeReplica(payload: Buffer): { header: ReplicaHeader; data: Buffer } {
  const nl = payload.indexOf(10);
  if (nl < 0) throw new InvalidArgumentError('replica payload has no header line', { field: 'payload' });
  let value: unknown;
  try {
    value = JSON.parse(payload.subarray(0, nl).toString('utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`replica header is not JSON: ${(err as Error).message}`, { field: 'header', cause: err });
  }
  const r = replicaHeaderSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || 'header';
    throw new InvalidArgumentError(`replica header ${field}: ${issue.message}`, { field });
  }
  return { header: r.data, data: payload.subarray(nl + 1) };
}

export function replicaTarget(h: ReplicaHeader): ReplicaTarget {
  return { segmentId: h.segmentId, origin: h.origin, segment: h.segment, format: h.format, created: h.created, offset: h.offset };
}

export interface ReplicatorOptions {
  readonly client: Client;
  readonly discovery: PeerDiscovery;
  readonly self: string;
  /** Copies in all, this node's included (≥ 2). */
  readonly replicas: number;
  readonly timeoutMs?: number;
  readonly logger?: Logger;
  /** Called when a segment's replica set broke, so no new batch goes to it. */
  readonly seal: (segment: SegmentFile) => void;
  /** Signs each copy for its peer (the cluster secret), when the nodes have one. */
  readonly sign?: ((fn: string, body: Buffer) => Buffer | string) | undefined;
}

function rank(segmentId: string, node: string): string {
  return createHash('sha256').update(`${segmentId}\0${node}`).digest('hex');
}

export class Replicator {
  readonly replicas: number;
  readonly #o: ReplicatorOptions;
  readonly #timeoutMs: number;
  /** Replacement of a failed peer in progress, per segment id. */
  readonly #repairs = new Map<string, Promise<void>>();

  constructor(opts: ReplicatorOptions) {
    if (!Number.isInteger(opts.replicas) || opts.replicas < 2) throw new InvalidArgumentError('replicas must be an integer >= 2 to replicate', { field: 'replicas' });
    this.#o = opts;
    this.replicas = opts.replicas;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_REPLICA_TIMEOUT_MS;
  }

  /**
   * Gives a segment its replica set if it has none yet. Fails with NodeUnavailableError when fewer
   * than `replicas` nodes are alive (nothing has been stored then). A segment that already holds
   * batches (stored with fewer replicas before a restart) is copied whole to its new peers.
   */
  async prepare(segment: SegmentFile): Promise<void> {
    if (segment.peers.length >= this.replicas - 1) return;
    const live = await this.#o.discovery.live({ fresh: true });
    const need = this.replicas - 1;
    if (live.length < need) throw this.#tooFew(live, segment.records.size > 0);
    const chosen = [...live].sort((a, b) => (rank(segment.id, a) < rank(segment.id, b) ? -1 : 1)).slice(0, need);
    for (const peer of chosen) await this.#copySegment(segment, peer);
    await segment.setPeers(chosen);
    this.#o.logger?.info?.(`segment ${segment.header.name} replicated to ${chosen.join(', ')}`);
  }

  /**
   * Makes sure every peer of the batch's segment stores it; resolves when all have it. A batch
   * found again (a retried job) is simply sent again: peers keep one copy per offset.
   */
  async replicate(loc: BatchLocation, data: Buffer, meta: BatchMeta, key: string | undefined): Promise<void> {
    const seg = loc.segment;
    if (seg.peers.length < this.replicas - 1) await this.prepare(seg);
    const header = this.#header(seg, loc.offset, meta, key);
    for (let attempt = 0; ; attempt++) {
      const repair = this.#repairs.get(seg.id);
      if (repair) await repair;
      const peers = [...seg.peers];
      const results = await Promise.allSettled(peers.map((p) => this.#send(p, header, data)));
      const failed = peers.filter((_, i) => results[i]!.status === 'rejected');
      if (failed.length === 0) return;
      const reasons = results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as Error).message)] : []));
      this.#o.logger?.warn?.(`replica of ${seg.header.name}:${loc.offset} failed on ${failed.join(', ')}: ${reasons.join('; ')}`);
      if (attempt >= 3) throw new NodeUnavailableError(`could not store ${this.replicas} copies: ${failed.join(', ')} failed (${reasons.join('; ')})`, failed);
      await this.#replace(seg, failed);
    }
  }

  #header(seg: SegmentFile, offset: number, meta: BatchMeta, key: string | undefined): ReplicaHeader {
    const h = seg.header;
    return {
      v: 1,
      segmentId: h.id,
      origin: h.origin,
      segment: h.name,
      format: h.format,
      created: h.created,
      offset,
      lines: meta.lines,
      firstTime: meta.firstTime,
      lastTime: meta.lastTime,
      ...(key !== undefined ? { key } : {}),
    };
  }

  async #send(peer: string, header: ReplicaHeader, data: Buffer): Promise<void> {
    const { discovery } = this.#o;
    if (!(await discovery.live()).includes(peer)) throw new NodeUnavailableError(`node ${peer} is not serving ${replicaFunction(peer)}`, [peer]);
    // A peer that dies now leaves the job queued with no worker: notice it rather than wait for the timeout.
    const abort = new AbortController();
    const watch = setInterval(() => {
      discovery.live({ fresh: true }).then(
        (live) => {
          if (!live.includes(peer)) abort.abort(new NodeUnavailableError(`node ${peer} stopped serving ${replicaFunction(peer)}`, [peer]));
        },
        () => {},
      );
    }, LIVENESS_CHECK_MS);
    try {
      // The same batch always has the same unique: the server coalesces a resend with one still queued.
      const unique = `r:${header.segmentId}:${header.offset}`;
      const fn = replicaFunction(peer);
      const payload = encodeReplica(header, data);
      await this.#o.client.call(fn, this.#o.sign ? this.#o.sign(fn, payload) : payload, { unique, timeoutMs: this.#timeoutMs, updates: false, signal: abort.signal });
    } catch (err) {
      throw abort.signal.aborted ? (abort.signal.reason as Error) : err;
    } finally {
      clearInterval(watch);
    }
  }

  /** Replaces failed peers of a segment (once, however many batches noticed). */
  #replace(seg: SegmentFile, failed: string[]): Promise<void> {
    let repair = this.#repairs.get(seg.id);
    if (!repair) {
      repair = this.#doReplace(seg, failed).finally(() => this.#repairs.delete(seg.id));
      this.#repairs.set(seg.id, repair);
    }
    return repair;
  }

  async #doReplace(seg: SegmentFile, failed: string[]): Promise<void> {
    this.#o.seal(seg);
    this.#o.discovery.invalidate();
    const live = await this.#o.discovery.live({ fresh: true });
    const keep = seg.peers.filter((p) => !failed.includes(p) && live.includes(p));
    const candidates = live.filter((p) => !seg.peers.includes(p)).sort((a, b) => (rank(seg.id, a) < rank(seg.id, b) ? -1 : 1));
    // A failed peer that is still alive (a timeout, not a crash) may stay if nobody else can take its place.
    const retry = failed.filter((p) => live.includes(p));
    const next = [...keep];
    for (const p of [...candidates, ...retry]) if (next.length < this.replicas - 1 && !next.includes(p)) next.push(p);
    if (next.length < this.replicas - 1) throw this.#tooFew([...keep, ...candidates], true);
    const added = next.filter((p) => !seg.peers.includes(p));
    for (const peer of added) await this.#copySegment(seg, peer);
    await seg.setPeers(next);
    if (added.length > 0) this.#o.logger?.warn?.(`segment ${seg.header.name}: replicas moved from ${failed.join(', ')} to ${added.join(', ')}`);
  }

  /** Sends every stored batch of a segment to a new peer, in offset order. */
  async #copySegment(seg: SegmentFile, peer: string): Promise<void> {
    const records = [...seg.records.values()].sort((a, b) => a.offset - b.offset);
    for (const r of records) {
      const data = await seg.read(r.offset, r.length);
      await this.#send(peer, this.#header(seg, r.offset, r, r.key), data);
    }
  }

  #tooFew(live: string[], storedHere: boolean): NodeUnavailableError {
    const have = live.length + 1;
    return new NodeUnavailableError(
      `--replicas ${this.replicas} needs ${this.replicas} log nodes, but only ${have} ${have === 1 ? 'is' : 'are'} alive (${[this.#o.self, ...live].join(', ')}); ` +
        `start more nodes or lower --replicas; ${storedHere ? `the lines are stored on ${this.#o.self} only (a retry with the same unique completes the copies)` : 'the lines were not stored'}`,
      live,
    );
  }
}
