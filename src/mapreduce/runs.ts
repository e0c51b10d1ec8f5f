/**
 * Sorted runs: the unit of sorted output in map/reduce. A run is a sequence of records
 * `(key, value)` in ascending byte order of `key` (Buffer.compare), so merging never needs to
 * know what a key means: grep keys encode (time, node, file, offset), streaming jobs' keys are the
 * text before the first tab, as in Hadoop.
 *
 * File layout: records back to back, each `u32 keyLength, u32 valueLength, key, value`.
 */
import fs from 'node:fs';
import { once } from 'node:events';

export interface RunRecord {
  readonly key: Buffer;
  readonly value: Buffer;
}

const HEADER = 8;

/** Encode records into one buffer (for small runs kept in memory or sent inline). */
export function encodeRecords(records: readonly RunRecord[]): Buffer {
  let size = 0;
  for (const r of records) size += HEADER + r.key.length + r.value.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const r of records) {
    out.writeUInt32BE(r.key.length, pos);
    out.writeUInt32BE(r.value.length, pos + 4);
    pos += HEADER;
    pos += r.key.copy(out, pos);
    pos += r.value.copy(out, pos);
  }
  return out;
}

/**
 * Incremental record decoder: feed byte chunks of a run, get whole records. Records are views into
 * the pushed chunks (copied when a record spans chunks).
 */
export class RunDecoder {
  #tail: Buffer | null = null;

  push(chunk: Buffer, out: RunRecord[]): void {
    let buf = chunk;
    if (this.#tail) {
      buf = Buffer.concat([this.#tail, chunk]);
      this.#tail = null;
    }
    let pos = 0;
    while (buf.length - pos >= HEADER) {
      const k = buf.readUInt32BE(pos);
      const v = buf.readUInt32BE(pos + 4);
      const end = pos + HEADER + k + v;
      if (end > buf.length) break;
      out.push({ key: buf.subarray(pos + HEADER, pos + HEADER + k), value: buf.subarray(pos + HEADER + k, end) });
      pos = end;
    }
    if (pos < buf.length) this.#tail = Buffer.from(buf.subarray(pos));
  }

  /** Bytes of an incomplete record still held. */
  get pending(): number {
    return this.#tail?.length ?? 0;
  }
}

export function decodeRecords(buf: Buffer): RunRecord[] {
  const out: RunRecord[] = [];
  const d = new RunDecoder();
  d.push(buf, out);
  if (d.pending > 0) throw new Error(`run is truncated: ${d.pending} trailing bytes`);
  return out;
}

export function compareRecords(a: RunRecord, b: RunRecord): number {
  return Buffer.compare(a.key, b.key);
}

/** Appends records to a run file, buffering writes. */
export class RunWriter {
  readonly path: string;
  #stream: fs.WriteStream;
  #buffered: Buffer[] = [];
  #bufferedBytes = 0;
  #records = 0;
  #bytes = 0;

  constructor(path: string) {
    this.path = path;
    this.#stream = fs.createWriteStream(path);
  }

  get records(): number {
    return this.#records;
  }

  get bytes(): number {
    return this.#bytes;
  }

  async write(record: RunRecord): Promise<void> {
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt32BE(record.key.length, 0);
    header.writeUInt32BE(record.value.length, 4);
    this.#buffered.push(header, record.key, record.value);
    const n = HEADER + record.key.length + record.value.length;
    this.#bufferedBytes += n;
    this.#bytes += n;
    this.#records++;
    if (this.#bufferedBytes >= 256 * 1024) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#buffered.length === 0) return;
    const chunk = Buffer.concat(this.#buffered, this.#bufferedBytes);
    this.#buffered = [];
    this.#bufferedBytes = 0;
    if (!this.#stream.write(chunk)) await once(this.#stream, 'drain');
  }

  async close(): Promise<void> {
    await this.#flush();
    await new Promise<void>((resolve, reject) => {
      this.#stream.once('error', reject);
      this.#stream.end(() => resolve());
    });
  }
}

/** Read a run file's bytes in chunks of `chunkSize`, starting at `offset` (for pull-based fetches). */
export async function readRunChunk(path: string, offset: number, chunkSize: number): Promise<Buffer> {
  const fh = await fs.promises.open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    const { bytesRead } = await fh.read(buf, 0, chunkSize, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Records of a run file, streamed. */
export async function* readRunFile(path: string, highWaterMark = 256 * 1024): AsyncGenerator<RunRecord> {
  const decoder = new RunDecoder();
  for await (const chunk of fs.createReadStream(path, { highWaterMark })) {
    const out: RunRecord[] = [];
    decoder.push(chunk as Buffer, out);
    yield* out;
  }
  if (decoder.pending > 0) throw new Error(`run file ${path} is truncated`);
}
