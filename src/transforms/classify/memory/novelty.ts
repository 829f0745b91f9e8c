/**
 * Single flight beyond a leaf's support. Once a leaf may answer, the alerts it holds back are held back by one check
 * each: a value the leaf never saw, a number outside its range, an unseen pair. Alerts held back by the same check on
 * the same values (the same new host role, a count beyond the same range) would teach the leaf the same thing, so of
 * a backlog only the first are asked — for a number its lowest and its highest, so that one answer each way decides
 * all those in between — and the others wait for their answers (verdict-memory.ts, NOVELTY_ROUNDS). Not under a
 * dismissal: a burst's first answers must not stretch a dismissal over the rest of the burst (review-rounds.test.ts).
 */
import type { FeatureValue } from "./features.js";

/** What an alert held back by a check is new in. */
export interface Novelty {
  /** The check and the alert's value of each categorical feature it looked at: alerts sharing it learn the same. */
  key: string;
  /** The first number the check looked at, by which a group's first asks are chosen; null when none. */
  measure: string | null;
}

export function noveltyOf(reason: string, on: readonly string[], values: Readonly<Record<string, FeatureValue>>): Novelty {
  // A number is one key whatever its value; a text is its JSON, so that no text ("#", one with a NUL) reads as a number
  // or as two features (review-novelty.test.ts).
  const parts = on.map((f) => {
    const v = values[f];
    return typeof v === "number" ? [f, "#"] : [f, JSON.stringify(v ?? null)];
  });
  return { key: JSON.stringify([reason, ...parts]), measure: on.find((f) => typeof values[f] === "number") ?? null };
}

/**
 * Of alerts new in the same way, the ones to ask first: those with the lowest and the highest value of the measure
 * (one alert when they are the same, or when there is no measure: the first).
 */
export function firstAsks<T extends object>(group: readonly T[], measure: string | null, valuesOf: (t: T) => Readonly<Record<string, FeatureValue>>): T[] {
  const numbers = measure === null ? [] : group.filter((t) => typeof valuesOf(t)[measure] === "number");
  if (numbers.length === 0) return group.slice(0, 1);
  const num = (t: T): number => valuesOf(t)[measure!] as number;
  let lo = numbers[0]!;
  let hi = numbers[0]!;
  for (const t of numbers) {
    if (num(t) < num(lo)) lo = t;
    if (num(t) > num(hi)) hi = t;
  }
  return lo === hi ? [lo] : [lo, hi];
}
