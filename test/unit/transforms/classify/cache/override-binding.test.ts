// Adversarial review: an override names an alert id, and ids are attacker-chosen. A record reusing the id of an alert
// an analyst is about to close must not decide which content the analyst's decision binds to.
import { createVerdictCacheWithFlow } from "../../../../support/feedback-flow.js";
import { createHash } from "node:crypto";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { openCaches } from "../../../../../src/resources/cache.js";
import type { Caches } from "../../../../../src/core/ports/index.js";
import { registerFeedbackApi } from "../../../../../src/sources/feedback.js";
import { createMetrics } from "../../../../../src/telemetry/metrics.js";
import type { FeedbackRecord } from "../../../../../src/transforms/classify/cache/overrides.js";
import { MemoryVerdictSink, silentLogger } from "../../../../support/memory.js";
import { cacheConfig, CountingModel, item, TEST_MODEL, TEST_PROMPT } from "./support.js";

const open: Caches[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function rig() {
  const caches = await openCaches("memory://");
  open.push(caches);
  const published: FeedbackRecord[] = [];
  const cache = createVerdictCacheWithFlow({
    config: cacheConfig(),
    caches,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: silentLogger,
    verdictSink: new MemoryVerdictSink(),
    publishFeedback: async (r) => void published.push(...r),
    currentVersion: { model: TEST_MODEL, promptVersion: TEST_PROMPT },
  });
  const classifier = cache.wrap(new CountingModel());
  const app = Fastify();
  registerFeedbackApi(app, { handler: cache, authToken: "s3cret" });
  const post = (body: unknown) =>
    app.inject({
      method: "POST",
      url: "/v1/feedback",
      headers: { "content-type": "application/json", authorization: "Bearer s3cret" },
      payload: JSON.stringify(body),
    });
  return { classifier, app, post, published };
}

// The attacker's noise (analysts routinely close it), and the attack they mean to run later; no threat intel.
const noise = (id: string) =>
  item({
    alert_id: id,
    alert_name: "Port scan detected",
    severity: "low",
    description: "40 distinct ports probed on pc-lab-9 in 60 seconds",
    user: null,
    host: "pc-lab-9",
    fields: { ports_probed: 40 },
  });
const attack = (id: string) =>
  item({
    alert_id: id,
    alert_name: "Data exfiltration to external host",
    severity: "critical",
    description: "4 GB uploaded from srv-db-01 to an external host",
    user: "svc-backup",
    host: "srv-db-01",
    fields: { bytes_out: 4_000_000_000 },
  });

describe("an override by id cannot be re-pointed at other content", () => {
  it("refuses an override by id once a record reused that id with other content; the attacker's later attack is never an override false_positive", async () => {
    const r = await rig();
    await r.classifier.classify([noise("SIEM-77")]);
    // A decoy reusing the id, carrying the content of the attack to come: it replaced the verdict record of SIEM-77.
    await r.classifier.classify([attack("SIEM-77")]);
    // The analyst closes SIEM-77 having read the port scan's verdict.
    const res = await r.post({ alert_id: "SIEM-77", classification: "false_positive", analyst: "ana", reason: "our own scanner" });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe("ambiguous_alert");
    expect(r.published).toHaveLength(0);
    // The attack itself, under a fresh id: triaged, not dismissed by the analyst's decision about the port scan.
    const [d] = await r.classifier.classify([attack("SIEM-900")]);
    expect(d!.source).not.toBe("override");
    expect(d!.classification).not.toBe("false_positive");
    await r.app.close();
  });

  it("also when the noise and the decoy arrive in one batch", async () => {
    const r = await rig();
    await r.classifier.classify([noise("SIEM-78"), attack("SIEM-78")]);
    const res = await r.post({ alert_id: "SIEM-78", classification: "false_positive", analyst: "ana", reason: "our own scanner" });
    expect(res.json().error?.code).toBe("ambiguous_alert");
    const [d] = await r.classifier.classify([attack("SIEM-901")]);
    expect(d!.source).not.toBe("override");
    await r.app.close();
  });

  it("a short id spelling a long id's hashed key is another alert: an override of the long id is not bound to it", async () => {
    const r = await rig();
    const long = `SIEM-${"x".repeat(300)}`;
    await r.classifier.classify([attack(`h:${createHash("sha256").update(long).digest("hex")}`)]);
    const res = await r.post({ alert_id: long, classification: "false_positive", analyst: "ana", reason: "our own scanner" });
    expect(res.statusCode).toBe(422);
    expect(res.json().error.code).toBe("unknown_alert");
    expect((await r.classifier.classify([attack("SIEM-902")]))[0]!.source).not.toBe("override");
    await r.app.close();
  });

  it("still applies an override to an id seen once, and to a re-delivered copy of the same content", async () => {
    const r = await rig();
    await r.classifier.classify([noise("SIEM-79")]);
    await r.classifier.classify([noise("SIEM-79")]); // re-delivery: same content
    const res = await r.post({ alert_id: "SIEM-79", classification: "false_positive", analyst: "ana", reason: "our own scanner" });
    expect(res.statusCode).toBe(202);
    expect((await r.classifier.classify([noise("SIEM-80")]))[0]).toMatchObject({ source: "override", classification: "false_positive" });
    await r.app.close();
  });
});
