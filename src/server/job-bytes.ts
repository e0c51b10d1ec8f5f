/**
 * The bytes of every job the server holds (payload, unique key, and the stored-queue key when it
 * differs from the unique key), copied into shared 1 MiB slabs. A Buffer per job would cost a
 * JS object and ArrayBuffer bookkeeping of about 100 bytes beside a 100-byte payload; here a
 * job's bytes cost a 16-byte header and two numbers in the job table.
 *
 * A record: [slot, payload length, unique length, store key length] as u32, then the bytes,
 * padded to 4. Slabs are append-only: a record's bytes are never written again once placed, so
 * a view handed out (JOB_ASSIGN, a row on its way to the store) stays what it was even after its
 * job ended. A slab whose records all ended is dropped; when slabs hold more than twice the
 * live bytes (a few long-lived jobs pinning slabs the others left), the sparsest slabs'
 * live records move to the current slab and those slabs are dropped. A record larger than a
 * quarter slab gets a slab of its own.
 */

/** The size of a shared slab (a constructor option, so tests can make many small ones). */
export const SLAB_BYTES = 1 << 20;
const HEADER_BYTES = 16;

class Slab {
  readonly buf: Buffer;
  readonly words: Uint32Array;
  /** Append offset. */
  used = 0;
  /** Bytes of records whose job still lives. */
  liveBytes = 0;
  liveRecords = 0;

  constructor(
    readonly id: number,
    size: number,
  ) {
    // allocUnsafeSlow: a fresh ArrayBuffer at offset 0 (4-aligned for the header words), outside Node's pool.
    this.buf = Buffer.allocUnsafeSlow(size);
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, size >>> 2);
  }

  get size(): number {
    return this.buf.length;
  }
}

/** Where an ended job's bytes were: the slab memory stays as it was (see above). */
export interface JobBytesRef {
  readonly buf: Buffer;
  readonly payloadStart: number;
  readonly payloadLength: number;
  readonly uniqueLength: number;
  readonly storeKeyLength: number;
}

export interface JobBytesStats {
  /** Slabs held. */
  slabs: number;
  /** Bytes of the slabs held. */
  allocatedBytes: number;
  /** Bytes of records (headers included) of jobs that still live. */
  liveBytes: number;
  /** Records moved out of sparse slabs so far. */
  movedRecords: number;
}

function recordSize(payload: number, unique: number, storeKey: number): number {
  const n = HEADER_BYTES + payload + unique + storeKey;
  return n + ((4 - (n % 4)) % 4);
}

export class JobBytes {
  readonly #slabBytes: number;
  /** A record larger than this gets a slab of its own. */
  readonly #ownSlabAbove: number;
  /** Compact when slabs exceed twice the live bytes plus this slack (the partly filled current slab and its neighbours). */
  readonly #compactSlack: number;
  readonly #slabs: (Slab | undefined)[] = [];
  readonly #freeIds: number[] = [];
  #current: Slab | null = null;
  #slabOf: Int32Array;
  #offsetOf: Int32Array;
  #allocated = 0;
  #live = 0;
  #moved = 0;

  constructor(slotCapacity: number, slabBytes = SLAB_BYTES) {
    this.#slabBytes = slabBytes;
    this.#ownSlabAbove = slabBytes / 4;
    this.#compactSlack = 4 * slabBytes;
    this.#slabOf = new Int32Array(slotCapacity).fill(-1);
    this.#offsetOf = new Int32Array(slotCapacity);
  }

  /** The table is empty and starts again with `capacity` slots (every record was deleted). */
  reset(capacity: number): void {
    this.#slabOf = new Int32Array(capacity).fill(-1);
    this.#offsetOf = new Int32Array(capacity);
  }

  /** The job table grew to `capacity` slots. */
  grow(capacity: number): void {
    const slabOf = new Int32Array(capacity).fill(-1);
    slabOf.set(this.#slabOf);
    const offsetOf = new Int32Array(capacity);
    offsetOf.set(this.#offsetOf);
    this.#slabOf = slabOf;
    this.#offsetOf = offsetOf;
  }

  get stats(): JobBytesStats {
    let slabs = 0;
    for (const s of this.#slabs) if (s) slabs++;
    return { slabs, allocatedBytes: this.#allocated, liveBytes: this.#live, movedRecords: this.#moved };
  }

  /** Store the bytes of the job in `slot`; `storeKey` is null (or empty) when it is the unique key. */
  put(slot: number, payload: Uint8Array, unique: Uint8Array, storeKey: Uint8Array | null): void {
    const storeLength = storeKey === null ? 0 : storeKey.length;
    const size = recordSize(payload.length, unique.length, storeLength);
    const slab = this.#place(size);
    const at = slab.used;
    slab.used += size;
    slab.liveBytes += size;
    slab.liveRecords++;
    this.#live += size;
    const w = at >>> 2;
    slab.words[w] = slot;
    slab.words[w + 1] = payload.length;
    slab.words[w + 2] = unique.length;
    slab.words[w + 3] = storeLength;
    let pos = at + HEADER_BYTES;
    slab.buf.set(payload, pos);
    pos += payload.length;
    if (unique.length > 0) slab.buf.set(unique, pos);
    if (storeLength > 0) slab.buf.set(storeKey!, pos + unique.length);
    this.#slabOf[slot] = slab.id;
    this.#offsetOf[slot] = at;
  }

  /** The job in `slot` ended: its record no longer counts, and its slab may go. */
  delete(slot: number): void {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const w = this.#offsetOf[slot]! >>> 2;
    const size = recordSize(slab.words[w + 1]!, slab.words[w + 2]!, slab.words[w + 3]!);
    this.#slabOf[slot] = -1;
    slab.liveBytes -= size;
    slab.liveRecords--;
    this.#live -= size;
    if (slab.liveRecords === 0 && slab !== this.#current) this.#drop(slab);
    else if (this.#allocated > 2 * this.#live + this.#compactSlack) this.#compact();
  }

  /** A view of the payload of the job in `slot` (no copy). */
  payload(slot: number): Buffer {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const at = this.#offsetOf[slot]!;
    const start = at + HEADER_BYTES;
    return slab.buf.subarray(start, start + slab.words[(at >>> 2) + 1]!);
  }

  /** A view of the unique key's bytes (UTF-8). */
  uniqueBytes(slot: number): Buffer {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const w = this.#offsetOf[slot]! >>> 2;
    const start = this.#offsetOf[slot]! + HEADER_BYTES + slab.words[w + 1]!;
    return slab.buf.subarray(start, start + slab.words[w + 2]!);
  }

  unique(slot: number): string {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const w = this.#offsetOf[slot]! >>> 2;
    const length = slab.words[w + 2]!;
    if (length === 0) return '';
    const start = this.#offsetOf[slot]! + HEADER_BYTES + slab.words[w + 1]!;
    return slab.buf.toString('utf8', start, start + length);
  }

  /** The key of the job's row in a persistent queue (the unique key unless one was generated). */
  storeKey(slot: number): string {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const w = this.#offsetOf[slot]! >>> 2;
    const storeLength = slab.words[w + 3]!;
    if (storeLength === 0) return this.unique(slot);
    const start = this.#offsetOf[slot]! + HEADER_BYTES + slab.words[w + 1]! + slab.words[w + 2]!;
    return slab.buf.toString('utf8', start, start + storeLength);
  }

  /** Whether the unique key of the job in `slot` is exactly `bytes`. */
  uniqueEquals(slot: number, bytes: Uint8Array): boolean {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const w = this.#offsetOf[slot]! >>> 2;
    const length = slab.words[w + 2]!;
    if (length !== bytes.length) return false;
    const start = this.#offsetOf[slot]! + HEADER_BYTES + slab.words[w + 1]!;
    const buf = slab.buf;
    for (let i = 0; i < length; i++) if (buf[start + i] !== bytes[i]) return false;
    return true;
  }

  /** Whether the payload of the job in `slot` is exactly `bytes`. */
  payloadEquals(slot: number, bytes: Buffer): boolean {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const at = this.#offsetOf[slot]!;
    const length = slab.words[(at >>> 2) + 1]!;
    if (length !== bytes.length) return false;
    const start = at + HEADER_BYTES;
    return bytes.compare(slab.buf, start, start + length) === 0;
  }

  /** Where the job's bytes are, for a job view that outlives its slot (the bytes stay put). */
  ref(slot: number): JobBytesRef {
    const slab = this.#slabs[this.#slabOf[slot]!]!;
    const at = this.#offsetOf[slot]!;
    const w = at >>> 2;
    return {
      buf: slab.buf,
      payloadStart: at + HEADER_BYTES,
      payloadLength: slab.words[w + 1]!,
      uniqueLength: slab.words[w + 2]!,
      storeKeyLength: slab.words[w + 3]!,
    };
  }

  /** A slab with room for a record of `size` bytes. */
  #place(size: number): Slab {
    if (size > this.#ownSlabAbove) return this.#newSlab(size);
    const current = this.#current;
    if (current !== null && current.used + size <= current.size) return current;
    if (current !== null && current.liveRecords === 0) this.#drop(current);
    this.#current = this.#newSlab(this.#slabBytes);
    return this.#current;
  }

  #newSlab(size: number): Slab {
    const id = this.#freeIds.length > 0 ? this.#freeIds.pop()! : this.#slabs.length;
    const slab = new Slab(id, size);
    this.#slabs[id] = slab;
    this.#allocated += size;
    return slab;
  }

  #drop(slab: Slab): void {
    this.#slabs[slab.id] = undefined;
    this.#freeIds.push(slab.id);
    this.#allocated -= slab.size;
    if (slab === this.#current) this.#current = null;
  }

  /** Move the live records of the sparsest shared slabs to the current slab, and drop those slabs. */
  #compact(): void {
    const size = this.#slabBytes;
    const sparse = this.#slabs.filter((s): s is Slab => s !== undefined && s !== this.#current && s.size === size && s.liveBytes < size / 2);
    sparse.sort((a, b) => a.liveBytes - b.liveBytes);
    for (const slab of sparse) {
      if (this.#allocated <= 1.5 * this.#live + this.#compactSlack / 2) break;
      this.#evacuate(slab);
    }
  }

  #evacuate(slab: Slab): void {
    const words = slab.words;
    for (let at = 0; at < slab.used && slab.liveRecords > 0; ) {
      const w = at >>> 2;
      const slot = words[w]!;
      const size = recordSize(words[w + 1]!, words[w + 2]!, words[w + 3]!);
      if (this.#slabOf[slot] === slab.id && this.#offsetOf[slot] === at) {
        const to = this.#place(size);
        const dest = to.used;
        slab.buf.copy(to.buf, dest, at, at + size);
        to.used += size;
        to.liveBytes += size;
        to.liveRecords++;
        slab.liveBytes -= size;
        slab.liveRecords--;
        this.#slabOf[slot] = to.id;
        this.#offsetOf[slot] = dest;
        this.#moved++;
      }
      at += size;
    }
    this.#drop(slab);
  }
}
