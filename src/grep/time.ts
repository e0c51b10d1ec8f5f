/**
 * The time a grep line sorts by: its own, else that of the nearest earlier line with a readable
 * time in its file (read backwards across chunk and range starts), else 0.
 */
import fs from 'node:fs';
import type { MapContext } from '../mapreduce/job-definition.ts';

/** Per file being read: the time of the last line that had one (for lines without a time). */
const carried = new WeakMap<MapContext<unknown>, { time: number | undefined; next: number }>();

/** Time of the nearest line with a readable time before byte `offset` of `file` (reads backwards). */
function timeBefore(ctx: MapContext<unknown>, offset: number): number {
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
export function effectiveTime(ctx: MapContext<unknown>, chunk: Buffer, chunkOffset: number, start: number, end: number): number {
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
export function carry(ctx: MapContext<unknown>, chunk: Buffer, chunkOffset: number): void {
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

