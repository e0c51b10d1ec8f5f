/**
 * grep PATTERN: the lines of every node's logs that match, like GNU grep — raw lines, including
 * lines that do not parse — in a defined order: (time, node, file, offset). A line with no
 * readable time takes the time of the line before it in its file. `-c` counts instead (per node
 * and in total), `-l` lists the files (`node:path`). With -A/-B/-C, each group of lines GNU grep
 * would print together sorts by its first selected line, and `--` separates groups.
 */
import { z } from 'zod';
import {
  carry,
  checkPatterns,
  ContextGrouper,
  defineJob,
  effectiveTime,
  encodeGroup,
  FirstRecords,
  forEachLine,
  grepFormatter,
  grepSortKey,
  isGzipSync,
  keyMiddle,
  lineSelector,
  readLinesBefore,
  readLinesFrom,
  type GrepLine,
  type LineSelector,
  type MapContext,
  type PatternOptions,
  type Region,
  type SortedJob,
  type SummaryJob,
} from 'geartrain/jobs';

/** Above this -m, map tasks do not hold back their first lines (the root still stops at N). */
const MAX_HELD_BACK = 10_000;

const count = z.number().int().min(0);
const params = z
  .object({
    pattern: z.string().optional(),
    /** -e PATTERN, repeatable; with it, no positional PATTERN. */
    patterns: z.array(z.string()).default([]),
    regex: z.boolean().default(false),
    ignoreCase: z.boolean().default(false),
    invert: z.boolean().default(false),
    count: z.boolean().default(false),
    filesWithMatches: z.boolean().default(false),
    onlyMatching: z.boolean().default(false),
    maxCount: z.number().int().min(1).optional(),
    after: count.optional(),
    before: count.optional(),
    context: count.optional(),
    withNode: z.boolean().default(false),
    withFilename: z.boolean().default(false),
  })
  .superRefine((p, ctx) => {
    if (p.pattern === undefined && p.patterns.length === 0) ctx.addIssue({ code: 'custom', path: ['pattern'], message: 'grep needs a PATTERN (or -e PATTERN)' });
    if (p.pattern !== undefined && p.patterns.length > 0) {
      ctx.addIssue({ code: 'custom', path: ['pattern'], message: `with -e, give every pattern with -e (there are no file arguments: '${p.pattern}' would be one)` });
    }
    if (p.count && p.maxCount !== undefined) ctx.addIssue({ code: 'custom', path: ['maxCount'], message: '-m limits the printed lines; with -c it is not supported' });
    const bad = checkPatterns(patternOptions(p));
    if (bad) ctx.addIssue({ code: 'custom', path: ['pattern'], message: bad });
  });
type Params = z.infer<typeof params>;

function patternOptions(p: Params): PatternOptions {
  return { patterns: p.patterns.length > 0 ? p.patterns : [p.pattern ?? ''], regex: p.regex, ignoreCase: p.ignoreCase, invert: p.invert };
}

/** -A/-B with -C as the default of both, as in GNU grep. */
function contextOf(p: Params): { after: number; before: number } {
  return { after: p.after ?? p.context ?? 0, before: p.before ?? p.context ?? 0 };
}

/** What a shard's map calls share: the selector, the key middle, and with context the grouper. */
interface ShardState {
  readonly select: LineSelector;
  readonly middle: Buffer;
  readonly first: FirstRecords | null;
  emit: (key: Buffer, value: Buffer) => void;
  readonly grouper: ContextGrouper | null;
  /** Offset just past the last chunk seen (where reading on after the range starts). */
  next: number;
}

const shards = new WeakMap<MapContext<Params>, ShardState>();

function stateOf(ctx: MapContext<Params>, chunkOffset: number, emit: (key: Buffer, value: Buffer) => void): ShardState {
  let st = shards.get(ctx);
  if (st) {
    st.emit = emit;
    return st;
  }
  const p = ctx.params;
  const { after, before } = contextOf(p);
  const max = p.maxCount;
  const first = max !== undefined && max <= MAX_HELD_BACK ? new FirstRecords(max) : null;
  const middle = keyMiddle(ctx.node, ctx.file);
  const out = (key: Buffer, value: Buffer, selected: number) => (first ? first.add(key, value, selected) : st!.emit(key, value));
  const grouper = after > 0 || before > 0 ? new ContextGrouper(after, before, (g) => out(grepSortKey(middle, g.time, g.firstOffset), encodeGroup(g), g.selected)) : null;
  st = { select: lineSelector(patternOptions(p)), middle, first, emit, grouper, next: chunkOffset };
  shards.set(ctx, st);
  if (grouper && chunkOffset > 0) {
    // Replay the lines before the range: a group running into it began in an earlier task.
    const { buf, start } = readLinesBefore(ctx.file, chunkOffset, after + before + 1);
    pushLines(st, ctx, buf, start, 'before');
  }
  return st;
}

/** Feeds every line of `buf` (at `offset` of the file) to the grouper; returns the selected ones. */
function pushLines(st: ShardState, ctx: MapContext<Params>, buf: Buffer, offset: number, region: Region): number {
  const selected = new Set<number>();
  st.select(buf, (start, end) => {
    if (ctx.accepts(buf, start, end)) selected.add(start);
  });
  forEachLine(buf, (start, end) => {
    const line: GrepLine = { buf, start, end, offset: offset + start, selected: selected.has(start) };
    st.grouper!.push(line, region, () => effectiveTime(ctx, buf, offset, start, end));
  });
  return selected.size;
}

const grepLines: SortedJob<Params> = {
  kind: 'sorted',
  name: 'grep',
  description: 'lines that match PATTERN, in time order across all nodes',
  params,
  input: () => ({ lines: true }),
  mapSorted(chunk, chunkOffset, emit, ctx) {
    const st = stateOf(ctx, chunkOffset, emit);
    let matched = 0;
    if (st.grouper) matched = pushLines(st, ctx, chunk, chunkOffset, 'own');
    else {
      st.select(chunk, (start, end) => {
        if (!ctx.accepts(chunk, start, end)) return;
        matched++;
        const key = grepSortKey(st.middle, effectiveTime(ctx, chunk, chunkOffset, start, end), chunkOffset + start);
        const line = chunk.subarray(start, end);
        if (st.first) st.first.add(key, line, 1);
        else emit(key, line);
      });
    }
    carry(ctx, chunk, chunkOffset);
    st.next = chunkOffset + chunk.length;
    ctx.count('matched', matched);
  },
  mapSortedEnd(emit, ctx) {
    const st = shards.get(ctx);
    if (!st) return;
    st.emit = emit;
    const grouper = st.grouper;
    if (grouper?.ownsOpenGroup && !isGzipSync(ctx.file)) {
      // Our last group may go on past the range: read on until it closes.
      readLinesFrom(ctx.file, st.next, (buf, offset) => pushLines(st, ctx, buf, offset, 'after'), () => grouper.ownsOpenGroup);
    }
    grouper?.close();
    st.first?.drain(emit);
  },
  createFormatter(p) {
    return grepFormatter({ ...patternOptions(p), ...contextOf(p), onlyMatching: p.onlyMatching, withNode: p.withNode, withFilename: p.withFilename, maxCount: p.maxCount ?? 0 });
  },
};

/** Selected lines of a chunk (`-c`, `-l`), filters applied. */
function countSelected(select: LineSelector, chunk: Buffer, ctx: MapContext<Params>): number {
  let n = 0;
  select(chunk, (start, end) => {
    if (ctx.accepts(chunk, start, end)) n++;
  });
  return n;
}

const selectors = new WeakMap<MapContext<Params>, LineSelector>();
function selectorOf(ctx: MapContext<Params>): LineSelector {
  let s = selectors.get(ctx);
  if (!s) selectors.set(ctx, (s = lineSelector(patternOptions(ctx.params))));
  return s;
}

interface CountState {
  perNode: Record<string, number>;
}

const grepCount: SummaryJob<Params, CountState, { total: number; perNode: Record<string, number> }> = {
  kind: 'summary',
  name: 'grep',
  description: 'count the lines that match PATTERN, per node and in total',
  params,
  // Counting keeps nothing of a chunk once it is scanned.
  input: () => ({ lines: true, transient: true }),
  create: () => ({ perNode: {} }),
  mapChunk(state, chunk, ctx) {
    const n = countSelected(selectorOf(ctx), chunk, ctx);
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
          units: [undefined, 'count'],
          rows: [...nodes.map((n) => [n, result.perNode[n]!] as [string, number]), ['total', result.total]],
        },
      ],
    };
  },
};

const grepFiles: SummaryJob<Params, { files: string[] }, { files: string[] }> = {
  kind: 'summary',
  name: 'grep',
  description: 'the files (node:path) with a line that matches PATTERN',
  params,
  // Counting keeps nothing of a chunk once it is scanned.
  input: () => ({ lines: true, transient: true }),
  create: () => ({ files: [] }),
  mapChunk(state, chunk, ctx) {
    const name = `${ctx.node}:${ctx.file}`;
    if (state.files.includes(name)) return;
    if (countSelected(selectorOf(ctx), chunk, ctx) > 0) state.files.push(name);
  },
  merge(into, other) {
    for (const f of other.files) if (!into.files.includes(f)) into.files.push(f);
    return into;
  },
  finalize: (state) => ({ files: [...state.files].sort() }),
  render: (result) => ({ json: result, text: result.files.join('\n') }),
};

export default defineJob<Params>({
  kind: 'family',
  name: 'grep',
  description: 'search raw log lines on every node (fixed strings; -E for regular expressions)',
  params,
  cli: {
    positionals: ['pattern'],
    flags: {
      e: { param: 'patterns', type: 'string', multiple: true, alias: 'regexp' },
      regex: { param: 'regex', type: 'boolean', alias: 'E' },
      i: { param: 'ignoreCase', type: 'boolean', alias: 'ignore-case' },
      v: { param: 'invert', type: 'boolean', alias: 'invert-match' },
      c: { param: 'count', type: 'boolean', alias: 'count' },
      l: { param: 'filesWithMatches', type: 'boolean', alias: 'files-with-matches' },
      o: { param: 'onlyMatching', type: 'boolean', alias: 'only-matching' },
      m: { param: 'maxCount', type: 'number', alias: 'max-count' },
      A: { param: 'after', type: 'number', alias: 'after-context' },
      B: { param: 'before', type: 'number', alias: 'before-context' },
      C: { param: 'context', type: 'number', alias: 'context' },
      H: { param: 'withFilename', type: 'boolean', alias: 'with-filename' },
      'with-node': { param: 'withNode', type: 'boolean' },
    },
    usage: 'grep [-ivclo] [-E] [-m N] [-A N] [-B N] [-C N] [-H] [--with-node] PATTERN | -e PATTERN…',
    help: `  PATTERN                a fixed string (as grep -F); '' matches every line
  -e, --regexp PATTERN   a pattern (repeatable: a line matches if any does)
  -E, --regex            patterns are regular expressions (JavaScript syntax)
  -i, --ignore-case      ignore case
  -v, --invert-match     select the lines that do not match
  -c, --count            count the selected lines, per node and in total
  -l, --files-with-matches  the files with a selected line, as node:path
  -o, --only-matching    print only the matching parts, one per line
  -m, --max-count N      stop after N selected lines in all (the first N in the run's order)
  -A/-B/-C N             N lines of context after / before / around each selected line;
                         '--' between groups, each group in order of its first selected line
  -H, --with-filename    prefix node:path:offset: (node:path-offset- on context lines)
  --with-node            prefix node: (node- on context lines)
Output order: (time, node, path, offset); a line with no readable time takes the time of the
line before it in its file.
`,
  },
  select: (p) => (p.count ? grepCount : p.filesWithMatches ? grepFiles : grepLines),
});
