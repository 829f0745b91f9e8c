import type { FastifyInstance, FastifyReply } from "fastify";
import type { RecordIntake, RecordOutcome, SourceRecord } from "../core/ports/index.js";
import type { Verdict } from "../core/verdict.js";
import { apiGuard } from "../ops/api-guard.js";
import { nestingDepth } from "../transforms/normalize/decode.js";
import type { ApiModelShare } from "./api-share.js";

/** The intake the API needs: the pipeline's window, taking a batch as one unit. */
export interface BatchIntake extends RecordIntake {
  /** Push all records once they fit the read-ahead window together; false (nothing pushed) when not within waitMs. */
  pushAll(records: readonly SourceRecord[], waitMs: number): Promise<boolean>;
  /** MAX_INFLIGHT_ALERTS: more records than this are never admitted at once. */
  readonly windowSize: number;
}

export interface AnalyzeApiOptions {
  intake: BatchIntake;
  authToken: string | undefined;
  maxBatchAlerts: number;
  maxJsonDepth: number;
  requestTimeoutMs: number;
  /** How long a request waits for room in the read-ahead window before 503. */
  admissionWaitMs: number;
  /** The API's share of the model's daily requests; null = not limited (no model budget to protect). */
  modelShare: ApiModelShare | null;
}

/** One alert's result in an API answer. */
export type AlertResult = { index: number; alert_id: string; verdict: Verdict } | { index: number; error: { code: string; message: string } };

type Refusal = { status: number; retryAfterS?: number; error: { code: string; message: string } };

/**
 * The prototype's HTTP API on the same pipeline: POST /analyze (one alert) and POST /analyze/batch (array).
 * Alerts go through normalize → batch → enrich → classify → sink like Kafka records (verdicts are also
 * published to the output topic); each answer carries the verdicts, and per-alert errors never fail a batch.
 * A request is admitted whole: it must fit the read-ahead window (waiting up to HTTP_ADMISSION_WAIT_MS for room)
 * and the API's share of the model budget, or nothing of it is taken.
 */
export function registerAnalyzeApi(app: FastifyInstance, opts: AnalyzeApiOptions): void {
  const guard = apiGuard(opts.authToken);
  const maxAlerts = Math.min(opts.maxBatchAlerts, opts.intake.windowSize);

  // Keep the raw bytes: the pipeline's own decoder validates them, so errors match the Kafka path.
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

  const timeout = (index: number): AlertResult => ({
    index,
    error: { code: "timeout", message: `no verdict within HTTP_REQUEST_TIMEOUT_MS=${opts.requestTimeoutMs}; the alert is still being processed` },
  });

  /** Admit the alerts (share, then window) and wait for their outcomes; a refusal when nothing was taken. */
  const submit = async (values: Buffer[]): Promise<AlertResult[] | Refusal> => {
    // The share is taken first, so a request refused by the window below still counts: errs towards Kafka's part.
    if (opts.modelShare) {
      const share = await opts.modelShare.take(values.length);
      if (!share.ok) {
        return share.retryAfterMs === null
          ? { status: 413, error: { code: "too_many_alerts", message: share.message } }
          : { status: 429, retryAfterS: Math.ceil(share.retryAfterMs / 1000), error: { code: "api_share_spent", message: share.message } };
      }
    }
    const results: (AlertResult | undefined)[] = new Array(values.length);
    let left = values.length;
    let allDone!: () => void;
    const done = new Promise<void>((resolve) => (allDone = resolve));
    const receivedAtMs = Date.now();
    const records: SourceRecord[] = values.map((value, index) => ({
      value,
      origin: { line: index + 1 },
      receivedAtMs,
      ack: (outcome: RecordOutcome) => {
        results[index] =
          "verdict" in outcome
            ? { index, alert_id: outcome.verdict.alert_id, verdict: outcome.verdict }
            : { index, error: { code: outcome.deadLetter.code, message: outcome.deadLetter.message } };
        if (--left === 0) allDone();
      },
    }));
    if (values.length === 0) return [];
    if (!(await opts.intake.pushAll(records, opts.admissionWaitMs))) {
      return {
        status: 503,
        retryAfterS: 1,
        error: {
          code: "busy",
          message: `read-ahead window full; cannot take ${values.length} alert(s) within HTTP_ADMISSION_WAIT_MS=${opts.admissionWaitMs}, retry shortly`,
        },
      };
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.requestTimeoutMs)))]);
    clearTimeout(timer);
    // Array.from visits every index (map would skip the holes of alerts still pending).
    return Array.from(values, (_, index) => results[index] ?? timeout(index));
  };

  const refuse = (reply: FastifyReply, r: Refusal) => {
    if (r.retryAfterS !== undefined) reply.header("retry-after", String(Math.max(1, r.retryAfterS)));
    return reply.code(r.status).send({ error: r.error });
  };

  app.post("/analyze", { onRequest: guard }, async (req, reply) => {
    const answer = await submit([req.body as Buffer]);
    if (!Array.isArray(answer)) return refuse(reply, answer);
    const result = answer[0]!;
    if ("verdict" in result) return reply.send({ verdict: result.verdict });
    return reply.code(result.error.code === "timeout" ? 504 : 422).send({ error: result.error });
  });

  app.post("/analyze/batch", { onRequest: guard }, async (req, reply) => {
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
    const items = Array.isArray(parsed)
      ? parsed
      : parsed !== null && typeof parsed === "object" && Array.isArray((parsed as { alerts?: unknown }).alerts)
        ? (parsed as { alerts: unknown[] }).alerts
        : null;
    if (!items) return reply.code(400).send({ error: { code: "not_an_array", message: 'body must be a JSON array of alerts (or {"alerts": [...]})' } });
    if (items.length > maxAlerts) {
      return reply.code(413).send({
        error: {
          code: "too_many_alerts",
          message:
            `${items.length} alerts; at most ${maxAlerts} per request (HTTP_MAX_BATCH_ALERTS=${opts.maxBatchAlerts}, read-ahead window ` +
            `MAX_INFLIGHT_ALERTS=${opts.intake.windowSize})`,
        },
      });
    }
    const answer = await submit(items.map((item) => Buffer.from(JSON.stringify(item) ?? "null")));
    if (!Array.isArray(answer)) return refuse(reply, answer);
    // Alerts still pending make it a gateway timeout; the body still carries what did come.
    const pending = answer.some((r) => "error" in r && r.error.code === "timeout");
    return reply.code(pending ? 504 : 200).send({ results: answer, summary: batchSummary(answer, performance.now() - started) });
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
  return {
    alerts: results.length,
    verdicts,
    errors: results.length - verdicts,
    by_classification: byClassification,
    by_source: bySource,
    errors_by_code: errorsByCode,
    duration_ms: Math.round(durationMs),
  };
}
