import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RecordIntake, RecordOutcome } from "../core/ports.js";
import type { Verdict } from "../core/verdict.js";
import { nestingDepth } from "../transforms/normalize/decode.js";

export interface AnalyzeApiOptions {
  intake: RecordIntake;
  authToken: string | undefined;
  maxBatchAlerts: number;
  maxJsonDepth: number;
  requestTimeoutMs: number;
}

/** One alert's result in an API answer. */
export type AlertResult = { index: number; alert_id: string; verdict: Verdict } | { index: number; error: { code: string; message: string } };

/** Bearer-token check for API routes (constant-time); health and metrics routes do not use it. */
export function bearerGuard(token: string | undefined) {
  const expected = token ? Buffer.from(`Bearer ${token}`) : null;
  return async (req: FastifyRequest, reply: FastifyReply) => {
    if (!expected) return;
    const got = Buffer.from(req.headers.authorization ?? "");
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      await reply.code(401).header("www-authenticate", 'Bearer realm="triage"').send({ error: { code: "unauthorized", message: "missing or wrong bearer token" } });
    }
  };
}

/**
 * The prototype's HTTP API on the same pipeline: POST /analyze (one alert) and POST /analyze/batch (array).
 * Alerts go through normalize → batch → enrich → classify → sink like Kafka records (verdicts are also
 * published to the output topic); each answer carries the verdicts, and per-alert errors never fail a batch.
 */
export function registerAnalyzeApi(app: FastifyInstance, opts: AnalyzeApiOptions): void {
  const guard = bearerGuard(opts.authToken);

  // Keep the raw bytes: the pipeline's own decoder validates them, so errors match the Kafka path.
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  const submit = (values: Buffer[]): Promise<AlertResult[]> => {
    const results: (AlertResult | undefined)[] = new Array(values.length);
    let left = values.length;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(), opts.requestTimeoutMs);
      const finish = () => {
        clearTimeout(timer);
        resolve(results.map((r, index) => r ?? { index, error: { code: "timeout", message: `no verdict within HTTP_REQUEST_TIMEOUT_MS=${opts.requestTimeoutMs}; the alert is still being processed` } }));
      };
      values.forEach((value, index) => {
        opts.intake.push({
          value,
          origin: { line: index + 1 },
          receivedAtMs: Date.now(),
          ack: (outcome: RecordOutcome) => {
            results[index] = "verdict" in outcome
              ? { index, alert_id: outcome.verdict.alert_id, verdict: outcome.verdict }
              : { index, error: { code: outcome.deadLetter.code, message: outcome.deadLetter.message } };
            if (--left === 0) finish();
          },
        });
      });
      if (values.length === 0) finish();
    });
  };

  const busy = (reply: FastifyReply, needed: number) =>
    reply.code(503).header("retry-after", "1").send({ error: { code: "busy", message: `read-ahead window full; cannot take ${needed} alert(s) now, retry shortly` } });

  app.post("/analyze", { preHandler: guard }, async (req, reply) => {
    if (!opts.intake.hasCapacity()) return busy(reply, 1);
    const [result] = await submit([req.body as Buffer]);
    if (result && "verdict" in result) return reply.send({ verdict: result.verdict });
    const error = result && "error" in result ? result.error : { code: "unknown", message: "no result" };
    return reply.code(error.code === "timeout" ? 504 : 422).send({ error });
  });

  app.post("/analyze/batch", { preHandler: guard }, async (req, reply) => {
    const started = performance.now();
    const text = (req.body as Buffer).toString("utf8");
    if (nestingDepth(text, opts.maxJsonDepth + 1) > opts.maxJsonDepth + 1) {
      return reply.code(400).send({ error: { code: "too_deep", message: `JSON nesting deeper than MAX_JSON_DEPTH=${opts.maxJsonDepth}` } });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return reply.code(400).send({ error: { code: "invalid_json", message: `body is not valid JSON: ${(err as Error).message.slice(0, 200)}` } });
    }
    const items = Array.isArray(parsed) ? parsed : parsed !== null && typeof parsed === "object" && Array.isArray((parsed as { alerts?: unknown }).alerts) ? (parsed as { alerts: unknown[] }).alerts : null;
    if (!items) return reply.code(400).send({ error: { code: "not_an_array", message: "body must be a JSON array of alerts (or {\"alerts\": [...]})" } });
    if (items.length > opts.maxBatchAlerts) {
      return reply.code(413).send({ error: { code: "too_many_alerts", message: `${items.length} alerts; HTTP_MAX_BATCH_ALERTS=${opts.maxBatchAlerts}` } });
    }
    if (!opts.intake.hasCapacity()) return busy(reply, items.length);
    const results = await submit(items.map((item) => Buffer.from(JSON.stringify(item) ?? "null")));
    return reply.send({ results, summary: batchSummary(results, performance.now() - started) });
  });
}

/** Counts for a batch answer, like the prototype's batch summary. */
export function batchSummary(results: readonly AlertResult[], durationMs: number) {
  const byClassification: Record<string, number> = {};
  const bySource: Record<string, number> = {};
  const errorsByCode: Record<string, number> = {};
  for (const r of results) {
    if ("verdict" in r) {
      byClassification[r.verdict.classification] = (byClassification[r.verdict.classification] ?? 0) + 1;
      bySource[r.verdict.source] = (bySource[r.verdict.source] ?? 0) + 1;
    } else errorsByCode[r.error.code] = (errorsByCode[r.error.code] ?? 0) + 1;
  }
  const verdicts = results.filter((r) => "verdict" in r).length;
  return { alerts: results.length, verdicts, errors: results.length - verdicts, by_classification: byClassification, by_source: bySource, errors_by_code: errorsByCode, duration_ms: Math.round(durationMs) };
}
