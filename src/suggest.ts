/** "Did you mean": the known name nearest to a mistyped one (commands, jobs, flags, fields). */

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `gerp` is one edit from
 * `grep`, `nod` one from `node`, `--limt` one from `--limit`.
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}

/**
 * The candidate closest to `word`, if it is close enough to be what the user meant: a unique
 * candidate that `word` starts (`ana` → `analyze`), else the nearest by edit distance within about
 * a third of the word's length. Ties go to the first candidate in alphabetical order.
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...new Set(candidates)].filter((c) => c !== word).sort();
  const bare = (s: string) => s.replace(/^-+/, '');
  if (bare(word).length >= 2) {
    const prefixed = list.filter((c) => c.startsWith(word) && bare(c).length > bare(word).length);
    if (prefixed.length === 1) return prefixed[0];
  }
  const limit = Math.max(1, Math.floor(bare(word).length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of list) {
    const dist = editDistance(word, c);
    if (dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean X?)`, or '' when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : ` (did you mean ${s}?)`;
}
