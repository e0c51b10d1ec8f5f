import { ARG_COUNTS, HEADER_SIZE, type PacketType } from './packet-types.ts';
import { MAGIC_REQ, MAGIC_RES } from './decoder.ts';
import { ProtocolError } from '../errors.ts';

/** An argument on the way out: bytes, or text written as UTF-8. */
export type Arg = Buffer | string;

function argLength(arg: Arg): number {
  return typeof arg === 'string' ? Buffer.byteLength(arg) : arg.length;
}

/**
 * Encode one binary packet. `args` must have exactly the table's count; every argument but the
 * last is NUL-terminated on the wire, so it must not itself contain a NUL.
 */
export function encodePacket(magic: 'REQ' | 'RES', type: PacketType, args: readonly Arg[] = []): Buffer {
  const argc = ARG_COUNTS[type];
  if (argc === undefined || argc < 0) throw new ProtocolError(`cannot encode unknown packet type ${type}`);
  if (args.length !== argc) {
    throw new ProtocolError(`packet type ${type} takes ${argc} arguments, got ${args.length}`);
  }
  let size = argc > 1 ? argc - 1 : 0;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (i < args.length - 1 && (typeof arg === 'string' ? arg.includes('\0') : arg.includes(0))) {
      throw new ProtocolError(`argument ${i + 1} of packet type ${type} contains a NUL byte`);
    }
    size += argLength(arg);
  }
  const buf = Buffer.allocUnsafe(HEADER_SIZE + size);
  buf.writeUInt32BE(magic === 'REQ' ? MAGIC_REQ : MAGIC_RES, 0);
  buf.writeUInt32BE(type, 4);
  buf.writeUInt32BE(size, 8);
  let pos = HEADER_SIZE;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (typeof arg === 'string') pos += buf.write(arg, pos, 'utf8');
    else pos += arg.copy(buf, pos);
    if (i < args.length - 1) {
      buf[pos++] = 0;
    }
  }
  return buf;
}

/** Packet towards the server (`\0REQ`). */
export function request(type: PacketType, ...args: Arg[]): Buffer {
  return encodePacket('REQ', type, args);
}

/** Packet from the server (`\0RES`). */
export function response(type: PacketType, ...args: Arg[]): Buffer {
  return encodePacket('RES', type, args);
}
