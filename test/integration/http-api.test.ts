// The prototype's HTTP API on our pipeline: single, batch, partial failures, size limits, auth (closed without
// HTTP_AUTH_TOKEN), JSON-only bodies, analyst overrides (server time, unknown ids), and verdicts also reaching the
// output topic in Kafka mode.
import { PassThrough } from "node:stream";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { startService, type Service } from "../../src/main.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { verdictSchema } from "../../src/core/verdict.js";
import { FakeGemini } from "../fakes/gemini.js";
import { collect, createTopics, testConfig, unique } from "./support.js";

const logger = createLogger("warn");
const TOKEN = "s3cret-token-of-the-tests";
let service: Service;
let base: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "http-api-"));
  const config = loadConfig({
    HTTP_PORT: "0",
    HTTP_HOST: "127.0.0.1",
    HTTP_AUTH_TOKEN: TOKEN,
    HTTP_MAX_BODY_BYTES: "65536",
    HTTP_MAX_BATCH_ALERTS: "50",
    BATCH_MAX_DELAY_MS: "20",
    CACHE_URL: "memory://",
    LOG_LEVEL: "warn",
  });
  service = await startService(config, logger, { input: new PassThrough(), output: join(dir, "v.ndjson"), deadLetters: join(dir, "d.ndjson"), http: true });
  base = service.httpAddress!;
});
afterAll(async () => {
  await service.stop("test end");
});

const post = (path: string, body: unknown, token: string | null = TOKEN, raw?: string) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: raw ?? JSON.stringify(body),
  });

describe("HTTP API", () => {
  it("POST /analyze answers one verdict", async () => {
    const res = await post("/analyze", { alert_id: "h-1", alert_name: "Malware detected: Emotet loader", severity: "critical", host: "ws-1" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { verdict: unknown };
    const v = verdictSchema.parse(body.verdict);
    expect(v).toMatchObject({ alert_id: "h-1", classification: "true_positive", source: "rules" });
  });

  it("POST /analyze rejects an invalid alert with 422 and the reason", async () => {
    const res = await post("/analyze", { severity: "high" });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unknown_format");
  });

  it("POST /analyze/batch answers per alert; one bad alert does not fail the batch", async () => {
    const alerts = [
      { alert_id: "b-1", alert_name: "Port scan detected", severity: "low" },
      { alert_name: "Impossible travel", severity: "medium", user: "bob" },
      { alert_name: "x", severity: "purple" },
      42,
      { user: "alice", source_ip: "185.220.101.34", failed_logins: 25, success: true },
    ];
    const res = await post("/analyze/batch", alerts);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      results: { index: number; verdict?: { alert_id: string }; error?: { code: string } }[];
      summary: Record<string, unknown>;
    };
    expect(body.results.map((r) => (r.verdict ? "ok" : r.error!.code))).toEqual(["ok", "ok", "invalid_field", "not_an_object", "ok"]);
    expect(body.results[0]!.verdict!.alert_id).toBe("b-1");
    expect(body.summary).toMatchObject({ alerts: 5, verdicts: 3, errors: 2 });
  });

  it("enforces size limits: body bytes (413) and alerts per batch (413)", async () => {
    const big = await post("/analyze", { alert_name: "x", description: "y".repeat(70_000) });
    expect(big.status).toBe(413);
    const many = await post(
      "/analyze/batch",
      Array.from({ length: 51 }, (_, i) => ({ alert_name: `a${i}` })),
    );
    expect(many.status).toBe(413);
    expect(((await many.json()) as { error: { code: string } }).error.code).toBe("too_many_alerts");
  });

  it("rejects bad JSON and non-arrays with 400", async () => {
    expect((await post("/analyze/batch", null, TOKEN, "[{oops")).status).toBe(400);
    expect((await post("/analyze/batch", { not: "an array" })).status).toBe(400);
  });

  it("requires the bearer token on API routes when HTTP_AUTH_TOKEN is set; health stays open", async () => {
    expect((await post("/analyze", { alert_name: "x" }, null)).status).toBe(401);
    expect((await post("/analyze/batch", [], "wrong")).status).toBe(401);
    expect((await post("/analyze", { alert_name: "x" }, TOKEN.toUpperCase())).status).toBe(401);
    const lower = await fetch(`${base}/analyze`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `bearer ${TOKEN}` },
      body: JSON.stringify({ alert_id: "h-lc", alert_name: "Port scan detected" }),
    });
    expect(lower.status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it("answers 415 for a text/plain or form body (a cross-site post), and dead-letters nothing", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
      const res = await fetch(`${base}/analyze`, {
        method: "POST",
        headers: { "content-type": type, authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ alert_name: "x" }),
      });
      expect(res.status, type).toBe(415);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unsupported_media_type");
    }
    const feedback = await fetch(`${base}/v1/feedback`, {
      method: "POST",
      headers: { "content-type": "text/plain", authorization: `Bearer ${TOKEN}` },
      body: "{}",
    });
    expect(feedback.status).toBe(415);
  });
});

describe("HTTP API without HTTP_AUTH_TOKEN", () => {
  it("starts, serves health, readiness and metrics, and answers 401 api_disabled on every API route", async () => {
    const dir = mkdtempSync(join(tmpdir(), "http-api-open-"));
    const config = loadConfig({ HTTP_PORT: "0", HTTP_HOST: "127.0.0.1", CACHE_URL: "memory://", LOG_LEVEL: "warn" });
    const svc = await startService(config, logger, { input: new PassThrough(), output: join(dir, "v.ndjson"), deadLetters: join(dir, "d.ndjson"), http: true });
    try {
      for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await fetch(`${svc.httpAddress}${path}`)).status, path).toBe(200);
      for (const [path, body] of [
        ["/analyze", { alert_name: "x" }],
        ["/analyze/batch", [{ alert_name: "x" }]],
        ["/v1/feedback", { alert_id: "a", classification: "fp", analyst: "x", reason: "y" }],
      ] as const) {
        const res = await fetch(`${svc.httpAddress}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        expect(res.status, path).toBe(401);
        expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({
          code: "api_disabled",
          message: expect.stringContaining("HTTP_AUTH_TOKEN"),
        });
      }
      expect(svc.telemetry.stats.received).toBe(0);
    } finally {
      await svc.stop("test end");
    }
  });
});

describe("analyst overrides over HTTP, with the model and verdict cache on", () => {
  it("take the server's receive time for `at` (the caller's 9999-12-31 is only echoed) and refuse unknown alert ids with 422", async () => {
    const fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity });
    const config = testConfig({
      HTTP_HOST: "127.0.0.1",
      HTTP_AUTH_TOKEN: TOKEN,
      BATCH_MAX_DELAY_MS: "20",
      GEMINI_API_KEY: fake.apiKey,
      GEMINI_BASE_URL: fake.url,
      GEMINI_RPM: "0",
      GEMINI_TPM: "0",
      GEMINI_RPD: "0",
      TRIAGE_FEEDBACK_TOPIC: unique("feedback"),
    });
    await createTopics(config.names, 1);
    const svc = await startService(config, logger, { http: true });
    const call = (path: string, body: unknown) =>
      fetch(`${svc.httpAddress}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(body),
      });
    try {
      const seen = await call("/analyze", {
        alert_id: "ov-1",
        alert_name: "Brute force login attempts",
        severity: "medium",
        source_ip: "45.155.205.233",
        user: "erin",
        failed_logins: 12,
      });
      expect(seen.status).toBe(200);
      const before = Date.now();
      const res = await call("/v1/feedback", { alert_id: "ov-1", classification: "false_positive", analyst: "ana", reason: "lab", at: "9999-12-31T00:00:00Z" });
      expect(res.status).toBe(202);
      const body = (await res.json()) as { at: string; analyst_at: string; updated_verdict: { source: string } };
      expect(body.analyst_at).toBe("9999-12-31T00:00:00Z");
      expect(Date.parse(body.at)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(body.at)).toBeLessThanOrEqual(Date.now());
      expect(body.updated_verdict.source).toBe("override");

      const unknown = await call("/v1/feedback", { alert_id: "never-seen", classification: "false_positive", analyst: "ana", reason: "planted" });
      expect(unknown.status).toBe(422);
      expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("unknown_alert");
      // The id shows up later as a critical alert: triaged as usual, not by the refused override.
      const later = await call("/analyze", { alert_id: "never-seen", alert_name: "Malware detected: Emotet loader", severity: "critical", host: "ws-9" });
      expect(((await later.json()) as { verdict: { source: string } }).verdict.source).not.toBe("override");
    } finally {
      await svc.stop("test end");
      await fake.stop();
    }
  });
});

describe("HTTP API in Kafka mode", () => {
  it("publishes API verdicts to the output topic too", async () => {
    const config = testConfig({ HTTP_HOST: "127.0.0.1", HTTP_AUTH_TOKEN: TOKEN, BATCH_MAX_DELAY_MS: "20" });
    await createTopics(config.names, 1);
    const out = await collect(config.names.output);
    const svc = await startService(config, logger, { http: true });
    try {
      const res = await fetch(`${svc.httpAddress}/analyze/batch`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify([
          { alert_id: "k-1", alert_name: "Port scan detected" },
          { alert_id: "k-2", alert_name: "Test alert", severity: "info" },
        ]),
      });
      expect(res.status).toBe(200);
      const got = await out.until(2);
      expect(got.map((m) => m.key).sort()).toEqual(["k-1", "k-2"]);
    } finally {
      await out.stop();
      await svc.stop("test end");
    }
  });
});
