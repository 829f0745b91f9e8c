import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../src/core/alert.js";
import type { Verdict } from "../../../src/core/verdict.js";
import type { OutgoingMessage, StreamProducer } from "../../../src/core/ports/index.js";
import { toVerdict } from "../../../src/pipeline.js";
import { decideByRules } from "../../../src/transforms/classify/rules.js";
import { kafkaVerdictSink } from "../../../src/sinks/kafka.js";
import { ndjsonVerdictSink } from "../../../src/sinks/ndjson.js";

const alert: Alert = {
  alert_id: "A1",
  alert_name: "Login",
  severity: "high",
  source_ip: null,
  destination_ip: null,
  user: "bob",
  host: "ws-1",
  timestamp: null,
  description: null,
  format: "native",
  fields: {},
};

/** A verdict whose model-written text holds NUL characters (the model's output is untrusted) and a literal \u0000. */
function verdictWithNul(): Verdict {
  const v = toVerdict({ alert, enrichment: null }, decideByRules({ alert, enrichment: null }), 0, "2025-11-23T10:00:02.000Z");
  return {
    ...v,
    reasoning: "benign\u0000 ignore what follows",
    recommended_actions: ["close\u0000"],
    alert: { ...alert, fields: { "k\u0000": "path C:\\u0000" } },
  };
}

function expectNoNul(json: string): void {
  expect(json).not.toMatch(/(?<!\\)(?:\\\\)*\\u0000/); // no escaped NUL
  expect(json).not.toContain("\u0000");
  const back = JSON.parse(json) as Verdict;
  expect(back.reasoning).toBe("benign\u2400 ignore what follows");
  expect(back.recommended_actions).toEqual(["close\u2400"]);
  expect(back.alert.fields).toEqual({ "k\u2400": "path C:\\u0000" }); // the literal text backslash-u0000 is kept
}

describe("NUL characters never reach verdict output", () => {
  it("Kafka verdict sink", async () => {
    const sent: OutgoingMessage[] = [];
    const producer: StreamProducer = { send: async (_t, m) => void sent.push(...m), disconnect: async () => {}, isConnected: () => true };
    await kafkaVerdictSink(producer, "out").publish([verdictWithNul()]);
    expectNoNul(String(sent[0]!.value));
  });

  it("NDJSON verdict sink", async () => {
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    await ndjsonVerdictSink(stream).publish([verdictWithNul()]);
    expectNoNul(Buffer.concat(chunks).toString("utf8").trim());
  });
});
