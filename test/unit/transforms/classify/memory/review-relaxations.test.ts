// Adversarial review of the memory's relaxed coverage rules (commits 12bc931..c8dc8f5: nearness of many-valued texts
// under false_positive leaves, log-scale extents, per-source TI evidence, proven-only combination cells, judging
// another branch's number by the rule for non-dismissals). The attacker writes every alert field; the costly error
// is a memory `false_positive` for an alert the model would not dismiss.
// Tests that fail today name a gap (see the review report); tests marked "holds" pin a defence that holds.
import { afterEach, describe, expect, it } from "vitest";
import type { FeatureValue } from "../../../../../src/transforms/classify/memory/features.js";
import { labelOf, RuleTree, type Example, type TreePolicy } from "../../../../../src/transforms/classify/memory/tree.js";

const POLICY: TreePolicy = { minSupport: 2, minSupportFalsePositive: 3, minSourcesFalsePositive: 2, maxDepth: 8 };
const TP = labelOf("true_positive", "high");
const FP = labelOf("false_positive", "low");
const NR = labelOf("needs_review", "medium");

let n = 0;
function ex(label: string, values: Record<string, FeatureValue>, source: string | null = `198.51.${n % 200}.0/24`, by: Example["by"] = "model"): Example {
  n++;
  return { id: `x${n}`, label, values: { user: "user", ...values }, source, at: n, by };
}

/** A memory dismissal: the costly answer. */
function dismisses(tree: RuleTree, values: Record<string, FeatureValue>): boolean {
  const r = tree.lookup(values);
  return r.kind === "answer" && r.label === FP;
}

/** The tree.test.ts shape: 26 honest dismissals of 13 finance shares (a many-valued text, no split tests it). */
function financeShares(): RuleTree {
  return new RuleTree(
    Array.from({ length: 26 }, (_, i) => ex(FP, { share: `\\\\fs-${i % 13}\\finance` })),
    POLICY,
  );
}

describe("review: nearness of a new many-valued text under a false_positive leaf", () => {
  it("holds: the leaf's own template with another server number is near (the intended relaxation)", () => {
    expect(dismisses(financeShares(), { user: "user", share: "\\\\fs-33\\finance" })).toBe(true);
  });

  it("holds: a value with no word tokens at all, or the MISSING marker, is never near", () => {
    const tree = financeShares();
    expect(dismisses(tree, { user: "user", share: "\\\\..\\..\\" })).toBe(false);
    expect(dismisses(tree, { user: "user" })).toBe(false);
  });

  it("Jaccard 0.5 lets a value be half new words: NTDS.dit theft through the finance share is dismissed", () => {
    // {fs, #, finance} seen; {fs, #, finance, windows, ntds, dit} has Jaccard 3/6 = 0.5 with every seen value.
    expect(dismisses(financeShares(), { user: "user", share: "\\\\fs-3\\finance\\..\\..\\windows\\ntds\\ntds.dit" })).toBe(false);
    // One new word is a quarter of the tokens: {fs, #, finance, admin} = 3/4 (ADMIN$ share, lateral movement).
    expect(dismisses(financeShares(), { user: "user", share: "\\\\fs-3\\finance\\..\\..\\admin$" })).toBe(false);
  });

  it("digit-shape tokens: any attacker word containing a digit reads as '#', a token the leaf saw", () => {
    // Every new word carries a digit, so the value's tokens are {fs, #, finance}: a subset of what the leaf saw.
    expect(dismisses(financeShares(), { user: "user", share: "\\\\fs-3\\finance\\m1m1katz.exe s3kurlsa l0gonpasswords" })).toBe(false);
    // A value of digit tokens only ({#}) is near too.
    expect(dismisses(financeShares(), { user: "user", share: "10.13.37.66 4444 0x7f3e" })).toBe(false);
  });

  it("tokens beyond the 64th are never compared: a padded prefix of seen tokens hides the rest (within the 160-char feature cap)", () => {
    const tree = financeShares();
    const payload = "mimikatz lsass dump";
    // Sanity: without the padding the words are far from the leaf's values (asked).
    expect(dismisses(tree, { user: "user", share: `${"1 ".repeat(8)}${payload}` })).toBe(false);
    const padded = `${"1 ".repeat(64)}${payload}`;
    expect(padded.length).toBeLessThanOrEqual(160);
    expect(dismisses(tree, { user: "user", share: padded })).toBe(false);
  });

  it("the id-field rule of nearness: a leaf that saw >= 4 one-off one-token values dismisses any one-token value of that length ('mimikatz')", () => {
    // The rule saw 13 process images (most of them twice: not name-like); the ordinary-user FP leaf saw 4, once each.
    const benign = ["backupd", "rsyncd", "robocopy", "veeamsvc"];
    const others = ["sqlservr", "w3wp", "msiexec", "wuauclt", "svchost", "explorer", "taskhostw", "dllhost", "conhost"];
    const exs = [
      ...benign.map((p, i) => ex(FP, { user: "user", process: p }, `203.0.${i}.0/24`)),
      ...others.flatMap((p, i) => [ex(TP, { user: "privileged", process: p }, `192.0.${i}.0/24`), ex(TP, { user: "privileged", process: p }, `192.1.${i}.0/24`)]),
    ];
    const tree = new RuleTree(exs, POLICY);
    // Sanity: the leaf answers its own values.
    expect(dismisses(tree, { user: "user", process: "rsyncd" })).toBe(true);
    expect(dismisses(tree, { user: "user", process: "mimikatz" })).toBe(false);
  });

  it("poisoning: answers of another label (true_positive probes) open a closed text for dismissal", () => {
    // The FP leaf knows three shares; a new one is asked (closed: the rule has 3 values).
    const fps = ["\\\\files\\finance", "\\\\files\\hr", "\\\\files\\it"].flatMap((s, i) => [
      ex(FP, { user: "user", share: s }, `203.0.${i}.0/24`),
      ex(FP, { user: "user", share: s }, `203.1.${i}.0/24`),
    ]);
    const attack = { user: "user", share: "\\\\files\\finance\\..\\..\\admin$" };
    expect(dismisses(new RuleTree(fps, POLICY), attack)).toBe(false);
    // The attacker's 10 probes from a privileged account with odd shares: each asked, each honestly true_positive.
    const probes = Array.from({ length: 10 }, (_, i) => ex(TP, { user: "privileged", share: `\\\\dc\\probe-${String.fromCharCode(97 + i)}` }, `100.64.${i}.0/24`));
    const poisoned = new RuleTree([...fps, ...probes], POLICY);
    // Now the rule has 13 share values: "many-valued", so the FP leaf takes a near new value. The probes taught no dismissal.
    expect(dismisses(poisoned, attack)).toBe(false);
  });

  it("holds: a text that a split tests stays closed for the false_positive leaf (no nearness)", () => {
    const exs = [
      ...Array.from({ length: 13 }, (_, i) => ex(FP, { share: `\\\\fs-${i}\\finance` }, `203.0.${i}.0/24`)),
      ...Array.from({ length: 13 }, (_, i) => ex(FP, { share: `\\\\fs-${i}\\finance` }, `203.2.${i}.0/24`)),
      ...[0, 1, 2, 3].map((i) => ex(TP, { share: "\\\\fs-0\\finance$" }, `192.0.${i}.0/24`)),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.describe()).toContain("share =");
    expect(dismisses(tree, { user: "user", share: "\\\\fs-3\\finance\\extra" })).toBe(false);
  });
});

describe("review: log-scale extents", () => {
  const sizes = [1_000, 2_000, 3_000, 5_000];
  const leaf = () => sizes.map((b, i) => ex(FP, { bytes: b }, `203.0.${i}.0/24`));

  it("holds: without a long tail the false_positive leaf stays linear (exfil-size bytes asked)", () => {
    const tree = new RuleTree(leaf(), POLICY);
    expect(dismisses(tree, { user: "user", bytes: 5_400 })).toBe(true);
    expect(dismisses(tree, { user: "user", bytes: 1e9 })).toBe(false);
    // Zero and negative numbers are never on the log scale's lower side.
    expect(dismisses(tree, { user: "user", bytes: 0 })).toBe(false);
  });

  it("poisoning: one honest dismissal with a tiny positive number stretches the leaf's reach to any size", () => {
    // The attacker's probe (bytes 1e-300, a valid JSON number) is out of range, asked, honestly dismissed, learnt.
    const poisoned = new RuleTree([...leaf(), ex(FP, { bytes: 1e-300 }, "100.64.7.0/24")], POLICY);
    // Linear (before): 5000 + a tenth of the width = 5500. Log: 5000 × (5000/1e-300)^0.1 ≈ 1e34.
    expect(dismisses(poisoned, { user: "user", bytes: 1e9 })).toBe(false);
    expect(dismisses(poisoned, { user: "user", bytes: 1e15 })).toBe(false);
  });

  it("poisoning: the smallest positive double makes the extent infinite", () => {
    const poisoned = new RuleTree([...leaf(), ex(FP, { bytes: 5e-324 }, "100.64.7.0/24")], POLICY);
    expect(dismisses(poisoned, { user: "user", bytes: 1e300 })).toBe(false);
  });

  it("poisoning: also for a deciding number on the leaf's path (the open side of a split)", () => {
    // bytes decides: small transfers TP (a beacon), the rest FP; the FP side is open upwards.
    const exs = [
      ...[1, 2, 3].map((b, i) => ex(TP, { bytes: b }, `192.0.${i}.0/24`)),
      ...sizes.map((b, i) => ex(FP, { bytes: b }, `203.0.${i}.0/24`)),
      ...[10, 20].map((b, i) => ex(FP, { bytes: b }, `203.9.${i}.0/24`)),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(tree.describe()).toContain("bytes >=");
    // FP side saw 10..5000 (span 500 >= 100: log) — 5000 × 500^0.1 ≈ 9300, already beyond the linear 5500.
    expect(dismisses(tree, { user: "user", bytes: 9_000 })).toBe(true);
    expect(dismisses(tree, { user: "user", bytes: 1e6 })).toBe(false); // holds without poisoning
    // With one tiny positive answer the extent is unbounded again — but a tiny value lands on the TP side here,
    // so the attacker needs the FP side's own lo > 0 small: a value just above the threshold.
    const poisoned = new RuleTree([...exs, ex(FP, { bytes: 3.0000001 }, "100.64.7.0/24")], POLICY);
    // 5000 × (5000/3)^0.1 ≈ 10,500: bounded (the FP side's lo is the threshold's neighbour). holds
    expect(dismisses(poisoned, { user: "user", bytes: 1e6 })).toBe(false);
  });
});

describe("review: per-source TI evidence in splits", () => {
  it("holds: one dominant network with a marker field wins the split, yet its reputation still keeps it from the dismissal leaf", () => {
    // 12 TP answers from one attacker /24 (score 80, marker tag), 6 FP from six clean networks.
    const exs = [
      ...Array.from({ length: 12 }, () => ex(TP, { tag: "x", "ti.abuse.score": 80 }, "100.64.1.0/24")),
      ...Array.from({ length: 6 }, (_, i) => ex(FP, { tag: "none", "ti.abuse.score": 5 + i }, `203.0.${i}.0/24`)),
    ];
    const tree = new RuleTree(exs, POLICY);
    // The attack from the same network, without the marker, lands in the FP leaf: the same-label envelope asks.
    expect(dismisses(tree, { user: "user", tag: "none", "ti.abuse.score": 80 })).toBe(false);
  });

  it("examples without a source network each count as a distinct source in the TI scaling (diversity counts them as none)", () => {
    // Same shape as tree.test.ts' "counts threat-intel evidence once per source", but the dominant side has no parseable source.
    const exs = [
      ...[0, 1, 2, 3].map(() => ex(TP, { user: "privileged", "ti.abuse.score": 95 }, null)),
      ...[0, 1, 2, 3].map(() => ex(NR, { user: "user", "ti.abuse.score": 10 }, "198.51.100.0/24")),
    ];
    const tree = new RuleTree(exs, POLICY);
    // With per-source counting the dominant-source score should not win over identity (as with a parseable source).
    expect(tree.lookup({ user: "privileged", "ti.abuse.score": 95 })).toMatchObject({ kind: "answer", conditions: ["user = privileged"] });
  });
});

describe("review: proven-only combination cells and non-dismissal relaxations", () => {
  it("holds: a false_positive leaf still pairs proven threat intel with the other proven features", () => {
    // score (proven) × user (proven): the FP leaf saw (low score, user) and (low score, service) — not (high-ish score, service).
    const exs = [
      ...Array.from({ length: 6 }, (_, i) => ex(TP, { user: "privileged", "ti.abuse.score": 50 + i }, `192.0.${i}.0/24`)),
      ...Array.from({ length: 6 }, (_, i) => ex(FP, { user: "user", "ti.abuse.score": 1 + i }, `203.0.${i}.0/24`)),
      ...Array.from({ length: 6 }, (_, i) => ex(FP, { user: "user", "ti.abuse.score": 30 + i }, `203.1.${i}.0/24`)),
    ];
    const tree = new RuleTree(exs, POLICY);
    expect(dismisses(tree, { user: "privileged", "ti.abuse.score": 3 })).toBe(false);
  });

  it("holds: a non-dismissal leaf never turns into a dismissal (relaxations only widen the leaf's own label)", () => {
    const exs = [
      ...[2, 3, 4].map((procs) => ex(TP, { user: "privileged", procs })),
      ...[40, 45, 50].map((procs) => ex(FP, { user: "privileged", procs }, `203.0.${procs}.0/24`)),
      ...[1, 2, 3].map((procs) => ex(NR, { user: "user", procs })),
    ];
    const tree = new RuleTree(exs, POLICY);
    for (const procs of [1, 8, 30, 45, 1000]) expect(dismisses(tree, { user: "user", procs })).toBe(false);
  });
});

describe("review: determinism of the tree over a shared store", () => {
  const saved = process.env.FC;
  afterEach(() => {
    if (saved === undefined) delete process.env.FC;
    else process.env.FC = saved;
  });

  function sample(): Example[] {
    return [
      ...[0, 1, 2].map((i) => ex(TP, { user: "privileged", asset: "dc", hour: 3 + i }, `192.0.${i}.0/24`)),
      ...[0, 1, 2].map((i) => ex(FP, { user: "user", asset: "dc", hour: 10 + i }, `203.0.${i}.0/24`)),
      ...[0, 1, 2].map((i) => ex(FP, { user: "user", asset: "server", hour: 4 + i }, `203.1.${i}.0/24`)),
    ];
  }

  it("holds: the same examples in another order build the same tree", () => {
    const exs = sample();
    const a = new RuleTree(exs, POLICY).describe();
    const b = new RuleTree([...exs].reverse(), POLICY).describe();
    expect(b).toBe(a);
  });

  it("the working tree's uncommitted process.env.FC switch builds a different tree from the same examples (instances disagree)", () => {
    const exs = sample();
    delete process.env.FC;
    const a = new RuleTree(exs, POLICY);
    process.env.FC = "1";
    const b = new RuleTree(exs, POLICY);
    expect(b.describe()).toBe(a.describe());
  });
});
