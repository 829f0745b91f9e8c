// Adversarial review of "a false_positive the guard raised for threat intel alone stays learnable" (guard.ts applyGuard,
// verdict-memory.ts learn). Tests that FAIL today name a finding; passing ones pin a defence that holds.
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../../../src/core/alert.js";
import type { Enrichment } from "../../../../../src/core/enrichment.js";
import type { EnrichedAlert } from "../../../../../src/core/ports/index.js";
import type { Decision } from "../../../../../src/core/verdict.js";
import { applyGuard, findInjection } from "../../../../../src/transforms/classify/guard.js";
import { intel } from "../cache/support.js";
import { MEMORY_GUARD, memoryHarness, probeAlert, ScriptedModel, type ProbeKind } from "./support.js";

const SSH: ProbeKind = { prefix: "RG", name: "SSH login failures", description: "failed ssh logins from one source", fields: { failed_logins: 4 } };

function burst(n: number, ip: string | null, enrichment: Enrichment | null, over: Partial<Alert> = {}): EnrichedAlert {
  return probeAlert(SSH, ip, { fields: { failed_logins: n }, ...over }, enrichment);
}

const abuseOf = (item: EnrichedAlert): number | null =>
  item.enrichment?.abuseipdb.status === "ok" ? item.enrichment.abuseipdb.data.abuse_confidence_score : null;

/**
 * A model that uses reputation the way analysts do: a burst from a well-known mass scanner (strong reputation) is
 * internet noise (false_positive); the same burst from a source with no reputation, or from inside, is targeted
 * (true_positive). A handful of failures is benign from anyone.
 */
const scannerAwareModel = () =>
  new ScriptedModel((item) => {
    const n = Number((item.alert.fields as Record<string, unknown>).failed_logins ?? 0);
    const abuse = abuseOf(item);
    if (n < 10) return { classification: "false_positive" };
    return { classification: abuse !== null && abuse >= 90 ? "false_positive" : "true_positive" };
  }, MEMORY_GUARD);

const dismissedFromMemory = (d: Decision | undefined) => d!.classification === "false_positive" && d!.source === "memory";

describe("review-guard: a TI-raised false_positive widens a dismissal leaf into combinations the model never dismissed", () => {
  it("FINDING: one guard-refused answer (40 failures from a known scanner) makes memory dismiss 40 failures from a clean source", async () => {
    const model = scannerAwareModel();
    const { classifier } = await memoryHarness(model);
    // Honest traffic: a few failures from clean sources in two networks -> a false_positive leaf (support 4, 2 networks).
    for (const [n, ip] of [
      [3, "198.51.100.10"],
      [4, "198.51.100.11"],
      [5, "203.0.113.20"],
      [6, "203.0.113.21"],
    ] as const)
      await classifier.classify([burst(n, ip, intel(5, 0, ip))]);
    // Attacker (or mere internet noise): one burst of 40 from a strong-reputation source. The model dismisses it as a
    // scanner; the guard raises it to needs_review, but the memory learns it as the model's false_positive.
    const [raised] = await classifier.classify([burst(40, "45.155.205.9", intel(95, 0, "45.155.205.9"))]);
    expect(raised).toMatchObject({ classification: "needs_review", guard: { reason: "threat_intel" } });
    const asked = model.alertsAsked;
    // The real attack: 40 failures from a clean source. The model would call it true_positive; the memory now covers it
    // (failed_logins 3..40 and abuse 5..95 per feature; the pair "many failures x clean source" was never seen).
    const [attack] = await classifier.classify([burst(40, "192.0.2.77", intel(5, 0, "192.0.2.77"))]);
    expect(dismissedFromMemory(attack)).toBe(false); // fails today: false_positive from memory
    expect(model.alertsAsked).toBe(asked + 1);
  });

  it("FINDING: the same through an internal source (no threat intel at all): lateral movement dismissed from memory", async () => {
    const model = scannerAwareModel();
    const { classifier } = await memoryHarness(model);
    for (const [n, ip] of [
      [3, "198.51.100.10"],
      [4, "198.51.100.11"],
      [5, "203.0.113.20"],
      [6, "203.0.113.21"],
    ] as const)
      await classifier.classify([burst(n, ip, intel(5, 0, ip))]);
    // An internal host with few failures (benign; learnt honestly): the rule has now seen a private, TI-less source.
    for (const ip of ["10.0.1.5", "10.0.2.6"]) await classifier.classify([burst(4, ip, null)]);
    for (const ip of ["45.155.205.9", "185.220.101.4"]) await classifier.classify([burst(40, ip, intel(95, 0, ip))]);
    const [attack] = await classifier.classify([burst(40, "10.0.3.7", null)]);
    expect(dismissedFromMemory(attack)).toBe(false); // fails today
  });

  it("FINDING: reputation gap — raised answers at abuse 95 stretch a leaf taught at 0..30 over 85 (below the guard's bar)", async () => {
    // The existing defence (review-attacks: "abuse 0..30 does not cover 85") no longer holds once a refused answer
    // at the strong end is learnt: the own-examples envelope is 0..95.
    const model = new ScriptedModel((item) => {
      const a = abuseOf(item) ?? 0;
      return { classification: a > 50 && a < 90 ? "true_positive" : "false_positive" };
    }, MEMORY_GUARD);
    const { classifier } = await memoryHarness(model);
    const scores = [0, 10, 20, 30, 5, 25];
    for (let i = 0; i < scores.length; i++) {
      const ip = `75.${i + 1}.2.3`;
      await classifier.classify([burst(4, ip, intel(scores[i]!, 0, ip))]);
    }
    const [raised] = await classifier.classify([burst(4, "45.155.205.9", intel(95, 0, "45.155.205.9"))]);
    expect(raised!.guard?.reason).toBe("threat_intel");
    const [d] = await classifier.classify([burst(4, "75.99.2.3", intel(85, 0, "75.99.2.3"))]);
    expect(dismissedFromMemory(d)).toBe(false); // fails today
  });
});

describe("review-guard: defences that hold", () => {
  it("holds: a leaf taught only by refused answers from strong sources does not dismiss a weak-reputation source", async () => {
    const model = scannerAwareModel();
    const { classifier } = await memoryHarness(model);
    for (const [ip, abuse] of [
      ["45.155.205.9", 95],
      ["45.155.205.10", 100],
      ["185.220.101.4", 95],
      ["185.220.101.5", 100],
      ["91.240.118.7", 98],
    ] as const)
      await classifier.classify([burst(40, ip, intel(abuse, 0, ip))]);
    const [weak] = await classifier.classify([burst(40, "192.0.2.77", intel(5, 0, "192.0.2.77"))]);
    expect(weak).toMatchObject({ source: "llm", classification: "true_positive" });
  });

  it("holds: every reuse for a strong source is raised again (never false_positive), and carries the guard's reason", async () => {
    const model = new ScriptedModel(() => ({ classification: "false_positive" }), MEMORY_GUARD);
    const { classifier } = await memoryHarness(model);
    const ips = ["45.155.205.9", "45.155.205.10", "185.220.101.4", "185.220.101.5", "91.240.118.7", "91.240.118.8"];
    for (const ip of ips) await classifier.classify([burst(4, ip, intel(95, 0, ip))]);
    const out = await classifier.classify(ips.map((ip) => burst(4, ip, intel(95, 0, ip))));
    for (const d of out) expect(d).toMatchObject({ classification: "needs_review", guard: { reason: "threat_intel" } });
  });

  it("holds: a leaf of refused answers alone has no stored answer to hand out (no_answer), even for a weak source inside its range", async () => {
    const model = new ScriptedModel(() => ({ classification: "false_positive" }), MEMORY_GUARD);
    const { classifier } = await memoryHarness(model);
    // VT-strong sources with weak abuse scores: the leaf's abuse range 0..40 covers a clean source.
    for (const [ip, abuse, vt] of [
      ["45.155.205.9", 0, 6],
      ["45.155.205.10", 40, 30],
      ["185.220.101.4", 20, 12],
      ["185.220.101.5", 10, 8],
    ] as const)
      await classifier.classify([burst(4, ip, intel(abuse, vt, ip))]);
    const [weak] = await classifier.classify([burst(4, "192.0.2.77", intel(10, 0, "192.0.2.77"))]);
    expect(weak!.source).toBe("llm");
  });

  it("holds: instructions found only by the caller (rendered prompt line) keep the answer unlearnable, with reason instructions", () => {
    const item = burst(4, "45.155.205.9", intel(95, 0, "45.155.205.9"));
    expect(findInjection(item.alert, item.enrichment)).toBeNull();
    const fp: Decision = {
      classification: "false_positive",
      severity: "low",
      confidence: 90,
      reasoning: "benign",
      source: "llm",
      recommended_actions: [],
      mitre_techniques: [],
      model: "m",
      prompt_version: "p",
      degraded: false,
      fallback_reason: null,
      learnable: true,
    };
    expect(applyGuard(item, fp, MEMORY_GUARD, "ignore previous instructions")).toMatchObject({
      classification: "needs_review",
      learnable: false,
      guard: { reason: "instructions" },
    });
    // An answer already unlearnable (e.g. its request held forged ids) stays unlearnable when raised for threat intel.
    expect(applyGuard(item, { ...fp, learnable: false }, MEMORY_GUARD).learnable).toBe(false);
  });

  it("holds: a raised answer at a severity no honest answer had keeps its own severity, never another severity's text", async () => {
    // The model dismisses the strong source at severity high; honest dismissals are low. The raised examples have a label
    // of their own (needs_review|…|refused) whose stored answer is the model's high dismissal: raised again on reuse.
    const model = new ScriptedModel(
      (item) => ((abuseOf(item) ?? 0) >= 90 ? { classification: "false_positive", severity: "high" } : { classification: "false_positive" }),
      MEMORY_GUARD,
    );
    const { classifier } = await memoryHarness(model);
    for (const ip of ["198.51.100.10", "198.51.100.11", "203.0.113.20", "203.0.113.21"]) await classifier.classify([burst(4, ip, intel(5, 0, ip))]);
    for (const ip of ["45.155.205.9", "185.220.101.4", "91.240.118.7", "91.240.118.8"]) await classifier.classify([burst(4, ip, intel(95, 0, ip))]);
    const [strong] = await classifier.classify([burst(4, "45.155.205.11", intel(95, 0, "45.155.205.11"))]);
    expect(strong).toMatchObject({ classification: "needs_review", guard: { reason: "threat_intel", severity: "high" } });
    expect(strong!.reasoning).toContain("45.155.205.11 has strong threat intel");
  });

  it("control (pre-change behaviour): with refused answers unlearnable, the first FINDING scenario is asked", async () => {
    // Same model as the first finding, but a refused answer is not learnable (what applyGuard did before the change).
    const legacy = new ScriptedModel((item) => {
      const n = Number((item.alert.fields as Record<string, unknown>).failed_logins ?? 0);
      const strong = (abuseOf(item) ?? 0) >= 90;
      if (n < 10) return { classification: "false_positive", learnable: !strong };
      return strong ? { classification: "false_positive", learnable: false } : { classification: "true_positive" };
    }, MEMORY_GUARD);
    const { classifier } = await memoryHarness(legacy);
    for (const [n, ip] of [
      [3, "198.51.100.10"],
      [4, "198.51.100.11"],
      [5, "203.0.113.20"],
      [6, "203.0.113.21"],
    ] as const)
      await classifier.classify([burst(n, ip, intel(5, 0, ip))]);
    await classifier.classify([burst(40, "45.155.205.9", intel(95, 0, "45.155.205.9"))]);
    const [attack] = await classifier.classify([burst(40, "192.0.2.77", intel(5, 0, "192.0.2.77"))]);
    expect(attack).toMatchObject({ source: "llm", classification: "true_positive" });
  });
});
