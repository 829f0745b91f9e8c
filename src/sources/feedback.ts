/**
 * Where analyst overrides come from: the feedback topic (TRIAGE_FEEDBACK_TOPIC) and POST /v1/feedback.
 *
 * With the default per-instance SQLite cache, every instance reads the whole feedback topic in its own consumer
 * group (`<KAFKA_GROUP_ID>.feedback.<hostname>`, from the beginning) instead of sharing one group: each instance
 * must hold every override itself, and an instance that restarts on a fresh disk (new pod, wiped volume) re-reads
 * the topic from the start and catches up. The instance that knows the overridden alert publishes its updated
 * verdict and a "resolved" record with the alert's keys, which the others store. With Redis the cache is shared,
 * so the instances share one group (`<KAFKA_GROUP_ID>.feedback`) and each override is applied and published once.
 * Re-applying is idempotent (an override already applied is not published again). Offsets are committed after
 * each batch of records is applied, so a crash re-applies at most that batch. Pods with changing hostnames leave
 * empty groups behind, which the broker drops after offsets.retention.minutes. Records that are not valid overrides
 * go to the dead-letter sink (TRIAGE_DLQ_TOPIC) with a code and the reason, so an analyst decision is never lost
 * silently.
 */
import { hostname } from "node:os";
import type { FastifyInstance } from "fastify";
import type { DeadLetter, DeadLetterSink, PartitionBatch, StreamConsumer, StreamProducer } from "../core/ports/index.js";
import { apiGuard } from "../ops/api-guard.js";
import type { Logger } from "../telemetry/logger.js";
import {
  analystOverrideSchema,
  parseFeedbackRecord,
  type AnalystOverride,
  type FeedbackPublisher,
  type FeedbackRecord,
  type OverrideOutcome,
} from "../transforms/classify/cache/index.js";

/** What overrides are handed to (the feedback flow, src/feedback-flow.ts). */
export interface FeedbackHandler {
  applyFeedback(record: FeedbackRecord): Promise<unknown>;
  submitOverride(o: AnalystOverride): Promise<OverrideOutcome>;
}

/**
 * The feedback topic's consumer group: this instance's own when each instance has its own cache (SQLite, memory),
 * one shared by all instances when the cache is shared (Redis): then each override is applied — and its updated
 * verdict published — once.
 */
export function feedbackGroupId(groupId: string, opts: { sharedCache: boolean; host?: string }): string {
  if (opts.sharedCache) return `${groupId}.feedback`;
  return `${groupId}.feedback.${(opts.host ?? hostname()).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 120)}`;
}

/** Publishes feedback records (analyst overrides, resolved overrides) to the topic, keyed by alert id. */
export function feedbackPublisher(producer: StreamProducer, topic: string): FeedbackPublisher {
  return (records) =>
    producer.send(
      topic,
      records.map((r) => ({ key: r.alert_id, value: JSON.stringify(r) })),
    );
}

/** Consumes the feedback topic into the handler; bad records are dead-lettered and skipped. */
export class FeedbackSource {
  private readonly log: Logger;
  private stopped = false;
  private retrying: Promise<void> = Promise.resolve();
  private wake: () => void = () => {};

  constructor(
    private readonly consumer: StreamConsumer,
    private readonly opts: { topic: string },
    private readonly handler: FeedbackHandler,
    private readonly deadLetters: DeadLetterSink,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "feedback" });
  }

  /**
   * Join the group and start applying; resolves once running or, when that fails (typically a topic that does not
   * exist yet: the first metadata request makes the broker auto-create it), after logging it — retries then go on in
   * the background with backoff. Overrides already stored keep applying meanwhile; a missing feedback topic must not
   * stop alert triage.
   */
  async start(): Promise<void> {
    if (await this.tryRun()) return;
    this.retrying = (async () => {
      for (let delayMs = 1000; !this.stopped; delayMs = Math.min(30_000, delayMs * 2)) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, delayMs).unref();
        });
        if (this.stopped || (await this.tryRun())) return;
      }
    })();
  }

  private async tryRun(): Promise<boolean> {
    try {
      await this.consumer.run(this.opts.topic, (batch) => this.onBatch(batch));
      this.log.info({ topic: this.opts.topic }, "reading analyst overrides");
      return true;
    } catch (err) {
      this.log.warn({ topic: this.opts.topic, err: (err as Error).message }, "cannot read the feedback topic yet; retrying");
      return false;
    }
  }

  private async onBatch(batch: PartitionBatch): Promise<void> {
    let last: string | null = null;
    for (const message of batch.messages) {
      if (this.stopped || !batch.isActive()) break;
      const decoded = this.decode(message.value);
      const origin = { topic: batch.topic, partition: batch.partition, offset: message.offset };
      // A failing apply or dead letter (cache or broker down) throws: nothing past it is committed and the client
      // retries the batch.
      const checked = decoded.ok ? notFromTheFuture(datedNoLaterThan(decoded.record, Number(message.timestamp)), Date.now()) : decoded;
      if (checked.ok) await this.handler.applyFeedback(checked.record);
      else {
        const letter: DeadLetter = { value: message.value, code: checked.code, message: checked.message, origin, failedAtMs: Date.now() };
        await this.deadLetters.write([letter]);
        this.log.warn({ ...origin, code: checked.code, problem: checked.message.slice(0, 300) }, "invalid feedback record; dead-lettered");
      }
      batch.resolveOffset(message.offset);
      last = message.offset;
    }
    if (last !== null) await this.consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
    await batch.heartbeat();
  }

  private decode(value: Buffer | null): { ok: true; record: FeedbackRecord } | { ok: false; code: "invalid_json" | "invalid_feedback"; message: string } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value?.toString("utf8") ?? "");
    } catch (err) {
      return {
        ok: false,
        code: "invalid_json",
        message: value === null ? "feedback record has no value" : `feedback record is not JSON: ${(err as Error).message.slice(0, 200)}`,
      };
    }
    const r = parseFeedbackRecord(parsed);
    return r.ok ? r : { ok: false, code: "invalid_feedback", message: `invalid feedback record: ${r.message}` };
  }

  /** Stop fetching (first step of shutdown); resolves when the running batch is done. */
  async stopReading(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.retrying;
    await this.consumer.stop();
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }

  isConnected(): boolean {
    return this.consumer.isConnected();
  }
}

/**
 * An override's lifetime counts from its `at`: a record may not claim a time after the broker got it, and one without
 * `at` takes that time, so re-reading the topic (restarts, new instances) never renews or extends an override.
 */
function datedNoLaterThan(record: FeedbackRecord, timestampMs: number): FeedbackRecord {
  if (!Number.isFinite(timestampMs)) return record;
  const claimed = record.at === undefined ? NaN : Date.parse(record.at);
  return claimed <= timestampMs ? record : { ...record, at: new Date(timestampMs).toISOString() };
}

/** Clock skew tolerated between the broker, the producer and this instance. */
const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * A record dated after now (its `at` and its CreateTime, both the producer's to set) is refused: its lifetime would
 * start again from "now" each time the topic is re-read (restart on a fresh disk, a new instance), i.e. never end.
 */
function notFromTheFuture(
  record: FeedbackRecord,
  nowMs: number,
): { ok: true; record: FeedbackRecord } | { ok: false; code: "invalid_feedback"; message: string } {
  const atMs = record.at === undefined ? NaN : Date.parse(record.at);
  if (!(atMs > nowMs + FUTURE_SKEW_MS)) return { ok: true, record };
  return {
    ok: false,
    code: "invalid_feedback",
    message: `invalid feedback record: dated in the future (${record.at}, record timestamp included); an override's lifetime counts from when it was decided`,
  };
}

export interface FeedbackApiOptions {
  handler: FeedbackHandler;
  authToken: string | undefined;
}

/**
 * POST /v1/feedback {alert_id, classification, analyst, reason[, severity, at]}: 202 once the override is applied here
 * and on the feedback topic (the body carries the updated verdict), 400 for a body that is not a JSON object, 422 for
 * invalid fields (the reason names them) or `unknown_alert` for an alert id the service has not triaged, 401 without
 * HTTP_AUTH_TOKEN or the bearer token, 415 for a body that is not application/json, 503 when the override could not be
 * stored or published. The override's time is the server's receive time; the caller's `at` is echoed as
 * `analyst_at` and never sets the lifetime.
 */
export function registerFeedbackApi(app: FastifyInstance, opts: FeedbackApiOptions): void {
  app.post("/v1/feedback", { onRequest: apiGuard(opts.authToken) }, async (req, reply) => {
    // The analyze API installs a raw-bytes JSON parser on the app; without it Fastify has parsed the body already.
    let body: unknown = req.body;
    if (Buffer.isBuffer(body) || typeof body === "string") {
      try {
        body = JSON.parse(body.toString());
      } catch (err) {
        return reply.code(400).send({ error: { code: "invalid_json", message: `body is not valid JSON: ${(err as Error).message.slice(0, 200)}` } });
      }
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return reply.code(400).send({ error: { code: "not_an_object", message: "body must be a JSON object {alert_id, classification, analyst, reason}" } });
    }
    const parsed = analystOverrideSchema.safeParse(body);
    if (!parsed.success) {
      const message = parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ");
      return reply.code(422).send({ error: { code: "invalid_feedback", message } });
    }
    // The caller's `at` is information only (echoed); the handler stamps the server's receive time.
    const { at: analystAt, ...override } = parsed.data;
    try {
      const outcome = await opts.handler.submitOverride(override);
      if (outcome.status !== "applied") {
        req.log.info({ alert_id: override.alert_id, outcome: outcome.status }, "override refused");
        return reply.code(422).send({ error: { code: outcome.status, message: outcome.message } });
      }
      return reply.code(202).send({
        accepted: true,
        alert_id: override.alert_id,
        classification: override.classification,
        at: outcome.at,
        ...(analystAt ? { analyst_at: analystAt } : {}),
        updated_verdict: outcome.verdict,
      });
    } catch (err) {
      req.log.warn({ err: (err as Error).message }, "feedback not accepted");
      return reply
        .code(503)
        .header("retry-after", "1")
        .send({ error: { code: "unavailable", message: `override not stored: ${(err as Error).message.slice(0, 200)}` } });
    }
  });
}
