// POST /analyze and /analyze/batch on the pipeline: status codes, closed-by-default auth, JSON-only bodies,
// admission of a batch into the read-ahead window as a unit, and the API's share of the model's daily requests.
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import type { Classifier, EnrichedAlert, SourceRecord } from "../../../src/core/ports/index.js";
import type { Decision } from "../../../src/core/verdict.js";
import { noEnrichment, Pipeline } from "../../../src/pipeline.js";
import { MemoryQuotaStore } from "../../../src/resources/limiter.js";
import { ApiModelShare } from "../../../src/sources/api-share.js";
import { registerAnalyzeApi, type AnalyzeApiOptions, type BatchIntake } from "../../../src/sources/http-api.js";
import { decideByRules, rulesClassifier } from "../../../src/transforms/classify/rules.js";
import { createNormalizer } from "../../../src/transforms/normalize/index.js";
import { ArraySource, MemoryDeadLetterSink, MemoryVerdictSink, testTelemetry } from "../../support/memory.js";

const TOKEN = "t0ken-of-the-unit-tests";
const alert = (i: number) => ({ alert_id: `h-${i}`, alert_name: "Port scan detected", severity: "low", source_ip: "203.0.113.7" });

/** An intake that records pushes and leaves acknowledging to the test. */
class HeldIntake implements BatchIntake {
  readonly records: SourceRecord[] = [];
  readonly windowSize = 1000;
  private onPush: () => void = () => {};
  push(r: SourceRecord): void {
    this.records.push(r);
    this.onPush();
  }
  /** Resolves once n records were pushed. */
  whenPushed(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.onPush = () => this.records.length >= n && resolve();
      this.onPush();
    });
  }
  hasCapacity(): boolean {
    return true;
  }
  async whenCapacity(): Promise<void> {}
  async pushAll(records: readonly SourceRecord[]): Promise<boolean> {
    for (const r of records) this.push(r);
    return true;
  }
}

/** A classifier that holds every batch until released. */
class GatedClassifier implements Classifier {
  readonly name = "gated";
  private release: () => void = () => {};
  private gate = new Promise<void>((r) => (this.release = r));
  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    await this.gate;
    return items.map((i) => decideByRules(i));
  }
  open(): void {
    this.release();
  }
}

function pipeline(maxInflight: number, classifier: Classifier = rulesClassifier, values: string[] = []) {
  const source = new ArraySource(values);
  const p = new Pipeline(
    {
      source,
      normalizer: createNormalizer({ maxRecordBytes: 4096, maxJsonDepth: 16 }),
      enricher: noEnrichment,
      classifier,
      verdictSink: new MemoryVerdictSink(),
      deadLetterSink: new MemoryDeadLetterSink(),
    },
    { batchMaxSize: 20, batchMaxDelayMs: 2, maxInflight, concurrency: 2, sinkRetryDeadlineMs: 5000 },
    testTelemetry(),
  );
  // The most records in flight at once, sampled after every push (the API's and the source's).
  const seen = { max: 0 };
  const push = p.push.bind(p);
  p.push = (r) => {
    push(r);
    seen.max = Math.max(seen.max, p.inFlight);
  };
  return { p, source, seen };
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

function api(intake: BatchIntake, over: Partial<AnalyzeApiOptions> = {}) {
  const app = Fastify();
  apps.push(app);
  registerAnalyzeApi(app, {
    intake,
    authToken: TOKEN,
    maxBatchAlerts: 1000,
    maxJsonDepth: 16,
    requestTimeoutMs: 5000,
    admissionWaitMs: 5000,
    modelShare: null,
    ...over,
  });
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method: "POST",
      url,
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}`, ...headers },
      payload: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, post };
}

describe("HTTP API status codes", () => {
  it("answers 504 with code timeout when the verdict does not come in time (/analyze)", async () => {
    const { post } = api(new HeldIntake(), { requestTimeoutMs: 30 });
    const res = await post("/analyze", alert(1));
    expect(res.statusCode).toBe(504);
    expect(res.json().error.code).toBe("timeout");
  });

  it("answers 504 for a batch with pending alerts, carrying the results that did come", async () => {
    const intake = new HeldIntake();
    const { post } = api(intake, { requestTimeoutMs: 30 });
    const pending = post("/analyze/batch", [alert(1), alert(2)]);
    await intake.whenPushed(2);
    intake.records[0]!.ack({ deadLetter: { value: null, code: "invalid_json", message: "x", origin: {}, failedAtMs: 0 } });
    const res = await pending;
    expect(res.statusCode).toBe(504);
    expect(res.json().results.map((r: { error: { code: string } }) => r.error.code)).toEqual(["invalid_json", "timeout"]);
    expect(res.json().summary).toMatchObject({ alerts: 2, errors: 2, errors_by_code: { invalid_json: 1, timeout: 1 } });
  });

  it("refuses text/plain on /analyze with 415 instead of dead-lettering it", async () => {
    const intake = new HeldIntake();
    const { post } = api(intake);
    const res = await post("/analyze", alert(1), { "content-type": "text/plain" });
    expect(res.statusCode).toBe(415);
    expect(intake.records).toHaveLength(0);
  });

  it("does not serve the analyze routes while HTTP_AUTH_TOKEN is unset", async () => {
    const intake = new HeldIntake();
    const { post } = api(intake, { authToken: undefined });
    for (const url of ["/analyze", "/analyze/batch"]) {
      const res = await post(url, [alert(1)], { authorization: "" });
      expect(res.statusCode, url).toBe(401);
      expect(res.json().error.code).toBe("api_disabled");
    }
    expect(intake.records).toHaveLength(0);
  });
});

describe("batch admission into the read-ahead window", () => {
  it("refuses a batch larger than MAX_INFLIGHT_ALERTS with 413 and never exceeds the window", async () => {
    const { p, seen } = pipeline(100, new GatedClassifier());
    const { post } = api(p, { requestTimeoutMs: 200 });
    const res = await post(
      "/analyze/batch",
      Array.from({ length: 1000 }, (_, i) => alert(i)),
    );
    expect(res.statusCode).toBe(413);
    expect(res.json().error).toMatchObject({ code: "too_many_alerts", message: expect.stringContaining("MAX_INFLIGHT_ALERTS=100") });
    expect(seen.max).toBe(0);
  });

  it("admits each batch whole while a Kafka-like source keeps the window full; never more than the window in flight", async () => {
    const { p, source, seen } = pipeline(
      100,
      rulesClassifier,
      Array.from({ length: 2000 }, (_, i) => JSON.stringify(alert(10_000 + i))),
    );
    const { post } = api(p);
    await p.start();
    const answers = await Promise.all(
      [0, 1, 2].map((b) =>
        post(
          "/analyze/batch",
          Array.from({ length: 60 }, (_, i) => alert(b * 100 + i)),
        ),
      ),
    );
    for (const res of answers) {
      expect(res.statusCode).toBe(200);
      expect(res.json().summary).toMatchObject({ alerts: 60, verdicts: 60 });
    }
    await source.exhausted;
    await p.drain();
    expect(seen.max).toBeGreaterThan(60);
    expect(seen.max).toBeLessThanOrEqual(100);
    expect(source.acked).toHaveLength(2000);
  });

  it("answers 503 with Retry-After when the batch does not fit within HTTP_ADMISSION_WAIT_MS, and pushes none of it", async () => {
    const gated = new GatedClassifier();
    const { p, source, seen } = pipeline(
      100,
      gated,
      Array.from({ length: 50 }, (_, i) => JSON.stringify(alert(i))),
    );
    await p.start();
    await source.exhausted; // 50 held in flight by the classifier
    const impatient = api(p, { admissionWaitMs: 20 });
    const res = await impatient.post(
      "/analyze/batch",
      Array.from({ length: 60 }, (_, i) => alert(100 + i)),
    );
    expect(res.statusCode).toBe(503);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.json().error.code).toBe("busy");
    expect(p.inFlight).toBe(50);
    // Once the window has room the same batch fits.
    gated.open();
    const again = await api(p).post(
      "/analyze/batch",
      Array.from({ length: 60 }, (_, i) => alert(100 + i)),
    );
    expect(again.statusCode).toBe(200);
    expect(seen.max).toBeLessThanOrEqual(100);
  });
});

describe("the API's share of the model budget", () => {
  it("admits at most its share of alerts per day; beyond it 429 with Retry-After; a batch that never fits 413", async () => {
    let now = Date.UTC(2026, 11, 1, 12);
    const share = new ApiModelShare({
      store: new MemoryQuotaStore({ tpm: 10, windowMs: 86_400_000 }),
      alertsPerDay: 10,
      describe: "HTTP_API_MODEL_SHARE=0.01 × GEMINI_RPD=1000",
      now: () => now,
    });
    const { p } = pipeline(1000);
    const { post } = api(p, { modelShare: share });
    const batch = (n: number, from = 0) =>
      post(
        "/analyze/batch",
        Array.from({ length: n }, (_, i) => alert(from + i)),
      );
    expect((await batch(8)).statusCode).toBe(200);
    const over = await batch(5, 100);
    expect(over.statusCode).toBe(429);
    expect(over.json().error).toMatchObject({ code: "api_share_spent", message: expect.stringContaining("HTTP_API_MODEL_SHARE") });
    expect(Number(over.headers["retry-after"])).toBeGreaterThan(80_000);
    expect((await post("/analyze", alert(200))).statusCode).toBe(200);
    expect((await batch(11, 300)).statusCode).toBe(413);
    // A day later the share is back.
    now += 90_000_000;
    expect((await batch(5, 400)).statusCode).toBe(200);
  });
});
