/** Optimal-string-alignment edit distance (insert, delete, substitute, swap two neighbours), stopping past `max`. */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
      row.push(d);
      if (d < best) best = d;
    }
    if (best > max) return max + 1;
    prev2 = prev;
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest of `candidates` to `name` when it is close enough to be a typo of it (≤ 2 edits, ≤ 3 for long names). */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const max = name.length > 12 ? 3 : 2;
  let best: string | undefined;
  let bestDistance = max + 1;
  for (const c of candidates) {
    const d = editDistance(name, c, max);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}
