import type { RunRecord } from './runs.ts';

interface Head {
  record: RunRecord;
  source: number;
  iterator: AsyncIterator<RunRecord>;
}

function less(a: Head, b: Head): boolean {
  const c = Buffer.compare(a.record.key, b.record.key);
  return c < 0 || (c === 0 && a.source < b.source);
}

/**
 * Streaming k-way merge of sorted runs with a binary heap: O(N log k) comparisons, and memory
 * bounded by one record per source plus whatever each source buffers. Equal keys come out in
 * source order, so the merge is stable.
 */
export async function* mergeRuns(sources: readonly AsyncIterable<RunRecord>[]): AsyncGenerator<RunRecord> {
  const heap: Head[] = [];
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  try {
    for (let i = 0; i < iterators.length; i++) {
      const r = await iterators[i]!.next();
      if (!r.done) push(heap, { record: r.value, source: i, iterator: iterators[i]! });
    }
    while (heap.length > 0) {
      const top = heap[0]!;
      yield top.record;
      const r = await top.iterator.next();
      if (r.done) {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          siftDown(heap, 0);
        }
      } else {
        top.record = r.value;
        siftDown(heap, 0);
      }
    }
  } finally {
    await Promise.all(iterators.map((it) => it.return?.()));
  }
}

function push(heap: Head[], h: Head): void {
  heap.push(h);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!less(heap[i]!, heap[p]!)) break;
    [heap[i], heap[p]] = [heap[p]!, heap[i]!];
    i = p;
  }
}

function siftDown(heap: Head[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && less(heap[l]!, heap[m]!)) m = l;
    if (r < heap.length && less(heap[r]!, heap[m]!)) m = r;
    if (m === i) return;
    [heap[i], heap[m]] = [heap[m]!, heap[i]!];
    i = m;
  }
}

/** Sort in memory and yield (the in-memory phase of an external sort). */
export function sortRecords(records: RunRecord[]): RunRecord[] {
  return records.sort((a, b) => Buffer.compare(a.key, b.key));
}
