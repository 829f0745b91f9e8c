/**
 * The second flow, stated here as pipeline.ts states the first:
 *   feedback topic / POST /v1/feedback → override stored (verdict cache) → updated verdict → verdict sink
 *                                      → resolved record → feedback topic (the other instances)
 * Publishing has the verdict flow's sink retry (withRetry, SINK_RETRY_DEADLINE_MS) and telemetry events. A topic
 * record is acknowledged (its offset committed, by FeedbackSource) only once this resolves: its override stored and
 * the updated verdict published; invalid records are dead-lettered by the source.
 */
import type { VerdictSink } from "./core/ports/index.js";
import type { Verdict } from "./core/verdict.js";
import { withRetry } from "./resources/retry.js";
import type { FeedbackHandler } from "./sources/feedback.js";
import type { Telemetry } from "./telemetry/events.js";
import {
  isResolved,
  type AnalystOverride,
  type FeedbackPublisher,
  type FeedbackRecord,
  type OverrideOutcome,
  type VerdictCache,
} from "./transforms/classify/cache/index.js";

export interface FeedbackFlowOptions {
  /** Where overrides are stored and looked up. */
  overrides: Pick<VerdictCache, "prepareOverride" | "storeResolved">;
  /** The pipeline's verdict sink: the updated verdict goes where the first one went. */
  verdictSink: VerdictSink;
  /** TRIAGE_FEEDBACK_TOPIC; null in file mode (overrides then stay with this process). */
  publishFeedback: FeedbackPublisher | null;
  telemetry: Pick<Telemetry, "sinkRetry" | "overridePublished" | "overrideRefused">;
  /** SINK_RETRY_DEADLINE_MS, as for verdicts. */
  sinkRetryDeadlineMs: number;
  signal?: AbortSignal;
  now?: () => number;
}

export class FeedbackFlow implements FeedbackHandler {
  private readonly applying = new Map<string, Promise<OverrideOutcome>>();
  private readonly now: () => number;

  constructor(private readonly o: FeedbackFlowOptions) {
    this.now = o.now ?? Date.now;
  }

  /** A feedback-topic record: an override, or a resolved one another instance bound to its alert's keys. */
  async applyFeedback(record: FeedbackRecord): Promise<Verdict | null> {
    if (isResolved(record)) {
      await this.o.overrides.storeResolved(record);
      return null;
    }
    const outcome = await this.apply(record);
    return outcome.status === "applied" ? outcome.verdict : null;
  }

  /**
   * POST /v1/feedback: stamped with the server's time (the caller's `at` never sets the lifetime), applied here first
   * (so this instance's own copy from the topic finds it done), then put on the topic for the other instances and
   * restarts. Refused overrides are not published; a failed publish fails the request (retrying it is idempotent).
   */
  async submitOverride(o: AnalystOverride): Promise<OverrideOutcome> {
    const stamped = { ...o, at: new Date(this.now()).toISOString() };
    const outcome = await this.apply(stamped);
    if (outcome.status !== "applied") return outcome;
    await this.publishFeedback([stamped]);
    return { ...outcome, at: stamped.at };
  }

  /** Apply one override; the updated verdict when this call published one, else null. */
  async applyOverride(o: AnalystOverride): Promise<Verdict | null> {
    const outcome = await this.apply(o);
    return outcome.status === "applied" ? outcome.verdict : null;
  }

  /** One override per alert id at a time in this process (HTTP and topic may bring the same one at once). */
  private apply(o: AnalystOverride): Promise<OverrideOutcome> {
    const before: Promise<unknown> = this.applying.get(o.alert_id) ?? Promise.resolve(null);
    const run = before.catch(() => null).then(() => this.applyNow(o));
    this.applying.set(o.alert_id, run);
    void run
      .finally(() => {
        if (this.applying.get(o.alert_id) === run) this.applying.delete(o.alert_id);
      })
      .catch(() => {});
    return run;
  }

  private async applyNow(o: AnalystOverride): Promise<OverrideOutcome> {
    const plan = await this.o.overrides.prepareOverride({ ...o, at: o.at ?? new Date(this.now()).toISOString() });
    if (plan.status !== "applied") {
      this.o.telemetry.overrideRefused(o.alert_id, plan.status, plan.message);
      return plan;
    }
    if (plan.verdict === null) return { status: "applied", verdict: null };
    const { verdict } = plan;
    await withRetry("sink", () => this.o.verdictSink.publish([verdict]), {
      deadlineMs: this.o.sinkRetryDeadlineMs,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
      onRetry: (e, n) => this.o.telemetry.sinkRetry("sink", e.code, n, e.message),
    });
    this.o.telemetry.overridePublished(verdict, plan.agreement, { analyst: o.analyst, previous: plan.resolved.previous });
    await plan.recordPublished();
    await this.publishFeedback([plan.resolved]);
    return { status: "applied", verdict };
  }

  /**
   * Put records on the feedback topic with the sink retry. Also the verdict cache's publisher: when an override known
   * by id meets its alert during classification, the resolved record goes out through here (same retry and events).
   */
  async publishFeedback(records: readonly FeedbackRecord[]): Promise<void> {
    const publish = this.o.publishFeedback;
    if (!publish) return;
    await withRetry("sink", () => publish(records), {
      deadlineMs: this.o.sinkRetryDeadlineMs,
      ...(this.o.signal ? { signal: this.o.signal } : {}),
      onRetry: (e, n) => this.o.telemetry.sinkRetry("feedback", e.code, n, e.message),
    });
  }
}
