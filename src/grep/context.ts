/**
 * grep -A/-B/-C over byte ranges of a file: selected lines with their context, grouped as GNU grep
 * prints them (two selected lines with at most A+B other lines between them are one group, no
 * `--` between them).
 *
 * A map task reads the lines that start in its range [s, e), but a group may cross both ends. The
 * rule that makes every task agree without talking to the others: a group belongs to the task
 * whose range holds its first selected line. A task therefore first replays the A+B+1 lines
 * before s (read backwards from the file): a selected line among them means the group that
 * reaches into the range began earlier, and the task skips it until it ends. At e, a group the task
 * owns is completed by reading on past e until A+B+1 unselected lines in a row close it.
 */
import fs from 'node:fs';

/** A line: a view `[start, end)` of `buf` (no `\n`), at byte `offset` of its file. */
export interface GrepLine {
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
  readonly offset: number;
  readonly selected: boolean;
}

export interface Group {
  readonly lines: GrepLine[];
  /** Index in `lines` of the last selected line. */
  lastSelected: number;
  /** Selected lines in the group. */
  selected: number;
  /** Effective time of the first selected line (for the run's order). */
  time: number;
  /** Byte offset of the first selected line. */
  readonly firstOffset: number;
}

/** Where a line comes from: before the task's range, in it, or after it. */
export type Region = 'before' | 'own' | 'after';

export class ContextGrouper {
  readonly #after: number;
  readonly #before: number;
  readonly #onGroup: (group: Group) => void;
  #history: GrepLine[] = [];
  #group: Group | null = null;
  #owned = false;

  constructor(after: number, before: number, onGroup: (group: Group) => void) {
    this.#after = after;
    this.#before = before;
    this.#onGroup = onGroup;
  }

  /** A group is open that this task owns: reading past the range end must go on. */
  get ownsOpenGroup(): boolean {
    return this.#group !== null && this.#owned;
  }

  /**
   * Next line in file order. A selected line with no group open starts one, owned when the line
   * is in the range; `timeOf` gives its time then. After the range no group starts.
   */
  push(line: GrepLine, region: Region, timeOf: () => number): void {
    const g = this.#group;
    if (g) {
      g.lines.push(line);
      if (line.selected) {
        g.lastSelected = g.lines.length - 1;
        g.selected++;
      } else if (g.lines.length - 1 - g.lastSelected > this.#after + this.#before) this.close();
    } else if (line.selected && region !== 'after') {
      this.#owned = region === 'own';
      const lines = [...this.#history, line];
      this.#group = { lines, lastSelected: lines.length - 1, selected: 1, time: this.#owned ? timeOf() : 0, firstOffset: line.offset };
    }
    if (this.#before > 0) {
      this.#history.push(line);
      if (this.#history.length > this.#before) this.#history.shift();
    }
  }

  /** Ends the open group: its lines up to A after its last selected one go out if it is ours. */
  close(): void {
    const g = this.#group;
    this.#group = null;
    if (!g || !this.#owned) return;
    g.lines.length = Math.min(g.lines.length, g.lastSelected + this.#after + 1);
    this.#onGroup(g);
  }
}

const BLOCK = 64 * 1024;

/**
 * The last `count` lines that end before byte `offset` (a line start) of a plain file, as one
 * buffer and the offset of its first byte. Synchronous: map functions are.
 */
export function readLinesBefore(file: string, offset: number, count: number): { buf: Buffer; start: number } {
  if (offset <= 0 || count <= 0) return { buf: Buffer.alloc(0), start: offset };
  const fd = fs.openSync(file, 'r');
  try {
    let start = offset;
    let buf = Buffer.alloc(0);
    // Newlines before `offset`: the one ending the previous line, then one per further line.
    for (;;) {
      const from = Math.max(0, start - BLOCK);
      const block = Buffer.allocUnsafe(start - from);
      fs.readSync(fd, block, 0, block.length, from);
      buf = Buffer.concat([block, buf]);
      start = from;
      let newlines = 0;
      let at = buf.length;
      while ((at = at > 0 ? buf.lastIndexOf(10, at - 1) : -1) >= 0) {
        if (newlines === count) return { buf: buf.subarray(at + 1), start: start + at + 1 };
        newlines++;
      }
      if (start === 0) return { buf, start: 0 };
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Whole lines of a plain file from byte `offset` (a line start) on, block by block, until
 * `more()` says enough or the file ends. The last line may lack its `\n`.
 */
export function readLinesFrom(file: string, offset: number, onChunk: (chunk: Buffer, chunkOffset: number) => void, more: () => boolean): void {
  const fd = fs.openSync(file, 'r');
  try {
    let pos = offset;
    let carry = Buffer.alloc(0);
    while (more()) {
      const block = Buffer.allocUnsafe(BLOCK);
      const n = fs.readSync(fd, block, 0, BLOCK, pos);
      if (n === 0) {
        if (carry.length > 0) onChunk(carry, pos - carry.length);
        return;
      }
      const data = carry.length > 0 ? Buffer.concat([carry, block.subarray(0, n)]) : block.subarray(0, n);
      const chunkOffset = pos - carry.length;
      pos += n;
      const last = data.lastIndexOf(10);
      if (last < 0) {
        carry = data;
        continue;
      }
      carry = Buffer.from(data.subarray(last + 1));
      onChunk(data.subarray(0, last + 1), chunkOffset);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether a file starts with gzip's magic bytes (its offsets are not the file's). */
export function isGzipSync(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return fs.readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    fs.closeSync(fd);
  }
}
