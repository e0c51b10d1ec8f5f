/**
 * Exact counts as a mergeable state: a plain key → count object (JSON as it is on the wire),
 * merged by adding, so any order and grouping of partials gives the same counts.
 */

/** A key → count map with no prototype (a key such as `constructor` is a key like any other). */
export type Counts = Record<string, number>;

/** A new, empty count map. */
export function createCounts(): Counts {
  return Object.create(null) as Counts;
}

/** Adds `n` (default 1) to the count of `key`. */
export function addCount(counts: Counts, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Adds every count of `other` into `into`, and returns `into` (a summary job's `merge`). */
export function mergeCounts(into: Counts, other: Readonly<Counts>): Counts {
  for (const k in other) into[k] = (into[k] ?? 0) + other[k]!;
  return into;
}

/** A count map read back from its JSON (a summary job's `decode`), without a prototype. */
export function decodeCounts(data: Buffer | string): Counts {
  return Object.assign(createCounts(), JSON.parse(data.toString()) as Counts);
}

/** The entries, largest count first, ties by key (code-unit order); the first `limit` (0 = all). */
export function sortedCounts(counts: Readonly<Counts>, limit = 0): [string, number][] {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return limit > 0 ? entries.slice(0, limit) : entries;
}
