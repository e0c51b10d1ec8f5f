/**
 * The fenced blocks of a Markdown document and the test markers before them, for the test that
 * runs the README (test/multihost/readme.test.ts).
 *
 * A marker is an HTML comment on the line before a block, `<!-- test: D; D; … -->`, whose
 * directives say how the block runs and what is checked:
 *
 *   on HOST            run it on that host of the bed (default `local`)
 *   service /RE/       it keeps running (a server, a node): started, then its output must match RE;
 *                      stopped when its `##` section ends
 *   expect /RE/        once it has run, its output (stdout, then stderr) must match RE (repeatable)
 *   exit N             the exit status it must end with (default 0)
 *   file NAME          a file of the session, written to NAME in the host's directory, not run
 *   status-classes     its output holds a table of status classes (`2xx  1,234`) equal to awk's
 *                      count over the logs the test gave the nodes
 *   ship-pipe          an Apache CustomLog line: its piped command runs with a few lines as input
 *   layout             a listing of paths, each of which must exist
 *   skip REASON        not run; REASON names what checks it instead (the test files it names
 *                      must exist)
 *
 * `sh` and `ts` blocks without a marker run on `local`; any other block needs a marker.
 */

export type Directive =
  | { readonly kind: 'on'; readonly host: string }
  | { readonly kind: 'service'; readonly ready: RegExp }
  | { readonly kind: 'expect'; readonly re: RegExp }
  | { readonly kind: 'exit'; readonly status: number }
  | { readonly kind: 'file'; readonly name: string }
  | { readonly kind: 'status-classes' }
  | { readonly kind: 'ship-pipe' }
  | { readonly kind: 'layout' }
  | { readonly kind: 'skip'; readonly reason: string };

export interface Block {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  /** The `##` section it is in (its title). */
  readonly section: string;
  /** Undefined without a marker. */
  readonly directives: readonly Directive[] | undefined;
}

const MARKER = /^<!--\s*test:\s*(.*?)\s*-->$/;

function regex(text: string, where: string): RegExp {
  const m = /^\/(.*)\/([a-z]*)$/.exec(text);
  if (!m) throw new Error(`${where}: '${text}' is not a /regex/`);
  return new RegExp(m[1]!, m[2]);
}

export function parseMarker(text: string, where: string): Directive[] {
  if (/^skip\b/.test(text)) return [{ kind: 'skip', reason: text.replace(/^skip;?\s*/, '') }];
  return text.split(/;\s*/).map((part): Directive => {
    const [word, ...rest] = part.split(' ');
    const arg = rest.join(' ');
    switch (word) {
      case 'on':
        return { kind: 'on', host: arg };
      case 'service':
        return { kind: 'service', ready: regex(arg, where) };
      case 'expect':
        return { kind: 'expect', re: regex(arg, where) };
      case 'exit':
        return { kind: 'exit', status: Number(arg) };
      case 'file':
        return { kind: 'file', name: arg };
      case 'status-classes':
      case 'ship-pipe':
      case 'layout':
        return { kind: word };
      default:
        throw new Error(`${where}: unknown test directive '${part}'`);
    }
  });
}

/** Every fenced block of `markdown`, in order. */
export function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const open = /^```(\S*)\s*$/.exec(line);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README line ${i + 1}: a fence that does not close`);
    const before = i > 0 ? MARKER.exec(lines[i - 1]!.trim()) : null;
    blocks.push({
      line: i + 1,
      lang: open[1]!,
      code: lines.slice(i + 1, end).join('\n') + '\n',
      section,
      directives: before ? parseMarker(before[1]!, `README line ${i}`) : undefined,
    });
    i = end;
  }
  return blocks;
}
