/**
 * grep PATTERN: the lines of every node's logs that match, like GNU grep — raw lines, including
 * lines that do not parse — in a defined order: (time, node, file, offset). A line with no
 * readable time takes the time of the line before it in its file. `-c` counts instead (per node
 * and in total).
 */
import fs from 'node:fs';
import { z } from 'zod';
import { defineJob, type MapContext, type SortedJob, type SummaryJob } from '../src/mapreduce/job-definition.ts';

const params = z.object({
  pattern: z.string().min(1, 'grep needs a PATTERN'),
  regex: z.boolean().default(false),
  ignoreCase: z.boolean().default(false),
  invert: z.boolean().default(false),
  count: z.boolean().default(false),
  withNode: z.boolean().default(false),
});
type Params = z.infer<typeof params>;

/** Finds the lines of a chunk that match, calling `onLine(start, end)` once per line (end excludes \n). */
type LineMatcher = (chunk: Buffer, onLine: (start: number, end: number) => void) => void;

function lineEnd(chunk: Buffer, from: number): number {
  const nl = chunk.indexOf(10, from);
  return nl < 0 ? chunk.length : nl;
}

function lineStart(chunk: Buffer, at: number): number {
  return at === 0 ? 0 : chunk.lastIndexOf(10, at - 1) + 1;
}

function matcher(p: Params): LineMatcher {
  if (!p.regex && !p.ignoreCase && !p.invert) {
    // Hot path: a byte search over the raw chunk, no per-line work for lines that do not match.
    const needle = Buffer.from(p.pattern, 'utf8');
    return (chunk, onLine) => {
      let pos = chunk.indexOf(needle);
      while (pos >= 0) {
        const start = lineStart(chunk, pos);
        const end = lineEnd(chunk, pos);
        onLine(start, end);
        if (end >= chunk.length) return;
        pos = chunk.indexOf(needle, end + 1);
      }
    };
  }
  const source = p.regex ? p.pattern : p.pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  // Lines are matched as Latin-1 text (one char per byte), so offsets stay byte offsets.
  const re = new RegExp(Buffer.from(source, 'utf8').toString('latin1'), p.ignoreCase ? 'i' : '');
  return (chunk, onLine) => {
    const text = chunk.toString('latin1');
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      const hit = re.test(text.slice(start, end));
      if (hit !== p.invert) onLine(start, end);
      start = end + 1;
    }
  };
}

/** Per file being read: the time of the last line that had one (for lines without a time). */
const carried = new WeakMap<MapContext<Params>, { time: number | undefined; next: number }>();

/** Time of the nearest line with a readable time before byte `offset` of `file` (reads backwards). */
function timeBefore(ctx: MapContext<Params>, offset: number): number {
  if (offset <= 0) return 0;
  const fd = fs.openSync(ctx.file, 'r');
  try {
    let end = offset;
    const step = 64 * 1024;
    for (let read = 0; end > 0 && read < 4 * 1024 * 1024; read += step) {
      const start = Math.max(0, end - step);
      const buf = Buffer.allocUnsafe(end - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      let e = buf.length;
      if (buf[e - 1] === 10) e--;
      while (e > 0) {
        const s = buf.lastIndexOf(10, e - 1) + 1;
        if (s === 0 && start > 0) break; // a partial line: read further back
        const t = ctx.timeOf(buf, s, e);
        if (t !== undefined) return t;
        e = s - 1;
      }
      end = start + (e > 0 ? e : 0);
      if (start === 0) break;
    }
    return 0;
  } catch {
    return 0; // a gzip file: no random access; such lines sort first
  } finally {
    fs.closeSync(fd);
  }
}

/** Effective time of the line at [start, end): its own, else the nearest earlier one in the file. */
function effectiveTime(ctx: MapContext<Params>, chunk: Buffer, chunkOffset: number, start: number, end: number): number {
  const own = ctx.timeOf(chunk, start, end);
  if (own !== undefined) return own;
  let e = start - 1;
  while (e > 0) {
    const s = chunk.lastIndexOf(10, e - 1) + 1;
    const t = ctx.timeOf(chunk, s, e);
    if (t !== undefined) return t;
    e = s - 1;
  }
  const c = carried.get(ctx);
  if (c && c.next === chunkOffset && c.time !== undefined) return c.time;
  return timeBefore(ctx, chunkOffset);
}

/** Remember the last readable time of a chunk for the next one. */
function carry(ctx: MapContext<Params>, chunk: Buffer, chunkOffset: number): void {
  let e = chunk.length;
  if (e > 0 && chunk[e - 1] === 10) e--;
  let time: number | undefined;
  while (e > 0 && time === undefined) {
    const s = chunk.lastIndexOf(10, e - 1) + 1;
    time = ctx.timeOf(chunk, s, e);
    e = s - 1;
  }
  const prev = carried.get(ctx);
  carried.set(ctx, { time: time ?? (prev && prev.next === chunkOffset ? prev.time : undefined), next: chunkOffset + chunk.length });
}

/** The constant middle of a shard's keys (`node\0file\0`), made once per shard. */
const middles = new WeakMap<MapContext<Params>, Buffer>();

const TIME_BIAS = 2 ** 52;

/** Sort key (time, node, file, offset), compared bytewise: big-endian numbers, NUL-ended names. */
function sortKey(ctx: MapContext<Params>, time: number, offset: number): Buffer {
  let middle = middles.get(ctx);
  if (!middle) {
    middle = Buffer.from(`${ctx.node}\0${ctx.file}\0`, 'utf8');
    middles.set(ctx, middle);
  }
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

function nodeOfKey(key: Buffer): string {
  return key.toString('utf8', 8, key.indexOf(0, 8));
}

const grepLines: SortedJob<Params> = {
  kind: 'sorted',
  name: 'grep',
  description: 'lines that match PATTERN, in time order across all nodes',
  params,
  input: () => ({ lines: true }),
  mapSorted(chunk, chunkOffset, emit, ctx) {
    const match = matcher(ctx.params);
    let matched = 0;
    match(chunk, (start, end) => {
      if (!ctx.accepts(chunk, start, end)) return;
      matched++;
      const time = effectiveTime(ctx, chunk, chunkOffset, start, end);
      emit(sortKey(ctx, time, chunkOffset + start), chunk.subarray(start, end));
    });
    carry(ctx, chunk, chunkOffset);
    ctx.count('matched', matched);
  },
  formatValue(key, value, p) {
    return p.withNode ? Buffer.concat([Buffer.from(`${nodeOfKey(key)}:`), value]) : value;
  },
};

interface CountState {
  perNode: Record<string, number>;
}

const grepCount: SummaryJob<Params, CountState, { total: number; perNode: Record<string, number> }> = {
  kind: 'summary',
  name: 'grep',
  description: 'count the lines that match PATTERN, per node and in total',
  params,
  input: () => ({ lines: true }),
  create: () => ({ perNode: {} }),
  mapChunk(state, chunk, ctx) {
    const match = matcher(ctx.params);
    let n = 0;
    match(chunk, (start, end) => {
      if (ctx.accepts(chunk, start, end)) n++;
    });
    state.perNode[ctx.node] = (state.perNode[ctx.node] ?? 0) + n;
    ctx.count('matched', n);
  },
  merge(into, other) {
    for (const [node, n] of Object.entries(other.perNode)) into.perNode[node] = (into.perNode[node] ?? 0) + n;
    return into;
  },
  finalize(state) {
    const total = Object.values(state.perNode).reduce((a, b) => a + b, 0);
    return { total, perNode: state.perNode };
  },
  render(result) {
    const nodes = Object.keys(result.perNode).sort();
    return {
      json: result,
      tables: [
        {
          columns: ['node', 'matching lines'],
          rows: [...nodes.map((n) => [n, result.perNode[n]!] as [string, number]), ['total', result.total]],
        },
      ],
    };
  },
};

export default defineJob<Params>({
  kind: 'family',
  name: 'grep',
  description: 'search raw log lines on every node (fixed string; --regex, -i, -v, -c)',
  params,
  cli: {
    positionals: ['pattern'],
    flags: {
      regex: { param: 'regex', type: 'boolean', alias: 'E' },
      i: { param: 'ignoreCase', type: 'boolean', alias: 'ignore-case' },
      v: { param: 'invert', type: 'boolean', alias: 'invert-match' },
      c: { param: 'count', type: 'boolean', alias: 'count' },
      'with-node': { param: 'withNode', type: 'boolean' },
    },
    usage: 'grep [-i] [-v] [-c] [--regex] [--with-node] PATTERN',
  },
  select: (p) => (p.count ? grepCount : grepLines),
});
