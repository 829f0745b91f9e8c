// The pipeline foundation on the real broker: exactly one verdict per alert, DLQ for bad records,
// no loss across SIGKILL, and priority for critical alerts behind a backlog.
import { afterEach, describe, expect, it } from "vitest";
import { once } from "node:events";
import { startService, type Service } from "../../src/main.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { verdictSchema } from "../../src/core/verdict.js";
import { collect, committedVsEnd, createTopics, nativeAlert, produce, spawnService, testConfig, brokers } from "./support.js";

const logger = createLogger("warn");
const running: Service[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop("test end");
});

describe("pipeline on real Kafka", () => {
  it("1,000 alerts in → exactly one verdict per alert id out, offsets committed", async () => {
    const config = testConfig();
    await createTopics(config.names, 3);
    await produce(
      config.names.input,
      Array.from({ length: 1000 }, (_, i) => nativeAlert(i, ["critical", "high", "medium", "low", "info"][i % 5])),
    );
    const out = await collect(config.names.output);
    running.push(await startService(config, logger));
    const verdicts = await out.until(1000);
    await new Promise((r) => setTimeout(r, 1500)); // any extra (duplicate) verdict would show up here
    await out.stop();
    const ids = verdicts.map((m) => m.key);
    expect(new Set(ids).size).toBe(1000);
    expect(ids.length).toBe(1000);
    for (const m of verdicts.slice(0, 50)) {
      const v = verdictSchema.parse(JSON.parse(m.value));
      expect(m.key).toBe(v.alert_id);
    }
    await running.pop()!.stop("done");
    const { committed, end } = await committedVsEnd(config.names.group, config.names.input);
    expect(committed).toBe(end);
  });

  it("200 malformed records → 200 DLQ records with reasons and origin, 0 verdicts", async () => {
    const config = testConfig({ MAX_RECORD_BYTES: "65536" });
    await createTopics(config.names, 2);
    const bad: (string | Buffer)[] = [];
    for (let i = 0; i < 200; i++) {
      const kind = i % 8;
      bad.push(
        kind === 0
          ? `{"alert_name": "cut off ${i}`
          : kind === 1
            ? "[1,2,3]"
            : kind === 2
              ? Buffer.from([0x7b, 0xff, 0xfe, i & 0x7f])
              : kind === 3
                ? `${"[".repeat(100)}${"]".repeat(100)}`
                : kind === 4
                  ? `{"alert_name":"x${i}","__proto__":{"polluted":true}}`
                  : kind === 5
                    ? JSON.stringify({ alert_name: `big ${i}`, description: "x".repeat(100_000) })
                    : kind === 6
                      ? JSON.stringify({ event: "heartbeat", n: i })
                      : JSON.stringify({ alert_name: `bad severity ${i}`, severity: "purple" }),
      );
    }
    await produce(config.names.input, bad, 20);
    const dlq = await collect(config.names.dlq);
    const out = await collect(config.names.output);
    running.push(await startService(config, logger));
    const letters = await dlq.until(200);
    await new Promise((r) => setTimeout(r, 1000));
    expect(letters).toHaveLength(200);
    expect(out.messages).toHaveLength(0);
    const codes = new Set(letters.map((l) => l.headers["triage-error-code"]));
    expect(codes).toEqual(
      new Set(["invalid_json", "not_an_object", "invalid_utf8", "too_deep", "forbidden_key", "record_too_large", "unknown_format", "invalid_field"]),
    );
    for (const l of letters) {
      expect(l.headers["triage-error-message"]!.length).toBeGreaterThan(5);
      expect(l.headers["triage-source-topic"]).toBe(config.names.input);
      expect(l.headers["triage-source-offset"]).toMatch(/^\d+$/);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await dlq.stop();
    await out.stop();
  });

  it("a consumer killed with SIGKILL mid-stream and restarted → every alert id has a verdict", async () => {
    const config = testConfig();
    await createTopics(config.names, 3);
    const total = 3000;
    await produce(
      config.names.input,
      Array.from({ length: total }, (_, i) => nativeAlert(i)),
    );
    const out = await collect(config.names.output);
    const env = {
      KAFKA_BROKERS: brokers(),
      TRIAGE_INPUT_TOPIC: config.names.input,
      TRIAGE_OUTPUT_TOPIC: config.names.output,
      TRIAGE_DLQ_TOPIC: config.names.dlq,
      KAFKA_GROUP_ID: config.names.group,
      HTTP_PORT: "0",
      LOG_LEVEL: "warn",
      BATCH_MAX_SIZE: "20",
      PIPELINE_CONCURRENCY: "1",
      KAFKA_COMMIT_INTERVAL_MS: "100",
      CACHE_URL: "memory://",
    };
    const first = spawnService(env);
    await out.until(300, 60_000); // mid-stream
    first.kill("SIGKILL");
    await once(first, "exit");
    const seenBeforeRestart = new Set(out.messages.map((m) => m.key)).size;
    expect(seenBeforeRestart).toBeLessThan(total);
    const second = spawnService(env);
    try {
      const deadline = Date.now() + 90_000;
      while (new Set(out.messages.map((m) => m.key)).size < total) {
        if (Date.now() > deadline) throw new Error(`only ${new Set(out.messages.map((m) => m.key)).size}/${total} alert ids have verdicts`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      second.kill("SIGTERM");
      await once(second, "exit");
      await out.stop();
    }
    const ids = new Set(out.messages.map((m) => m.key));
    for (let i = 0; i < total; i++) expect(ids.has(`alert-${i}`)).toBe(true);
    console.log(`SIGKILL test: ${total} alerts, ${out.messages.length} verdicts (${out.messages.length - total} duplicates after the kill)`);
  });

  it("a critical alert produced behind 5,000 low alerts gets its verdict before most of them", async () => {
    const config = testConfig({ MAX_INFLIGHT_ALERTS: "10000", BATCH_MAX_SIZE: "50", PIPELINE_CONCURRENCY: "1" });
    await createTopics(config.names, 1);
    await produce(
      config.names.input,
      [
        ...Array.from({ length: 5000 }, (_, i) => nativeAlert(i, "low")),
        JSON.stringify({ alert_id: "the-critical-one", alert_name: "Ransomware behaviour: mass file encryption", severity: "critical" }),
      ],
      1000,
    );
    const out = await collect(config.names.output);
    running.push(await startService(config, logger));
    const verdicts = await out.until(5001, 90_000);
    await out.stop();
    const position = verdicts.findIndex((m) => m.key === "the-critical-one");
    console.log(`priority test: the critical alert's verdict was #${position + 1} of 5001`);
    expect(position).toBeGreaterThanOrEqual(0);
    expect(position).toBeLessThan(2500);
  });
});
