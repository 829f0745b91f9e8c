// Adversarial review of the verdict memory (issue #14). An attacker controls the fields of some alerts and can send
// many; the goal is a memory `false_positive` for a real attack, a poisoned leaf, or an unbounded memory.
// Tests that fail today name a gap (see the review report); passing ones pin a defence that holds.
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../../../src/core/alert.js";
import { KeyDeriver } from "../../../../../src/core/cache-keys.js";
import type { EnrichedAlert } from "../../../../../src/core/ports/index.js";
import { openCaches } from "../../../../../src/resources/cache.js";
import { keyOptionsFrom } from "../../../../../src/transforms/classify/cache/index.js";
import { alertFeatures } from "../../../../../src/transforms/classify/memory/features.js";
import { MemoryStore } from "../../../../../src/transforms/classify/memory/store.js";
import { labelOf, type Example } from "../../../../../src/transforms/classify/memory/tree.js";
import { cacheConfig, intel } from "../cache/support.js";
import { parseMemoryOptions } from "../../../../../src/config/memory.js";
import { memoryHarness, probeAlert, SHARE_ACCESS, ScriptedModel } from "./support.js";

/** A "file share access" alert the attacker shapes; everything but the listed overrides is the same per probe. */
function probe(ip: string | null, over: Partial<Alert> = {}, abuse = 5): EnrichedAlert {
  return probeAlert({ prefix: "R", ...SHARE_ACCESS }, ip, over, ip === null ? null : intel(abuse, 0, ip));
}

/** The model honestly calls the probes benign and calls the real attack (marked by `attack` in its text) a true positive. */
const honestModel = () =>
  new ScriptedModel((item) => ({
    classification: JSON.stringify(item.alert).includes("ATTACK") || /mimikatz|lsass/i.test(item.alert.description ?? "") ? "true_positive" : "false_positive",
  }));

describe("review: source diversity for false_positive", () => {
  it("addresses of one IPv6 /64 (one attacker) count as one source: their probes do not teach a dismissal", async () => {
    const model = honestModel();
    const { classifier } = await memoryHarness(model);
    for (let i = 1; i <= 6; i++) await classifier.classify([probe(`2a00:1450:4001:81c::${i}`)]);
    // The real attack from the same /64, identical in every feature the memory looks at.
    const [d] = await classifier.classify([probe("2a00:1450:4001:81c::beef")]);
    expect(d!.classification === "false_positive" && d!.source === "memory").toBe(false);
  });

  it("unparseable source IP strings (free text) count as one source, not one each", async () => {
    const model = honestModel();
    const { classifier } = await memoryHarness(model);
    for (let i = 1; i <= 6; i++) await classifier.classify([probe(`bogus-${i}`, { destination_ip: null })]);
    const [d] = await classifier.classify([probe("bogus-attack", { destination_ip: null })]);
    expect(d!.classification === "false_positive" && d!.source === "memory").toBe(false);
  });

  it("holds: alerts with no source IP are one source (null never satisfies diversity)", async () => {
    const model = honestModel();
    const { classifier } = await memoryHarness(model);
    for (let i = 1; i <= 6; i++) await classifier.classify([probe(null)]);
    const [d] = await classifier.classify([probe(null)]);
    expect(d!.source).toBe("llm");
    expect(model.alertsAsked).toBe(7);
  });
});

describe("review: free text the model reads but the memory does not", () => {
  it("a description the leaf never saw is not covered by a false_positive leaf just because descriptions are one-offs", async () => {
    const model = honestModel();
    const { classifier } = await memoryHarness(model);
    const benign = [
      "nightly backup agent read share",
      "antivirus scanner enumerated share",
      "indexer crawled documents folder",
      "print spooler opened queue",
      "sync client refreshed profile",
      "updater fetched installer package",
    ];
    for (let i = 0; i < benign.length; i++) await classifier.classify([probe(`203.0.${113 + i}.7`, { description: benign[i]! })]);
    const [d] = await classifier.classify([probe("203.0.200.7", { description: "mimikatz sekurlsa logonpasswords dumped lsass credentials" })]);
    expect(d!.classification === "false_positive" && d!.source === "memory").toBe(false);
  });

  it("a many-valued string field (command line) no split tests: a new value under a false_positive leaf is asked", async () => {
    const model = honestModel();
    const { classifier } = await memoryHarness(model);
    for (let i = 0; i < 14; i++)
      await classifier.classify([
        probe(`198.18.${i}.9`.replace("198.18", `${100 + i}.64`), {
          fields: { files_touched: 3, command_line: `backup.exe --job job${String.fromCharCode(97 + i)}${String.fromCharCode(110 + (i % 10))}` },
        }),
      ]);
    const [d] = await classifier.classify([
      probe("100.64.99.9".replace("100.64", "151.64"), { fields: { files_touched: 3, command_line: "powershell -nop -w hidden -enc ATTACK" } }),
    ]);
    expect(d!.classification === "false_positive" && d!.source === "memory").toBe(false);
  });

  it("holds: padding fields do not push the attack's tell out of the features while the model still sees it", async () => {
    const model = honestModel();
    const { classifier } = await memoryHarness(model);
    const padding = Object.fromEntries(Array.from({ length: 48 }, (_, j) => [`pad${j}`, "same"]));
    for (let i = 0; i < 6; i++) await classifier.classify([probe(`203.1.${113 + i}.8`, { fields: { ...padding } })]);
    const [inside] = await classifier.classify([probe("203.1.199.8", { fields: { ...padding } })]);
    expect(inside).toMatchObject({ source: "memory", classification: "false_positive" });
    const [d] = await classifier.classify([probe("203.1.200.8", { fields: { ...padding, dumped: "lsass ATTACK" } })]);
    expect(d!.classification === "false_positive" && d!.source === "memory").toBe(false);
  });

  it("holds: a field the rule never had (a new name) is asked", async () => {
    const model = honestModel();
    const { classifier } = await memoryHarness(model);
    for (let i = 0; i < 6; i++) await classifier.classify([probe(`203.0.${113 + i}.8`)]);
    const [inside] = await classifier.classify([probe("203.0.199.8")]);
    expect(inside).toMatchObject({ source: "memory", classification: "false_positive" });
    const [d] = await classifier.classify([probe("203.0.200.8", { fields: { files_touched: 3, dumped: "lsass" } })]);
    expect(d!.source).toBe("llm");
  });
});

describe("review: a deciding number in another shape", () => {
  // Threshold rule: files_touched >= 20 → needs_review, else false_positive; attacker sends the count in other shapes.
  const byCount = () =>
    new ScriptedModel((item) => {
      const n = item.alert.fields.files_touched;
      return { classification: typeof n === "number" && n < 20 ? "false_positive" : "needs_review" };
    });
  async function trained() {
    const model = byCount();
    const h = await memoryHarness(model);
    let k = 0;
    for (const n of [2, 3, 4, 5, 6, 7, 8, 30, 35, 40, 45]) await h.classifier.classify([probe(`${60 + (k++ % 6)}.1.2.3`, { fields: { files_touched: n } })]);
    // The leaf answers for in-range values (sanity: the attack below is not asked only because the memory is empty).
    const [ok] = await h.classifier.classify([probe("61.1.2.3", { fields: { files_touched: 5 } })]);
    expect(ok!.source).toBe("memory");
    return h;
  }
  for (const [what, value] of [
    ["a numeric string in exponent form", "1e5"],
    ["a huge negative number", -1e12],
    ["a missing field", undefined],
    ["a boolean", true],
    ["an array", [5000]],
    ["an object", { n: 5000 }],
  ] as const) {
    it(`holds: ${what} is not routed into the false_positive side`, async () => {
      const { classifier } = await trained();
      const fields: Record<string, unknown> = value === undefined ? {} : { files_touched: value };
      const [d] = await classifier.classify([probe("62.1.2.3", { fields: fields as Alert["fields"] })]);
      expect(d!.classification === "false_positive" && d!.source === "memory").toBe(false);
    });
  }
});

describe("review: threat intel under a false_positive leaf", () => {
  it("holds: a worse reputation than any the leaf's dismissals saw is asked, not stretched into (abuse 0..30 does not cover 85)", async () => {
    // The model dismisses these probes for what they are; reputation never split them, so it is a non-deciding number.
    const model = new ScriptedModel((item) => ({
      classification:
        item.enrichment?.abuseipdb.status === "ok" && item.enrichment.abuseipdb.data.abuse_confidence_score > 50 ? "true_positive" : "false_positive",
    }));
    const { classifier } = await memoryHarness(model);
    const scores = [0, 10, 20, 30, 5, 25];
    for (let i = 0; i < scores.length; i++) await classifier.classify([probe(`75.${i + 1}.2.3`, {}, scores[i]!)]);
    const [inside] = await classifier.classify([probe("75.98.2.3", {}, 15)]);
    expect(inside).toMatchObject({ source: "memory", classification: "false_positive" });
    // Below the guard's strong-TI bar (90), so the guard does not catch it.
    const [d] = await classifier.classify([probe("75.99.2.3", {}, 85)]);
    expect(d!.classification === "false_positive" && d!.source === "memory").toBe(false);
  });
});

describe("review: critical alerts", () => {
  it("a reused verdict whose stored severity is critical is not handed out from memory with MEMORY_FOR_CRITICAL=false", async () => {
    // The alert's own severity is attacker/sensor controlled; the model raised these to critical.
    const model = new ScriptedModel(() => ({ classification: "true_positive", severity: "critical" }));
    const { classifier } = await memoryHarness(model);
    for (let i = 0; i < 3; i++) await classifier.classify([probe(`70.1.2.${i + 1}`, { severity: "high" })]);
    const [d] = await classifier.classify([probe("70.1.2.9", { severity: "high" })]);
    expect(d!.severity === "critical" && d!.source === "memory").toBe(false);
  });
});

describe("review: the store", () => {
  const POLICY = { minSupport: 2, minSupportFalsePositive: 4, minSourcesFalsePositive: 2, maxDepth: 8 };
  const ex = (id: string, at: number): Example => ({ id, label: labelOf("true_positive", "high"), values: { n: at }, source: "198.51.100.1", at, by: "model" });

  for (const [what, bad] of [
    ["examples not an array", { v: 1, rule: "bad", examples: "x", answers: {} }],
    [
      "an example without values",
      { v: 1, rule: "bad", examples: [{ id: "z", label: "true_positive|high", source: null, at: 1500, by: "model" }], answers: {} },
    ],
    ["answers missing", { v: 1, rule: "bad", examples: [] }],
  ] as const) {
    it(`a malformed stored record (${what}) neither blocks the other rules of the batch nor the rule's own learning`, async () => {
      const caches = await openCaches("memory://");
      const cache = caches.get("ai-pattern");
      const now = 2_000;
      const store = new MemoryStore({ cache, keyPrefix: "rv:", ttlMs: 60_000, maxExamplesPerRule: 100, maxRules: 10, policy: POLICY, now: () => now });
      // Write a good record for "good" through a second store, and a malformed one for "bad" straight into the cache.
      const other = new MemoryStore({ cache, keyPrefix: "rv:", ttlMs: 60_000, maxExamplesPerRule: 100, maxRules: 10, policy: POLICY, now: () => now });
      await other.learn(new Map([["good", { examples: [ex("g1", 1_900)], answers: {} }]]));
      const { sha256Hex } = await import("../../../../../src/core/canonical.js");
      await cache.set(`rv:${sha256Hex("bad").slice(0, 32)}`, bad, 60_000);
      await store.sync(["bad", "good"], 0).catch(() => undefined);
      expect(store.get("good")?.record.examples.map((e) => e.id)).toEqual(["g1"]);
      await store.learn(new Map([["bad", { examples: [ex("b1", 1_950)], answers: {} }]])).catch(() => undefined);
      expect(store.get("bad")?.record.examples.map((e) => e.id)).toContain("b1");
    });
  }
});

describe("review: bounds", () => {
  it("a feature's name is bounded like its value (field names are attacker-chosen)", () => {
    const keys = new KeyDeriver(keyOptionsFrom(cacheConfig()));
    const long = "k".repeat(5_000);
    const f = alertFeatures(probe("80.1.2.3", { fields: { [long]: "x", [`${long}2`]: 7 } }), keys);
    for (const name of Object.keys(f.values)) expect(name.length).toBeLessThanOrEqual(200);
  });

  it("the memory's worst case at default options fits a byte budget (1 GiB) — counts alone do not bound bytes", async () => {
    // Counts alone would allow this: one attacker-shaped rule (many fields with long distinct values) × the default
    // rule and example counts is several GiB. MEMORY_MAX_BYTES bounds what is held whatever the counts allow.
    const defaults = parseMemoryOptions({});
    expect(defaults.MEMORY_MAX_BYTES).toBeLessThanOrEqual(2 ** 30);
    const model = new ScriptedModel(() => ({ classification: "true_positive" }));
    const maxBytes = 2 ** 20;
    const { classifier } = await memoryHarness(model, { env: { MEMORY_MAX_BYTES: String(maxBytes) } });
    const fields = (i: number) =>
      Object.fromEntries(
        Array.from({ length: 47 }, (_, j) => [`f${j}_${"n".repeat(40)}`, `${String.fromCharCode(97 + (j % 26))}${"v".repeat(150)}${i.toString(36)}z${j}`]),
      );
    // 6 attacker-named rules of 100 fat examples each (~0.5 MB per rule): past the byte bound by counts alone.
    for (let r = 0; r < 6; r++) {
      for (let b = 0; b < 4; b++) {
        await classifier.classify(
          Array.from({ length: 25 }, (_, i) =>
            probe(`9${r}.1.${b}.${i + 1}`, { alert_name: `Attacker rule ${r}`, fields: { [`a_fresh${b * 25 + i}`]: 1, ...fields(b * 25 + i) } }),
          ),
        );
      }
    }
    const { rules, bytes } = classifier.size();
    console.log(`review bounds: ${rules} rules held in ${bytes} bytes (MEMORY_MAX_BYTES ${maxBytes})`);
    expect(rules).toBeGreaterThan(0);
    expect(rules).toBeLessThan(6);
    expect(bytes).toBeLessThanOrEqual(maxBytes);
  }, 60_000);
});
