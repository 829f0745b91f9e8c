// Adversarial review (FAILS until fixed in caching-classifier.ts, which another helper owns): an analyst override is
// bound to the alert's pattern key as well, and the override lookup ignores AI_PATTERN_FOR_CRITICAL. One critical
// alert an analyst closes as false_positive (the attacker's rehearsal: "DR test transfer") then dismisses every other
// critical alert of that pattern — another user, another byte count — for OVERRIDE_TTL_SECONDS. The guard only looks
// at injected text and threat intel, so nothing stops it.
// Fix: in CachingClassifier.classify, look overrides up by pattern key only where patternAllowed[i] holds
// (`pattern: patternAllowed[i] ? keys[i]!.pattern : null`), so the pattern policy for critical alerts covers
// pattern-bound overrides too; exact-key overrides (the same content again) keep applying.
import { createVerdictCacheWithFlow } from "../../../../support/feedback-flow.js";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { openCaches } from "../../../../../src/resources/cache.js";
import type { Caches } from "../../../../../src/core/ports/index.js";
import { registerFeedbackApi } from "../../../../../src/sources/feedback.js";
import { createMetrics } from "../../../../../src/telemetry/metrics.js";
import { MemoryVerdictSink, silentLogger } from "../../../../support/memory.js";
import { cacheConfig, CountingModel, item, TEST_MODEL, TEST_PROMPT } from "./support.js";

const open: Caches[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

const transfer = (id: string, user: string, bytes: number, severity: "critical" | "high" = "critical") =>
  item({
    alert_id: id,
    alert_name: "Large outbound transfer",
    severity,
    description: `${bytes} bytes uploaded from srv-db-01 by ${user}`,
    user,
    host: "srv-db-01",
    fields: { bytes_out: bytes },
  });

async function rig(env: Record<string, string> = {}) {
  const caches = await openCaches("memory://");
  open.push(caches);
  const cache = createVerdictCacheWithFlow({
    config: cacheConfig(env),
    caches,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: silentLogger,
    verdictSink: new MemoryVerdictSink(),
    publishFeedback: async () => {},
    currentVersion: { model: TEST_MODEL, promptVersion: TEST_PROMPT },
  });
  const classifier = cache.wrap(new CountingModel());
  const app = Fastify();
  registerFeedbackApi(app, { handler: cache, authToken: "s3cret" });
  const close = (id: string) =>
    app.inject({
      method: "POST",
      url: "/v1/feedback",
      headers: { "content-type": "application/json", authorization: "Bearer s3cret" },
      payload: JSON.stringify({ alert_id: id, classification: "false_positive", analyst: "ana", reason: "DR test transfer" }),
    });
  return { classifier, app, close };
}

describe("a pattern-bound override and critical alerts (AI_PATTERN_FOR_CRITICAL=false)", () => {
  it("never dismisses another critical alert through the pattern key; the same content again still gets the analyst's decision", async () => {
    const r = await rig();
    await r.classifier.classify([transfer("X-1", "alice", 4_100_000_000)]);
    expect((await r.close("X-1")).statusCode).toBe(202);
    const [same] = await r.classifier.classify([transfer("X-1", "alice", 4_100_000_000)]);
    expect(same).toMatchObject({ source: "override", classification: "false_positive" });
    const [other] = await r.classifier.classify([transfer("Y-1", "bob", 4_300_000_000)]);
    expect(other!.source).not.toBe("override");
    expect(other!.classification).not.toBe("false_positive");
    await r.app.close();
  });

  it("with AI_PATTERN_FOR_CRITICAL=true the operator allows it", async () => {
    const r = await rig({ AI_PATTERN_FOR_CRITICAL: "true" });
    await r.classifier.classify([transfer("X-2", "alice", 4_100_000_000)]);
    expect((await r.close("X-2")).statusCode).toBe(202);
    expect((await r.classifier.classify([transfer("Y-2", "bob", 4_300_000_000)]))[0]!.source).toBe("override");
    await r.app.close();
  });
});
