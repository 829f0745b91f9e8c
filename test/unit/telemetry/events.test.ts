// The pipeline's typed events write their metric and their log line: a sink retry is counted by stage and code.
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { Telemetry } from "../../../src/telemetry/events.js";
import { createMetrics } from "../../../src/telemetry/metrics.js";

describe("Telemetry.sinkRetry", () => {
  it("counts triage_sink_retries_total{stage,code} and logs a warning", async () => {
    const lines: Record<string, unknown>[] = [];
    const stream = new Writable({
      write: (chunk, _enc, done) => {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const metrics = createMetrics({ defaultMetrics: false });
    const t = new Telemetry(metrics, pino({ level: "info" }, stream), "test");
    t.sinkRetry("sink", "kafka_connection", 1, "broker down");
    t.sinkRetry("sink", "kafka_connection", 2, "broker down");
    t.sinkRetry("feedback", "kafka_timeout", 1, "slow");
    const { values } = await metrics.sinkRetries.get();
    const of = (stage: string, code: string) => values.find((v) => v.labels.stage === stage && v.labels.code === code)?.value;
    expect(of("sink", "kafka_connection")).toBe(2);
    expect(of("feedback", "kafka_timeout")).toBe(1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(lines.filter((l) => l.msg === "sink write failed, retrying")).toHaveLength(3);
  });
});
