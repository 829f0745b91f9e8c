import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { Verdict } from "../core/verdict.js";
import type { DeadLetter } from "../core/ports/index.js";

/** Counts of one run, for the end-of-run summary and replay report. */
export interface RunStats {
  received: number;
  verdicts: number;
  byClassification: Record<string, number>;
  bySource: Record<string, number>;
  dlq: number;
  dlqByReason: Record<string, number>;
  batches: number;
  degraded: number;
}

const bump = (m: Record<string, number>, k: string, n = 1) => {
  m[k] = (m[k] ?? 0) + n;
};

/**
 * Typed telemetry events: each writes its metric and, where useful, one log line. Called per batch
 * so the hot path does a handful of increments, not one log line per alert.
 */
export class Telemetry {
  readonly stats: RunStats = { received: 0, verdicts: 0, byClassification: {}, bySource: {}, dlq: 0, dlqByReason: {}, batches: 0, degraded: 0 };
  private readonly log: Logger;

  constructor(
    readonly metrics: Metrics,
    logger: Logger,
    private readonly sourceName: string,
  ) {
    this.log = logger.child({ component: "pipeline" });
  }

  recordsReceived(n: number): void {
    this.stats.received += n;
    this.metrics.alertsReceived.inc({ source: this.sourceName }, n);
  }

  inflight(n: number): void {
    this.metrics.inflightAlerts.set(n);
  }

  batchProcessed(verdicts: readonly Verdict[], stageSeconds: Record<string, number>, receivedAtMs: readonly number[], nowMs: number): void {
    this.stats.batches++;
    this.metrics.batchSize.observe(verdicts.length);
    for (const [stage, s] of Object.entries(stageSeconds)) this.metrics.stageDuration.observe({ stage }, s);
    const byLabel = new Map<string, number>();
    for (const v of verdicts) {
      this.stats.verdicts++;
      bump(this.stats.byClassification, v.classification);
      bump(this.stats.bySource, v.source);
      if (v.degraded) this.stats.degraded++;
      const label = `${v.source}|${v.classification}`;
      byLabel.set(label, (byLabel.get(label) ?? 0) + 1);
    }
    for (const [label, n] of byLabel) {
      const [source, classification] = label.split("|") as [string, string];
      this.metrics.verdictsPublished.inc({ source, classification }, n);
    }
    for (const at of receivedAtMs) this.metrics.alertLatency.observe((nowMs - at) / 1000);
    this.log.debug({ size: verdicts.length, stageSeconds }, "batch published");
  }

  deadLettered(letters: readonly DeadLetter[]): void {
    for (const l of letters) {
      this.stats.dlq++;
      bump(this.stats.dlqByReason, l.code);
      this.metrics.dlqRecords.inc({ reason: l.code });
    }
    if (letters.length === 0) return;
    const byCode: Record<string, number> = {};
    for (const l of letters) bump(byCode, l.code);
    const first = letters[0]!;
    this.log.warn({ count: letters.length, byCode, example: { code: first.code, reason: first.message, origin: first.origin } }, "records dead-lettered");
  }

  sinkRetry(stage: string, code: string, attempt: number, message: string): void {
    this.metrics.sinkRetries.inc({ stage, code });
    this.log.warn({ stage, code, attempt, err: message }, "sink write failed, retrying");
  }

  /** An analyst override's updated verdict reached the verdict sink (feedback flow). */
  overridePublished(verdict: Verdict, agreement: "agree" | "disagree", detail: { analyst: string; previous: string | null }): void {
    this.stats.verdicts++;
    bump(this.stats.byClassification, verdict.classification);
    bump(this.stats.bySource, verdict.source);
    this.metrics.verdictsPublished.inc({ source: verdict.source, classification: verdict.classification });
    this.metrics.analystOverrides.inc({ agreement });
    this.log.info(
      { alert_id: verdict.alert_id, classification: verdict.classification, previous: detail.previous, agreement, analyst: detail.analyst },
      "analyst override applied; updated verdict published",
    );
  }

  /** An analyst override that was not applied (unknown, expired or ambiguous alert id). */
  overrideRefused(alertId: string, outcome: string, message: string): void {
    this.log.info({ alert_id: alertId.slice(0, 200), outcome }, message);
  }
}
