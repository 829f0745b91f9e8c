// Adversarial review of 176d64e (fixes of review-strong.test.ts's findings) and a4703ac (ti.strong = "yes" skipped
// for non-dismissal leaves).
import { describe, expect, it } from "vitest";
import { STRONG_INTEL, type FeatureValue } from "../../../../../src/transforms/classify/memory/features.js";
import { classificationOf, isRefusedLabel, labelOf, RuleTree } from "../../../../../src/transforms/classify/memory/tree.js";
import { ex, FP, NR, POLICY, REFUSED, strongSplitTree, TP, WEAK } from "./tree-support.js";

const envelopes = (t: RuleTree) => (t as unknown as { envelopes: Map<string, { n: number }> }).envelopes;

describe("review 176d64e: a dismissal's reach is its model answers'", () => {
  it("holds: an override at a numeric guard measure no longer widens the model dismissals' reach (either side)", () => {
    const tree = strongSplitTree([
      ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": 89, "ti.vt.malicious": 4 }, "192.0.2.7", "override"),
      ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": 1, "ti.vt.malicious": 0 }, "192.0.3.7", "override"),
    ]);
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 50 })).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 89 })).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "ti.abuse.score" });
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 1 })).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "ti.abuse.score" });
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": 50, "ti.vt.malicious": 4 })).toMatchObject({ kind: "ask", feature: "ti.vt.malicious" });
    // The provenance states the model answers' range, not the overrides'.
    const found = tree.lookup({ ...WEAK, "ti.abuse.score": 50 });
    expect(found.kind === "answer" ? found.conditions : []).toContain("ti.abuse.score in 10..83");
  });

  it("holds: an override on another asset role or user class does not let the model dismissals answer it", () => {
    const models = [0, 1, 2].map((i) => ex(FP, { n: 3, asset: "workstation", hour: 10 + i }, `198.51.${100 + i}.7`));
    const tree = new RuleTree(
      [
        ...models,
        ex(FP, { n: 3, asset: "dc", hour: 11 }, "192.0.2.7", "override"),
        ex(FP, { n: 3, asset: "workstation", hour: 11, user: "privileged" }, "192.0.3.7", "override"),
      ],
      POLICY,
    );
    expect(tree.lookup({ user: "user", n: 3, asset: "workstation", hour: 11 })).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup({ user: "user", n: 3, asset: "dc", hour: 11 })).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "asset" });
    expect(tree.lookup({ user: "privileged", n: 3, asset: "workstation", hour: 11 })).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "user" });
  });

  it("FINDING: an override whose guard measure is a status ('error') still widens every model dismissal to alerts whose lookup failed (the guard is blind there)", () => {
    // Without the override, a failed AbuseIPDB lookup is asked (the leaf's model answers all had scores).
    expect(strongSplitTree().lookup({ ...WEAK, "ti.abuse.score": "error" })).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "ti.abuse.score" });
    // One analyst closes one alert whose lookup failed: evidence about that alert, "never support for reuse". Yet the
    // status goes through the sourceStatus branch (env = own, overrides included), not ownModels: every later alert
    // whose score lookup fails (strongThreatIntel cannot raise it) is dismissed on the model answers' authority.
    const tree = strongSplitTree([ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": "error", "ti.vt.malicious": 0 }, "192.0.2.7", "override")]);
    expect(tree.lookup({ ...WEAK, "ti.abuse.score": "error" })).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "ti.abuse.score" });
  });

  it("FINDING: a dismissal's provenance states a guard-measure range for an alert that has no such measure at all", () => {
    // Model dismissals, some of sources that were scored, one of an alert without enrichment (no ti.* at all).
    const scored = [10, 40, 60].map((s, i) => ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": s, "ti.vt.malicious": 0 }, `198.51.${100 + i}.7`));
    const bare = ex(FP, { n: 3 }, "198.51.110.7");
    const tree = new RuleTree([...scored, bare], POLICY);
    const found = tree.lookup({ user: "user", n: 3 });
    expect(found).toMatchObject({ kind: "answer", label: FP });
    // The analyst reads "ti.abuse.score in 10..60" for an alert whose source was never scored: the status fix covers a
    // string value only, not an absent one (values[f] undefined; the check itself compared MISSING).
    const conditions = found.kind === "answer" ? found.conditions : [];
    expect(conditions.some((c) => c.startsWith("ti.abuse.score in") || c.startsWith("ti.vt.malicious ="))).toBe(false);
  });

  it("holds: a status measure is stated as a status in the provenance", () => {
    const scored = [10, 40, 60].map((s, i) => ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": s, "ti.vt.malicious": 0 }, `198.51.${100 + i}.7`));
    const failed = ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": "error", "ti.vt.malicious": 0 }, "198.51.110.7");
    const found = new RuleTree([...scored, failed], POLICY).lookup({ ...WEAK, "ti.abuse.score": "error" });
    expect(found).toMatchObject({ kind: "answer", label: FP });
    const conditions = found.kind === "answer" ? found.conditions : [];
    expect(conditions).toContain("ti.abuse.score = error");
    expect(conditions).toContain("ti.vt.malicious = 0");
  });
});

describe("review 176d64e: the envelope cache keys", () => {
  it("holds: `${leaf}|model`, `${leaf}|asset=${role}`, 'rule', `label:${label}` and leaf ids never collide, whatever the role is named", () => {
    // Roles named after the other keys' shapes; an override on each role too.
    const roles = ["model", "", "|model", "rule", `label:${FP}`];
    const models = roles.flatMap((asset, k) => [0, 1].map((i) => ex(FP, { n: 3, asset, hour: 10 + i }, `198.51.${100 + k * 2 + i}.7`)));
    const overrides = roles.map((asset, k) => ex(FP, { n: 3, asset, hour: 3 }, `192.0.${k}.7`, "override"));
    const FAMILY = { rules: 4, proven: new Map([["hour", 3]]) };
    const tree = new RuleTree([...models, ...overrides], POLICY, FAMILY);
    for (const asset of roles) {
      expect(tree.lookup({ user: "user", n: 3, asset, hour: 10 })).toMatchObject({ kind: "answer", label: FP });
      // 3 a.m. was seen on each role by an override only: asked on every role.
      expect(tree.lookup({ user: "user", n: 3, asset, hour: 3 })).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
    }
    const cache = envelopes(tree);
    expect(cache.get("r|model")?.n).toBe(models.length);
    for (const asset of roles) expect(cache.get(`r|asset=${asset}`)?.n).toBe(2);
    expect(cache.get("r")?.n).toBe(models.length + overrides.length);
    expect(cache.get("rule")?.n).toBe(models.length + overrides.length);
  });
});

describe("review 176d64e: the family's count of deciding features", () => {
  const FAMILY = { rules: 4, proven: new Map([["hour", 3]]) };
  const alert = (asset: string, hour: FeatureValue) => ({ user: "user", n: 3, asset, hour });
  function roleTree(): RuleTree {
    const other = [2, 3, 22, 23].map((h, i) => ex(FP, { n: 2 + i, asset: "other", hour: h }, `198.51.${100 + i}.7`));
    const server = [9, 12, 14, 16].map((h, i) => ex(FP, { n: 2 + i, asset: "server", hour: h }, `198.51.${110 + i}.7`));
    const tp = [ex(TP, { n: 40, asset: "server", hour: 3 }), ex(TP, { n: 42, asset: "other", hour: 12 })];
    return new RuleTree([...other, ...server, ...tp], POLICY, FAMILY);
  }

  it("holds: however many sibling rules are invented, the per-role check stays on (absolute count)", () => {
    const exs = roleTree().examples;
    for (const rules of [7, 50, 10_000]) {
      const flooded = {
        rules,
        proven: new Map([
          ["hour", 3],
          ["fields.x", rules - 3],
        ]),
      };
      expect(new RuleTree(exs, POLICY, flooded).lookup(alert("server", 3))).toMatchObject({
        kind: "ask",
        reason: "unseen_combination",
        feature: "asset x hour",
      });
      expect(new RuleTree(exs, POLICY, flooded).lookup(alert("server", 12))).toMatchObject({ kind: "answer", label: FP });
    }
  });

  it("holds: a support-short dismissal leaf reports covered only inside its per-role range", () => {
    const tree = new RuleTree(
      [ex(FP, { n: 3, asset: "other", hour: 3 }, "198.51.100.7"), ex(FP, { n: 3, asset: "server", hour: 12 }, "198.51.101.7")],
      POLICY,
      FAMILY,
    );
    expect(tree.lookup(alert("server", 3))).toMatchObject({ kind: "ask", reason: "support", covered: false });
    expect(tree.lookup(alert("server", 12))).toMatchObject({ kind: "ask", reason: "support", covered: true });
  });

  it("FINDING: invented sibling rules still dilute a categorical feature's family share (decidesInFamily), so a dismissal answers a value only another leaf had", () => {
    // Dismissals all on interactive logons; the rule's true_positives (big n) include a network logon. The rule splits on n.
    const fp = [0, 1, 2].map((i) => ex(FP, { n: 3, "fields.logon": "interactive" }, `198.51.${100 + i}.7`));
    const tp = [
      ex(TP, { n: 40, "fields.logon": "network" }),
      ex(TP, { n: 42, "fields.logon": "interactive" }),
      ex(TP, { n: 44, "fields.logon": "interactive" }),
    ];
    const real = { rules: 4, proven: new Map([["fields.logon", 3]]) };
    const attack = { user: "user", n: 3, "fields.logon": "network" };
    // The logon type decides in 3 of 4 siblings: the dismissal leaf answers only the logon types it saw.
    expect(new RuleTree([...fp, ...tp], POLICY, real).lookup(attack)).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "fields.logon" });
    // Three invented sibling rules proven on a field of the attacker's choosing: 3 of 7, no longer "most", and the
    // network logon is dismissed — the dilution 176d64e removed from roleRanges, left in decidesInFamily.
    const flooded = {
      rules: 7,
      proven: new Map([
        ["fields.logon", 3],
        ["fields.x", 3],
      ]),
    };
    expect(new RuleTree([...fp, ...tp], POLICY, flooded).lookup(attack)).not.toMatchObject({ kind: "answer", label: FP });
  });
});

describe("review a4703ac: ti.strong = yes skipped for non-dismissal leaves", () => {
  it("holds: never for a dismissal leaf, whatever its severity", () => {
    for (const sev of ["low", "medium", "high", "critical"]) {
      const label = labelOf("false_positive", sev);
      const tree = new RuleTree(
        [10, 20, 30].map((s, i) => ex(label, { n: 3, "ti.strong": "no", "ti.abuse.score": s }, `198.51.${100 + i}.7`)),
        POLICY,
      );
      expect(tree.lookup({ user: "user", n: 3, "ti.strong": "no", "ti.abuse.score": 20 })).toMatchObject({ kind: "answer", label });
      expect(tree.lookup({ user: "user", n: 3, "ti.strong": "yes", "ti.abuse.score": 20 })).toMatchObject({
        kind: "ask",
        reason: "unseen_value",
        feature: STRONG_INTEL,
      });
    }
  });

  it("holds: a refused leaf (a stored model dismissal, tree-side needs_review) reached by a strong source answers its refused label, never a dismissal label, and still asks a weak or unenriched one", () => {
    expect(isRefusedLabel(REFUSED)).toBe(true);
    expect(classificationOf(REFUSED)).toBe("needs_review");
    const tree = new RuleTree(
      [92, 95, 99].map((s, i) => ex(REFUSED, { n: 3, "ti.strong": "yes", "ti.abuse.score": s }, `203.0.${113 + i}.7`)),
      POLICY,
    );
    // "yes" matches what the guard will re-raise on reuse (features and applyGuard use the same strongThreatIntel).
    expect(tree.lookup({ user: "user", n: 3, "ti.strong": "yes", "ti.abuse.score": 95 })).toMatchObject({ kind: "answer", label: REFUSED });
    expect(tree.lookup({ user: "user", n: 3, "ti.strong": "no", "ti.abuse.score": 95 })).toMatchObject({ kind: "ask", feature: STRONG_INTEL });
    expect(tree.lookup({ user: "user", n: 3, "ti.abuse.score": 95 })).toMatchObject({ kind: "ask", feature: STRONG_INTEL });
  });

  it("holds: the skip only lets a weak-taught needs_review/true_positive answer a strong source, never the converse, nor an absent or odd ti.strong", () => {
    for (const label of [NR, TP]) {
      const tree = new RuleTree(
        [0, 1].map((i) => ex(label, { n: 3, "ti.strong": "no" }, `198.51.${100 + i}.7`)),
        POLICY,
      );
      expect(tree.lookup({ user: "user", n: 3, "ti.strong": "yes" })).toMatchObject({ kind: "answer", label });
      expect(tree.lookup({ user: "user", n: 3 })).toMatchObject({ kind: "ask", feature: STRONG_INTEL });
      expect(tree.lookup({ user: "user", n: 3, "ti.strong": "YES" })).toMatchObject({ kind: "ask", feature: STRONG_INTEL });
      const strongTaught = new RuleTree(
        [0, 1].map((i) => ex(label, { n: 3, "ti.strong": "yes" }, `203.0.${113 + i}.7`)),
        POLICY,
      );
      expect(strongTaught.lookup({ user: "user", n: 3, "ti.strong": "no" })).toMatchObject({ kind: "ask", feature: STRONG_INTEL });
    }
  });

  it("holds: a strong source routed by a ti.strong split never lands in the weak side's dismissal leaf", () => {
    const tree = strongSplitTree();
    const found = tree.lookup({ ...WEAK, "ti.strong": "yes", "ti.abuse.score": 96 });
    expect(found).not.toMatchObject({ kind: "answer", label: FP });
    expect(found).toMatchObject({ kind: "answer", label: TP });
  });
});
