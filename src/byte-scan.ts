/**
 * Byte scans over raw log chunks at memory speed: counting newlines and finding a fixed string
 * (optionally ignoring ASCII case), with WebAssembly SIMD. `Buffer.indexOf` costs a native call
 * per hit and searches at 1.4–3 GB/s; counting lines with it costs a call per line. Here a chunk
 * is copied once into the module's memory (a memcpy, ~20 GB/s), then each 16-byte block is tested
 * for the first and last byte of the pattern at once (Muła's "generic SIMD" substring search), and
 * only blocks with a candidate are looked at byte by byte.
 *
 * The module is assembled here from its instructions (no toolchain, no binary blob). Shared by
 * the map input (line counts) and grep's matcher (fixed strings); one instance per thread.
 */

// --- a minimal WebAssembly encoder -------------------------------------------------------------

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...Buffer.from(s)].map((b) => [b]));

/** Instructions, as byte arrays (`op.x(...)`), concatenated by `code`. */
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  else: [0x05],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (local: number) => [0x20, ...uleb(local)],
  set: (local: number) => [0x21, ...uleb(local)],
  load8: (offset = 0) => [0x2d, 0, ...uleb(offset)],
  store: [0x36, 2, 0],
  const: (n: number) => [0x41, ...sleb(n)],
  eqz: [0x45],
  eq: [0x46],
  ne: [0x47],
  gtU: [0x4b],
  geU: [0x4f],
  ctz: [0x68],
  popcnt: [0x69],
  add: [0x6a],
  sub: [0x6b],
  and: [0x71],
  or: [0x72],
  shl: [0x74],
  v128load: [0xfd, ...uleb(0x00), 0, 0],
  splat8: [0xfd, ...uleb(0x0f)],
  eq8: [0xfd, ...uleb(0x23)],
  vand: [0xfd, ...uleb(0x4e)],
  vor: [0xfd, ...uleb(0x50)],
  bitmask8: [0xfd, ...uleb(0x64)],
};

const code = (...parts: (number[] | number)[]): number[] => parts.flatMap((p) => (typeof p === 'number' ? [p] : p));

function func(locals: [count: number, type: number][], body: number[]): number[] {
  const b = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, ...op.end];
  return [...uleb(b.length), ...b];
}

// --- count(ptr, len) -> newlines ---------------------------------------------------------------

function countBody(): number[] {
  // params: 0 ptr, 1 len; locals: 2 end, 3 n, 4 NL (v128)
  const [ptr, len, end, n, nl] = [0, 1, 2, 3, 4];
  return func(
    [
      [2, I32],
      [1, V128],
    ],
    code(
      op.get(ptr), op.get(len), op.add, op.set(end),
      op.const(10), op.splat8, op.set(nl),
      // 64 bytes a turn
      op.block, op.loop,
      op.get(ptr), op.const(64), op.add, op.get(end), op.gtU, op.brIf(1),
      ...[0, 16, 32, 48].flatMap((o) => code(
        op.get(n),
        op.get(ptr), [0xfd, 0x00, 0, ...uleb(o)], op.get(nl), op.eq8, op.bitmask8, op.popcnt,
        op.add, op.set(n),
      )),
      op.get(ptr), op.const(64), op.add, op.set(ptr),
      op.br(0),
      op.end, op.end,
      // the rest byte by byte
      op.block, op.loop,
      op.get(ptr), op.get(end), op.geU, op.brIf(1),
      op.get(n), op.get(ptr), op.load8(), op.const(10), op.eq, op.add, op.set(n),
      op.get(ptr), op.const(1), op.add, op.set(ptr),
      op.br(0),
      op.end, op.end,
      op.get(n),
    ),
  );
}

// --- find(ptr, len, pat, m, out) -> hits -------------------------------------------------------

/**
 * Writes to `out` (i32 offsets from `ptr`) the first match of the pattern on each line, in order.
 * The pattern is `m` bytes at `pat`, followed by `m` mask bytes: a haystack byte OR its mask
 * must equal the pattern byte (mask 0x20 on letters of a lower-cased pattern ignores ASCII case).
 * The pattern holds no newline.
 */
function findBody(): number[] {
  const [ptr, len, pat, m, out] = [0, 1, 2, 3, 4];
  // `ptr` walks the chunk; `base` keeps its start (hits are offsets from it).
  const [end, n, eqm, nl, skipping, j, p, k, ok, above, base] = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const [s1, s2, f1, f2, nlv, a] = [16, 17, 18, 19, 20, 21];
  /** ok := the pattern's bytes [from, m - to) match at p. */
  const verify = (from: number, to: number) =>
    code(
      op.const(1), op.set(ok),
      op.const(from), op.set(k),
      op.block, op.loop,
      op.get(k), op.const(to), op.add, op.get(m), op.geU, op.brIf(1),
      op.get(p), op.get(k), op.add, op.load8(),
      op.get(pat), op.get(m), op.add, op.get(k), op.add, op.load8(),
      op.or,
      op.get(pat), op.get(k), op.add, op.load8(),
      op.ne, op.if, op.const(0), op.set(ok), op.br(2), op.end,
      op.get(k), op.const(1), op.add, op.set(k),
      op.br(0),
      op.end, op.end,
    );
  const record = code(op.get(out), op.get(n), op.const(2), op.shl, op.add, op.get(p), op.get(base), op.sub, op.store, op.get(n), op.const(1), op.add, op.set(n));
  const splatAt = (addr: number[], local: number) => code(addr, op.load8(), op.splat8, op.set(local));
  return func(
    [
      [11, I32],
      [6, V128],
    ],
    code(
      op.get(ptr), op.set(base),
      op.get(ptr), op.get(len), op.add, op.set(end),
      splatAt(op.get(pat), s1),
      splatAt(code(op.get(pat), op.get(m), op.add, op.const(1), op.sub), s2),
      splatAt(code(op.get(pat), op.get(m), op.add), f1),
      splatAt(code(op.get(pat), op.get(m), op.add, op.get(m), op.add, op.const(1), op.sub), f2),
      op.const(10), op.splat8, op.set(nlv),
      // 16 positions a turn, while the block of the last byte is inside
      op.block, op.loop,
      op.get(ptr), op.get(m), op.add, op.const(15), op.add, op.get(end), op.gtU, op.brIf(1),
      op.get(ptr), op.v128load, op.set(a),
      op.get(a), op.get(f1), op.vor, op.get(s1), op.eq8,
      op.get(ptr), op.get(m), op.add, op.const(1), op.sub, op.v128load, op.get(f2), op.vor, op.get(s2), op.eq8,
      op.vand, op.bitmask8, op.set(eqm),
      op.get(eqm), op.get(skipping), op.or, op.if,
      op.get(a), op.get(nlv), op.eq8, op.bitmask8, op.set(nl),
      // after a match, candidates up to the end of its line are skipped
      op.get(skipping), op.if,
      op.get(nl), op.eqz, op.if,
      op.const(0), op.set(eqm),
      op.else,
      op.get(eqm), op.const(0), op.const(2), op.get(nl), op.ctz, op.shl, op.sub, op.and, op.set(eqm),
      op.const(0), op.set(skipping),
      op.end,
      op.end,
      op.block, op.loop,
      op.get(eqm), op.eqz, op.brIf(1),
      op.get(eqm), op.ctz, op.set(j),
      op.get(ptr), op.get(j), op.add, op.set(p),
      verify(1, 1),
      op.get(ok), op.if,
      record,
      op.get(nl), op.const(0), op.const(1), op.get(j), op.shl, op.sub, op.and, op.set(above),
      op.get(above), op.eqz, op.if,
      op.const(1), op.set(skipping), op.const(0), op.set(eqm),
      op.else,
      op.get(eqm), op.const(0), op.const(2), op.get(above), op.ctz, op.shl, op.sub, op.and, op.set(eqm),
      op.end,
      op.else,
      op.get(eqm), op.get(eqm), op.const(1), op.sub, op.and, op.set(eqm),
      op.end,
      op.br(0),
      op.end, op.end,
      op.end,
      op.get(ptr), op.const(16), op.add, op.set(ptr),
      op.br(0),
      op.end, op.end,
      // the last positions one by one
      op.block, op.loop,
      op.get(ptr), op.get(m), op.add, op.get(end), op.gtU, op.brIf(1),
      op.get(ptr), op.set(p),
      op.get(p), op.load8(), op.const(10), op.eq, op.if,
      op.const(0), op.set(skipping),
      op.else,
      op.get(skipping), op.eqz, op.if,
      verify(0, 0),
      op.get(ok), op.if, record, op.const(1), op.set(skipping), op.end,
      op.end,
      op.end,
      op.get(ptr), op.const(1), op.add, op.set(ptr),
      op.br(0),
      op.end, op.end,
      op.get(n),
    ),
  );
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const types = section(1, vec([
    [0x60, ...vec([[I32], [I32]]), ...vec([[I32]])],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([[I32]])],
  ]));
  const funcs = section(3, vec([[0], [1]]));
  const memory = section(5, vec([[0x00, ...uleb(1)]]));
  const exports = section(7, vec([
    [...name('mem'), 0x02, 0],
    [...name('count'), 0x00, 0],
    [...name('find'), 0x00, 1],
  ]));
  const codes = section(10, vec([countBody(), findBody()]));
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...funcs, ...memory, ...exports, ...codes]);
}

// --- the JavaScript side -----------------------------------------------------------------------

interface Kernel {
  readonly mem: WebAssembly.Memory;
  count(ptr: number, len: number): number;
  find(ptr: number, len: number, pat: number, m: number, out: number): number;
}

const PAGE = 64 * 1024;
/** Where patterns go; chunks start at DATA. */
const PATTERNS = 0;
const DATA = PAGE;

let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  if (kernel === undefined) {
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()));
      kernel = instance.exports as unknown as Kernel;
    } catch {
      kernel = null; // no WebAssembly SIMD here: callers use Buffer methods
    }
  }
  return kernel;
}

/** Whether the SIMD kernel runs in this process (Node 16.4+ has WebAssembly SIMD). */
export function byteScanAvailable(): boolean {
  return load() !== null;
}

/** The chunk last copied in (the Buffer object), so counting its lines and searching it copy it once. */
let loaded: Buffer | null = null;
let view: Uint8Array | null = null;

/** Copies `chunk` into the module's memory (unless it is the chunk copied last), with `room` bytes after it. */
function place(k: Kernel, chunk: Buffer, room: number): void {
  const need = DATA + chunk.length + room;
  if (k.mem.buffer.byteLength < need) {
    k.mem.grow(Math.ceil((need - k.mem.buffer.byteLength) / PAGE));
    view = null;
    loaded = null;
  }
  if (loaded === chunk) return;
  view ??= new Uint8Array(k.mem.buffer);
  view.set(chunk, DATA);
  loaded = chunk;
}

/** Number of `\n` bytes in `chunk`. */
export function countNewlines(chunk: Buffer): number {
  const k = load();
  if (!k || chunk.length < 4096) {
    let n = 0;
    for (let p = chunk.indexOf(10); p >= 0; p = chunk.indexOf(10, p + 1)) n++;
    return n;
  }
  place(k, chunk, 0);
  return k.count(DATA, chunk.length);
}

/** A fixed string prepared for `find`: its bytes, and masks that ignore ASCII case if asked. */
export interface BytePattern {
  readonly bytes: Buffer;
  readonly ignoreCase: boolean;
}

const isAsciiLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * Whether `find` can search for `bytes`: not empty, no newline, and with `ignoreCase` only ASCII
 * (the case of other bytes is left to the regular expression path).
 */
export function findable(bytes: Buffer, ignoreCase: boolean): boolean {
  if (bytes.length === 0 || bytes.includes(10) || bytes.length > PAGE / 2) return false;
  return !ignoreCase || bytes.every((c) => c < 128);
}

/**
 * The offset in `chunk` of the first match on each line that has one, in order. With
 * `ignoreCase`, ASCII letters match in either case.
 */
export function findPerLine(chunk: Buffer, pattern: BytePattern): Int32Array {
  const k = load();
  if (!k) return findPerLineFallback(chunk, pattern);
  const m = pattern.bytes.length;
  // At most one hit per line, and a line with a hit holds the pattern and a newline (or ends the chunk).
  const maxHits = Math.floor(chunk.length / (m + 1)) + 1;
  place(k, chunk, maxHits * 4 + 4);
  view ??= new Uint8Array(k.mem.buffer);
  for (let i = 0; i < m; i++) {
    const c = pattern.bytes[i]!;
    const fold = pattern.ignoreCase && isAsciiLetter(c);
    view[PATTERNS + i] = fold ? c | 0x20 : c;
    view[PATTERNS + m + i] = fold ? 0x20 : 0;
  }
  const out = (DATA + chunk.length + 3) & ~3;
  const n = k.find(DATA, chunk.length, PATTERNS, m, out);
  // A copy: the module's memory is reused by the next call, and detached when it grows.
  return new Int32Array(k.mem.buffer, out, n).slice();
}

function findPerLineFallback(chunk: Buffer, pattern: BytePattern): Int32Array {
  const hits: number[] = [];
  const hay = pattern.ignoreCase ? Buffer.from(chunk.toString('latin1').toLowerCase(), 'latin1') : chunk;
  const needle = pattern.ignoreCase ? Buffer.from(pattern.bytes.toString('latin1').toLowerCase(), 'latin1') : pattern.bytes;
  for (let p = hay.indexOf(needle); p >= 0; ) {
    hits.push(p);
    const nl = hay.indexOf(10, p);
    if (nl < 0) break;
    p = hay.indexOf(needle, nl + 1);
  }
  return Int32Array.from(hits);
}
