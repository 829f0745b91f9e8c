// The fixes for the adversarial review (review-attacks.test.ts), pinned where that file does not reach: the sides
// a fix must keep open (near texts still reused, other rules unaffected) and the parts behind it (networks, parsing,
// the byte bound).
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../../../src/core/alert.js";
import type { EnrichedAlert } from "../../../../../src/core/ports/index.js";
import { openCaches } from "../../../../../src/resources/cache.js";
import { networkOf } from "../../../../../src/transforms/classify/memory/features.js";
import { MemoryStore, parseRecord } from "../../../../../src/transforms/classify/memory/store.js";
import { labelOf, type Example } from "../../../../../src/transforms/classify/memory/tree.js";
import { memoryHarness, probeAlert, SHARE_ACCESS, ScriptedModel } from "./support.js";

function probe(ip: string, over: Partial<Alert> = {}): EnrichedAlert {
  return probeAlert({ prefix: "F", ...SHARE_ACCESS }, ip, over);
}
const benign = () => new ScriptedModel(() => ({ classification: "false_positive" }));

describe("review fixes: source networks", () => {
  it("derives IPv4 /24 and IPv6 /48 networks", () => {
    expect(networkOf("203.0.113.77", 4)).toBe("203.0.113.0/24");
    expect(networkOf("2a00:1450:4001:81c::beef", 6)).toBe("2a00:1450:4001::/48");
    expect(networkOf("2a00::1", 6)).toBe("2a00:0:0::/48");
  });

  it("addresses of different networks still teach a dismissal", async () => {
    const { classifier } = await memoryHarness(benign());
    for (let i = 1; i <= 6; i++) await classifier.classify([probe(`203.0.${100 + i}.7`)]);
    const [d] = await classifier.classify([probe("203.0.200.7")]);
    expect(d).toMatchObject({ source: "memory", classification: "false_positive" });
  });
});

describe("review fixes: new texts under a false_positive leaf", () => {
  it("a text made of the leaf's words (or one new word among five or more) is still answered; two new words, or a far text, are asked", async () => {
    const { classifier } = await memoryHarness(benign());
    const seen = [
      "backup agent read share nightly",
      "backup agent read share weekly",
      "backup agent read share hourly",
      "backup agent read share daily",
      "backup agent read share monthly",
      "backup agent read share again",
    ];
    for (let i = 0; i < seen.length; i++) await classifier.classify([probe(`203.2.${100 + i}.7`, { description: seen[i]! })]);
    const [near] = await classifier.classify([probe("203.2.200.7", { description: "backup agent read share daily again" })]);
    expect(near).toMatchObject({ source: "memory", classification: "false_positive" });
    // One new word among five is near; two are not (review: a share path with `ntds.dit` appended had Jaccard 0.5).
    const [oneNew] = await classifier.classify([probe("203.2.202.7", { description: "backup agent read share yearly" })]);
    expect(oneNew).toMatchObject({ source: "memory", classification: "false_positive" });
    const [twoNew] = await classifier.classify([probe("203.2.203.7", { description: "backup agent exported share yearly" })]);
    expect(twoNew!.source).toBe("llm");
    const [far] = await classifier.classify([probe("203.2.201.7", { description: "operator exported every mailbox to external host" })]);
    expect(far!.source).toBe("llm");
  });

  it("an id field (one distinct token per alert) takes a new id of the same shape; a command in it is asked", async () => {
    const { classifier } = await memoryHarness(benign());
    const ids = ["sbpnudv", "sfkluaj", "s2hz47p", "sewmlyr", "sctzsej", "sdbjoss"];
    for (let i = 0; i < ids.length; i++) await classifier.classify([probe(`203.5.${100 + i}.7`, { fields: { files_touched: 3, session_id: ids[i]! } })]);
    const [id] = await classifier.classify([probe("203.5.200.7", { fields: { files_touched: 3, session_id: "sqwerty" } })]);
    expect(id).toMatchObject({ source: "memory", classification: "false_positive" });
    const [cmd] = await classifier.classify([probe("203.5.201.7", { fields: { files_touched: 3, session_id: "cmd /c whoami" } })]);
    expect(cmd!.source).toBe("llm");
  });

  it("a true_positive leaf still reuses for one-off texts (the asymmetry: only dismissals are held back)", async () => {
    const { classifier } = await memoryHarness(new ScriptedModel(() => ({ classification: "true_positive" })));
    for (let i = 0; i < 6; i++) await classifier.classify([probe(`203.3.${100 + i}.7`, { description: `alpha${i} beta${i} gamma${i}` })]);
    const [d] = await classifier.classify([probe("203.3.200.7", { description: "entirely different words here" })]);
    expect(d).toMatchObject({ source: "memory", classification: "true_positive" });
  });
});

describe("review fixes: critical", () => {
  it("with MEMORY_FOR_CRITICAL=true a rule answered critical is reused", async () => {
    const { classifier } = await memoryHarness(new ScriptedModel(() => ({ classification: "true_positive", severity: "critical" })), {
      env: { MEMORY_FOR_CRITICAL: "true" },
    });
    for (let i = 0; i < 3; i++) await classifier.classify([probe(`70.2.${i + 1}.1`, { severity: "high" })]);
    const [d] = await classifier.classify([probe("70.2.9.1", { severity: "high" })]);
    expect(d).toMatchObject({ source: "memory", severity: "critical" });
  });
});

describe("review fixes: stored records", () => {
  const ex = (id: string): Example => ({ id, label: labelOf("true_positive", "high"), values: { n: 1 }, source: "198.51.100.0/24", at: 1_000, by: "model" });
  it("keeps the valid examples of a record and drops the invalid ones one by one", () => {
    const { record, dropped } = parseRecord("r", { v: 1, rule: "r", examples: [ex("a"), { id: "b" }, ex("c")], answers: { x: { decision: {} } } });
    expect(record.examples.map((e) => e.id)).toEqual(["a", "c"]);
    expect(record.answers).toEqual({});
    expect(dropped).toBe(2);
  });
  it("treats another rule's record, another version or a non-object as empty", () => {
    for (const raw of [{ v: 1, rule: "other", examples: [ex("a")], answers: {} }, { v: 2, rule: "r", examples: [ex("a")], answers: {} }, "junk", 7]) {
      expect(parseRecord("r", raw).record).toEqual({ v: 1, rule: "r", examples: [], answers: {} });
    }
  });
});

describe("review fixes: byte bound", () => {
  it("evicts least recently used rules past maxBytes and keeps the byte count of what it holds", async () => {
    const caches = await openCaches("memory://");
    const POLICY = { minSupport: 2, minSupportFalsePositive: 4, minSourcesFalsePositive: 2, maxDepth: 8 };
    const store = new MemoryStore({
      cache: caches.get("ai-pattern"),
      keyPrefix: "b:",
      ttlMs: 1e9,
      maxExamplesPerRule: 100,
      maxRules: 100,
      maxBytes: 2_000,
      policy: POLICY,
      now: () => 2_000,
    });
    const big = (rule: string): Example[] =>
      Array.from({ length: 4 }, (_, i) => ({
        id: `${rule}${i}`,
        label: labelOf("true_positive", "high"),
        values: { text: "x".repeat(100) },
        source: null,
        at: 1_500 + i,
        by: "model",
      }));
    for (const r of ["a", "b", "c", "d"]) await store.learn(new Map([[r, { examples: big(r), answers: {} }]]));
    expect(store.approxBytes()).toBeLessThanOrEqual(2_000);
    expect(store.get("d")).toBeDefined();
    expect(store.get("a")).toBeUndefined();
    let sum = 0;
    for (const r of ["a", "b", "c", "d"]) {
      const s = store.get(r);
      if (s) sum += JSON.stringify(s.record).length;
    }
    expect(store.approxBytes()).toBe(sum);
  });
});

describe("review fixes: dropped spot checks", () => {
  it("while most recent spot checks were dropped unasked, false_positive is not handed out from memory", async () => {
    const { classifier } = await memoryHarness(benign(), { env: { MEMORY_SPOT_CHECK_RATE: "1", MEMORY_MAX_QUEUED_SPOT_CHECKS: "1" } });
    for (let i = 1; i <= 6; i++) await classifier.classify([probe(`203.4.${100 + i}.7`)]);
    const sources: string[] = [];
    // Every memory answer queues a spot check; with room for one, each new one drops the one before, unasked.
    for (let i = 0; i < 25; i++) sources.push((await classifier.classify([probe(`203.4.${150 + i}.7`)]))[0]!.source);
    expect(sources.slice(0, 10).every((s) => s === "memory")).toBe(true);
    expect(sources.at(-1)).toBe("llm");
  });
});
