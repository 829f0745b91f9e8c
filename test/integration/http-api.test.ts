// The prototype's HTTP API on our pipeline: single, batch, partial failures, size limits, auth,
// and verdicts also reaching the output topic in Kafka mode.
import { PassThrough } from "node:stream";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { startService, type Service } from "../../src/main.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { verdictSchema } from "../../src/core/verdict.js";
import { collect, createTopics, testConfig } from "./support.js";

const logger = createLogger("warn");
const TOKEN = "s3cret-token";
let service: Service;
let base: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "http-api-"));
  const config = loadConfig({ HTTP_PORT: "0", HTTP_HOST: "127.0.0.1", HTTP_AUTH_TOKEN: TOKEN, HTTP_MAX_BODY_BYTES: "65536", HTTP_MAX_BATCH_ALERTS: "50", BATCH_MAX_DELAY_MS: "20", CACHE_URL: "memory://", LOG_LEVEL: "warn" });
  service = await startService(config, logger, { input: new PassThrough(), output: join(dir, "v.ndjson"), deadLetters: join(dir, "d.ndjson"), http: true });
  base = service.httpAddress!;
});
afterAll(async () => {
  await service.stop("test end");
});

const post = (path: string, body: unknown, token: string | null = TOKEN, raw?: string) =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: raw ?? JSON.stringify(body) });

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
    const body = (await res.json()) as { results: { index: number; verdict?: { alert_id: string }; error?: { code: string } }[]; summary: Record<string, unknown> };
    expect(body.results.map((r) => (r.verdict ? "ok" : r.error!.code))).toEqual(["ok", "ok", "invalid_field", "not_an_object", "ok"]);
    expect(body.results[0]!.verdict!.alert_id).toBe("b-1");
    expect(body.summary).toMatchObject({ alerts: 5, verdicts: 3, errors: 2 });
  });

  it("enforces size limits: body bytes (413) and alerts per batch (413)", async () => {
    const big = await post("/analyze", { alert_name: "x", description: "y".repeat(70_000) });
    expect(big.status).toBe(413);
    const many = await post("/analyze/batch", Array.from({ length: 51 }, (_, i) => ({ alert_name: `a${i}` })));
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
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe("HTTP API in Kafka mode", () => {
  it("publishes API verdicts to the output topic too", async () => {
    const config = testConfig({ HTTP_HOST: "127.0.0.1", BATCH_MAX_DELAY_MS: "20" });
    await createTopics(config.names, 1);
    const out = await collect(config.names.output);
    const svc = await startService(config, logger, { http: true });
    try {
      const res = await fetch(`${svc.httpAddress}/analyze/batch`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify([{ alert_id: "k-1", alert_name: "Port scan detected" }, { alert_id: "k-2", alert_name: "Test alert", severity: "info" }]) });
      expect(res.status).toBe(200);
      const got = await out.until(2);
      expect(got.map((m) => m.key).sort()).toEqual(["k-1", "k-2"]);
    } finally {
      await out.stop();
      await svc.stop("test end");
    }
  });
});
