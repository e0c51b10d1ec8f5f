import { PacketTooLargeError, ProtocolError } from '../errors.ts';
import { ARG_COUNTS, DEFAULT_MAX_PACKET_SIZE, HEADER_SIZE, MAX_PACKET_TYPE, type PacketType } from './packet-types.ts';

/** `\0REQ` and `\0RES` read as big-endian uint32. */
export const MAGIC_REQ = 0x00524551;
export const MAGIC_RES = 0x00524553;

export interface BinaryFrame {
  readonly kind: 'packet';
  readonly magic: 'REQ' | 'RES';
  readonly type: PacketType;
  /**
   * Arguments as views into the received bytes. There are at most `argc` of them; a payload with
   * fewer NULs than the table asks for yields fewer arguments, and the session decides what that
   * means (gearmand's parser is equally lenient about the reduce packets' optional field).
   */
  readonly args: Buffer[];
  /** Whole payload size in bytes. */
  readonly size: number;
  /** The frame's bytes, header included (a view; copy before changing it). */
  readonly raw: Buffer;
}

export interface AdminFrame {
  readonly kind: 'admin';
  /** The line without its `\n` (and without a trailing `\r`). */
  readonly line: string;
}

export type Frame = BinaryFrame | AdminFrame;

export interface DecoderOptions {
  /** Largest payload accepted, in bytes. Default 64 MiB. */
  maxPacketSize?: number;
  /** Longest admin text line accepted, in bytes. Default 8 KiB. */
  maxAdminLineLength?: number;
  /** Accept text admin lines at packet boundaries (the server does; clients do not). */
  allowAdmin?: boolean;
}

export const DEFAULT_MAX_ADMIN_LINE = 8 * 1024;

/** A kept partial frame larger than this is released once consumed instead of reused. */
const SHRINK_THRESHOLD = 256 * 1024;

/**
 * Incremental, length-driven decoder. Feed it socket chunks with `push()`; it calls `onFrame`
 * for every complete frame and keeps the unread tail.
 *
 * Payload views are handed out without copying when a frame lies whole inside one chunk: socket
 * chunks are freshly allocated by Node and never written again. A frame that spans chunks is
 * assembled into a buffer of its own, which is then never reused either (cf. node-postgres #3776).
 * Consumers that keep a payload for long should copy it, so a small view does not pin a large chunk.
 */
export class Decoder {
  readonly #onFrame: (frame: Frame) => void;
  readonly #maxPacketSize: number;
  readonly #maxAdminLine: number;
  readonly #allowAdmin: boolean;
  /** Bytes received but not yet decoded (a partial frame). */
  #tail: Buffer | null = null;
  /** For a known-size partial binary frame: the buffer being filled and how far. */
  #assembly: Buffer | null = null;
  #assembled = 0;
  #failed: Error | null = null;

  constructor(onFrame: (frame: Frame) => void, options: DecoderOptions = {}) {
    this.#onFrame = onFrame;
    this.#maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    this.#maxAdminLine = options.maxAdminLineLength ?? DEFAULT_MAX_ADMIN_LINE;
    this.#allowAdmin = options.allowAdmin ?? false;
  }

  /** Bytes buffered for a frame that is not complete yet. */
  get buffered(): number {
    if (this.#assembly) return this.#assembled;
    return this.#tail ? this.#tail.length : 0;
  }

  /**
   * Decode what `chunk` completes. Throws `ProtocolError` or `PacketTooLargeError` on bytes that
   * cannot be Gearman; after that the decoder refuses further input (drop the connection).
   */
  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failed;
    try {
      this.#push(chunk);
    } catch (err) {
      this.#failed = err as Error;
      this.#tail = null;
      this.#assembly = null;
      throw err;
    }
  }

  #push(chunk: Buffer): void {
    if (this.#assembly) {
      const need = this.#assembly.length - this.#assembled;
      if (chunk.length < need) {
        chunk.copy(this.#assembly, this.#assembled);
        this.#assembled += chunk.length;
        return;
      }
      chunk.copy(this.#assembly, this.#assembled, 0, need);
      const frame = this.#assembly;
      this.#assembly = null;
      this.#assembled = 0;
      this.#emitBinary(frame, 0);
      chunk = chunk.subarray(need);
      if (chunk.length === 0) return;
    }
    let buf = chunk;
    if (this.#tail) {
      buf = Buffer.concat([this.#tail, chunk]);
      this.#tail = null;
    }
    let offset = 0;
    const end = buf.length;
    while (offset < end) {
      if (buf[offset] !== 0) {
        if (!this.#allowAdmin) throw new ProtocolError(`bad magic byte 0x${buf[offset]!.toString(16).padStart(2, '0')}`);
        // 0x16 0x03 opens a TLS record: a TLS client on the plain port. Say so at once rather
        // than wait for an admin line that never ends (no admin command starts with 0x16).
        if (buf[offset] === 0x16) {
          if (offset + 1 >= end) break;
          if (buf[offset + 1] === 0x03) throw new ProtocolError('TLS handshake received on a plain-text Gearman port');
        }
        const nl = buf.indexOf(10, offset);
        if (nl === -1) {
          if (end - offset > this.#maxAdminLine) throw this.#adminTooLong(buf, offset);
          break;
        }
        if (nl - offset > this.#maxAdminLine) throw this.#adminTooLong(buf, offset);
        let lineEnd = nl;
        if (lineEnd > offset && buf[lineEnd - 1] === 13) lineEnd--;
        // UTF-8, as names in binary packets are read: `drop function fünf` names what CAN_DO fünf registered.
        this.#onFrame({ kind: 'admin', line: buf.toString('utf8', offset, lineEnd) });
        offset = nl + 1;
        continue;
      }
      if (end - offset < HEADER_SIZE) break;
      const magic = buf.readUInt32BE(offset);
      if (magic !== MAGIC_REQ && magic !== MAGIC_RES) {
        throw new ProtocolError(`bad magic 0x${magic.toString(16).padStart(8, '0')}`);
      }
      const type = buf.readUInt32BE(offset + 4);
      if (type < 1 || type > MAX_PACKET_TYPE) throw new ProtocolError(`unknown packet type ${type}`);
      const size = buf.readUInt32BE(offset + 8);
      if (size > this.#maxPacketSize) throw new PacketTooLargeError(size, this.#maxPacketSize);
      const frameEnd = offset + HEADER_SIZE + size;
      if (frameEnd > end) {
        // Large partial frame: allocate it once at its final size instead of re-concatenating.
        if (size >= 64 * 1024) {
          this.#assembly = Buffer.allocUnsafe(HEADER_SIZE + size);
          this.#assembled = buf.copy(this.#assembly, 0, offset, end);
          return;
        }
        break;
      }
      this.#emitBinary(buf, offset);
      offset = frameEnd;
    }
    if (offset < end) {
      const rest = buf.subarray(offset);
      // Keep a copy only when the rest is a small slice of a big buffer (don't pin the big one).
      this.#tail = rest.length < SHRINK_THRESHOLD && buf.length > 4 * rest.length ? Buffer.from(rest) : rest;
    }
  }

  #adminTooLong(buf: Buffer, offset: number): ProtocolError {
    // 0x16 0x03 is a TLS record header: a TLS client talking to a plain-text port.
    if (buf[offset] === 0x16 && buf[offset + 1] === 0x03) {
      return new ProtocolError('TLS handshake received on a plain-text Gearman port');
    }
    return new ProtocolError(`admin line longer than ${this.#maxAdminLine} bytes`);
  }

  #emitBinary(buf: Buffer, offset: number): void {
    const magic = buf.readUInt32BE(offset) === MAGIC_REQ ? 'REQ' : 'RES';
    const type = buf.readUInt32BE(offset + 4) as PacketType;
    const size = buf.readUInt32BE(offset + 8);
    const start = offset + HEADER_SIZE;
    const end = start + size;
    const argc = ARG_COUNTS[type]!;
    const args: Buffer[] = [];
    if (argc > 0) {
      let pos = start;
      for (let i = 0; i < argc - 1; i++) {
        const nul = buf.indexOf(0, pos);
        if (nul === -1 || nul >= end) break;
        args.push(buf.subarray(pos, nul));
        pos = nul + 1;
      }
      args.push(buf.subarray(pos, end));
    }
    // A packet that takes no arguments but carries a payload: gearmand ignores the payload.
    this.#onFrame({ kind: 'packet', magic, type, args, size, raw: buf.subarray(offset, end) });
  }
}
