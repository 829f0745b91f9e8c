// Adversarial review of the memory's relaxed coverage rules (commits 12bc931..c8dc8f5: nearness of many-valued texts
// under false_positive leaves, log-scale extents, per-source TI evidence, proven-only combination cells, judging
// another branch's number by the rule for non-dismissals). The attacker writes every alert field; the costly error
// is a memory `false_positive` for an alert the model would not dismiss.
// Tests marked "fixed" were findings of the review (they failed before the fix); "holds" pin a defence that held.
import { afterEach, describe, expect, it } from "vitest";
import type { FeatureValue } from "../../../../../src/transforms/classify/memory/features.js";
import { labelOf, RuleTree, type Example, type TreePolicy } from "../../../../../src/transforms/classify/memory/tree.js";
import { alertFeatures } from "../../../../../src/transforms/classify/memory/features.js";
import { KeyDeriver } from "../../../../../src/core/cache-keys.js";
import type { EnrichedAlert } from "../../../../../src/core/ports/index.js";
import { keyOptionsFrom } from "../../../../../src/transforms/classify/cache/index.js";
import { cacheConfig } from "../cache/support.js";
import { memoryHarness, probeAlert, ScriptedModel } from "./support.js";

const POLICY: TreePolicy = { minSupport: 2, minSupportFalsePositive: 3, minSourcesFalsePositive: 2, maxDepth: 8 };
const TP = labelOf("true_positive", "high");
const FP = labelOf("false_positive", "low");
const NR = labelOf("needs_review", "medium");

let n = 0;
function ex(label: string, values: Record<string, FeatureValue>, source: string | null = `198.51.${n % 200}.0/24`, by: Example["by"] = "model"): Example {
  n++;
  return { id: `x${n}`, label, values: { user: "user", ...values }, source, at: n, by };
}

/** A data-transfer alert; the attacker picks the byte count. */
function transfer(ip: string, bytes: number): EnrichedAlert {
  return probeAlert({ prefix: "T", name: "Outbound data transfer", description: "outbound transfer", fields: { bytes } }, ip);
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

  it("fixed: a value half of new words (NTDS.dit theft through the finance share) is not near: asked", () => {
    // {fs, #, finance} seen; {fs, #, finance, windows, ntds, dit} has Jaccard 3/6 = 0.5 with every seen value.
    expect(dismisses(financeShares(), { user: "user", share: "\\\\fs-3\\finance\\..\\..\\windows\\ntds\\ntds.dit" })).toBe(false);
    // One new word is a quarter of the tokens: {fs, #, finance, admin} = 3/4 (ADMIN$ share, lateral movement).
    expect(dismisses(financeShares(), { user: "user", share: "\\\\fs-3\\finance\\..\\..\\admin$" })).toBe(false);
  });

  it("fixed: a word with a digit in it is its own token (digit runs by shape), and a value of digits alone is near only in a shape the leaf saw", () => {
    // Every new word carries a digit, so the value's tokens are {fs, #, finance}: a subset of what the leaf saw.
    expect(dismisses(financeShares(), { user: "user", share: "\\\\fs-3\\finance\\m1m1katz.exe s3kurlsa l0gonpasswords" })).toBe(false);
    // A value of digit tokens only ({#}) is near too.
    expect(dismisses(financeShares(), { user: "user", share: "10.13.37.66 4444 0x7f3e" })).toBe(false);
  });

  it("fixed: every token is compared, so a padded prefix of seen tokens hides nothing", () => {
    const tree = financeShares();
    const payload = "mimikatz lsass dump";
    // Sanity: without the padding the words are far from the leaf's values (asked).
    expect(dismisses(tree, { user: "user", share: `${"1 ".repeat(8)}${payload}` })).toBe(false);
    const padded = `${"1 ".repeat(64)}${payload}`;
    expect(padded.length).toBeLessThanOrEqual(160);
    expect(dismisses(tree, { user: "user", share: padded })).toBe(false);
  });

  it("fixed: the id-field rule of nearness needs a name-like field: a process image field takes no new word ('mimikatz')", () => {
    // The rule saw 13 process images (most of them twice: not name-like); the ordinary-user FP leaf saw 4, once each.
    const benign = ["backupd", "rsyncd", "robocopy", "veeamsvc"];
    const others = ["sqlservr", "w3wp", "msiexec", "wuauclt", "svchost", "explorer", "taskhostw", "dllhost", "conhost"];
    const exs = [
      ...benign.map((p, i) => ex(FP, { user: "user", process: p }, `203.0.${i}.0/24`)),
      ...others.flatMap((p, i) => [
        ex(TP, { user: "privileged", process: p }, `192.0.${i}.0/24`),
        ex(TP, { user: "privileged", process: p }, `192.1.${i}.0/24`),
      ]),
    ];
    const tree = new RuleTree(exs, POLICY);
    // Sanity: the leaf answers its own values.
    expect(dismisses(tree, { user: "user", process: "rsyncd" })).toBe(true);
    expect(dismisses(tree, { user: "user", process: "mimikatz" })).toBe(false);
  });

  it("fixed (poisoning): answers of another label (true_positive probes) do not open a closed text for dismissal", () => {
    // The FP leaf knows three shares; a new one is asked (closed: the rule has 3 values).
    const fps = ["\\\\files\\finance", "\\\\files\\hr", "\\\\files\\it"].flatMap((s, i) => [
      ex(FP, { user: "user", share: s }, `203.0.${i}.0/24`),
      ex(FP, { user: "user", share: s }, `203.1.${i}.0/24`),
    ]);
    const attack = { user: "user", share: "\\\\files\\finance\\..\\..\\admin$" };
    expect(dismisses(new RuleTree(fps, POLICY), attack)).toBe(false);
    // The attacker's 10 probes from a privileged account with odd shares: each asked, each honestly true_positive.
    const probes = Array.from({ length: 10 }, (_, i) =>
      ex(TP, { user: "privileged", share: `\\\\dc\\probe-${String.fromCharCode(97 + i)}` }, `100.64.${i}.0/24`),
    );
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

  it("fixed (poisoning): one honest dismissal with a tiny positive number does not stretch the leaf's reach (log scale only from 1, at most 10x)", () => {
    // The attacker's probe (bytes 1e-300, a valid JSON number) is out of range, asked, honestly dismissed, learnt.
    const poisoned = new RuleTree([...leaf(), ex(FP, { bytes: 1e-300 }, "100.64.7.0/24")], POLICY);
    // Linear (before): 5000 + a tenth of the width = 5500. Log: 5000 × (5000/1e-300)^0.1 ≈ 1e34.
    expect(dismisses(poisoned, { user: "user", bytes: 1e9 })).toBe(false);
    expect(dismisses(poisoned, { user: "user", bytes: 1e15 })).toBe(false);
  });

  it("holds: the log extent stays finite even from the smallest positive double (no Infinity/NaN: 1e300 asked)", () => {
    // ln(5000) - ln(5e-324) ≈ 753, a tenth of it ≈ 75: the reach is ~5000 × e^75 ≈ 2e36 — huge (previous test), not infinite.
    const poisoned = new RuleTree([...leaf(), ex(FP, { bytes: 5e-324 }, "100.64.7.0/24")], POLICY);
    expect(dismisses(poisoned, { user: "user", bytes: 1e300 })).toBe(false);
  });

  it("fixed (defence in depth; unreachable via alertFeatures, which drops non-finite numbers): NaN is out of range", () => {
    expect(dismisses(new RuleTree(leaf(), POLICY), { user: "user", bytes: Number.NaN })).toBe(false);
  });

  it("fixed, end to end: one honestly dismissed probe with bytes 1e-300 does not make the memory dismiss a 10 GB transfer", async () => {
    // The model dismisses ordinary transfers and calls anything over 1 MB exfiltration.
    const model = new ScriptedModel((item) => {
      const b = item.alert.fields.bytes;
      return { classification: typeof b === "number" && b > 1e6 ? "true_positive" : "false_positive" };
    });
    const keys = new KeyDeriver(keyOptionsFrom(cacheConfig()));
    expect(alertFeatures(transfer("80.1.2.3", 1e-300), keys).values["fields.bytes"]).toBe(1e-300); // reachable
    const sizes = [1_000, 2_000, 3_000, 4_000, 5_000, 2_500, 3_500, 1_500];
    const train = async (probe: boolean) => {
      const { classifier } = await memoryHarness(model);
      for (let i = 0; i < sizes.length; i++) await classifier.classify([transfer(`203.0.${113 + i}.7`, sizes[i]!)]);
      const [inside] = await classifier.classify([transfer("203.0.199.7", 2_200)]);
      expect(inside).toMatchObject({ source: "memory", classification: "false_positive" }); // the leaf answers
      if (probe) await classifier.classify([transfer("100.64.5.7", 1e-300)]); // asked, honestly dismissed, learnt
      const [d] = await classifier.classify([transfer("203.0.201.7", 1e10)]);
      return d!;
    };
    // holds without the probe: out of range, asked (true_positive).
    expect(await train(false)).toMatchObject({ source: "llm", classification: "true_positive" });
    const d = await train(true);
    expect(d.classification === "false_positive" && d.source === "memory").toBe(false);
  });

  it("holds: a deciding number on the leaf's path: the FP side's lo is the split's neighbour, so a tiny value cannot widen it", () => {
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

  it("fixed: examples without a source network count as one source in the TI scaling (as diversity counts them as none)", () => {
    // One network for every answer: the score is damped (2 sources / 8) and identity wins the split.
    const oneNet = (src: (i: number) => string | null) => [
      ...[0, 1, 2, 3].map((i) => ex(TP, { user: "privileged", "ti.abuse.score": 95 }, src(i))),
      ...[0, 1, 2, 3].map((i) => ex(NR, { user: "user", "ti.abuse.score": 10 }, src(i + 4))),
    ];
    const parsed = new RuleTree(
      oneNet((i) => (i < 4 ? "100.64.1.0/24" : "198.51.100.0/24")),
      POLICY,
    );
    expect(parsed.lookup({ user: "privileged", "ti.abuse.score": 95 })).toMatchObject({ kind: "answer", conditions: ["user = privileged"] });
    // The same answers with unparseable sources (null network, which never counts toward diversity) count as 8
    // sources: the score is not damped at all and wins the split on name order.
    const unparsed = new RuleTree(
      oneNet(() => null),
      POLICY,
    );
    expect(unparsed.lookup({ user: "privileged", "ti.abuse.score": 95 })).toMatchObject({ kind: "answer", conditions: ["user = privileged"] });
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

  it("holds: no environment switch changes the tree (an uncommitted process.env.FC penalty seen during review is gone at HEAD)", () => {
    // Regression guard: a split that pays by less than log2(#features) bits is proven with FC unset and unproven with FC=1.
    const diffs: string[] = [];
    // hour alone separates 3 TP from 3 FP: 6 bits saved, cost log2(5 candidates) + 0.81 ≈ 3.13, margin ≈ 2.87 —
    // under log2(8 features) = 3 when seven constant fields ride along.
    const constants = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`fields.c${i}`, "same"]));
    const exs = [
      ...[1, 2, 3].map((hour, i) => ex(TP, { ...constants, hour }, `192.0.${i}.0/24`)),
      ...[10, 11, 12].map((hour, i) => ex(FP, { ...constants, hour }, `203.0.${i}.0/24`)),
    ];
    delete process.env.FC;
    const a = new RuleTree(exs, POLICY).describe();
    process.env.FC = "1";
    const b = new RuleTree(exs, POLICY).describe();
    if (a !== b) diffs.push(`${a} | ${b}`);
    expect(diffs).toEqual([]);
  });
});
