/**
 * Byte-comparable keys for sorted and keyed jobs. The engine orders records by comparing their
 * keys as bytes (Buffer.compare), so a key built from these parts sorts as its values do: numbers
 * numerically, text by its UTF-8 bytes, and one part before the next.
 */

/** 8 bytes that compare as the number does (negatives too); NaN and ±Infinity read as 0. */
export function numberKey(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleBE(Number.isFinite(n) ? n : 0);
  // IEEE 754 bits order positives as unsigned integers; negatives come out reversed: flip them all.
  if (b[0]! & 0x80) for (let i = 0; i < 8; i++) b[i] = ~b[i]! & 0xff;
  else b[0] = b[0]! | 0x80;
  return b;
}

/** 8 bytes that compare as a non-negative integer below 2^53 does (an offset, a count). */
export function uintKey(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n >>> 0, 4);
  return b;
}

/**
 * Text ended by a NUL byte, so `ab` sorts before `abc` even when more parts follow. Text with a
 * NUL in it sorts as if it ended there.
 */
export function textKey(s: string): Buffer {
  const text = Buffer.from(s, 'utf8');
  const b = Buffer.allocUnsafe(text.length + 1);
  text.copy(b);
  b[text.length] = 0;
  return b;
}

/** The same part in reverse order (every bit flipped), for a descending sort on it. */
export function descendingKey(part: Buffer): Buffer {
  const b = Buffer.allocUnsafe(part.length);
  for (let i = 0; i < part.length; i++) b[i] = ~part[i]! & 0xff;
  return b;
}

/** Parts joined into one key; it compares part by part when each part is fixed-size or NUL-ended. */
export function joinKeys(parts: readonly Buffer[]): Buffer {
  return Buffer.concat(parts);
}

/** The order the engine sorts keys in. */
export function compareKeys(a: Buffer, b: Buffer): number {
  return Buffer.compare(a, b);
}
