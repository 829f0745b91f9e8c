import { createVerdictCacheWithFlow } from "../../../../support/feedback-flow.js";
import Fastify from "fastify";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PartitionBatch, StreamConsumer, TopicPartition, Caches } from "../../../../../src/core/ports/index.js";
import { openCaches } from "../../../../../src/resources/cache.js";
import { feedbackGroupId, FeedbackSource, registerFeedbackApi, type FeedbackHandler } from "../../../../../src/sources/feedback.js";
import { registerAnalyzeApi } from "../../../../../src/sources/http-api.js";
import { createMetrics } from "../../../../../src/telemetry/metrics.js";
import type { OverrideOutcome } from "../../../../../src/transforms/classify/cache/index.js";
import type { AnalystOverride, FeedbackRecord } from "../../../../../src/transforms/classify/cache/overrides.js";
import { MemoryDeadLetterSink, MemoryVerdictSink, silentLogger } from "../../../../support/memory.js";
import { cacheConfig, CountingModel, intel, item, TEST_MODEL, TEST_PROMPT } from "./support.js";

class RecordingHandler implements FeedbackHandler {
  readonly applied: FeedbackRecord[] = [];
  readonly submitted: AnalystOverride[] = [];
  fail = false;
  async applyFeedback(record: FeedbackRecord): Promise<null> {
    this.applied.push(record);
    return null;
  }
  async submitOverride(o: AnalystOverride): Promise<OverrideOutcome> {
    if (this.fail) throw new Error("broker down");
    this.submitted.push(o);
    return { status: "applied", verdict: null };
  }
}

const valid = { alert_id: "SIEM-1", classification: "FALSE_POSITIVE", analyst: "ana", reason: "authorised scan" };

describe("POST /v1/feedback", () => {
  for (const withAnalyzeApi of [false, true]) {
    it(`validates, guards and accepts overrides${withAnalyzeApi ? " (next to the analyze API's raw-body parser)" : ""}`, async () => {
      const app = Fastify();
      const handler = new RecordingHandler();
      if (withAnalyzeApi)
        registerAnalyzeApi(app, {
          intake: { push: () => {}, hasCapacity: () => true, whenCapacity: async () => {}, pushAll: async () => true, windowSize: 100 },
          authToken: "s3cret",
          maxBatchAlerts: 10,
          maxJsonDepth: 8,
          requestTimeoutMs: 100,
          admissionWaitMs: 100,
          modelShare: null,
        });
      registerFeedbackApi(app, { handler, authToken: "s3cret" });
      const post = (payload: string, auth = "Bearer s3cret") =>
        app.inject({ method: "POST", url: "/v1/feedback", headers: { "content-type": "application/json", authorization: auth }, payload });

      expect((await post(JSON.stringify(valid), "Bearer nope")).statusCode).toBe(401);
      const notJson = await post("{nope");
      expect(notJson.statusCode).toBe(400);
      expect((await post("[1,2]")).json()).toMatchObject({ error: { code: "not_an_object" } });
      const bad = await post(JSON.stringify({ ...valid, classification: "maybe", analyst: "" }));
      expect(bad.statusCode).toBe(422);
      expect(bad.json().error.message).toMatch(/classification: must be one of/);
      expect(bad.json().error.message).toMatch(/analyst/);

      const ok = await post(JSON.stringify(valid));
      expect(ok.statusCode).toBe(202);
      expect(ok.json()).toMatchObject({ accepted: true, alert_id: "SIEM-1", classification: "false_positive", updated_verdict: null });
      expect(handler.submitted).toEqual([{ alert_id: "SIEM-1", classification: "false_positive", analyst: "ana", reason: "authorised scan" }]);

      handler.fail = true;
      const down = await post(JSON.stringify(valid));
      expect(down.statusCode).toBe(503);
      expect(down.json().error.message).toContain("broker down");
      await app.close();
    });
  }
});

/** A consumer that hands scripted batches to the handler and records commits. */
class ScriptedConsumer implements StreamConsumer {
  readonly commits: (TopicPartition & { offset: string })[] = [];
  failures = 0;
  runs = 0;
  constructor(
    private readonly values: (string | null)[],
    private readonly timestampMs?: number,
  ) {}
  async run(topic: string, onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    this.runs++;
    if (this.failures-- > 0) throw new Error("This server does not host this topic-partition");
    await onBatch({
      topic,
      partition: 0,
      highWatermark: String(this.values.length),
      messages: this.values.map((v, i) => ({
        key: null,
        value: v === null ? null : Buffer.from(v),
        offset: String(40 + i),
        headers: {},
        ...(this.timestampMs === undefined ? {} : { timestamp: String(this.timestampMs) }),
      })),
      resolveOffset: () => {},
      heartbeat: async () => {},
      isActive: () => true,
    });
  }
  async commit(offsets: readonly (TopicPartition & { offset: string })[]): Promise<void> {
    this.commits.push(...offsets);
  }
  pause(): void {}
  resume(): void {}
  onAssigned(): void {}
  async stop(): Promise<void> {}
  async disconnect(): Promise<void> {}
  isConnected(): boolean {
    return true;
  }
}

describe("FeedbackSource", () => {
  it("applies overrides and resolved records in order, skips bad records, commits past them", async () => {
    const resolved = {
      ...valid,
      classification: "false_positive",
      kind: "resolved",
      at: "2026-11-23T08:00:00Z",
      exact: "x1:abc",
      pattern: "p1:def",
      previous: "needs_review",
    };
    const consumer = new ScriptedConsumer([JSON.stringify(valid), "not json", JSON.stringify({ alert_id: "x" }), null, JSON.stringify(resolved)]);
    const handler = new RecordingHandler();
    const dlq = new MemoryDeadLetterSink();
    await new FeedbackSource(consumer, { topic: "siem.feedback" }, handler, dlq, silentLogger).start();
    expect(handler.applied).toEqual([
      { alert_id: "SIEM-1", classification: "false_positive", analyst: "ana", reason: "authorised scan" },
      expect.objectContaining({ kind: "resolved", exact: "x1:abc", pattern: "p1:def" }),
    ]);
    expect(consumer.commits).toEqual([{ topic: "siem.feedback", partition: 0, offset: "45" }]);
    // The bad records are dead-lettered (code, reason, origin, original bytes), not only logged.
    expect(dlq.letters.map((l) => [l.code, l.origin.offset, l.value?.toString() ?? null])).toEqual([
      ["invalid_json", "41", "not json"],
      ["invalid_feedback", "42", JSON.stringify({ alert_id: "x" })],
      ["invalid_json", "43", null],
    ]);
    expect(dlq.letters[1]!.message).toMatch(/classification/);
    expect(dlq.letters[0]!.origin).toEqual({ topic: "siem.feedback", partition: 0, offset: "41" });
  });

  it("never dates a record after the broker got it: a missing or future `at` becomes the record's timestamp, so re-reading after a restart renews nothing", async () => {
    const written = Date.UTC(2026, 10, 23, 8);
    const past = "2026-11-20T08:00:00.000Z";
    const consumer = new ScriptedConsumer(
      [JSON.stringify(valid), JSON.stringify({ ...valid, at: "9999-12-31T00:00:00Z" }), JSON.stringify({ ...valid, at: past })],
      written,
    );
    const handler = new RecordingHandler();
    await new FeedbackSource(consumer, { topic: "siem.feedback" }, handler, new MemoryDeadLetterSink(), silentLogger).start();
    expect(handler.applied.map((r) => r.at)).toEqual([new Date(written).toISOString(), new Date(written).toISOString(), past]);
  });

  it("dead-letters a record dated in the future by its producer (`at` and the record's CreateTime), which every re-read would renew", async () => {
    const future = Date.now() + 10 * 365 * 86_400_000;
    const consumer = new ScriptedConsumer([JSON.stringify({ ...valid, at: new Date(future).toISOString() }), JSON.stringify(valid)], future);
    const handler = new RecordingHandler();
    const dlq = new MemoryDeadLetterSink();
    await new FeedbackSource(consumer, { topic: "siem.feedback" }, handler, dlq, silentLogger).start();
    expect(handler.applied).toHaveLength(0);
    expect(dlq.letters.map((l) => [l.code, l.origin.offset])).toEqual([
      ["invalid_feedback", "40"],
      ["invalid_feedback", "41"],
    ]);
    expect(dlq.letters[0]!.message).toMatch(/future/);
    expect(consumer.commits).toEqual([{ topic: "siem.feedback", partition: 0, offset: "42" }]);
  });

  it("keeps retrying in the background when the topic is not there yet, and stops promptly", async () => {
    vi.useFakeTimers();
    try {
      const consumer = new ScriptedConsumer([JSON.stringify(valid)]);
      consumer.failures = 2;
      const handler = new RecordingHandler();
      const source = new FeedbackSource(consumer, { topic: "siem.feedback" }, handler, new MemoryDeadLetterSink(), silentLogger);
      await source.start(); // does not throw: triage goes on without the topic
      expect(handler.applied).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1000 + 2000);
      expect(consumer.runs).toBe(3);
      expect(handler.applied).toHaveLength(1);

      const never = new ScriptedConsumer([]);
      never.failures = Infinity;
      const stuck = new FeedbackSource(never, { topic: "siem.feedback" }, handler, new MemoryDeadLetterSink(), silentLogger);
      await stuck.start();
      await stuck.stopReading(); // wakes the backoff wait instead of sleeping it out
      expect(never.runs).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("uses one consumer group per instance, or one for all when the cache is shared", () => {
    expect(feedbackGroupId("triage", { sharedCache: false, host: "triage-7d9f/pod 1" })).toBe("triage.feedback.triage-7d9f_pod_1");
    expect(feedbackGroupId("triage", { sharedCache: true, host: "triage-7d9f" })).toBe("triage.feedback");
  });
});

// ── Override lifetimes and unknown ids, on the real verdict cache ────────────────────────────────────────────────

const open: Caches[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (open.length) await open.pop()!.close();
});

async function rig(env: Record<string, string> = {}) {
  const caches = await openCaches("memory://");
  open.push(caches);
  const sink = new MemoryVerdictSink();
  const published: FeedbackRecord[] = [];
  const cache = createVerdictCacheWithFlow({
    config: cacheConfig(env),
    caches,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: silentLogger,
    verdictSink: sink,
    publishFeedback: async (r) => void published.push(...r),
    currentVersion: { model: TEST_MODEL, promptVersion: TEST_PROMPT },
  });
  const model = new CountingModel();
  const classifier = cache.wrap(model);
  const app = Fastify();
  registerFeedbackApi(app, { handler: cache, authToken: "s3cret" });
  const post = (body: unknown) =>
    app.inject({
      method: "POST",
      url: "/v1/feedback",
      headers: { "content-type": "application/json", authorization: "Bearer s3cret" },
      payload: JSON.stringify(body),
    });
  return { cache, classifier, sink, published, app, post, model };
}

const seen = (id: string, severity: "medium" | "critical" = "medium") => item({ alert_id: id, severity });

describe("analyst override lifetimes and unknown alerts", () => {
  it("counts the lifetime from the server's receive time: a far-future `at` still expires after OVERRIDE_TTL_SECONDS", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.UTC(2026, 11, 1, 9));
    const r = await rig({ OVERRIDE_TTL_SECONDS: "60" });
    await r.classifier.classify([seen("o-1")]);
    const res = await r.post({ alert_id: "o-1", classification: "false_positive", analyst: "ana", reason: "lab", at: "9999-12-31T00:00:00Z" });
    expect(res.statusCode).toBe(202);
    // The caller's time is kept as information only; what is stored and published is the server's.
    expect(res.json()).toMatchObject({ at: "2026-12-01T09:00:00.000Z", analyst_at: "9999-12-31T00:00:00Z" });
    expect(r.published.every((p) => p.at === "2026-12-01T09:00:00.000Z")).toBe(true);
    expect((await r.classifier.classify([seen("o-1")]))[0]!.source).toBe("override");
    vi.setSystemTime(Date.UTC(2026, 11, 1, 9, 1, 1));
    expect((await r.classifier.classify([seen("o-1")]))[0]!.source).not.toBe("override");
    await r.app.close();
  });

  it("bounds the lifetime of a feedback-topic record with a future `at` the same way", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.UTC(2026, 11, 1, 9));
    const r = await rig({ OVERRIDE_TTL_SECONDS: "60" });
    await r.classifier.classify([seen("t-1")]);
    await r.cache.applyFeedback({ alert_id: "t-1", classification: "false_positive", analyst: "ana", reason: "lab", at: "9999-12-31T00:00:00Z" });
    expect((await r.classifier.classify([seen("t-1")]))[0]!.source).toBe("override");
    vi.setSystemTime(Date.UTC(2026, 11, 1, 9, 1, 1));
    expect((await r.classifier.classify([seen("t-1")]))[0]!.source).not.toBe("override");
    await r.app.close();
  });

  it("refuses an override for an alert id the service has never seen (422 unknown_alert); a later alert with that id is unaffected", async () => {
    const r = await rig();
    const res = await r.post({ alert_id: "planted", classification: "false_positive", analyst: "ana", reason: "ignore" });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({ code: "unknown_alert", message: expect.stringContaining("planted") });
    expect(r.published).toHaveLength(0);
    // The same from the feedback topic: not stored either.
    await r.cache.applyFeedback({ alert_id: "planted", classification: "false_positive", analyst: "ana", reason: "ignore", at: new Date().toISOString() });
    const [d] = await r.classifier.classify([seen("planted", "critical")]);
    expect(d!.source).toBe("llm");
    expect(r.model.alertsAsked).toBe(1);
    await r.app.close();
  });

  it("binds an override to the alert's content, not its bare id: a later alert reusing the id with other content is triaged and guarded", async () => {
    const r = await rig();
    await r.classifier.classify([seen("x-1")]);
    expect((await r.post({ alert_id: "x-1", classification: "false_positive", analyst: "ana", reason: "lab" })).statusCode).toBe(202);
    // The same alert again (re-delivery): the analyst's decision.
    expect((await r.classifier.classify([seen("x-1")]))[0]).toMatchObject({ source: "override", classification: "false_positive" });
    // Another record carrying that id, critical, other content and strong threat intel: never the override's false_positive.
    const decoy = item(
      {
        alert_id: "x-1",
        severity: "critical",
        alert_name: "Data exfiltration to external host",
        description: "4 GB uploaded to 185.220.101.34",
        source_ip: "185.220.101.34",
      },
      intel(100, 30, "185.220.101.34"),
    );
    const [d] = await r.classifier.classify([decoy]);
    expect(d!.source).not.toBe("override");
    expect(d!.classification).not.toBe("false_positive");
    await r.app.close();
  });

  it("refuses every override when the verdict record is off (AI_VERDICT_LOG_TTL_SECONDS=0): no id can be verified", async () => {
    const r = await rig({ AI_VERDICT_LOG_TTL_SECONDS: "0" });
    await r.classifier.classify([seen("n-1")]);
    const res = await r.post({ alert_id: "n-1", classification: "false_positive", analyst: "ana", reason: "x" });
    expect(res.statusCode).toBe(422);
    expect(res.json().error).toMatchObject({ code: "unknown_alert", message: expect.stringContaining("AI_VERDICT_LOG_TTL_SECONDS=0") });
    expect((await r.classifier.classify([seen("n-1")]))[0]!.source).not.toBe("override");
    await r.app.close();
  });
});
