/**
 * Read buffers for a plain TCP connection (net.connect's `onread`): each read lands in a fresh
 * region of a larger slab that is never handed out again, so the decoder may keep zero-copy views
 * of what was read, exactly as with the chunks Node allocates for 'data' events. It saves Node's
 * per-read allocation and the readable-stream bookkeeping of a 'data' event (measured by
 * `npm run bench:client`).
 */
const SLAB_SIZE = 128 * 1024;
/**
 * The least room a read is offered; a slab with less left is replaced. Each connection has its
 * own slab: Node reserves the next read's region as soon as a read ends, so two connections
 * sharing one would be handed the same bytes.
 */
const MIN_READ = 32 * 1024;

export class ReadSlab {
  #slab: Buffer = Buffer.allocUnsafe(SLAB_SIZE);
  #pos = 0;

  /** The region the next read goes into: from here to the end of the slab. */
  next(): Buffer {
    if (this.#slab.length - this.#pos < MIN_READ) {
      this.#slab = Buffer.allocUnsafe(SLAB_SIZE);
      this.#pos = 0;
    }
    return this.#slab.subarray(this.#pos);
  }

  /** `n` bytes were read into the region `next()` gave: they are the caller's for good. */
  take(region: Buffer, n: number): Buffer {
    this.#pos += n;
    return region.subarray(0, n);
  }
}
