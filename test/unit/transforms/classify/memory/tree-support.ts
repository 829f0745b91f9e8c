// Shared by the RuleTree unit tests: the policy, labels and hand-made examples the trees are built from.
import type { FeatureValue } from "../../../../../src/transforms/classify/memory/features.js";
import { labelOf, refusedLabelOf, RuleTree, type Example, type TreePolicy } from "../../../../../src/transforms/classify/memory/tree.js";

export const POLICY: TreePolicy = { minSupport: 2, minSupportFalsePositive: 3, minSourcesFalsePositive: 2, maxDepth: 8 };
export const TP = labelOf("true_positive", "high");
export const FP = labelOf("false_positive", "low");
export const NR = labelOf("needs_review", "medium");
export const REFUSED = refusedLabelOf("low");

let n = 0;
/** One example (an ordinary user unless `values` says otherwise); ids and the default source vary per call. */
export function ex(label: string, values: Record<string, FeatureValue>, source: string | null = `198.51.100.${n % 200}`, by: Example["by"] = "model"): Example {
  n++;
  return { id: `e${n}`, label, values: { user: "user", ...values }, source, at: n, by };
}

/** Weak-source dismissals (scores 10..83) beside strong sources' true_positives: a tree split on ti.strong. */
export function strongSplitTree(extra: Example[] = []): RuleTree {
  const fp = [10, 40, 60, 83].map((s, i) => ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": s, "ti.vt.malicious": 0 }, `198.51.${100 + i}.7`));
  const tp = [95, 97].map((s, i) => ex(TP, { n: 3, "ti.strong": "yes", "ti.abuse.score": s, "ti.vt.malicious": 0 }, `203.0.${113 + i}.7`));
  return new RuleTree([...fp, ...extra, ...tp], POLICY);
}

/** A weak source's alert the strongSplitTree's dismissal leaf covers, but for its score. */
export const WEAK = { user: "user", n: 3, "ti.strong": "no", "ti.vt.malicious": 0 };
