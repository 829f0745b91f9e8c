// Typed component events write the metric the dashboards and rules name, with the same labels, and their log line.
import pino from "pino";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CacheEvents, LlmEvents, MemoryEvents, TiEvents, TierEvents } from "../../../src/telemetry/component-events.js";
import { createMetrics, type Metrics } from "../../../src/telemetry/metrics.js";
import { tierMetrics } from "../../../src/transforms/classify/tiers.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  return { lines, logger: pino({ level: "trace" }, stream) };
}

async function value(m: Metrics, name: keyof Metrics, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await (m[name] as unknown as { get(): Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }).get();
  return metric.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x) && Object.keys(v.labels).length === Object.keys(labels).length)
    ?.value;
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("component events", () => {
  it("memory asks, answers, spot checks and size keep triage_memory_* names and labels", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const { lines, logger } = capture();
    const e = new MemoryEvents(m, logger);
    e.asked("no_leaf");
    e.asked("no_leaf");
    e.answered();
    e.spotCheck(true, 1);
    e.spotCheck(false, 0.5);
    e.size({ rules: 2, examples: 40 });
    expect(await value(m, "memoryAsked", { reason: "no_leaf" })).toBe(2);
    expect(await value(m, "memoryAnswered", {})).toBe(1);
    expect(await value(m, "memorySpotChecks", { outcome: "agree" })).toBe(1);
    expect(await value(m, "memorySpotChecks", { outcome: "disagree" })).toBe(1);
    expect(await value(m, "memoryAgreement", {})).toBe(0.5);
    expect(await value(m, "memorySize", { kind: "examples" })).toBe(40);
    await flush();
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["memory asked the model", "memory spot check"]));
  });

  it("cache lookups, entries and evictions keep triage_cache_* names and labels", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const { lines, logger } = capture();
    const e = new CacheEvents(m, logger);
    e.lookups("ai-exact", "hit", 3);
    e.lookups("overrides", "miss", 0);
    e.entries("ai-exact", 7);
    e.evicted("ai-exact", "size");
    e.analystOverride("disagree", "a-1");
    expect(await value(m, "cacheRequests", { cache: "ai-exact", result: "hit" })).toBe(3);
    expect(await value(m, "cacheRequests", { cache: "overrides", result: "miss" })).toBe(0);
    expect(await value(m, "cacheEntries", { cache: "ai-exact" })).toBe(7);
    expect(await value(m, "cacheEvictions", { cache: "ai-exact" })).toBe(1);
    expect(await value(m, "analystOverrides", { agreement: "disagree" })).toBe(1);
    await flush();
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(["cache lookups", "cache entry evicted", "inline analyst label applied"]));
  });

  it("TI events count per provider and log breaker changes (open at warn)", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const { lines, logger } = capture();
    const e = new TiEvents(m, logger, "abuseipdb");
    e.cacheLookup(false);
    e.request("ok");
    e.limiterWait(0.5);
    e.breakerState("closed", 0, true);
    e.breakerState("open", 2);
    expect(await value(m, "cacheRequests", { cache: "ti", result: "miss" })).toBe(1);
    expect(await value(m, "tiRequests", { provider: "abuseipdb", outcome: "ok" })).toBe(1);
    expect(await value(m, "breakerState", { provider: "abuseipdb" })).toBe(2);
    await flush();
    const breaker = lines.filter((l) => l.msg === "circuit breaker open");
    expect(breaker).toMatchObject([{ level: 40, provider: "abuseipdb", state: "open" }]);
    expect(lines.some((l) => l.msg === "circuit breaker closed")).toBe(false);
  });

  it("LLM events keep the tier label that tierMetrics adds", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const { logger } = capture();
    const e = new LlmEvents(tierMetrics(m, "escalation"), logger, "escalation");
    e.request("ok");
    e.isolatedCapped();
    e.usage({ promptTokens: 10, outputTokens: 5, thoughtsTokens: 0, cachedTokens: 4 }, 0.01);
    new LlmEvents(m, logger).request("rate_limited");
    expect(await value(m, "llmRequests", { outcome: "ok", tier: "escalation" })).toBe(1);
    expect(await value(m, "llmRequests", { outcome: "rate_limited" })).toBe(1);
    expect(await value(m, "llmIsolatedCapped", { tier: "escalation" })).toBe(1);
    expect(await value(m, "llmTokens", { kind: "cached", tier: "escalation" })).toBe(4);
  });

  it("tier events count escalations by reason and decisions by tier", async () => {
    const m = createMetrics({ defaultMetrics: false });
    const { lines, logger } = capture();
    const e = new TierEvents(m, logger);
    e.escalated(5, new Map([["critical", 2]]));
    e.decided(
      new Map([
        ["first", 3],
        ["escalation", 2],
      ]),
    );
    expect(await value(m, "tierEscalations", { reason: "critical" })).toBe(2);
    expect(await value(m, "tierDecisions", { tier: "first" })).toBe(3);
    await flush();
    expect(lines.find((l) => l.msg === "alerts escalated")).toMatchObject({ alerts: 5, escalated: 2 });
  });
});
