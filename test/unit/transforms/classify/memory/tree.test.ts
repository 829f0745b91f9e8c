import { describe, expect, it } from "vitest";
import type { FeatureValue } from "../../../../../src/transforms/classify/memory/features.js";
import { Combinations, featureCost, RuleTree, splitScore, type Family } from "../../../../../src/transforms/classify/memory/tree.js";
import { ex, FP, NR, POLICY, TP } from "./tree-support.js";

describe("RuleTree", () => {
  it("answers a leaf only with enough agreeing model answers (support)", () => {
    expect(new RuleTree([], POLICY).lookup({ user: "user" })).toMatchObject({ kind: "ask", reason: "empty", needed: 2 });
    const one = new RuleTree([ex(TP, { n: 5 })], POLICY);
    expect(one.lookup({ user: "user", n: 5 })).toMatchObject({ kind: "ask", reason: "support", needed: 1 });
    const two = new RuleTree([ex(TP, { n: 5 }), ex(TP, { n: 7 })], POLICY);
    expect(two.lookup({ user: "user", n: 6 })).toMatchObject({ kind: "answer", label: TP, support: 2 });
  });

  it("needs more support, from several sources, before answering false_positive", () => {
    const twoFp = new RuleTree([ex(FP, { n: 5 }), ex(FP, { n: 7 })], POLICY);
    expect(twoFp.lookup({ user: "user", n: 6 })).toMatchObject({ kind: "ask", reason: "support" });
    // Three answers, but all taught by one source (maybe the attacker): not enough to dismiss anyone's alert.
    const oneSource = new RuleTree([ex(FP, { n: 5 }, "203.0.113.9"), ex(FP, { n: 6 }, "203.0.113.9"), ex(FP, { n: 7 }, "203.0.113.9")], POLICY);
    expect(oneSource.lookup({ user: "user", n: 6 })).toMatchObject({ kind: "ask", reason: "sources" });
    const diverse = new RuleTree([ex(FP, { n: 5 }, "203.0.113.9"), ex(FP, { n: 6 }, "203.0.113.10"), ex(FP, { n: 7 }, "203.0.113.9")], POLICY);
    expect(diverse.lookup({ user: "user", n: 6 })).toMatchObject({ kind: "answer", label: FP, support: 3 });
  });

  it("splits on the numeric threshold that separates disagreeing answers, and names it in the conditions", () => {
    const exs = [ex(FP, { failed: 2 }), ex(FP, { failed: 4 }), ex(FP, { failed: 6 }), ex(NR, { failed: 20 }), ex(NR, { failed: 30 })];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.leaves).toBe(2);
    expect(tree.lookup({ user: "user", failed: 3 })).toMatchObject({ kind: "answer", label: FP, conditions: ["failed <= 6"] });
    expect(tree.lookup({ user: "user", failed: 25 })).toMatchObject({ kind: "answer", label: NR, conditions: ["failed >= 20"] });
    // Between the two sides' nearest answers is unknown ground: asked, not guessed.
    expect(tree.lookup({ user: "user", failed: 10 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
  });

  it("splits on a categorical feature and states both sides", () => {
    const tree = new RuleTree([ex(TP, { user: "privileged" }), ex(TP, { user: "privileged" }), ex(NR, { user: "user" }), ex(NR, { user: "user" })], POLICY);
    expect(tree.lookup({ user: "privileged" })).toMatchObject({ kind: "answer", label: TP, conditions: ["user = privileged"] });
    expect(tree.lookup({ user: "user" })).toMatchObject({ kind: "answer", label: NR, conditions: ["user != privileged"] });
  });

  it("retires a leaf whose answers disagree with nothing to split them on", () => {
    const tree = new RuleTree([ex(TP, { n: 5 }), ex(TP, { n: 5 }), ex(NR, { n: 5 })], POLICY);
    expect(tree.lookup({ user: "user", n: 5 })).toMatchObject({ kind: "ask", reason: "disagreement" });
  });

  it("asks for a value it has not seen with that answer, and for a number far outside the seen range", () => {
    const tree = new RuleTree([ex(TP, { n: 10, port: "22" }), ex(TP, { n: 20, port: "22" })], POLICY);
    expect(tree.lookup({ user: "user", n: 15, port: "22" })).toMatchObject({ kind: "answer" });
    expect(tree.lookup({ user: "user", n: 24, port: "22" })).toMatchObject({ kind: "answer" }); // within half the width beyond
    expect(tree.lookup({ user: "user", n: 40, port: "22" })).toMatchObject({ kind: "ask", reason: "out_of_range" });
    expect(tree.lookup({ user: "user", n: 15, port: "3389" })).toMatchObject({ kind: "ask", reason: "unseen_value" });
  });

  it("treats a feature of mostly one-off values as name-like: new values are covered and never split on", () => {
    const exs = [1, 2, 3, 4, 5].map((i) => ex(TP, { session: `s-${i}` }));
    const tree = new RuleTree([...exs, ex(NR, { session: "s-6", user: "privileged" }), ex(NR, { session: "s-7", user: "privileged" })], POLICY);
    expect(tree.lookup({ user: "user", session: "s-new" })).toMatchObject({ kind: "answer", label: TP, conditions: ["user != privileged"] });
  });

  it("needs every pair of proven deciding-feature cells seen, not just each value somewhere in the leaf", () => {
    // On dc hosts: TP for privileged users (few processes) and for many processes (ordinary users) — each value of
    // user and procs occurs, but never "ordinary user, few processes", which elsewhere in the rule is FP. Twice
    // over, so that each split pays for itself (proven): then its cells must be seen together.
    const cells: [string, Record<string, FeatureValue>][] = [
      [TP, { asset: "dc", user: "privileged", procs: 2 }],
      [TP, { asset: "dc", user: "privileged", procs: 3 }],
      [TP, { asset: "dc", user: "user", procs: 40 }],
      [TP, { asset: "dc", user: "user", procs: 45 }],
      [FP, { asset: "other", user: "user", procs: 2 }],
      [FP, { asset: "other", user: "user", procs: 3 }],
      [TP, { asset: "other", user: "privileged", procs: 2 }],
      [TP, { asset: "other", user: "privileged", procs: 3 }],
      [TP, { asset: "other", user: "user", procs: 40 }],
      [TP, { asset: "other", user: "user", procs: 44 }],
    ];
    const tree = new RuleTree(
      [...cells, ...cells].map(([label, v]) => ex(label, v)),
      POLICY,
    );
    expect(tree.lookup({ asset: "dc", user: "user", procs: 3 })).toMatchObject({ kind: "ask", reason: "unseen_combination" });
    expect(tree.lookup({ asset: "dc", user: "privileged", procs: 2 })).toMatchObject({ kind: "answer", label: TP });
  });

  it("a split that does not pay for itself routes alerts but does not make other leaves learn its cells", () => {
    // user decides (proven); under privileged one disagreeing answer at bytes 500 is split off by a threshold that
    // a handful of answers cannot justify. The ordinary-user leaf need not see both sides of that threshold.
    const exs = [
      ...[100, 110, 120, 130, 140, 150, 160].map((bytes) => ex(TP, { user: "privileged", bytes })),
      ex(NR, { user: "privileged", bytes: 500 }),
      ...[100, 200, 250, 300].map((bytes) => ex(NR, { user: "user", bytes })),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.lookup({ user: "user", bytes: 350 })).toMatchObject({ kind: "answer", label: NR, conditions: ["user != privileged"] });
    expect(tree.lookup({ user: "privileged", bytes: 130 })).toMatchObject({ kind: "answer", label: TP });
  });

  it("pairwise coverage: covered when every pair of cells was seen, even if the full combination never was", () => {
    const seen = new Combinations(
      [
        ["=a1", "=b1", "#0"],
        ["=a1", "=b2", "#1"],
        ["=a2", "=b1", "#1"],
        ["=a2", "=b2", "#0"],
      ],
      1,
    );
    expect(seen.covers(["=a1", "=b1", "#1"])).toBe(true); // a1b1, a1#1, b1#1 each seen; the triple never was
    expect(seen.covers(["=a1", "=b1", "#0"])).toBe(true);
    expect(seen.covers(["=a1", "=b3", "#0"])).toBe(false); // b3 never seen
    const twoOnly = new Combinations(
      [
        ["=a1", "=b1"],
        ["=a2", "=b2"],
      ],
      1,
    );
    expect(twoOnly.covers(["=a1", "=b2"])).toBe(false); // the interaction of two features: the pair itself
    expect(new Combinations([["#0"]], 2).covers(["#0"])).toBe(false); // one deciding feature: the cell, min times
    expect(new Combinations([["#0"], ["#0"]], 2).covers(["#0"])).toBe(true);
  });

  it("split significance (MDL): a chance threshold on a noisy number does not pay; the same separation by a two-valued feature does", () => {
    const all = new Map([
      [TP, 2],
      [FP, 2],
    ]);
    const yes = new Map([[TP, 2]]);
    // 4 answers split 2|2 perfectly: by one of 3 thresholds of a number vs by the one test of a two-valued feature.
    const noisy = splitScore(all, yes, 2, 4, 3);
    const binary = splitScore(all, yes, 2, 4, 1);
    expect(noisy.bits).toBeCloseTo(4);
    expect(binary.bits - binary.cost).toBeGreaterThan(noisy.bits - noisy.cost);
    // With 30 cut points to choose from (a bytes counter), 4 answers never justify a split.
    expect(splitScore(all, yes, 2, 4, 30).bits - splitScore(all, yes, 2, 4, 30).cost).toBeLessThan(0);
    // 20 answers separated 10|10: pays even among 19 thresholds.
    const big = splitScore(
      new Map([
        [TP, 10],
        [FP, 10],
      ]),
      new Map([[TP, 10]]),
      10,
      20,
      19,
    );
    expect(big.bits - big.cost).toBeGreaterThan(0);
  });

  it("chooses the split by bias-corrected gain: a two-valued feature over a noisy number that separates as well", () => {
    // bytes separates the answers exactly as user does (by construction), but has 5 thresholds to pick from.
    const exs = [
      ex(TP, { user: "privileged", bytes: 900 }),
      ex(TP, { user: "privileged", bytes: 700 }),
      ex(TP, { user: "privileged", bytes: 800 }),
      ex(NR, { user: "user", bytes: 100 }),
      ex(NR, { user: "user", bytes: 300 }),
      ex(NR, { user: "user", bytes: 200 }),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.lookup({ user: "privileged", bytes: 750 })).toMatchObject({ kind: "answer", label: TP, conditions: ["user = privileged"] });
  });

  it("treats a many-valued categorical no split tests as open: a new value is not a reason to ask", () => {
    // 13 share paths, each seen twice (so not one-offs: not name-like).
    const shares = Array.from({ length: 26 }, (_, i) => ex(TP, { share: `share-${i % 13}` }));
    const tree = new RuleTree(shares, POLICY);
    expect(tree.lookup({ user: "user", share: "share-new" })).toMatchObject({ kind: "answer", label: TP });
    // Not for a dismissal: a share never seen with false_positive is asked.
    const fps = Array.from({ length: 26 }, (_, i) => ex(FP, { share: `share-${i % 13}` }));
    expect(new RuleTree(fps, POLICY).lookup({ user: "user", share: "share-0" })).toMatchObject({ kind: "answer", label: FP });
    expect(new RuleTree(fps, POLICY).lookup({ user: "user", share: "share-new" })).toMatchObject({ kind: "ask", reason: "unseen_value" });
    const few = new RuleTree([ex(TP, { role: "dc" }), ex(TP, { role: "dc" }), ex(TP, { role: "server" }), ex(TP, { role: "server" })], POLICY);
    expect(few.lookup({ user: "user", role: "workstation" })).toMatchObject({ kind: "ask", reason: "unseen_value" });
  });

  it("judges a number no split tests by the leaf's own examples too: one source's reputation does not answer for another's", () => {
    // Few processes and many are needs_review, a middle band true_positive. The rule saw needs_review at scores
    // 10..95 (many processes), but the few-processes leaf was taught only by a source at score 95.
    const exs = [
      ex(NR, { procs: 2, score: 95 }),
      ex(NR, { procs: 3, score: 95 }),
      ex(NR, { procs: 4, score: 95 }),
      ex(TP, { procs: 12, score: 10 }),
      ex(TP, { procs: 14, score: 60 }),
      ex(TP, { procs: 15, score: 95 }),
      ex(NR, { procs: 30, score: 10 }),
      ex(NR, { procs: 32, score: 60 }),
      ex(NR, { procs: 35, score: 95 }),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.lookup({ user: "user", procs: 3, score: 95 })).toMatchObject({ kind: "answer", label: NR });
    expect(tree.lookup({ user: "user", procs: 31, score: 60 })).toMatchObject({ kind: "answer", label: NR });
    expect(tree.lookup({ user: "user", procs: 3, score: 60 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
  });

  it("stretches a positive number seen over orders of magnitude on a log scale (a long tail's next maximum is no news)", () => {
    const bytes = new RuleTree(
      [200, 5_000, 80_000, 3_000_000].map((b) => ex(TP, { bytes: b })),
      POLICY,
    );
    // Linear: 3e6 + half the width = 4.5e6; log: 3e6 × (3e6/200)^0.5 ≈ 3.7e8.
    expect(bytes.lookup({ user: "user", bytes: 20_000_000 })).toMatchObject({ kind: "answer", label: TP });
    expect(bytes.lookup({ user: "user", bytes: 5_000_000_000 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
    // A count over a narrow span stays linear: 10..20 reaches 25, not 40.
    const count = new RuleTree([ex(TP, { n: 10 }), ex(TP, { n: 20 })], POLICY);
    expect(count.lookup({ user: "user", n: 40 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
  });

  it("a false_positive leaf lets a new value of a many-valued text through only when it is near one it saw", () => {
    const shares = Array.from({ length: 26 }, (_, i) => ex(FP, { share: `\\\\fs-${i % 13}\\finance` }));
    const tree = new RuleTree(shares, POLICY);
    expect(tree.lookup({ user: "user", share: "\\\\fs-33\\finance" })).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup({ user: "user", share: "\\\\fs-3\\payroll exfil" })).toMatchObject({ kind: "ask", reason: "unseen_value" });
  });

  it("a false_positive leaf takes a new version string of a seen shape, not digits of another shape", () => {
    const versions = Array.from({ length: 26 }, (_, i) => ex(FP, { agent: `7.${i % 13}.${i}` }, `198.51.${i}.1`));
    const tree = new RuleTree(versions, POLICY);
    expect(tree.lookup({ user: "user", agent: "7.4.99" })).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup({ user: "user", agent: "10.13.37.66 4444" })).toMatchObject({ kind: "ask", reason: "unseen_value" });
  });

  it("counts threat-intel evidence once per source: one dominant source's reputation does not win a split over identity", () => {
    // Two sources; every answer of one is TP, of the other NR, and user separates them as well. Per alert, the score
    // and the user tie (and the score would win on name order); per source, the score has two answers, not eight.
    const exs = [
      ...[0, 1, 2, 3].map(() => ex(TP, { user: "privileged", "ti.abuse.score": 95 }, "203.0.113.9")),
      ...[0, 1, 2, 3].map(() => ex(NR, { user: "user", "ti.abuse.score": 10 }, "198.51.100.7")),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.lookup({ user: "privileged", "ti.abuse.score": 95 })).toMatchObject({ kind: "answer", conditions: ["user = privileged"] });
  });

  it("judges a number that decides in another branch by the rule's answers, except for a false_positive leaf", () => {
    // procs decides under privileged users; the ordinary-user leaf (NR) never tested it and saw procs 1..3 only.
    const exs = [
      ...[2, 3, 4].map((procs) => ex(TP, { user: "privileged", procs })),
      ...[40, 45, 50].map((procs) => ex(NR, { user: "privileged", procs })),
      ...[1, 2, 3].map((procs) => ex(NR, { user: "user", procs })),
    ];
    const tree = new RuleTree(exs, POLICY);
    // NR was answered for procs up to 50 in this rule: within that, by the leaf's own loosely (3 widths: up to 9).
    expect(tree.lookup({ user: "user", procs: 8 })).toMatchObject({ kind: "answer", label: NR });
    expect(tree.lookup({ user: "user", procs: 30 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
    // The same shape with a false_positive leaf: its own examples (1..3, stretched by a tenth of the width).
    const fps = [
      ...[2, 3, 4].map((procs) => ex(TP, { user: "privileged", procs })),
      ...[40, 45, 50].map((procs) => ex(FP, { user: "privileged", procs })),
      ...[1, 2, 3, 2].map((procs, i) => ex(FP, { user: "user", procs }, `198.51.${i}.1`)),
    ];
    const fpTree = new RuleTree(fps, POLICY);
    expect(fpTree.lookup({ user: "user", procs: 2 })).toMatchObject({ kind: "answer", label: FP });
    expect(fpTree.lookup({ user: "user", procs: 8 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
  });

  it("a source's reputation the leaf has not met: asked before a dismissal, not before a true_positive or needs_review", () => {
    // The rule saw both answers at scores 10..95; each leaf (split on user) was taught by one source's score.
    const build = (label: string) =>
      new RuleTree(
        [
          ...[0, 1, 2, 3].map((i) => ex(label, { user: "user", "ti.abuse.score": 10 }, `198.51.${i}.1`)),
          ...[0, 1, 2, 3].map((i) => ex(TP, { user: "privileged", "ti.abuse.score": 95 }, `203.0.${i}.1`)),
          ex(label, { user: "other", "ti.abuse.score": 95 }, "192.0.2.1"),
          ex(TP, { user: "other", "ti.abuse.score": 10 }, "192.0.2.2"),
        ],
        POLICY,
      );
    expect(build(NR).lookup({ user: "user", "ti.abuse.score": 60 })).toMatchObject({ kind: "answer", label: NR });
    expect(build(FP).lookup({ user: "user", "ti.abuse.score": 60 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
  });

  it("does not count analyst overrides as support, but lets them split the leaf", () => {
    const exs = [ex(TP, { n: 5 }), ex(TP, { n: 6 }), ex(NR, { n: 5 }, null, "override")];
    expect(new RuleTree(exs, POLICY).lookup({ user: "user", n: 5 })).toMatchObject({ kind: "ask", reason: "disagreement" });
    const onlyOverrides = new RuleTree([ex(NR, { n: 5 }, null, "override"), ex(NR, { n: 6 }, null, "override")], POLICY);
    expect(onlyOverrides.lookup({ user: "user", n: 5 })).toMatchObject({ kind: "ask", reason: "support" });
  });

  it("builds the same tree from the same examples in any order (instances sharing a store agree)", () => {
    const exs = [ex(FP, { failed: 2 }), ex(FP, { failed: 4 }), ex(NR, { failed: 20 }), ex(NR, { failed: 30 }), ex(TP, { failed: 25, user: "privileged" })];
    const a = new RuleTree(exs, POLICY);
    const b = new RuleTree([...exs].reverse(), POLICY);
    for (const v of [
      { user: "user", failed: 3 },
      { user: "user", failed: 22 },
      { user: "privileged", failed: 25 },
    ])
      expect(a.lookup(v)).toEqual(b.lookup(v));
  });
  describe("family prior (what the rule's siblings learnt decides which feature a split is on)", () => {
    // Four answers on which fields.parent and asset each separate one answer from the rest, fields.parent with more bits.
    const exs = () => [
      ex(TP, { asset: "dc", "fields.parent": "b" }),
      ex(TP, { asset: "dc", "fields.parent": "b" }),
      ex(TP, { asset: "workstation", "fields.parent": "a" }),
      ex(NR, { asset: "dc", "fields.parent": "a" }),
    ];
    const siblings = (proven: Record<string, number>): Family => ({ rules: 30, proven: new Map(Object.entries(proven)) });
    const root = (t: RuleTree) => t.describe().split("\n")[0];

    it("without siblings the best separation wins, even on a noise field", () => {
      expect(root(new RuleTree(exs(), POLICY))).toMatch(/^fields\.parent = /);
    });

    it("splits on what decides in the siblings before a free field that decides in none", () => {
      const tree = new RuleTree(exs(), POLICY, siblings({ asset: 30 }));
      expect(root(tree)).toMatch(/^asset = /);
    });

    it("never makes a split cheaper than the plain criterion: siblings proving every feature change nothing", () => {
      expect(featureCost("fields.parent", siblings({ "fields.parent": 30 }))).toBe(0);
      expect(featureCost("fields.parent", siblings({ "fields.parent": 99 }))).toBe(0); // a stored count beyond the siblings held
      expect(featureCost("fields.parent", siblings({}))).toBeCloseTo(Math.log2(12)); // capped
      expect(featureCost("user", siblings({}))).toBe(0); // structured features are never priced
      const all = new RuleTree(exs(), POLICY, siblings({ asset: 30, "fields.parent": 30, user: 30 }));
      expect(all.describe()).toBe(new RuleTree(exs(), POLICY).describe());
    });
  });
  it("a dismissal covers only the source classes its own answers had: an internal host is asked, not dismissed like outside ones", () => {
    const pub = (label: string, n: number, i: number) =>
      ex(label, { n, src_ip: "public", "ti.abuse.score": 10 + i, "ti.abuse.country": "us" }, `198.51.${100 + i}.7`);
    const priv = (label: string, n: number, i: number) => ex(label, { n, src_ip: "private", "ti.abuse.score": "skipped:private" }, `10.0.${i}.7`);
    // Few events from outside sources: dismissed; many events, from inside or outside: true_positive.
    const tree = new RuleTree([pub(FP, 2, 0), pub(FP, 3, 1), pub(FP, 4, 2), pub(FP, 5, 3), priv(TP, 30, 4), priv(TP, 32, 5), pub(TP, 31, 6)], POLICY);
    expect(tree.lookup({ user: "user", n: 3, src_ip: "public", "ti.abuse.score": 12, "ti.abuse.country": "us" })).toMatchObject({ kind: "answer", label: FP });
    // The rule has seen internal sources (true_positive), the dismissal leaf never did.
    expect(tree.lookup({ user: "user", n: 3, src_ip: "private", "ti.abuse.score": "skipped:private" })).toMatchObject({ kind: "ask", reason: "unseen_value" });
  });

  it("a code that decides in most sibling rules is checked in every leaf, before this rule ever split on it", () => {
    const exs = [
      ex(TP, { n: 30, "fields.zone": "dmz" }),
      ex(TP, { n: 32, "fields.zone": "dmz" }),
      ex(NR, { n: 3, "fields.zone": "dmz" }),
      ex(NR, { n: 4, "fields.zone": "lan" }),
    ];
    const alert = { user: "user", n: 31, "fields.zone": "lan" };
    // The rule split on n only: alone, a true_positive leaf taught in the dmz answers for the lan.
    expect(new RuleTree(exs, POLICY).lookup(alert)).toMatchObject({ kind: "answer", label: TP });
    const family: Family = { rules: 4, proven: new Map([["fields.zone", 3]]) };
    expect(new RuleTree(exs, POLICY, family).lookup(alert)).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "fields.zone" });
    // Fewer than half the siblings: no news.
    expect(new RuleTree(exs, POLICY, { rules: 4, proven: new Map([["fields.zone", 1]]) }).lookup(alert)).toMatchObject({ kind: "answer" });
  });

  it("features the siblings proved must have been seen together, before this rule ever split (family pairs)", () => {
    // All answers agreed, so the rule has no split: each class and role was seen, but not an ordinary user on a workstation.
    const exs = [
      ex(TP, { n: 3, asset: "workstation", user: "privileged" }),
      ex(TP, { n: 4, asset: "workstation", user: "privileged" }),
      ex(TP, { n: 3, asset: "server", user: "user" }),
      ex(TP, { n: 4, asset: "server", user: "user" }),
    ];
    const alert = { user: "user", n: 3, asset: "workstation" };
    expect(new RuleTree(exs, POLICY).lookup(alert)).toMatchObject({ kind: "answer", label: TP });
    const family: Family = {
      rules: 12,
      proven: new Map([
        ["user", 9],
        ["asset", 8],
        ["n", 7],
      ]),
    };
    expect(new RuleTree(exs, POLICY, family).lookup(alert)).toMatchObject({
      kind: "ask",
      reason: "unseen_combination",
      feature: "user x asset",
      on: ["user", "asset"],
    });
    // A pair it has seen; a number the rule has no threshold of is one cell (no pair to learn).
    expect(new RuleTree(exs, POLICY, family).lookup({ user: "user", n: 4, asset: "server" })).toMatchObject({ kind: "answer", label: TP });
    // Fewer than FAMILY_MIN_RULES siblings: no pairs.
    expect(
      new RuleTree(exs, POLICY, {
        rules: 12,
        proven: new Map([
          ["user", 2],
          ["asset", 2],
        ]),
      }).lookup(alert),
    ).toMatchObject({ kind: "answer" });
  });

  it("the user's class and the host's role are judged by the leaf's own answers, before any rule split on them", () => {
    // The rule split on n only; another leaf saw a workstation and an ordinary user, the true_positive leaf never did.
    const exs = [
      ex(TP, { n: 30, asset: "server", user: "privileged" }),
      ex(TP, { n: 32, asset: "server", user: "privileged" }),
      ex(NR, { n: 3, asset: "server", user: "privileged" }),
      ex(NR, { n: 4, asset: "workstation", user: "user" }),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.describe()).not.toContain("asset =");
    expect(tree.lookup({ n: 31, asset: "server", user: "privileged" })).toMatchObject({ kind: "answer", label: TP });
    expect(tree.lookup({ n: 31, asset: "workstation", user: "privileged" })).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "asset" });
    expect(tree.lookup({ n: 31, asset: "server", user: "user" })).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "user" });
    // A code no sibling decides on stays judged by the rule's examples.
    const coded = new RuleTree(
      exs.map((e, i) => ({ ...e, id: `c${i}`, values: { ...e.values, "fields.code": i < 3 ? "a" : "b" } })),
      POLICY,
    );
    expect(coded.lookup({ n: 31, asset: "server", user: "privileged", "fields.code": "b" })).toMatchObject({ kind: "answer", label: TP });
  });

  it("a dismissal reaches toward a split only as far as its own answers, not to another leaf's nearest example", () => {
    // Low-reputation sources: few failures dismissed, many needs_review; one hostile network is true_positive at any count.
    const fp = [2, 5, 9, 14, 20].map((f, i) => ex(FP, { failed: f, score: 10 + i }, `198.51.${100 + i}.7`));
    const nr = [40, 45, 50, 55, 60].map((f, i) => ex(NR, { failed: f, score: 12 + i }, `198.51.${110 + i}.7`));
    const tp = [3, 8, 30, 34].map((f, i) => ex(TP, { failed: f, score: 90 + i }, "203.0.113.0/24"));
    const tree = new RuleTree([...fp, ...nr, ...tp], POLICY);
    expect(tree.describe()).toMatch(/^failed >= 37/);
    expect(tree.lookup({ user: "user", failed: 12, score: 11 })).toMatchObject({ kind: "answer", label: FP });
    // 30 and 34 failures were seen below the count split, but only from the hostile network (another leaf): the
    // dismissal leaf's own answers end at 20, so 31 failures from a low-reputation source are asked.
    expect(tree.lookup({ user: "user", failed: 31, score: 11 })).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "failed" });
  });

  it("the loose own check of a long-tailed number reaches two orders of magnitude for a non-dismissal, one for a dismissal", () => {
    // Leaves by count: true_positive (n >= 30) and false_positive (n 2..5) saw 1e4..1e6 bytes; a true_positive answer
    // elsewhere in the rule saw 100 bytes, so only the leaf's own range holds a true_positive back.
    const tp = [1e4, 1e5, 1e6].map((b, i) => ex(TP, { n: 30 + i, bytes: b }));
    const fp = [1e4, 1e5, 1e6, 2e5].map((b, i) => ex(FP, { n: 2 + i, bytes: b }, `198.51.${100 + i}.7`));
    const elsewhere = [ex(TP, { n: 0, bytes: 100 }), ex(NR, { n: 15, bytes: 5e4 }), ex(NR, { n: 16, bytes: 5e5 })];
    const tree = new RuleTree([...tp, ...fp, ...elsewhere], POLICY);
    // 50× below the leaf's smallest: a true_positive is answered, a dismissal asked.
    expect(tree.lookup({ user: "user", n: 31, bytes: 200 })).toMatchObject({ kind: "answer", label: TP });
    expect(tree.lookup({ user: "user", n: 3, bytes: 200 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
    // Beyond two orders: asked either way.
    expect(tree.lookup({ user: "user", n: 31, bytes: 50 })).toMatchObject({ kind: "ask", reason: "out_of_range" });
  });

  it("whether the source's intel is strong (ti.strong) is judged by the leaf's own answers, like the user class", () => {
    // needs_review for many events, learnt from strong sources only; the rule saw weak sources elsewhere (few events).
    const exs = [
      ex(NR, { n: 30, "ti.strong": "yes" }),
      ex(NR, { n: 32, "ti.strong": "yes" }),
      ex(TP, { n: 3, "ti.strong": "no" }),
      ex(TP, { n: 4, "ti.strong": "yes" }),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.describe()).toMatch(/^n >= /);
    expect(tree.lookup({ user: "user", n: 31, "ti.strong": "yes" })).toMatchObject({ kind: "answer", label: NR });
    // The model said needs_review for these sources' reputation, perhaps: a weak source is asked.
    expect(tree.lookup({ user: "user", n: 31, "ti.strong": "no" })).toMatchObject({ kind: "ask", reason: "unseen_value", feature: "ti.strong" });
    // The converse is no reason to ask: strong intel only makes an answer more severe (a dismissal is still asked).
    const weakOnly = new RuleTree(
      exs.map((e, i) => ({ ...e, id: `w${i}`, values: { ...e.values, "ti.strong": "no" } })),
      POLICY,
    );
    expect(weakOnly.lookup({ user: "user", n: 31, "ti.strong": "yes" })).toMatchObject({ kind: "answer", label: NR });
  });

  it("a dismissal reaches over the guard's measures of the source only as far as its own sources did", () => {
    // Split on ti.strong (the score does not separate); the dismissal leaf's sources scored 10 to 83.
    const fp = [10, 40, 60, 83].map((s, i) => ex(FP, { n: 3, "ti.strong": "no", "ti.abuse.score": s }, `198.51.${100 + i}.7`));
    const tp = [50, 55].map((s, i) => ex(TP, { n: 3, "ti.strong": "yes", "ti.abuse.score": s }, `203.0.${113 + i}.7`));
    const tree = new RuleTree([...fp, ...tp], POLICY);
    expect(tree.describe()).toMatch(/^ti\.strong = /);
    const weak = { user: "user", n: 3, "ti.strong": "no" };
    expect(tree.lookup({ ...weak, "ti.abuse.score": 50 })).toMatchObject({
      kind: "answer",
      label: FP,
      conditions: expect.arrayContaining(["ti.abuse.score in 10..83"]),
    });
    // Just under the guard's threshold, above every source the leaf was taught by: asked, not dismissed.
    expect(tree.lookup({ ...weak, "ti.abuse.score": 86 })).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "ti.abuse.score" });
  });

  it("a dismissal covers a deciding number only over the range its answers had on the alert's host role", () => {
    // Dismissed: off-hours access on kiosks ("other") and working-hours access on servers; many events are true_positive.
    const other = [2, 3, 22, 23].map((h, i) => ex(FP, { n: 2 + i, asset: "other", hour: h }, `198.51.${100 + i}.7`));
    const server = [9, 12, 14, 16].map((h, i) => ex(FP, { n: 2 + i, asset: "server", hour: h }, `198.51.${110 + i}.7`));
    const tp = [ex(TP, { n: 40, asset: "server", hour: 3 }), ex(TP, { n: 42, asset: "other", hour: 12 })];
    const exs = [...other, ...server, ...tp];
    const alert = (asset: string, hour: number) => ({ user: "user", n: 3, asset, hour });
    // The hour decides in most sibling rules (this one has not split on it yet).
    const tree = new RuleTree(exs, POLICY, { rules: 4, proven: new Map([["hour", 3]]) });
    expect(tree.lookup(alert("server", 12))).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup(alert("other", 3))).toMatchObject({ kind: "answer", label: FP });
    // 3 a.m. on a server: both seen, never together.
    expect(tree.lookup(alert("server", 3))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
    // A number that decides nowhere is no reason to ask.
    expect(new RuleTree(exs, POLICY).lookup(alert("server", 3))).toMatchObject({ kind: "answer", label: FP });
  });

  it("under a dismissal, a number that decides in the family is judged by the leaf's own answers, as if this rule split on it", () => {
    let k = 0;
    const src = () => `198.51.${100 + (k++ % 50)}.7`;
    // Few events dismissed at 3..40 files; many events dismissed at 100..300 files in another leaf; needs_review between.
    const low = [3, 8, 12, 20, 30, 40].map((files, i) => ex(FP, { n: 1 + i, files }, src()));
    const nr = [ex(NR, { n: 20, files: 3 }, src()), ex(NR, { n: 21, files: 40 }, src())];
    const high = [100, 150, 200, 250, 300].map((files, i) => ex(FP, { n: 40 + i, files }, src()));
    const exs = [...low, ...nr, ...high];
    const alert = (files: number) => ({ user: "user", n: 3, files });
    // No sibling decides on the file count: the rule's dismissals and the leaf's own three widths reach 60 files.
    expect(new RuleTree(exs, POLICY).lookup(alert(60))).toMatchObject({ kind: "answer", label: FP });
    // Three siblings turn on it: the leaf's own answers end at 40 files (stretched as any dismissal, 0.1 of the width).
    const tree = new RuleTree(exs, POLICY, { rules: 4, proven: new Map([["files", 3]]) });
    expect(tree.describe()).not.toContain("files >=");
    expect(tree.lookup(alert(30))).toMatchObject({ kind: "answer", label: FP });
    expect(tree.lookup(alert(60))).toMatchObject({ kind: "ask", reason: "out_of_range", feature: "files" });
    // Not for another answer: a needs_review leaf is no dismissal to keep tight.
    expect(tree.lookup({ user: "user", n: 20, files: 30 })).toMatchObject({ kind: "answer", label: NR });
  });

  it("a needs_review leaf that holds strong sources answers a weak source only on a role and class its weak sources had", () => {
    let k = 0;
    const src = () => `198.51.${100 + (k++ % 50)}.7`;
    // Workstations needs_review only from strong sources (the guard's doing: weak ones there are dismissed), dc from weak ones.
    const strongWs = [0, 1].map(() => ex(NR, { n: 3, asset: "workstation", "ti.strong": "yes" }, src()));
    const weakDc = [0, 1].map(() => ex(NR, { n: 3, asset: "dc", "ti.strong": "no" }, src()));
    const many = [0, 1].map(() => ex(TP, { n: 40, asset: "dc", "ti.strong": "no" }, src()));
    const tree = new RuleTree([...strongWs, ...weakDc, ...many], POLICY);
    const alert = (asset: string, strong: string) => ({ user: "user", n: 3, asset, "ti.strong": strong });
    expect(tree.lookup(alert("workstation", "no"))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "ti.strong x asset x user" });
    expect(tree.lookup(alert("workstation", "yes"))).toMatchObject({ kind: "answer", label: NR });
    expect(tree.lookup(alert("dc", "no"))).toMatchObject({ kind: "answer", label: NR });
    // A true_positive leaf is never the guard's doing: strong and weak sources alike.
    const tp = new RuleTree(
      [
        ...[0, 1].map(() => ex(TP, { n: 3, asset: "workstation", "ti.strong": "yes" }, src())),
        ...[0, 1].map(() => ex(TP, { n: 3, asset: "dc", "ti.strong": "no" }, src())),
      ],
      POLICY,
    );
    expect(tp.lookup(alert("workstation", "no"))).toMatchObject({ kind: "answer", label: TP });
  });

  it("where the host role decides, a dismissal reaches past a role's range as little as any dismissal", () => {
    let k = 0;
    const src = () => `198.51.${100 + (k++ % 50)}.7`;
    // Dismissed: workstations from 9 to 18 h, kiosks ("other") at any hour; the role and the hour both decide elsewhere.
    const ws = [9, 10, 12, 14, 16, 18].map((h, i) => ex(FP, { n: 2 + i, asset: "workstation", hour: h }, src()));
    const kiosk = [19, 20, 23, 7].map((h, i) => ex(FP, { n: 2 + i, asset: "other", hour: h }, src()));
    const dc = [20, 21, 22, 2, 3].map((h, i) => ex(NR, { n: 3 + i, asset: "dc", hour: h }, src()));
    const night = [2, 3, 22, 23].map((h, i) => ex(TP, { n: 3 + i, asset: "server", hour: h }, src()));
    const day = [9, 11, 12, 13, 15, 17].map((h, i) => ex(FP, { n: 2 + i, asset: "server", hour: h }, src()));
    const alert = (hour: number) => ({ user: "user", n: 3, asset: "workstation", hour });
    const proved = new RuleTree([...ws, ...kiosk, ...dc, ...night, ...day], POLICY);
    expect(proved.describe()).toMatch(/asset = dc \(proven\)[\s\S]*hour >= 19.50 \(proven\)/);
    expect(proved.lookup(alert(13))).toMatchObject({ kind: "answer", label: FP });
    // 7 p.m. on a workstation: the leaf dismissed 7 p.m. only on a kiosk; the workstations' range ends at 18.
    expect(proved.lookup(alert(19))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
    // Where the role decides nowhere (the rule split on the count only), its range reaches half its width further (ROLE_STRETCH).
    const counts = ["dc", "server", "workstation", "other"].flatMap((asset, i) => [
      ex(NR, { n: 40 + i, asset, hour: 12 }, src()),
      ex(NR, { n: 50 + i, asset, hour: 2 }, src()),
    ]);
    const young = new RuleTree([...ws, ...kiosk, ...counts], POLICY, { rules: 4, proven: new Map([["hour", 3]]) });
    expect(young.describe()).not.toContain("asset =");
    expect(young.lookup(alert(19))).toMatchObject({ kind: "answer", label: FP });
    expect(young.lookup(alert(23))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
    // ...and once the siblings prove the role as well, as little as any dismissal, though this rule never split on it.
    const family = new RuleTree([...ws, ...kiosk, ...counts], POLICY, {
      rules: 4,
      proven: new Map([
        ["hour", 3],
        ["asset", 3],
      ]),
    });
    expect(family.lookup(alert(19))).toMatchObject({ kind: "ask", reason: "unseen_combination", feature: "asset x hour" });
  });
});
