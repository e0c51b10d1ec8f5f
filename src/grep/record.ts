/**
 * What grep's map tasks emit. Key: (time, node, file, offset), compared bytewise, so the merged
 * output is in the run's order. Value: the selected line itself, or with context a group of
 * lines, each with its kind and offset.
 */
import type { Group } from './context.ts';

const TIME_BIAS = 2 ** 52;

/** The constant middle of a shard's keys: `node\0file\0`. */
export function keyMiddle(node: string, file: string): Buffer {
  return Buffer.from(`${node}\0${file}\0`, 'utf8');
}

/** Sort key (time, node, file, offset): big-endian numbers, NUL-ended names. */
export function sortKey(middle: Buffer, time: number, offset: number): Buffer {
  const key = Buffer.allocUnsafe(16 + middle.length);
  // Times are epoch ms; the bias keeps earlier-than-1970 values in order as unsigned numbers.
  const t = Math.trunc(time) + TIME_BIAS;
  key.writeUInt32BE(Math.floor(t / 2 ** 32), 0);
  key.writeUInt32BE(t >>> 0, 4);
  middle.copy(key, 8);
  const at = 8 + middle.length;
  key.writeUInt32BE(Math.floor(offset / 2 ** 32), at);
  key.writeUInt32BE(offset >>> 0, at + 4);
  return key;
}

export interface KeyParts {
  readonly node: string;
  readonly file: string;
  readonly offset: number;
}

export function keyParts(key: Buffer): KeyParts {
  const nodeEnd = key.indexOf(0, 8);
  const fileEnd = key.indexOf(0, nodeEnd + 1);
  const at = fileEnd + 1;
  return {
    node: key.toString('utf8', 8, nodeEnd),
    file: key.toString('utf8', nodeEnd + 1, fileEnd),
    offset: key.readUInt32BE(at) * 2 ** 32 + key.readUInt32BE(at + 4),
  };
}

/** A line of a group on the wire: 1 byte selected (1) or context (0), 6 bytes offset, 4 bytes length, the bytes. */
const LINE_HEADER = 11;

export function encodeGroup(group: Group): Buffer {
  let size = 0;
  for (const l of group.lines) size += LINE_HEADER + (l.end - l.start);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const l of group.lines) {
    out[at] = l.selected ? 1 : 0;
    out.writeUIntBE(l.offset, at + 1, 6);
    out.writeUInt32BE(l.end - l.start, at + 7);
    l.buf.copy(out, at + LINE_HEADER, l.start, l.end);
    at += LINE_HEADER + (l.end - l.start);
  }
  return out;
}

export interface DecodedLine {
  readonly selected: boolean;
  readonly offset: number;
  readonly bytes: Buffer;
}

export function decodeGroup(value: Buffer): DecodedLine[] {
  const lines: DecodedLine[] = [];
  for (let at = 0; at < value.length; ) {
    const len = value.readUInt32BE(at + 7);
    lines.push({ selected: value[at] === 1, offset: value.readUIntBE(at + 1, 6), bytes: value.subarray(at + LINE_HEADER, at + LINE_HEADER + len) });
    at += LINE_HEADER + len;
  }
  return lines;
}

/**
 * A map task's share of `grep -m N`: the records with the smallest keys whose selected lines add
 * up to N; a record past them cannot be among the first N of the run.
 */
export class FirstRecords {
  readonly #limit: number;
  readonly #records: { key: Buffer; value: Buffer; selected: number }[] = [];
  #selected = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  add(key: Buffer, value: Buffer, selected: number): void {
    const list = this.#records;
    if (this.#selected >= this.#limit && Buffer.compare(key, list[list.length - 1]!.key) >= 0) return;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare(list[mid]!.key, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, { key: Buffer.from(key), value: Buffer.from(value), selected });
    this.#selected += selected;
    while (list.length > 1 && this.#selected - list[list.length - 1]!.selected >= this.#limit) this.#selected -= list.pop()!.selected;
  }

  /** Hands the kept records out in key order and forgets them. */
  drain(emit: (key: Buffer, value: Buffer) => void): void {
    for (const r of this.#records) emit(r.key, r.value);
    this.#records.length = 0;
    this.#selected = 0;
  }
}
