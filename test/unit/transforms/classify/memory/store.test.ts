import { describe, expect, it } from "vitest";
import { openCaches } from "../../../../../src/resources/cache.js";
import { MemoryStore } from "../../../../../src/transforms/classify/memory/store.js";
import { labelOf, type Example } from "../../../../../src/transforms/classify/memory/tree.js";

const POLICY = { minSupport: 2, minSupportFalsePositive: 4, minSourcesFalsePositive: 2, maxDepth: 8 };
const TP = labelOf("true_positive", "high");

function ex(id: string, at: number, by: Example["by"] = "model"): Example {
  return { id, label: TP, values: { n: at }, source: `198.51.100.${at % 9}`, at, by };
}

describe("MemoryStore", () => {
  it("merges what two instances learnt (union of examples) instead of overwriting", async () => {
    const caches = await openCaches("memory://");
    let now = 1_000;
    const make = () =>
      new MemoryStore({
        cache: caches.get("ai-pattern"),
        keyPrefix: "m:",
        ttlMs: 60_000,
        maxExamplesPerRule: 100,
        maxRules: 10,
        policy: POLICY,
        now: () => now,
      });
    const a = make();
    const b = make();
    await a.sync(["r"], 0);
    await b.sync(["r"], 0);
    await a.learn(new Map([["r", { examples: [ex("a1", 1000), ex("a2", 1001)], answers: {} }]]));
    await b.learn(new Map([["r", { examples: [ex("b1", 1003)], answers: {} }]]));
    await a.sync(["r"], 0);
    expect(
      a
        .get("r")!
        .record.examples.map((e) => e.id)
        .sort(),
    ).toEqual(["a1", "a2", "b1"]);
    expect(
      b
        .get("r")!
        .record.examples.map((e) => e.id)
        .sort(),
    ).toEqual(["a1", "a2", "b1"]);
    // Examples older than the TTL no longer count.
    now = 1_000 + 60_000 + 2;
    await a.sync(["r"], 0);
    expect(a.get("r")!.record.examples.map((e) => e.id)).toEqual(["b1"]);
  });

  it("bounds a rule's examples: overrides kept first, then the newest model answers", async () => {
    const caches = await openCaches("memory://");
    const store = new MemoryStore({
      cache: caches.get("ai-pattern"),
      keyPrefix: "m:",
      ttlMs: 1e9,
      maxExamplesPerRule: 8,
      maxRules: 10,
      policy: POLICY,
      now: () => 100,
    });
    await store.sync(["r"], 0);
    await store.learn(new Map([["r", { examples: [ex("o1", 1, "override"), ...Array.from({ length: 20 }, (_, i) => ex(`m${i}`, i + 2))], answers: {} }]]));
    const ids = store.get("r")!.record.examples.map((e) => e.id);
    expect(ids).toHaveLength(8);
    expect(ids).toContain("o1");
    expect(ids).toContain("m19");
    expect(ids).not.toContain("m0");
  });
  it("builds a rule's tree with what its siblings of the same format learnt (family prior), not other formats'", async () => {
    const caches = await openCaches("memory://");
    const store = new MemoryStore({
      cache: caches.get("ai-pattern"),
      keyPrefix: "m:",
      ttlMs: 1e9,
      maxExamplesPerRule: 100,
      maxRules: 50,
      policy: POLICY,
      now: () => 100,
    });
    const NR = labelOf("needs_review", "medium");
    let k = 0;
    const e = (label: string, values: Record<string, string>): Example => ({
      id: `x${k++}`,
      label,
      values,
      source: `198.51.100.${k % 50}`,
      at: 100,
      by: "model",
    });
    // Each sibling: asset decides (proven), and nothing else varies.
    const sibling = () => [
      ...Array.from({ length: 4 }, () => e(TP, { asset: "dc", "fields.parent": "z" })),
      ...Array.from({ length: 4 }, () => e(NR, { asset: "ws", "fields.parent": "z" })),
    ];
    // The rule at hand: fields.parent and asset each separate one answer from the rest, fields.parent with more bits.
    const target = () => [
      e(TP, { asset: "dc", "fields.parent": "b" }),
      e(TP, { asset: "dc", "fields.parent": "b" }),
      e(TP, { asset: "ws", "fields.parent": "a" }),
      e(NR, { asset: "dc", "fields.parent": "a" }),
    ];
    const siblings = Array.from({ length: 30 }, (_, i) => `native:sibling ${i}`);
    await store.sync([...siblings, "elastic:target", "native:target"], 0);
    await store.learn(new Map(siblings.map((r) => [r, { examples: sibling(), answers: {} }])));
    await store.learn(new Map(["elastic:target", "native:target"].map((r) => [r, { examples: target(), answers: {} }])));
    expect(store.get("native:target")!.tree.describe().split("\n")[0]).toMatch(/^asset = /);
    // Another input format's rules are no siblings: without them the best separation wins.
    expect(store.get("elastic:target")!.tree.describe().split("\n")[0]).toMatch(/^fields\.parent = /);
  });
});
