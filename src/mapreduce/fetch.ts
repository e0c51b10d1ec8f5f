/**
 * Pulling stored partials from the nodes that hold them, through `geartrain.fetch@<node>` jobs:
 * one request per chunk, so a reducer's memory is bounded by (inputs × chunk size) however large
 * the runs are, and the coordinator never sees the bytes.
 */
import { DataCorruptError } from '../errors.ts';
import type { NodeClient } from './node-client.ts';
import type { PartialStore } from './partial-store.ts';
import type { Ref } from './wire.ts';

export const DEFAULT_FETCH_CHUNK = 1024 * 1024;

export interface FetchSource {
  readonly nodes: NodeClient;
  /** The local store, read directly for refs that live on this node. */
  readonly store?: PartialStore;
  readonly signal?: AbortSignal;
  readonly chunkSize?: number;
}

async function getChunk(ref: Ref, offset: number, length: number, src: FetchSource): Promise<Buffer> {
  if (src.store && ref.node === src.store.node) return src.store.read(ref.key, offset, length);
  return src.nodes.chunk(ref.node, ref.key, offset, length, src.signal ? { signal: src.signal } : {});
}

/** The ref's bytes, chunk by chunk, one request ahead. */
export async function* fetchChunks(ref: Ref, src: FetchSource): AsyncGenerator<Buffer> {
  const size = src.chunkSize ?? DEFAULT_FETCH_CHUNK;
  let offset = 0;
  let next: Promise<Buffer> | null = ref.size > 0 ? getChunk(ref, 0, size, src) : null;
  while (next) {
    const chunk = await next;
    offset += chunk.length;
    next = offset < ref.size && chunk.length > 0 ? getChunk(ref, offset, size, src) : null;
    if (chunk.length === 0 && offset < ref.size) throw new DataCorruptError(`partial ${ref.key} on ${ref.node} ended at ${offset} of ${ref.size} bytes`);
    yield chunk;
  }
}

/** The whole partial in one buffer (summaries). */
export async function fetchAll(ref: Ref, src: FetchSource): Promise<Buffer> {
  if (src.store && ref.node === src.store.node) return src.store.read(ref.key);
  const parts: Buffer[] = [];
  for await (const c of fetchChunks(ref, { ...src, chunkSize: Math.min(Math.max(ref.size, 1), 16 * 1024 * 1024) })) parts.push(c);
  return Buffer.concat(parts);
}

/** Where a task on a node reads partials: its own store directly, other nodes' through `nodes`. */
export function sourceOn(env: { readonly nodes: NodeClient; readonly store: PartialStore; readonly signal?: AbortSignal | undefined }, chunkSize?: number): FetchSource {
  return { nodes: env.nodes, store: env.store, ...(env.signal ? { signal: env.signal } : {}), ...(chunkSize ? { chunkSize } : {}) };
}
