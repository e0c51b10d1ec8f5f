/**
 * Top-K from exact counts. Partials keep exact key → count maps (never a per-chunk top-K, which
 * would lose keys that are just below the cut in every chunk); the cut happens once, at the end.
 */

/** Compares by weight, largest first, then by key (code-unit order) so ties are deterministic. */
export function byWeightThenKey(a: readonly [string, number], b: readonly [string, number]): number {
  return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/**
 * The `limit` entries with the largest weight (0 = all), largest first, ties by key. Selection
 * keeps a bounded min-heap, so cutting 100,000 keys to 20 does not sort them all.
 */
export function topK<V>(entries: Iterable<readonly [string, V]>, weight: (value: V) => number, limit: number): Array<[string, V]> {
  const all: Array<[string, V, number]> = [];
  if (limit <= 0) {
    for (const [k, v] of entries) all.push([k, v, weight(v)]);
    return sortDesc(all);
  }
  // Min-heap of the best `limit` so far; the root is the worst of them.
  const heap = all;
  const worse = (a: [string, V, number], b: [string, V, number]) => a[2] < b[2] || (a[2] === b[2] && a[0] > b[0]);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(heap[i]!, heap[p]!)) return;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  for (const [k, v] of entries) {
    const item: [string, V, number] = [k, v, weight(v)];
    if (heap.length < limit) {
      heap.push(item);
      up(heap.length - 1);
    } else if (worse(heap[0]!, item)) {
      heap[0] = item;
      down(0);
    }
  }
  return sortDesc(heap);
}

function sortDesc<V>(items: Array<[string, V, number]>): Array<[string, V]> {
  items.sort((a, b) => b[2] - a[2] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return items.map(([k, v]) => [k, v]);
}
