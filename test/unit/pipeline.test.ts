import { describe, expect, it } from "vitest";
import { Pipeline, noEnrichment } from "../../src/pipeline.js";
import { rulesClassifier } from "../../src/transforms/classify/rules.js";
import { createNormalizer } from "../../src/transforms/normalize/index.js";
import type { Classifier } from "../../src/core/ports/index.js";
import { ArraySource, MemoryDeadLetterSink, MemoryVerdictSink, testTelemetry } from "../support/memory.js";

const alert = (i: number, severity = "low") => JSON.stringify({ alert_id: `a${i}`, alert_name: "Port scan detected", severity, source_ip: "203.0.113.7" });
const opts = { batchMaxSize: 10, batchMaxDelayMs: 5, maxInflight: 50, concurrency: 2, sinkRetryDeadlineMs: 5000 };

function build(values: string[], overrides: { classifier?: Classifier; maxInflight?: number } = {}) {
  const source = new ArraySource(values);
  const verdictSink = new MemoryVerdictSink();
  const deadLetterSink = new MemoryDeadLetterSink();
  const telemetry = testTelemetry();
  const pipeline = new Pipeline(
    {
      source,
      normalizer: createNormalizer({ maxRecordBytes: 4096, maxJsonDepth: 16 }),
      enricher: noEnrichment,
      classifier: overrides.classifier ?? rulesClassifier,
      verdictSink,
      deadLetterSink,
    },
    { ...opts, maxInflight: overrides.maxInflight ?? opts.maxInflight },
    telemetry,
  );
  return { source, verdictSink, deadLetterSink, telemetry, pipeline };
}

async function runToEnd(p: ReturnType<typeof build>) {
  await p.pipeline.start();
  await p.source.exhausted;
  await p.pipeline.drain();
}

describe("Pipeline", () => {
  it("publishes one verdict per valid record and dead-letters the rest; acks every record once", async () => {
    const values = [...Array.from({ length: 120 }, (_, i) => alert(i)), "not json", "[1]", '{"x":1}'];
    const p = build(values);
    await runToEnd(p);
    expect(p.verdictSink.verdicts.map((v) => v.alert_id).sort()).toEqual(Array.from({ length: 120 }, (_, i) => `a${i}`).sort());
    expect(p.deadLetterSink.letters.map((l) => l.code).sort()).toEqual(["invalid_json", "not_an_object", "unknown_format"]);
    expect([...p.source.acked].sort((a, b) => a - b)).toEqual(values.map((_, i) => i));
    expect(p.telemetry.stats).toMatchObject({ received: 123, verdicts: 120, dlq: 3 });
  });

  it("never holds more records than the read-ahead window", async () => {
    const p = build(
      Array.from({ length: 300 }, (_, i) => alert(i)),
      { maxInflight: 25 },
    );
    let max = 0;
    const orig = p.pipeline.push.bind(p.pipeline);
    p.pipeline.push = (r) => {
      orig(r);
      max = Math.max(max, p.pipeline.inFlight);
    };
    await runToEnd(p);
    expect(max).toBeLessThanOrEqual(25);
    expect(p.verdictSink.verdicts).toHaveLength(300);
  });

  it("retries a sink that fails transiently, then acknowledges", async () => {
    const p = build(Array.from({ length: 5 }, (_, i) => alert(i)));
    p.verdictSink.failuresLeft = 2;
    await runToEnd(p);
    expect(p.verdictSink.verdicts).toHaveLength(5);
    expect(p.source.acked).toHaveLength(5);
  });

  it("falls back to rules, flagged degraded, when the classifier throws", async () => {
    const broken: Classifier = {
      name: "broken",
      classify: async () => {
        throw new Error("model exploded");
      },
    };
    const p = build([alert(1, "critical")], { classifier: broken });
    await runToEnd(p);
    expect(p.verdictSink.verdicts[0]).toMatchObject({ source: "rules", degraded: true });
    expect(p.verdictSink.verdicts[0]!.fallback_reason).toMatch(/model exploded/);
  });

  it("classifies critical alerts ahead of a backlog of low ones", async () => {
    const values = [
      ...Array.from({ length: 200 }, (_, i) => alert(i, "low")),
      JSON.stringify({ alert_id: "crit", alert_name: "Ransomware behaviour", severity: "critical" }),
    ];
    const p = build(values, { maxInflight: 1000 });
    await runToEnd(p);
    const position = p.verdictSink.verdicts.findIndex((v) => v.alert_id === "crit");
    expect(position).toBeGreaterThanOrEqual(0);
    expect(position).toBeLessThan(20);
  });
});
