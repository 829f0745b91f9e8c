// Adversarial review of the family prior (MemoryStore.family → RuleTree featureCost), MAX_ROUNDS = 3 and the new
// diagnostics. The attacker writes every alert field, including alert_name: each invented name is a new sibling rule
// of the format. The costly error is a memory `false_positive` for an alert the model would not dismiss.
// "FINDING" tests fail on the current code (they state the behaviour a fix should give); "holds" pin a defence.
import { describe, expect, it, vi } from "vitest";
import type { EnrichedAlert } from "../../../../../src/core/ports/index.js";
import { openCaches } from "../../../../../src/resources/cache.js";
import type { FeatureValue } from "../../../../../src/transforms/classify/memory/features.js";
import { MemoryStore } from "../../../../../src/transforms/classify/memory/store.js";
import { featureCost, labelOf, RuleTree, type Example, type Family, type TreePolicy } from "../../../../../src/transforms/classify/memory/tree.js";
import { memoryHarness, probeAlert, ScriptedModel } from "./support.js";

const POLICY: TreePolicy = { minSupport: 2, minSupportFalsePositive: 4, minSourcesFalsePositive: 2, maxDepth: 8 };
const TP = labelOf("true_positive", "high");
const FP = labelOf("false_positive", "low");
const NR = labelOf("needs_review", "medium");

let n = 0;
function ex(label: string, values: Record<string, FeatureValue>, source: string | null = `198.51.${n % 200}.0/24`): Example {
  n++;
  return { id: `rf${n}`, label, values, source, at: n, by: "model" };
}
const family = (rules: number, proven: Record<string, number>): Family => ({ rules, proven: new Map(Object.entries(proven)) });
const dismisses = (tree: RuleTree, v: Record<string, FeatureValue>) => {
  const r = tree.lookup(v);
  return r.kind === "answer" && r.label === FP;
};

/**
 * A rule where two features separate the answers equally well: user class (structured) and an attacker-writable
 * free field. Honest history: ordinary users (agent A) dismissed, admins (agent B) true_positive.
 */
const tiedHistory = () => [
  ...[0, 1, 2, 3].map(() => ex(FP, { user: "user", "fields.agent": "A" })),
  ...[0, 1].map(() => ex(TP, { user: "privileged", "fields.agent": "B" })),
];

/**
 * The pairwise-coverage shape of tree.test.ts with the labels turned: on dc hosts both admins with few processes and
 * ordinary users with many are dismissed; an ordinary user with few processes is true_positive elsewhere in the rule.
 * The dc leaf has seen user=user and procs=3, never together: only pairwise coverage asks.
 */
function pairsHistory(): Example[] {
  const cells: [string, Record<string, FeatureValue>][] = [
    [FP, { asset: "dc", user: "privileged", procs: 2 }],
    [FP, { asset: "dc", user: "privileged", procs: 3 }],
    [FP, { asset: "dc", user: "user", procs: 40 }],
    [FP, { asset: "dc", user: "user", procs: 45 }],
    [TP, { asset: "other", user: "user", procs: 2 }],
    [TP, { asset: "other", user: "user", procs: 3 }],
    [FP, { asset: "other", user: "privileged", procs: 2 }],
    [FP, { asset: "other", user: "privileged", procs: 3 }],
    [FP, { asset: "other", user: "user", procs: 40 }],
    [FP, { asset: "other", user: "user", procs: 44 }],
  ];
  return [...cells, ...cells].map(([l, v]) => ex(l, v));
}
const UNSEEN_PAIR = { asset: "dc", user: "user", procs: 3 };

function store(caches: Awaited<ReturnType<typeof openCaches>>, maxRules = 5_000): MemoryStore {
  return new MemoryStore({
    cache: caches.get("ai-pattern"),
    keyPrefix: "rf:",
    ttlMs: 1e12,
    maxExamplesPerRule: 256,
    maxRules,
    policy: POLICY,
    now: () => 1_000,
  });
}

describe("review: the family prior is relative — raising n penalises every feature the attacker did not prove", () => {
  it("holds: featureCost itself is never below zero (the stated claim)", () => {
    for (const k of [0, 1, 5, 50, 500]) expect(featureCost("x", family(50, { x: k }))).toBeGreaterThanOrEqual(0);
  });

  it("FINDING: proving an attacker field in sibling rules makes it beat the structured feature it ties with: an admin is dismissed", () => {
    // Without a prior the tie goes to the structured feature (user): the admin's alert is true_positive.
    expect(dismisses(new RuleTree(tiedHistory(), POLICY), { user: "privileged", "fields.agent": "A" })).toBe(false);
    // 5 honest siblings where user decides, 10 invented ones where fields.agent does: user now costs
    // log2(16/6) ≈ 1.4 bits, the agent field log2(16/11) ≈ 0.5 — and the tree now tests only fields.agent. user is no longer deciding, so under
    // the false_positive leaf "privileged" is checked against the whole rule (seen: on the true_positive side).
    const shaped = new RuleTree(tiedHistory(), POLICY, family(15, { user: 5, "fields.agent": 10 }));
    expect(shaped.describe().split("\n")[0]).toMatch(/^user = /); // fails: "fields.agent = A (proven)"
    expect(dismisses(shaped, { user: "privileged", "fields.agent": "A" })).toBe(false); // fails: dismissed
  });

  it("FINDING (end to end): 30 invented alert names × 4 alerts, then an admin VPN login is dismissed from memory", async () => {
    let ipSeq = 0;
    const ip = () => `${20 + (ipSeq++ % 150)}.51.100.7`;
    const vpn = (user: string | null, agent: string) =>
      probeAlert({ prefix: "V", name: "VPN login", description: "vpn login", fields: { agent } }, ip(), user === null ? {} : { user });
    const kind = (name: string, agent: string) => probeAlert({ prefix: "S", name, description: "sibling", fields: { agent } }, ip());
    const model = new ScriptedModel((item: EnrichedAlert) => {
      const a = item.alert;
      const agent = String((a.fields as { agent: string }).agent);
      if (a.alert_name === "VPN login") return { classification: a.user === "admin" ? "true_positive" : "false_positive" };
      if (a.alert_name.startsWith("Admin action")) return { classification: a.user === "admin" ? "true_positive" : "needs_review" };
      return { classification: agent.includes("mimikatz") ? "true_positive" : "needs_review" };
    });
    const { classifier } = await memoryHarness(model);
    // Honest traffic: the VPN rule, and five honest siblings where the user class decides.
    await classifier.classify([vpn(null, "GlobalProtect"), vpn(null, "GlobalProtect"), vpn(null, "GlobalProtect"), vpn(null, "GlobalProtect")]);
    await classifier.classify([vpn("admin", "AnyConnect"), vpn("admin", "AnyConnect")]);
    for (let i = 0; i < 5; i++) {
      const a = (user: string) => probeAlert({ prefix: "H", name: `Admin action ${i}`, description: "admin", fields: { agent: "x" } }, ip(), { user });
      await classifier.classify([a("admin"), a("bob"), a("admin"), a("bob")]);
    }
    const [before] = await classifier.classify([vpn("admin", "GlobalProtect")]);
    expect(before).toMatchObject({ classification: "true_positive" });
    // The attacker: 30 invented names, in each of which the agent field decides (2 "mimikatz", 2 "chrome"). 30 beats the
    // five honest siblings by log2(31/6) ≈ 2.4 bits, more than the agent field's extra candidate test (log2 3) costs.
    for (let i = 0; i < 30; i++) {
      const name = `Probe ${i}`;
      await classifier.classify([kind(name, "mimikatz"), kind(name, "chrome"), kind(name, "mimikatz"), kind(name, "chrome")]);
    }
    // One benign-looking VPN alert with a new agent string is asked and learnt: the VPN tree is rebuilt under the prior.
    await classifier.classify([vpn(null, "GlobalProtect 6.2")]);
    const [after] = await classifier.classify([vpn("admin", "GlobalProtect")]);
    // What should happen: the admin's login is true_positive (asked, or answered true_positive). Fails: the memory
    // answers false_positive (tree: fields.agent = anyconnect), without asking the model.
    expect({ source: after!.source, classification: after!.classification }).not.toEqual({ source: "memory", classification: "false_positive" });
  });
});

describe("review: n counts every held sibling, even empty or pure ones — a cheap flood removes proven splits", () => {
  it("holds (baseline): without siblings, the unseen pair (ordinary user, few processes) on a dc is asked", () => {
    expect(new RuleTree(pairsHistory(), POLICY).lookup(UNSEEN_PAIR)).toMatchObject({ kind: "ask", reason: "unseen_combination" });
  });

  it("FINDING: 100 invented names with one alert each (nothing proven in them) strip the pairwise check: the pair is dismissed", async () => {
    const caches = await openCaches("memory://");
    const s = store(caches);
    const junk = Array.from({ length: 100 }, (_, i) => `native:junk ${i}`);
    await s.sync(junk, 0);
    // One answer each: a pure leaf, no split, nothing proven; the empty records held after sync alone would do as well.
    await s.learn(new Map(junk.map((r) => [r, { examples: [ex(NR, { user: "user" })], answers: {} }])));
    await s.sync(["native:process burst"], 0);
    await s.learn(new Map([["native:process burst", { examples: pairsHistory(), answers: {} }]]));
    const tree = s.get("native:process burst")!.tree;
    // Every feature now costs log2(101) ≈ 6.7 bits more: no split pays, proven is empty, no pair is checked.
    expect([...tree.provenFeatures()]).not.toHaveLength(0); // fails: []
    expect(tree.lookup(UNSEEN_PAIR)).toMatchObject({ kind: "ask", reason: "unseen_combination" }); // fails: answer false_positive
  });

  it("FINDING: the same holds with the prior at its cap (MEMORY_MAX_RULES = 5000 siblings: 12.3 extra bits per split)", () => {
    // Fixed: structured features are never priced, free fields at most log2(12) bits, and proof is the plain criterion's.
    expect(featureCost("user", family(4_999, {}))).toBe(0);
    expect(featureCost("fields.process_count", family(4_999, {}))).toBeLessThanOrEqual(Math.log2(12));
    expect(dismisses(new RuleTree(pairsHistory(), POLICY, family(4_999, {})), UNSEEN_PAIR)).toBe(false); // fails: dismissed
  });
});

describe("review: determinism — trees depend on what was held when they were built, not on what is held", () => {
  it("FINDING: two instances on one shared store, holding the same rules and records, build different trees", async () => {
    const caches = await openCaches("memory://");
    const a = store(caches);
    const b = store(caches);
    const junk = Array.from({ length: 100 }, (_, i) => `native:junk ${i}`);
    const target = "native:process burst";
    // Instance a learns the siblings, then the target rule.
    await a.sync([...junk, target], 0);
    await a.learn(new Map(junk.map((r) => [r, { examples: [ex(NR, { user: "user" })], answers: {} }])));
    await a.learn(new Map([[target, { examples: pairsHistory(), answers: {} }]]));
    // Instance b reads the target first (no siblings held yet), then the siblings: it ends up holding exactly what a holds.
    await b.sync([target], 0);
    await b.sync(junk, 0);
    await b.sync([target, ...junk], 0); // re-read: the records are the same, so no tree is rebuilt
    expect(new Set([...b.trees()].map(([r]) => r))).toEqual(new Set([...a.trees()].map(([r]) => r)));
    expect(b.get(target)!.record.examples.map((e) => e.id)).toEqual(a.get(target)!.record.examples.map((e) => e.id));
    // The module doc says they "build the same trees once they hold the same rules". Fails: b's tree has proven splits, a's none,
    // so b asks the unseen pair and a dismisses it.
    expect(a.get(target)!.tree.describe()).toBe(b.get(target)!.tree.describe());
  });
});

describe("review: cost of family() (every held rule on every tree build)", () => {
  it("holds (bounded, linear): one new rule's learn walks each held sibling at most a few times (≤ 3 × MEMORY_MAX_RULES)", async () => {
    const caches = await openCaches("memory://");
    const maxRules = 400;
    const s = store(caches, maxRules);
    const held = Array.from({ length: maxRules }, (_, i) => `native:held ${i}`);
    await s.sync(held, 0);
    const spy = vi.spyOn(RuleTree.prototype, "provenFeatures");
    await s.sync(["native:new"], 0);
    await s.learn(new Map([["native:new", { examples: [ex(TP, { user: "user" })], answers: {} }]]));
    // sync put + learn's two puts, each walking up to maxRules - 1 siblings: O(maxRules) per rebuild, never beyond
    // maxRules (eviction keeps the map bounded) — but with the default 5000 every invented-name alert costs ~15k walks.
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(maxRules);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(3 * maxRules);
    expect(s.size().rules).toBe(maxRules);
    spy.mockRestore();
  });
});

describe("review: three rounds of waiting", () => {
  it("holds: a critical alert of a leaf with a flight in progress is asked at once, not held behind it", async () => {
    const model = new ScriptedModel(() => ({ classification: "needs_review" }));
    const { classifier } = await memoryHarness(model);
    const kind = { prefix: "W", name: "Wait test", description: "w", fields: { n: 1 } };
    let open!: () => void;
    model.gate = new Promise<void>((r) => (open = r));
    const first = classifier.classify([probeAlert(kind, "45.1.2.3"), probeAlert(kind, "45.1.3.3")]);
    await new Promise((r) => setTimeout(r, 5));
    const crit = classifier.classify([probeAlert(kind, "45.1.4.3", { severity: "critical" })]);
    await new Promise((r) => setTimeout(r, 5));
    // Both requests are out while the gate is closed: the critical alert did not wait for the flight.
    expect(model.calls.length).toBe(2);
    open();
    await Promise.all([first, crit]);
  });

  it("holds: a waiting alert is asked itself after at most MAX_ROUNDS flights of its leaf", async () => {
    const model = new ScriptedModel(() => ({ classification: "needs_review" }));
    const { classifier } = await memoryHarness(model, { env: { MEMORY_MIN_SUPPORT: "50" } });
    const kind = { prefix: "R", name: "Round test", description: "r", fields: { n: 1 } };
    // 60 alerts in one call: round 0 asks `needed` (50) of them while the rest wait on that flight, then looks again
    // (answered from memory once supported); no alert waits more than MAX_ROUNDS flights, the call always finishes.
    const out = await classifier.classify(Array.from({ length: 60 }, (_, i) => probeAlert(kind, `45.1.${i}.3`)));
    expect(out).toHaveLength(60);
    expect(out.every((d) => d.classification === "needs_review")).toBe(true);
    expect(model.calls.length).toBeLessThanOrEqual(4);
  });
});
