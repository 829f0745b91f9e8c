// Adversarial review of c924cdf: ti.strong as an identity class, the guard's measures judged by a dismissal's own
// sources (zero stretch), and the per-host-role range of deciding numbers (roleRanges).
import { describe, expect, it } from "vitest";
import { KeyDeriver } from "../../../../../src/core/cache-keys.js";
import { keyOptionsFrom } from "../../../../../src/transforms/classify/cache/index.js";
import { alertFeatures, STRONG_INTEL, type FeatureValue } from "../../../../../src/transforms/classify/memory/features.js";
import { RuleTree, type Example } from "../../../../../src/transforms/classify/memory/tree.js";
import { cacheConfig, intel, item } from "../cache/support.js";
import { ex, FP, POLICY, REFUSED, strongSplitTree, TP, WEAK } from "./tree-support.js";

const GUARD = { abuseScoreMin: 90, vtMaliciousMin: 5 };
const keys = new KeyDeriver(keyOptionsFrom(cacheConfig()));

describe("review c924cdf: ti.strong and the guard's measures", () => {
  it("holds: ti.strong is derived from the operator's thresholds, and absent (never 'no') without enrichment", () => {
    const v = (e: Parameters<typeof item>[1]) => alertFeatures(item({}, e), keys, GUARD).values;
    expect(v(intel(89, 4))[STRONG_INTEL]).toBe("no");
    expect(v(intel(90, 0))[STRONG_INTEL]).toBe("yes");
    expect(v(null)[STRONG_INTEL]).toBeUndefined();
  });

  it("holds: a dismissal leaf taught by weak sources does not answer a strong, an absent or an invented ti.strong", () => {
    const tree = strongSplitTree();
    const base = { ...WEAK, "ti.abuse.score": 50 };
    expect(tree.lookup(base)).toMatchObject({ kind: "answer", label: FP });
    // Absent ti.strong (no enrichment) goes down the "!= yes"... or "= no" side: either way, never answered by this leaf.
    const { [STRONG_INTEL]: _drop, ...absent } = base;
    expect(tree.lookup(absent)).not.toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup({ ...base, [STRONG_INTEL]: "maybe" })).not.toMatchObject({ kind: "answer", label: FP });
  });

  it("holds: the same identity check binds a dismissal leaf that never split on ti.strong", () => {
    // Pure dismissals, all weak: no split at all, yet a strong source is asked (and the guard would raise it anyway).
    const tree = new RuleTree(
      [10, 20, 30].map((s, i) => ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": s }, `198.51.${100 + i}.7`)),
      POLICY,
    );
    expect(tree.lookup({ user: "user", n: 3, "ti.strong": "no", "ti.abuse.score": 20 })).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup({ user: "user", n: 3, "ti.strong": "yes", "ti.abuse.score": 20 })).toMatchObject({
      kind: "ask",
      reason: "unseen_value",
      feature: STRONG_INTEL,
    });
  });

  it("holds: a leaf of guard-refused dismissals (strong sources) never answers a weak source, split on ti.strong or not", () => {
    const refused = [92, 95, 99].map((s, i) => ex(REFUSED, { n: 3, "ti.strong": "yes", "ti.abuse.score": s }, `203.0.${113 + i}.7`));
    const tree = new RuleTree(refused, POLICY);
    expect(tree.lookup({ user: "user", n: 3, "ti.strong": "yes", "ti.abuse.score": 95 })).toMatchObject({ kind: "answer", label: REFUSED });
    // A weak source inside the score range the leaf saw (ti.strong "no"): asked.
    expect(tree.lookup({ user: "user", n: 3, "ti.strong": "no", "ti.abuse.score": 95 })).toMatchObject({ kind: "ask", feature: STRONG_INTEL });
  });

  it("holds: the guard's measures get zero stretch, on either side, even with no split on them", () => {
    const tree = strongSplitTree();
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 84 })).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "ti.abuse.score" });
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 9 })).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "ti.abuse.score" });
    // ti.vt.malicious: the leaf only saw 0.
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 50, "ti.vt.malicious": 1 })).toMatchObject({ kind: "ask", feature: "ti.vt.malicious" });
  });

  it("holds: NaN and Infinity on a guard measure are asked, not dismissed", () => {
    const tree = strongSplitTree();
    for (const s of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])
      expect(tree.lookup({ ...WEAK, "ti.abuse.score": s })).toMatchObject({ kind: "ask", reason: "out_of_range" });
  });

  it("holds: a non-numeric guard measure ('skipped:private', 'error') the leaf never had is asked, and a number where the leaf only had statuses too", () => {
    const tree = strongSplitTree();
    for (const s of ["skipped:private", "error"]) expect(tree.lookup({ ...WEAK, "ti.abuse.score": s })).toMatchObject({ kind: "ask", reason: "unseen_value" });
    const statuses = new RuleTree(
      [0, 1, 2].map((i) => ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": "skipped:private", "ti.vt.malicious": "skipped:private" }, `10.0.${i}.7`)),
      POLICY,
    );
    const internal = { user: "user", n: 3, "ti.strong": "no", "ti.abuse.score": "skipped:private", "ti.vt.malicious": "skipped:private" };
    expect(statuses.lookup(internal)).toMatchObject({ kind: "answer", label: FP });
    expect(statuses.lookup({ ...internal, "ti.abuse.score": 80, "ti.vt.malicious": 0 })).toMatchObject({ kind: "ask", reason: "unseen_value" });
  });

  it("FINDING: one analyst override widens every model dismissal's reach over the guard's measures", () => {
    // The analyst closed one scanner at score 89 (a vendor's pentest): evidence about that alert, "never support for reuse".
    const override = ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": 89, "ti.vt.malicious": 0 }, "192.0.2.7", "override");
    const tree = strongSplitTree([override]);
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 50 })).toMatchObject({ kind: "answer", label: FP });
    // Any other weak source at 89 (just under the guard) is now dismissed by the model answers' leaf, whose own sources
    // reached 83: the reach is the override's, not the model's (roleRanges counts model answers only; this does not).
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 89 })).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "ti.abuse.score" });
  });

  it("holds: numbers an attacker writes into fields never become non-finite features (no Infinity-wide envelope)", () => {
    for (const v of ["9".repeat(400), `-${"9".repeat(400)}`, "1e999", "NaN", "Infinity"]) {
      const f = alertFeatures(item({ fields: { failed_logins: v, hour: v, rule_id: "R-1" } }), keys, GUARD).values;
      for (const x of [f["fields.failed_logins"], f["fields.hour"]]) if (typeof x === "number") expect(Number.isFinite(x)).toBe(true);
    }
  });

  it("FINDING: a dismissal's provenance states a guard-measure range the alert was never checked against (its measure is a status)", () => {
    // The leaf's sources: mostly scored, one whose AbuseIPDB lookup failed. No split separates them (all dismissed).
    const fp = [10, 40, 60].map((s, i) => ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": s, "ti.vt.malicious": 0 }, `198.51.${100 + i}.7`));
    const failed = ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": "error", "ti.vt.malicious": 0 }, "198.51.110.7");
    const tree = new RuleTree([...fp, failed], POLICY);
    const found = tree.lookup({ ...WEAK, "ti.abuse.score": "error" });
    expect(found).toMatchObject({ kind: "answer", label: FP });
    // The conditions tell the analyst "ti.abuse.score in 10..60" for an alert whose source has no score at all: the
    // dismissal looks checked against the source's reputation when it was not. They should say so instead.
    const conditions = found.kind === "answer" ? found.conditions : [];
    expect(conditions).not.toContain("ti.abuse.score in 10..60");
  });
});

describe("review c924cdf: the per-role range of deciding numbers (roleRanges)", () => {
  const FAMILY = { rules: 4, proven: new Map([["hour", 3]]) };
  const alert = (asset: string, hour: FeatureValue) => ({ user: "user", n: 3, asset, hour });

  function roleTree(extra: Example[] = []): RuleTree {
    const other = [2, 3, 22, 23].map((h, i) => ex(FP, { n: 2 + i, asset: "other", hour: h }, `198.51.${100 + i}.7`));
    const server = [9, 12, 14, 16].map((h, i) => ex(FP, { n: 2 + i, asset: "server", hour: h }, `198.51.${110 + i}.7`));
    const tp = [ex(TP, { n: 40, asset: "server", hour: 3 }), ex(TP, { n: 42, asset: "other", hour: 12 })];
    return new RuleTree([...other, ...server, ...tp, ...extra], POLICY, FAMILY);
  }

  it("holds: the role 'none' (no host) is judged like any role: only by the leaf's answers without a host", () => {
    const tree = roleTree([0, 1, 2].map((i) => ex(FP, { n: 3, asset: "none", hour: 10 + i }, `198.51.${120 + i}.7`)));
    expect(tree.lookup(alert("none", 11))).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup(alert("none", 3))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
  });

  it("holds: a role the leaf never saw is asked by coverage (and never reaches the per-role envelope)", () => {
    const tree = roleTree();
    expect(tree.lookup(alert("dc", 12))).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "asset" });
    expect(tree.lookup(alert("server|asset=other", 3))).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "asset" });
    // Many invented roles do not grow the tree's envelope cache (roleRanges is not reached for them).
    const cache = (tree as unknown as { envelopes: Map<string, unknown> }).envelopes;
    const before = cache.size;
    for (let i = 0; i < 200; i++) tree.lookup(alert(`role-${i}`, 12));
    expect(cache.size).toBe(before);
  });

  it("holds: dropping the deciding number, or sending it as text, does not skip the check", () => {
    const tree = roleTree();
    const { hour: _h, ...noHour } = alert("server", 3);
    expect(tree.lookup(noHour)).not.toMatchObject({ kind: "answer" });
    expect(tree.lookup(alert("server", "03"))).not.toMatchObject({ kind: "answer" });
    expect(tree.lookup(alert("server", Number.NaN))).not.toMatchObject({ kind: "answer" });
  });

  it("holds: analyst overrides on a role do not widen the role's range (model answers only)", () => {
    const tree = roleTree([ex(FP, { n: 3, asset: "server", hour: 3 }, "198.51.130.7", "override")]);
    expect(tree.lookup(alert("server", 3))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
  });

  it("FINDING: a dismissal leaf short of support reports an alert outside its per-role range as covered (it may wait, then be dismissed by a range the same burst widened)", () => {
    // Two dismissals (three needed): off-hours on a kiosk, working hours on a server; the hour decides in the family.
    const tree = new RuleTree(
      [ex(FP, { n: 3, asset: "other", hour: 3 }, "198.51.100.7"), ex(FP, { n: 3, asset: "server", hour: 12 }, "198.51.101.7")],
      POLICY,
      FAMILY,
    );
    const found = tree.lookup(alert("server", 3));
    expect(found).toMatchObject({ kind: "ask", reason: "support" });
    // With a third answer (another working-hours server) the same alert is asked for the role range...
    const third = new RuleTree(
      [
        ex(FP, { n: 3, asset: "other", hour: 3 }, "198.51.100.7"),
        ex(FP, { n: 3, asset: "server", hour: 12 }, "198.51.101.7"),
        ex(FP, { n: 3, asset: "server", hour: 14 }, "198.51.102.7"),
      ],
      POLICY,
      FAMILY,
    );
    expect(third.lookup(alert("server", 3))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
    // ...so it is not covered by what the leaf has seen now (covered omits roleRanges: verdict-memory lets it wait).
    expect(found).toMatchObject({ covered: false });
  });

  it("FINDING: sibling rules proven on something else dilute the family below half and switch the per-role check off", () => {
    // The same leaf, the same alert: with 3 of 4 siblings proven on the hour, 3 a.m. on a server is asked.
    const exs = roleTree().examples;
    expect(new RuleTree(exs, POLICY, FAMILY).lookup(alert("server", 3))).toMatchObject({ kind: "ask", reason: "unseen_combination" });
    // Three more siblings (invented alert names of the same format, each with a proven split on a field of the
    // attacker's choosing) make it 3 of 7: the hour no longer "decides", and the real attack is dismissed.
    const flooded = {
      rules: 7,
      proven: new Map([
        ["hour", 3],
        ["fields.x", 3],
      ]),
    };
    expect(new RuleTree(exs, POLICY, flooded).lookup(alert("server", 3))).not.toMatchObject({ kind: "answer", label: FP });
  });
});
