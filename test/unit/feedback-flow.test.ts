// The feedback flow (src/feedback-flow.ts) with fakes: the updated verdict of an override is published with the sink
// retry, a feedback-topic record is committed only after that, and invalid records are dead-lettered.
import { describe, expect, it } from "vitest";
import type { PartitionBatch } from "../../src/core/ports/index.js";
import { TriageError } from "../../src/core/errors.js";
import type { Verdict } from "../../src/core/verdict.js";
import { FeedbackFlow, type FeedbackFlowOptions } from "../../src/feedback-flow.js";
import { FeedbackSource } from "../../src/sources/feedback.js";
import type { AnalystOverride, FeedbackRecord, OverridePlan, ResolvedOverride } from "../../src/transforms/classify/cache/index.js";
import { FakeStreamConsumer } from "../support/fake-stream-consumer.js";
import { MemoryDeadLetterSink, MemoryVerdictSink, silentLogger } from "../support/memory.js";

const override: AnalystOverride = { alert_id: "a-1", classification: "false_positive", analyst: "ana", reason: "authorised pentest" };

/** What the cache would return for an alert it triaged: the updated verdict and the resolved record with its keys. */
class FakeOverrides {
  readonly log: string[] = [];
  readonly resolvedStored: ResolvedOverride[] = [];
  refuse = false;
  async prepareOverride(o: AnalystOverride & { at: string }): Promise<OverridePlan> {
    this.log.push(`prepare ${o.alert_id}`);
    if (this.refuse) return { status: "unknown_alert", message: `no verdict for ${o.alert_id}` };
    const verdict = { alert_id: o.alert_id, source: "override", classification: o.classification } as unknown as Verdict;
    const resolved: ResolvedOverride = { ...o, kind: "resolved", exact: "k-exact", pattern: "k-pattern", previous: "true_positive" };
    return { status: "applied", verdict, agreement: "disagree", resolved, recordPublished: async () => void this.log.push(`recorded ${o.alert_id}`) };
  }
  async storeResolved(r: ResolvedOverride): Promise<void> {
    this.resolvedStored.push(r);
  }
}

class FakeTelemetry {
  readonly retries: { stage: string; code: string; attempt: number }[] = [];
  readonly published: { alertId: string; agreement: string }[] = [];
  readonly refused: string[] = [];
  sinkRetry(stage: string, code: string, attempt: number): void {
    this.retries.push({ stage, code, attempt });
  }
  overridePublished(v: Verdict, agreement: "agree" | "disagree"): void {
    this.published.push({ alertId: v.alert_id, agreement });
  }
  overrideRefused(alertId: string, outcome: string): void {
    this.refused.push(`${alertId}:${outcome}`);
  }
}

function rig(opts: Partial<FeedbackFlowOptions> = {}) {
  const overrides = new FakeOverrides();
  const sink = new MemoryVerdictSink();
  const telemetry = new FakeTelemetry();
  const feedback: FeedbackRecord[] = [];
  const flow = new FeedbackFlow({
    overrides,
    verdictSink: sink,
    publishFeedback: async (r) => void feedback.push(...r),
    telemetry,
    sinkRetryDeadlineMs: 10_000,
    now: () => Date.parse("2026-01-01T00:00:00Z"),
    ...opts,
  });
  return { overrides, sink, telemetry, feedback, flow };
}

/** A consumer whose batches carry the given feedback values. */
class FeedbackConsumer extends FakeStreamConsumer {
  private onBatch: ((b: PartitionBatch) => Promise<void>) | undefined;
  override async run(topic: string, onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    await super.run(topic, onBatch);
    this.onBatch = onBatch;
  }
  feed(values: string[]): Promise<void> {
    const now = Date.now();
    return this.onBatch!({
      topic: this.topic,
      partition: 0,
      messages: values.map((v, i) => ({ offset: String(i), value: Buffer.from(v), timestamp: String(now) })),
      highWatermark: String(values.length),
      resolveOffset: () => {},
      heartbeat: async () => {},
      isActive: () => true,
    });
  }
}

describe("FeedbackFlow", () => {
  it("retries a failing verdict sink, then records the override and tells the other instances", async () => {
    const r = rig();
    r.sink.failuresLeft = 2;
    const verdict = await r.flow.applyOverride(override);
    expect(verdict).toMatchObject({ alert_id: "a-1", source: "override", classification: "false_positive" });
    expect(r.sink.verdicts.map((v) => v.alert_id)).toEqual(["a-1"]);
    expect(r.telemetry.retries.map((x) => [x.stage, x.code, x.attempt])).toEqual([
      ["sink", "kafka_connection", 1],
      ["sink", "kafka_connection", 2],
    ]);
    expect(r.telemetry.published).toEqual([{ alertId: "a-1", agreement: "disagree" }]);
    // Marked done only once published: a redelivery after a failed publish publishes again.
    expect(r.overrides.log).toEqual(["prepare a-1", "recorded a-1"]);
    expect(r.feedback).toMatchObject([{ kind: "resolved", alert_id: "a-1", exact: "k-exact", pattern: "k-pattern" }]);
  });

  it("puts resolved records the verdict cache emits on the feedback topic with the sink retry", async () => {
    const sent: FeedbackRecord[] = [];
    let failures = 2;
    const r = rig({
      publishFeedback: async (recs) => {
        if (failures-- > 0) throw new TriageError({ code: "kafka_connection", stage: "sink", retriable: true, message: "broker down" });
        sent.push(...recs);
      },
    });
    const resolved: ResolvedOverride = { ...override, at: "2026-01-01T00:00:00.000Z", kind: "resolved", exact: "e", pattern: "p", previous: null };
    await r.flow.publishFeedback([resolved]);
    expect(sent).toEqual([resolved]);
    expect(r.telemetry.retries.map((x) => [x.stage, x.code, x.attempt])).toEqual([
      ["feedback", "kafka_connection", 1],
      ["feedback", "kafka_connection", 2],
    ]);
  });

  it("does not mark the override done when the sink fails for good", async () => {
    const r = rig();
    r.sink.publish = async () => {
      throw new TriageError({ code: "record_too_large", stage: "sink", retriable: false, message: "too large" });
    };
    await expect(r.flow.applyOverride(override)).rejects.toThrow(/too large/);
    expect(r.overrides.log).toEqual(["prepare a-1"]);
    expect(r.feedback).toEqual([]);
    expect(r.telemetry.published).toEqual([]);
  });

  it("publishes nothing for a refused override and reports it", async () => {
    const r = rig();
    r.overrides.refuse = true;
    expect(await r.flow.submitOverride(override)).toMatchObject({ status: "unknown_alert" });
    expect(r.sink.verdicts).toEqual([]);
    expect(r.feedback).toEqual([]);
    expect(r.telemetry.refused).toEqual(["a-1:unknown_alert"]);
  });

  it("stamps a submitted override with the server's time and puts it on the feedback topic after the verdict", async () => {
    const r = rig();
    const outcome = await r.flow.submitOverride({ ...override, at: "2020-01-01T00:00:00Z" });
    expect(outcome).toMatchObject({ status: "applied", at: "2026-01-01T00:00:00.000Z" });
    expect(r.feedback.map((f) => ("kind" in f ? f.kind : "override"))).toEqual(["resolved", "override"]);
    expect(r.feedback[1]).toMatchObject({ alert_id: "a-1", at: "2026-01-01T00:00:00.000Z" });
  });

  it("stores a resolved record another instance published without publishing anything", async () => {
    const r = rig();
    await r.flow.applyFeedback({ ...override, kind: "resolved", exact: "e", pattern: "p", previous: null, at: "2026-01-01T00:00:00Z" });
    expect(r.overrides.resolvedStored).toHaveLength(1);
    expect(r.sink.verdicts).toEqual([]);
  });
});

describe("FeedbackSource with the flow", () => {
  async function started(flow: FeedbackFlow) {
    const consumer = new FeedbackConsumer();
    const dlq = new MemoryDeadLetterSink();
    const source = new FeedbackSource(consumer, { topic: "feedback" }, flow, dlq, silentLogger);
    await source.start();
    return { consumer, dlq };
  }

  it("commits a record only after its updated verdict is published", async () => {
    const r = rig();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const publish = r.sink.publish.bind(r.sink);
    let publishing!: () => void;
    const entered = new Promise<void>((resolve) => (publishing = resolve));
    r.sink.publish = async (vs) => {
      publishing();
      await gate;
      await publish(vs);
    };
    const { consumer } = await started(r.flow);
    const commit = consumer.commit.bind(consumer);
    const publishedAtCommit: number[] = [];
    consumer.commit = async (offsets) => {
      publishedAtCommit.push(r.sink.verdicts.length);
      await commit(offsets);
    };
    const handled = consumer.feed([JSON.stringify(override)]);
    await entered;
    // Let every other continuation run (one macrotask turn) while the publish is held: nothing may be committed.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(consumer.callsOf("commit")).toEqual([]);
    release();
    await handled;
    expect(r.sink.verdicts.map((v) => v.alert_id)).toEqual(["a-1"]);
    expect(publishedAtCommit).toEqual([1]);
    expect(consumer.callsOf("commit")).toEqual([{ call: "commit", offsets: [{ topic: "feedback", partition: 0, offset: "1" }] }]);
  });

  it("commits nothing when the verdict cannot be published (the batch is redelivered)", async () => {
    const r = rig({ sinkRetryDeadlineMs: 0 });
    r.sink.publish = async () => {
      throw new TriageError({ code: "kafka_connection", stage: "sink", retriable: false, message: "broker gone" });
    };
    const { consumer } = await started(r.flow);
    await expect(consumer.feed([JSON.stringify(override)])).rejects.toThrow(/broker gone/);
    expect(consumer.callsOf("commit")).toEqual([]);
  });

  it("dead-letters an invalid record and commits past it", async () => {
    const r = rig();
    const { consumer, dlq } = await started(r.flow);
    await consumer.feed([JSON.stringify({ alert_id: "a-2", classification: "maybe" }), JSON.stringify(override)]);
    expect(dlq.letters).toMatchObject([{ code: "invalid_feedback", origin: { topic: "feedback", partition: 0, offset: "0" } }]);
    expect(r.sink.verdicts.map((v) => v.alert_id)).toEqual(["a-1"]);
    expect(consumer.callsOf("commit")).toEqual([{ call: "commit", offsets: [{ topic: "feedback", partition: 0, offset: "2" }] }]);
  });
});
