/**
 * Hand-built Gearman frames for the codec tests. Nothing here uses the project's encoder or its
 * packet table: the reference is the packet table of gearmand-notes.md §1 (gearmand 1.1
 * `libgearman/command.cc`), written out again below.
 */

/** [number, name, magic it travels with ('both' = either), argument count]. */
export const REFERENCE_TABLE: ReadonlyArray<readonly [number, string, 'REQ' | 'RES' | 'both', number]> = [
  [1, 'CAN_DO', 'REQ', 1],
  [2, 'CANT_DO', 'REQ', 1],
  [3, 'RESET_ABILITIES', 'REQ', 0],
  [4, 'PRE_SLEEP', 'REQ', 0],
  [5, 'UNUSED', 'REQ', 1],
  [6, 'NOOP', 'RES', 0],
  [7, 'SUBMIT_JOB', 'REQ', 3],
  [8, 'JOB_CREATED', 'RES', 1],
  [9, 'GRAB_JOB', 'REQ', 0],
  [10, 'NO_JOB', 'RES', 0],
  [11, 'JOB_ASSIGN', 'RES', 3],
  [12, 'WORK_STATUS', 'both', 3],
  [13, 'WORK_COMPLETE', 'both', 2],
  [14, 'WORK_FAIL', 'both', 1],
  [15, 'GET_STATUS', 'REQ', 1],
  [16, 'ECHO_REQ', 'REQ', 1],
  [17, 'ECHO_RES', 'RES', 1],
  [18, 'SUBMIT_JOB_BG', 'REQ', 3],
  [19, 'ERROR', 'RES', 2],
  [20, 'STATUS_RES', 'RES', 5],
  [21, 'SUBMIT_JOB_HIGH', 'REQ', 3],
  [22, 'SET_CLIENT_ID', 'REQ', 1],
  [23, 'CAN_DO_TIMEOUT', 'REQ', 2],
  [24, 'ALL_YOURS', 'REQ', 0],
  [25, 'WORK_EXCEPTION', 'both', 2],
  [26, 'OPTION_REQ', 'REQ', 1],
  [27, 'OPTION_RES', 'RES', 1],
  [28, 'WORK_DATA', 'both', 2],
  [29, 'WORK_WARNING', 'both', 2],
  [30, 'GRAB_JOB_UNIQ', 'REQ', 0],
  [31, 'JOB_ASSIGN_UNIQ', 'RES', 4],
  [32, 'SUBMIT_JOB_HIGH_BG', 'REQ', 3],
  [33, 'SUBMIT_JOB_LOW', 'REQ', 3],
  [34, 'SUBMIT_JOB_LOW_BG', 'REQ', 3],
  [35, 'SUBMIT_JOB_SCHED', 'REQ', 8],
  [36, 'SUBMIT_JOB_EPOCH', 'REQ', 4],
  // Four NUL-terminated fields before DATA, as libgearman sends them (notes §1, "Discrepancies").
  [37, 'SUBMIT_REDUCE_JOB', 'REQ', 5],
  [38, 'SUBMIT_REDUCE_JOB_BACKGROUND', 'REQ', 5],
  [39, 'GRAB_JOB_ALL', 'REQ', 0],
  [40, 'JOB_ASSIGN_ALL', 'RES', 5],
  [41, 'GET_STATUS_UNIQUE', 'REQ', 1],
  [42, 'STATUS_RES_UNIQUE', 'RES', 6],
];

const MAGIC_BYTES = { REQ: [0x00, 0x52, 0x45, 0x51], RES: [0x00, 0x52, 0x45, 0x53] } as const;

/** Header bytes written out one by one: magic, big-endian type, big-endian size. */
export function header(magic: 'REQ' | 'RES', type: number, size: number): Buffer {
  return Buffer.from([
    ...MAGIC_BYTES[magic],
    (type >>> 24) & 0xff,
    (type >>> 16) & 0xff,
    (type >>> 8) & 0xff,
    type & 0xff,
    (size >>> 24) & 0xff,
    (size >>> 16) & 0xff,
    (size >>> 8) & 0xff,
    size & 0xff,
  ]);
}

/** A frame whose arguments are joined by single NUL bytes (none after the last). */
export function frame(magic: 'REQ' | 'RES', type: number, args: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  args.forEach((a, i) => {
    parts.push(a);
    if (i < args.length - 1) parts.push(Buffer.from([0]));
  });
  const payload = Buffer.concat(parts);
  return Buffer.concat([header(magic, type, payload.length), payload]);
}

/** A frame with an arbitrary payload (for malformed or short packets). */
export function rawFrame(magic: 'REQ' | 'RES', type: number, payload: Buffer): Buffer {
  return Buffer.concat([header(magic, type, payload.length), payload]);
}

/** NUL-free leading arguments: ASCII, UTF-8 and high bytes. */
const LEADING: readonly Buffer[] = [
  Buffer.from('H:web-1:17'),
  Buffer.from('reverse'),
  Buffer.from('uniq-é✓', 'utf8'),
  Buffer.from([0xff, 0x01, 0x20, 0x7f, 0x80]),
  Buffer.from('1'),
  Buffer.from('100'),
  Buffer.from('*/5'),
];

/** The last argument is binary and holds NULs, including a leading and a trailing one. */
const LAST = Buffer.from([0x00, 0x41, 0x00, 0x00, 0x42, 0xff, 0x0a, 0x0d, 0x00]);

export interface Sample {
  readonly type: number;
  readonly name: string;
  readonly magic: 'REQ' | 'RES';
  readonly args: Buffer[];
  readonly bytes: Buffer;
}

/**
 * Two samples per (type, magic): representative arguments, and the edge case where every argument
 * is empty (a payload of bare NULs, or an empty payload).
 */
export function samples(): Sample[] {
  const out: Sample[] = [];
  for (const [type, name, magicSpec, argc] of REFERENCE_TABLE) {
    const magics: Array<'REQ' | 'RES'> = magicSpec === 'both' ? ['REQ', 'RES'] : [magicSpec];
    for (const magic of magics) {
      const typical: Buffer[] = [];
      for (let i = 0; i < argc; i++) typical.push(i === argc - 1 ? LAST : LEADING[i % LEADING.length]!);
      const empty: Buffer[] = Array.from({ length: argc }, () => Buffer.alloc(0));
      for (const args of argc === 0 ? [typical] : [typical, empty]) {
        out.push({ type, name, magic, args, bytes: frame(magic, type, args) });
      }
    }
  }
  return out;
}
