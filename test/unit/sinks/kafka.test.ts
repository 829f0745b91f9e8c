// The Kafka sinks against a scripted producer: concurrent publishes coalesce into one request per flight, requests
// stay under the broker's size limit, a failed request fails every caller it carried (nothing acknowledged that was
// not written) and the next request goes out again; verdicts are keyed by alert id and always fit.
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../src/core/alert.js";
import { TriageError } from "../../../src/core/errors.js";
import { VERDICT_SCHEMA_VERSION, type Verdict } from "../../../src/core/verdict.js";
import type { OutgoingMessage, StreamProducer } from "../../../src/core/ports/index.js";
import { toVerdict } from "../../../src/pipeline.js";
import { CoalescingSender, encodeVerdict, kafkaVerdictSink } from "../../../src/sinks/kafka.js";
import { decideByRules } from "../../../src/transforms/classify/rules.js";

interface Deferred {
  resolve(): void;
  reject(err: unknown): void;
}

/** A producer whose sends stay open until the test settles them, in order. */
class ScriptedProducer implements StreamProducer {
  readonly requests: { topic: string; messages: OutgoingMessage[]; settle: Deferred }[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.requests.push({ topic, messages: [...messages], settle: { resolve, reject } });
      this.waiters = this.waiters.filter((w) => (this.requests.length >= w.count ? (w.resolve(), false) : true));
    });
  }
  /** Resolves once `count` requests were sent in total. */
  whenSent(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
  async disconnect(): Promise<void> {}
  isConnected(): boolean {
    return true;
  }
}

const msg = (v: string, bytes = v.length): OutgoingMessage => ({ key: null, value: bytes === v.length ? v : v.padEnd(bytes, "x") });
const values = (ms: OutgoingMessage[]) => ms.map((m) => String(m.value).slice(0, 8).replace(/x+$/, ""));

describe("CoalescingSender", () => {
  it("while one request is in flight, later sends queue and go together in the next one", async () => {
    const producer = new ScriptedProducer();
    const sender = new CoalescingSender(producer, "out");
    const done: string[] = [];
    const a = sender.send([msg("a1")]).then(() => done.push("a"));
    await producer.whenSent(1);
    const b = sender.send([msg("b1"), msg("b2")]).then(() => done.push("b"));
    const c = sender.send([msg("c1")]).then(() => done.push("c"));
    expect(producer.requests).toHaveLength(1); // b and c wait for a's request
    producer.requests[0]!.settle.resolve();
    await producer.whenSent(2);
    expect(values(producer.requests[1]!.messages)).toEqual(["b1", "b2", "c1"]);
    expect(done).toEqual(["a"]); // b and c resolve only once the broker acknowledged their request
    producer.requests[1]!.settle.resolve();
    await Promise.all([a, b, c]);
    expect(done).toEqual(["a", "b", "c"]);
    expect(producer.requests.map((r) => r.topic)).toEqual(["out", "out"]);
  });

  it("a failed request rejects every caller it carried, and the next send goes out normally", async () => {
    const producer = new ScriptedProducer();
    const sender = new CoalescingSender(producer, "out");
    const first = sender.send([msg("a1")]);
    await producer.whenSent(1);
    const b = sender.send([msg("b1")]);
    const c = sender.send([msg("c1")]);
    producer.requests[0]!.settle.resolve();
    await producer.whenSent(2);
    const lost = new TriageError({ code: "kafka_connection", stage: "sink", retriable: true, message: "broker gone" });
    producer.requests[1]!.settle.reject(lost);
    await first;
    await expect(b).rejects.toBe(lost);
    await expect(c).rejects.toBe(lost);
    const again = sender.send([msg("b1"), msg("c1")]); // the pipeline's retry
    await producer.whenSent(3);
    producer.requests[2]!.settle.resolve();
    await expect(again).resolves.toBeUndefined();
    expect(values(producer.requests[2]!.messages)).toEqual(["b1", "c1"]);
  });

  it("splits a large group into requests under 512 KiB, in order, and resolves once all were acknowledged", async () => {
    const producer = new ScriptedProducer();
    const sender = new CoalescingSender(producer, "out");
    const big = Array.from({ length: 10 }, (_, i) => msg(`m${i}`, 200 * 1024)); // 2 fit per request
    let resolved = false;
    const sent = sender.send(big).then(() => (resolved = true));
    for (let n = 1; n <= 5; n++) {
      await producer.whenSent(n);
      expect(resolved).toBe(false);
      producer.requests[n - 1]!.settle.resolve();
    }
    await sent;
    expect(producer.requests.map((r) => values(r.messages))).toEqual([
      ["m0", "m1"],
      ["m2", "m3"],
      ["m4", "m5"],
      ["m6", "m7"],
      ["m8", "m9"],
    ]);
    for (const r of producer.requests) expect(r.messages.reduce((n, m) => n + String(m.value).length, 0)).toBeLessThanOrEqual(512 * 1024);
  });

  it("a single message larger than a request still goes alone (the broker, not the sender, decides its fate)", async () => {
    const producer = new ScriptedProducer();
    const sender = new CoalescingSender(producer, "out");
    const sent = sender.send([msg("small"), msg("huge", 700 * 1024), msg("tail")]);
    for (let n = 1; n <= 3; n++) {
      await producer.whenSent(n);
      producer.requests[n - 1]!.settle.resolve();
    }
    await sent;
    expect(producer.requests.map((r) => values(r.messages))).toEqual([["small"], ["huge"], ["tail"]]);
  });
});

const alert: Alert = {
  alert_id: "A-1",
  alert_name: "Mimikatz detected",
  severity: "high",
  source_ip: null,
  destination_ip: null,
  user: "bob",
  host: "ws-1",
  timestamp: null,
  description: "lsass access",
  format: "native",
  fields: {},
};
const verdict = (over: Partial<Alert> = {}): Verdict => {
  const a = { ...alert, ...over };
  return toVerdict({ alert: a, enrichment: null }, decideByRules({ alert: a, enrichment: null }), 0, "2025-11-23T10:00:02.000Z");
};

describe("kafkaVerdictSink", () => {
  it("keys each verdict by alert_id (one alert's verdicts stay in order) and stamps the schema version", async () => {
    const producer = new ScriptedProducer();
    const sink = kafkaVerdictSink(producer, "verdicts");
    const published = sink.publish([verdict({ alert_id: "A-1" }), verdict({ alert_id: "A-2" })]);
    await producer.whenSent(1);
    producer.requests[0]!.settle.resolve();
    await published;
    const [m1, m2] = producer.requests[0]!.messages;
    expect([m1!.key, m2!.key]).toEqual(["A-1", "A-2"]);
    expect(m1!.headers).toEqual({ "triage-schema-version": VERDICT_SCHEMA_VERSION });
    expect(JSON.parse(String(m1!.value))).toMatchObject({ alert_id: "A-1", classification: expect.any(String) });
  });

  it("an oversized alert copy is trimmed so the verdict fits, keeping the decision", () => {
    const v = verdict({ description: "d".repeat(300 * 1024), fields: { blob: "b".repeat(100_000) } });
    const json = encodeVerdict(v);
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(256 * 1024);
    const back = JSON.parse(json) as Verdict;
    expect(back.classification).toBe(v.classification);
    expect(back.alert_id).toBe("A-1");
    expect(back.alert.fields).toEqual({ triage_truncated: true });
    expect(back.alert.description).toHaveLength(4096);
    expect(JSON.parse(encodeVerdict(verdict()))).toEqual(verdict()); // a normal verdict is written whole
  });
});
