// Observability on the real broker: /metrics counters match what was processed, latency is observed,
// readiness is ready after the group join and not ready during shutdown.
import { describe, expect, it } from "vitest";
import { startService } from "../../src/main.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { collect, createTopics, nativeAlert, produce, testConfig } from "./support.js";

/** Value of one sample in Prometheus text format (sum over label sets matching the filter). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_:]+)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries(
      (m[3] ?? "")
        .split(",")
        .filter(Boolean)
        .map((kv) => {
          const [k, v] = kv.split("=");
          return [k, v!.replace(/^"|"$/g, "")];
        }),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(m[4]);
  }
  return total;
}

describe("metrics and health on real Kafka", () => {
  it("counters match what was processed; readiness follows join and shutdown", async () => {
    const config = testConfig({ HTTP_HOST: "127.0.0.1" });
    await createTopics(config.names, 2);
    const good = Array.from({ length: 300 }, (_, i) => nativeAlert(i, i % 2 ? "high" : "low"));
    const bad = Array.from({ length: 20 }, (_, i) => `{"broken": ${i}`);
    await produce(config.names.input, [...good, ...bad]);
    const out = await collect(config.names.output);
    const service = await startService(config, createLogger("warn"), { http: true });
    const base = service.httpAddress!;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    // Ready once the consumer joined the group and the producer is connected.
    const deadline = Date.now() + 30_000;
    let ready = await fetch(`${base}/readyz`);
    while (ready.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      ready = await fetch(`${base}/readyz`);
    }
    expect(ready.status).toBe(200);

    await out.until(300);
    let text = "";
    for (let i = 0; i < 100; i++) {
      text = await (await fetch(`${base}/metrics`)).text();
      if (sample(text, "triage_verdicts_published_total") + sample(text, "triage_dlq_records_total") >= 320) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const received = sample(text, "triage_alerts_received_total", { source: "kafka" });
    const verdicts = sample(text, "triage_verdicts_published_total");
    const dlq = sample(text, "triage_dlq_records_total");
    expect(received).toBe(320);
    expect(verdicts).toBe(300);
    expect(dlq).toBe(20);
    expect(sample(text, "triage_dlq_records_total", { reason: "invalid_json" })).toBe(20);
    expect(received).toBe(verdicts + dlq);
    expect(sample(text, "triage_alert_latency_seconds_count")).toBe(300);
    expect(sample(text, "triage_batch_size_sum")).toBe(300);
    expect(sample(text, "triage_stage_duration_seconds_count", { stage: "classify" })).toBeGreaterThan(0);
    expect(text).toContain("process_resident_memory_bytes");
    expect(text).not.toMatch(/alert-\d+|198\.51\.100/); // no alert ids or IPs in labels

    // Not ready as soon as shutdown starts.
    const stopping = service.stop("test");
    const during = await fetch(`${base}/readyz`);
    expect(during.status).toBe(503);
    expect(((await during.json()) as { waiting: string[] }).waiting).toContain("shutting_down");
    await stopping;
    await out.stop();
  });
});
