/**
 * Seeded fuzz cases for a Gearman job server: valid frames of every packet type (then mutated:
 * declared sizes, NULs, truncation, bit flips, bad types and magic), worker and client sessions,
 * admin lines, random bytes, over-long admin lines, a TLS ClientHello on the plain port, peers
 * that stall half-way through a frame and peers that never read. Pure functions of the seed and
 * the context (handles seen so far), so a failing run can be replayed from its seed.
 *
 * Frames are built here by hand from the protocol text (gearmand-notes §1), not with the
 * project's encoder, so the fuzzer does not share the code it tests.
 */

/** xoshiro128** seeded through splitmix32: fast, and the same sequence on every machine. */
export class Rng {
  readonly #s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  u32(): number {
    const s = this.#s;
    let s0 = s[0]!;
    let s1 = s[1]!;
    let s2 = s[2]!;
    let s3 = s[3]!;
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 = (s2 ^ s0) >>> 0;
    s3 = (s3 ^ s1) >>> 0;
    s1 = (s1 ^ s2) >>> 0;
    s0 = (s0 ^ s3) >>> 0;
    s2 = (s2 ^ t) >>> 0;
    s3 = rotl(s3, 11);
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
    return result;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Pick by weight: [[weight, value], …]. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    const total = table.reduce((n, [w]) => n + w, 0);
    let r = this.int(total);
    for (const [w, v] of table) {
      if (r < w) return v;
      r -= w;
    }
    return table[table.length - 1]![1];
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      b[i] = v & 0xff;
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }

  /** Printable ASCII without spaces. */
  word(min: number, max: number): string {
    const n = this.range(min, max);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.range(0x21, 0x7e));
    return s;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Argument names per packet number, from the protocol description (gearmand-notes §1). */
export const PACKET_ARGS: Readonly<Record<number, readonly string[]>> = {
  1: ['function'],
  2: ['function'],
  3: [],
  4: [],
  5: ['data'],
  6: [],
  7: ['function', 'unique', 'data'],
  8: ['handle'],
  9: [],
  10: [],
  11: ['handle', 'function', 'data'],
  12: ['handle', 'numerator', 'denominator'],
  13: ['handle', 'data'],
  14: ['handle'],
  15: ['handle'],
  16: ['data'],
  17: ['data'],
  18: ['function', 'unique', 'data'],
  19: ['code', 'text'],
  20: ['handle', 'known', 'running', 'numerator', 'denominator'],
  21: ['function', 'unique', 'data'],
  22: ['id'],
  23: ['function', 'timeout'],
  24: [],
  25: ['handle', 'data'],
  26: ['option'],
  27: ['option'],
  28: ['handle', 'data'],
  29: ['handle', 'data'],
  30: [],
  31: ['handle', 'function', 'unique', 'data'],
  32: ['function', 'unique', 'data'],
  33: ['function', 'unique', 'data'],
  34: ['function', 'unique', 'data'],
  35: ['function', 'unique', 'minute', 'hour', 'day_of_month', 'month', 'day_of_week', 'data'],
  36: ['function', 'unique', 'epoch', 'data'],
  37: ['function', 'unique', 'reducer', 'aggregate', 'data'],
  38: ['function', 'unique', 'reducer', 'aggregate', 'data'],
  39: [],
  40: ['handle', 'function', 'unique', 'reducer', 'data'],
  41: ['unique'],
  42: ['unique', 'known', 'running', 'numerator', 'denominator', 'client_count'],
};

/** Packets a server answers with something (responses by the server are not sent by peers). */
export const REQUEST_TYPES = [1, 2, 3, 4, 7, 9, 12, 13, 14, 15, 16, 18, 21, 22, 23, 24, 25, 26, 28, 29, 30, 32, 33, 34, 35, 36, 37, 38, 39, 41];
export const SUBMIT_TYPES = [7, 18, 21, 32, 33, 34];
export const ALL_TYPES = Object.keys(PACKET_ARGS).map(Number);

/** The fuzzer's function names: few, so the server's function table stays small. */
export const FUZZ_FUNCTIONS = ['fz.a', 'fz.b', 'fz.c', 'fz.echo', 'fz.reduce', 'fz.epoch', 'logger', 'geartrain.map@fz'];

/** Largest payload the server accepts by default (64 MiB); declared sizes around it are interesting. */
export const DEFAULT_MAX_PACKET = 64 * 1024 * 1024;

const MAGIC_REQ = Buffer.from([0, 0x52, 0x45, 0x51]);
const MAGIC_RES = Buffer.from([0, 0x52, 0x45, 0x53]);

/** A 12-byte header and payload; `declared` defaults to the payload's length. */
export function buildFrame(magic: 'REQ' | 'RES' | Buffer, type: number, payload: Buffer, declared = payload.length): Buffer {
  const head = Buffer.alloc(12);
  (magic === 'REQ' ? MAGIC_REQ : magic === 'RES' ? MAGIC_RES : magic).copy(head, 0, 0, 4);
  head.writeUInt32BE(type >>> 0, 4);
  head.writeUInt32BE(declared >>> 0, 8);
  return Buffer.concat([head, payload]);
}

/** Arguments joined as the protocol does: NUL after each but the last. */
export function joinArgs(args: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  args.forEach((a, i) => {
    parts.push(a);
    if (i < args.length - 1) parts.push(Buffer.from([0]));
  });
  return Buffer.concat(parts);
}

/** What the fuzzer has learned from the server's replies so far. */
export interface FuzzContext {
  /** Job handles seen in JOB_CREATED / JOB_ASSIGN* (most recent last). */
  readonly handles: readonly string[];
  /** A TLS ClientHello as a real TLS client sends it. */
  readonly tlsHello: Buffer;
  /** Unix time now, in seconds (epoch jobs due during the run). */
  readonly nowSeconds: number;
}

export interface FuzzCase {
  readonly kind: CaseKind;
  /** Bytes to write, one socket write each (the split points are part of the case). */
  readonly writes: Buffer[];
  /** Then: keep using the connection, close it, or hold it open without writing for `holdMs`. */
  readonly after: 'continue' | 'close' | 'hold';
  readonly holdMs: number;
  /** Stop reading replies on this connection (a peer that never reads). */
  readonly noRead: boolean;
}

export const CASE_KINDS = [
  'frame',
  'mutated-frame',
  'pipelined',
  'worker-session',
  'client-session',
  'admin',
  'random-bytes',
  'long-admin',
  'tls-hello',
  'stall',
  'no-read',
] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

const KIND_WEIGHTS: readonly (readonly [number, CaseKind])[] = [
  [16, 'frame'],
  [22, 'mutated-frame'],
  [8, 'pipelined'],
  [12, 'worker-session'],
  [14, 'client-session'],
  [12, 'admin'],
  [6, 'random-bytes'],
  [3, 'long-admin'],
  [2, 'tls-hello'],
  [3, 'stall'],
  [2, 'no-read'],
];

const ADMIN_WORDS = ['status', 'workers', 'prioritystatus', 'show', 'cancel', 'create', 'drop', 'maxqueue', 'getpid', 'version', 'verbose', 'shutdown', 'auth'];

function dataBytes(rng: Rng): Buffer {
  return rng.bytes(
    rng.weighted([
      [20, 0],
      [50, rng.range(1, 64)],
      [25, rng.range(65, 4096)],
      [5, rng.range(4097, 256 * 1024)],
    ]),
  );
}

function functionName(rng: Rng): string {
  return rng.weighted([
    [90, rng.pick(FUZZ_FUNCTIONS)],
    [6, `fz.r${rng.int(200)}`],
    [2, 'x'.repeat(600)],
    [2, ''],
  ]);
}

function handle(rng: Rng, ctx: FuzzContext): string {
  if (ctx.handles.length > 0 && rng.chance(0.75)) return ctx.handles[ctx.handles.length - 1 - rng.int(Math.min(64, ctx.handles.length))]!;
  return rng.weighted([
    [40, `H:fuzz:${rng.int(1000)}`],
    [30, rng.word(1, 20)],
    [15, 'H:' + 'h'.repeat(rng.range(62, 80))],
    [15, ''],
  ]);
}

function unique(rng: Rng): string {
  return rng.weighted([
    [40, ''],
    [10, '-'],
    [35, `u${rng.int(300)}`],
    [10, rng.word(60, 70)],
    [5, rng.word(1, 64)],
  ]);
}

function argValue(rng: Rng, name: string, ctx: FuzzContext): Buffer {
  switch (name) {
    case 'function':
    case 'reducer':
      return Buffer.from(functionName(rng));
    case 'aggregate':
      return Buffer.from(rng.chance(0.8) ? '' : rng.word(1, 10));
    case 'unique':
      return Buffer.from(unique(rng));
    case 'handle':
      return Buffer.from(handle(rng, ctx));
    case 'data':
    case 'text':
      return dataBytes(rng);
    case 'epoch':
      return Buffer.from(
        rng.weighted([
          [35, String(ctx.nowSeconds + rng.range(-5, 3))],
          [15, String(ctx.nowSeconds + rng.range(3600, 10 * 365 * 86400))],
          [10, '0'],
          [10, rng.word(1, 8)],
          [10, '-' + rng.range(1, 99999)],
          [10, '9'.repeat(rng.range(16, 40))],
          [10, ''],
        ]),
      );
    case 'timeout':
      return Buffer.from(rng.weighted([[50, String(rng.range(1, 3000))], [20, '0'], [15, rng.word(1, 6)], [15, '9'.repeat(rng.range(10, 30))]]));
    case 'numerator':
    case 'denominator':
    case 'known':
    case 'running':
    case 'client_count':
    case 'minute':
    case 'hour':
    case 'day_of_month':
    case 'month':
    case 'day_of_week':
      return Buffer.from(rng.chance(0.7) ? String(rng.int(1000)) : rng.word(0, 12));
    case 'option':
      return Buffer.from(rng.weighted([[50, 'exceptions'], [20, 'EXCEPTIONS'], [30, rng.word(0, 20)]]));
    case 'id':
      return Buffer.from(rng.weighted([[60, rng.word(1, 30)], [20, 'x'.repeat(rng.range(120, 300))], [20, '']]));
    case 'code':
      return Buffer.from(rng.word(1, 20));
    default:
      return rng.bytes(rng.int(16));
  }
}

/** A well-formed frame of `type` with plausible arguments. */
export function validFrame(rng: Rng, type: number, ctx: FuzzContext): Buffer {
  const names = PACKET_ARGS[type] ?? ['data'];
  const payload = joinArgs(names.map((n) => argValue(rng, n, ctx)));
  const responseType = [6, 8, 10, 11, 17, 19, 20, 27, 31, 40, 42].includes(type);
  return buildFrame(responseType && rng.chance(0.5) ? 'RES' : 'REQ', type, payload);
}

export const MUTATIONS = ['size', 'truncate', 'nul-insert', 'nul-strip', 'flip', 'type', 'magic', 'repeat', 'extend'] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** Apply one mutation to a frame (header at offset 0). */
export function mutate(rng: Rng, frame: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(frame);
  const payloadLen = Math.max(0, out.length - 12);
  switch (m) {
    case 'size': {
      if (out.length < 12) return out;
      const v = rng.pick([
        payloadLen + 1,
        Math.max(0, payloadLen - 1),
        0,
        rng.int(payloadLen + 1),
        payloadLen + rng.range(1, 100_000),
        DEFAULT_MAX_PACKET,
        DEFAULT_MAX_PACKET + 1,
        0xffffffff,
        0x80000000,
        rng.u32(),
      ]);
      out.writeUInt32BE(v >>> 0, 8);
      return out;
    }
    case 'truncate':
      return out.subarray(0, rng.int(out.length));
    case 'nul-insert': {
      if (payloadLen === 0) return Buffer.concat([out, Buffer.from([0])]);
      const n = rng.range(1, 4);
      for (let i = 0; i < n; i++) out[12 + rng.int(payloadLen)] = 0;
      return out;
    }
    case 'nul-strip': {
      const payload = out.subarray(12).filter((b) => b !== 0);
      const head = Buffer.from(out.subarray(0, 12));
      if (head.length === 12) head.writeUInt32BE(payload.length, 8);
      return Buffer.concat([head, Buffer.from(payload)]);
    }
    case 'flip': {
      const n = rng.range(1, 6);
      for (let i = 0; i < n && out.length > 0; i++) {
        const at = rng.int(out.length);
        out.writeUInt8(out.readUInt8(at) ^ (1 << rng.int(8)), at);
      }
      return out;
    }
    case 'type':
      if (out.length >= 8) out.writeUInt32BE(rng.pick([0, 5, 43, 44, 255, 0xffffffff, rng.range(1, 42), rng.u32()]) >>> 0, 4);
      return out;
    case 'magic':
      if (out.length >= 4) rng.pick([MAGIC_RES, Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0x52, 0x45, 0x58]), rng.bytes(4)]).copy(out, 0);
      return out;
    case 'repeat': {
      const n = rng.range(2, 30);
      return Buffer.concat(Array.from({ length: n }, () => out));
    }
    case 'extend':
      return Buffer.concat([out, rng.bytes(rng.range(1, 64))]);
  }
}

/** Split `bytes` into 1–8 writes at random offsets (1-byte writes included). */
export function split(rng: Rng, bytes: Buffer): Buffer[] {
  if (bytes.length <= 1 || rng.chance(0.4)) return [bytes];
  const cuts = new Set<number>();
  const n = rng.range(1, Math.min(7, bytes.length - 1));
  while (cuts.size < n) cuts.add(rng.range(1, bytes.length - 1));
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of sorted) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function adminLine(rng: Rng, ctx: FuzzContext): string {
  const cmd = rng.pick(ADMIN_WORDS);
  const fn = functionName(rng);
  let line: string;
  switch (cmd) {
    case 'show':
      line = rng.pick(['show jobs', 'show unique jobs', 'show', `show ${rng.word(1, 10)}`, 'show unique']);
      break;
    case 'cancel':
      line = rng.pick([`cancel job ${handle(rng, ctx)}`, 'cancel', `cancel ${rng.word(1, 10)}`]);
      break;
    case 'create':
      line = rng.pick([`create function ${fn}`, 'create', 'create function']);
      break;
    case 'drop':
      line = rng.pick([`drop function ${fn}`, 'drop', 'drop function', `drop function ${rng.word(1, 10)}`]);
      break;
    case 'maxqueue':
      line = rng.pick([`maxqueue ${fn} ${rng.int(20)}`, `maxqueue ${fn} ${rng.int(5)} ${rng.int(5)} ${rng.int(5)}`, 'maxqueue', `maxqueue ${fn}`, `maxqueue ${fn} -1`, `maxqueue ${fn} 0`]);
      break;
    case 'shutdown':
      line = rng.pick(['shutdown', 'shutdown graceful', 'SHUTDOWN']);
      break;
    case 'auth':
      line = `auth ${rng.word(0, 40)}`;
      break;
    default:
      line = cmd;
  }
  if (rng.chance(0.2)) line = line.toUpperCase();
  if (rng.chance(0.1)) line = line.replace(/ /g, '   ');
  if (rng.chance(0.1)) line += ' ' + rng.word(1, 30);
  if (rng.chance(0.05)) line = rng.word(1, 40);
  return line;
}

/** One fuzz case. */
export function nextCase(rng: Rng, ctx: FuzzContext): FuzzCase {
  const kind = rng.weighted(KIND_WEIGHTS);
  const plain = (writes: Buffer[], after: FuzzCase['after'] = 'continue', holdMs = 0, noRead = false): FuzzCase => ({ kind, writes, after, holdMs, noRead });
  switch (kind) {
    case 'frame': {
      const type = rng.chance(0.8) ? rng.pick(REQUEST_TYPES) : rng.pick(ALL_TYPES);
      return plain(split(rng, validFrame(rng, type, ctx)));
    }
    case 'mutated-frame': {
      let bytes = validFrame(rng, rng.pick(ALL_TYPES), ctx);
      const n = rng.range(1, 3);
      for (let i = 0; i < n; i++) bytes = mutate(rng, bytes, rng.pick(MUTATIONS));
      // A frame that declares more than it carries leaves the connection waiting: close it.
      return plain(split(rng, bytes), rng.chance(0.5) ? 'close' : 'continue');
    }
    case 'pipelined': {
      const frames: Buffer[] = [];
      const n = rng.range(2, 40);
      for (let i = 0; i < n; i++) frames.push(validFrame(rng, rng.pick(REQUEST_TYPES), ctx));
      return plain(split(rng, Buffer.concat(frames)));
    }
    case 'worker-session': {
      const fns = Array.from({ length: rng.range(1, 3) }, () => functionName(rng));
      const frames: Buffer[] = [];
      if (rng.chance(0.3)) frames.push(buildFrame('REQ', 22, Buffer.from(`fuzz-worker-${rng.int(100)}`)));
      for (const f of fns) {
        frames.push(rng.chance(0.7) ? buildFrame('REQ', 1, Buffer.from(f)) : buildFrame('REQ', 23, joinArgs([Buffer.from(f), Buffer.from(String(rng.range(1, 3000)))])));
      }
      const steps = rng.range(1, 12);
      for (let i = 0; i < steps; i++) {
        const type = rng.weighted([
          [30, rng.pick([9, 30, 39])],
          [10, 4],
          [10, 12],
          [20, 13],
          [8, 14],
          [8, 25],
          [8, 28],
          [4, 29],
          [4, 2],
          [2, 3],
        ]);
        frames.push(validFrame(rng, type, ctx));
      }
      return plain(split(rng, Buffer.concat(frames)), rng.weighted([[70, 'continue'], [15, 'close'], [15, 'hold']]), rng.range(10, 300));
    }
    case 'client-session': {
      const frames: Buffer[] = [];
      if (rng.chance(0.3)) frames.push(buildFrame('REQ', 26, Buffer.from('exceptions')));
      const steps = rng.range(1, 10);
      for (let i = 0; i < steps; i++) {
        const type = rng.weighted([
          [40, rng.pick(SUBMIT_TYPES)],
          [8, 36],
          [6, rng.pick([37, 38])],
          [2, 35],
          [15, 15],
          [8, 41],
          [15, 16],
          [6, 22],
        ]);
        frames.push(validFrame(rng, type, ctx));
      }
      return plain(split(rng, Buffer.concat(frames)), rng.weighted([[75, 'continue'], [20, 'close'], [5, 'hold']]), rng.range(10, 200));
    }
    case 'admin': {
      const lines = Array.from({ length: rng.range(1, 4) }, () => adminLine(rng, ctx) + (rng.chance(0.5) ? '\r\n' : '\n'));
      return plain(split(rng, Buffer.from(lines.join(''), 'latin1')));
    }
    case 'random-bytes': {
      const b = rng.bytes(rng.range(1, 4096));
      const first = rng.weighted([[40, 0], [30, rng.range(0x20, 0x7e)], [30, b[0]!]]);
      b[0] = first;
      return plain(split(rng, b), 'close');
    }
    case 'long-admin': {
      const len = rng.weighted([
        [60, rng.pick([8191, 8192, 8193, 8194])],
        [30, rng.range(9000, 64 * 1024)],
        [10, 1024 * 1024],
      ]);
      const line = Buffer.alloc(len, rng.pick([0x61, 0x20, 0x7e]));
      line[0] = 0x73; // 's': a line the server must read as text
      const terminated = rng.chance(0.5);
      return plain(split(rng, terminated ? Buffer.concat([line, Buffer.from('\n')]) : line), 'close');
    }
    case 'tls-hello':
      return plain(split(rng, ctx.tlsHello), rng.chance(0.7) ? 'hold' : 'close', rng.range(20, 300));
    case 'stall': {
      // Half a frame (or just its header), then silence: the server must not wait on it for others.
      const frame = validFrame(rng, rng.pick(REQUEST_TYPES), ctx);
      const huge = rng.chance(0.3);
      if (huge) frame.writeUInt32BE(rng.pick([DEFAULT_MAX_PACKET, 1024 * 1024, 100_000]), 8);
      const cut = huge ? frame.length : rng.range(1, Math.max(1, frame.length - 1));
      return plain([frame.subarray(0, cut)], 'hold', rng.chance(0.1) ? rng.range(1000, 3000) : rng.range(20, 300));
    }
    case 'no-read': {
      // Many echo requests whose replies are never read: output back-pressure.
      const big = buildFrame('REQ', 16, rng.bytes(rng.pick([1024, 16 * 1024, 64 * 1024])));
      const n = rng.range(10, 100);
      return plain([Buffer.concat(Array.from({ length: n }, () => big))], 'hold', rng.range(50, 500), true);
    }
  }
}
