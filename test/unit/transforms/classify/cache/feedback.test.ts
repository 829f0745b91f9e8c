import Fastify from "fastify";
import { describe, expect, it, vi } from "vitest";
import type { Verdict } from "../../../../../src/core/verdict.js";
import type { PartitionBatch, StreamConsumer, TopicPartition } from "../../../../../src/resources/kafka.js";
import { feedbackGroupId, FeedbackSource, registerFeedbackApi, type FeedbackHandler } from "../../../../../src/sources/feedback.js";
import { registerAnalyzeApi } from "../../../../../src/sources/http-api.js";
import type { AnalystOverride, FeedbackRecord } from "../../../../../src/transforms/classify/cache/overrides.js";
import { silentLogger } from "../../../../support/memory.js";

class RecordingHandler implements FeedbackHandler {
  readonly applied: FeedbackRecord[] = [];
  readonly submitted: AnalystOverride[] = [];
  fail = false;
  async applyFeedback(record: FeedbackRecord): Promise<null> {
    this.applied.push(record);
    return null;
  }
  async submitOverride(o: AnalystOverride): Promise<Verdict | null> {
    if (this.fail) throw new Error("broker down");
    this.submitted.push(o);
    return null;
  }
}

const valid = { alert_id: "SIEM-1", classification: "FALSE_POSITIVE", analyst: "ana", reason: "authorised scan" };

describe("POST /v1/feedback", () => {
  for (const withAnalyzeApi of [false, true]) {
    it(`validates, guards and accepts overrides${withAnalyzeApi ? " (next to the analyze API's raw-body parser)" : ""}`, async () => {
      const app = Fastify();
      const handler = new RecordingHandler();
      if (withAnalyzeApi) registerAnalyzeApi(app, { intake: { push: () => {}, hasCapacity: () => true, whenCapacity: async () => {} }, authToken: "s3cret", maxBatchAlerts: 10, maxJsonDepth: 8, requestTimeoutMs: 100 });
      registerFeedbackApi(app, { handler, authToken: "s3cret" });
      const post = (payload: string, auth = "Bearer s3cret") => app.inject({ method: "POST", url: "/v1/feedback", headers: { "content-type": "application/json", authorization: auth }, payload });

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
  constructor(private readonly values: (string | null)[]) {}
  async run(topic: string, onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    this.runs++;
    if (this.failures-- > 0) throw new Error("This server does not host this topic-partition");
    await onBatch({
      topic,
      partition: 0,
      highWatermark: String(this.values.length),
      messages: this.values.map((v, i) => ({ key: null, value: v === null ? null : Buffer.from(v), offset: String(40 + i), headers: {} })),
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
    const resolved = { ...valid, classification: "false_positive", kind: "resolved", at: "2026-11-23T08:00:00Z", exact: "x1:abc", pattern: "p1:def", previous: "needs_review" };
    const consumer = new ScriptedConsumer([JSON.stringify(valid), "not json", JSON.stringify({ alert_id: "x" }), null, JSON.stringify(resolved)]);
    const handler = new RecordingHandler();
    await new FeedbackSource(consumer, { topic: "siem.feedback" }, handler, silentLogger).start();
    expect(handler.applied).toEqual([
      { alert_id: "SIEM-1", classification: "false_positive", analyst: "ana", reason: "authorised scan" },
      expect.objectContaining({ kind: "resolved", exact: "x1:abc", pattern: "p1:def" }),
    ]);
    expect(consumer.commits).toEqual([{ topic: "siem.feedback", partition: 0, offset: "45" }]);
  });

  it("keeps retrying in the background when the topic is not there yet, and stops promptly", async () => {
    vi.useFakeTimers();
    try {
      const consumer = new ScriptedConsumer([JSON.stringify(valid)]);
      consumer.failures = 2;
      const handler = new RecordingHandler();
      const source = new FeedbackSource(consumer, { topic: "siem.feedback" }, handler, silentLogger);
      await source.start(); // does not throw: triage goes on without the topic
      expect(handler.applied).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1000 + 2000);
      expect(consumer.runs).toBe(3);
      expect(handler.applied).toHaveLength(1);

      const never = new ScriptedConsumer([]);
      never.failures = Infinity;
      const stuck = new FeedbackSource(never, { topic: "siem.feedback" }, handler, silentLogger);
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
