/**
 * Two model tiers as one Classifier: a first model (e.g. a local one) decides what it can; the escalation model
 * decides alerts whose first answer is needs_review, below ESCALATE_BELOW_CONFIDENCE or degraded, and — without
 * asking the first tier at all — critical alerts (ESCALATE_CRITICAL) and alerts the injection guard flags (the weak
 * model is the one most easily steered by them). The decision returned is the deciding tier's, unchanged (its
 * `learnable` as that tier set it), so the verdict cache and memory outside learn only from the deciding tier.
 */
import type { Classifier, EnrichedAlert } from "../../core/ports/index.js";
import type { Decision } from "../../core/verdict.js";
import type { Logger } from "../../telemetry/logger.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { TierEvents } from "../../telemetry/component-events.js";
import { findInjection } from "./guard.js";

export interface TierOptions {
  /** A first-tier answer below this confidence is escalated. */
  escalateBelowConfidence: number;
  /** Critical alerts go straight to the escalation tier. */
  escalateCritical: boolean;
}

/** Tier labels on verdicts and metrics. */
export const FIRST_TIER = "first";
export const ESCALATION_TIER = "escalation";

/** Why an alert skips the first tier, or null. */
export function routeDirectly(item: EnrichedAlert, opts: TierOptions): string | null {
  if (opts.escalateCritical && item.alert.severity === "critical") return "critical";
  if (findInjection(item.alert, item.enrichment) !== null) return "injection";
  return null;
}

/** Why a first-tier decision is escalated, or null when it stands. */
export function escalationReason(d: Decision, opts: TierOptions): string | null {
  if (d.degraded || d.source !== "llm") return "degraded";
  if (d.classification === "needs_review") return "needs_review";
  if (d.confidence < opts.escalateBelowConfidence) return "low_confidence";
  return null;
}

export class TieredClassifier implements Classifier {
  readonly name: string;
  private readonly events: TierEvents;

  constructor(
    private readonly first: Classifier,
    private readonly escalation: Classifier,
    private readonly opts: TierOptions,
    metrics: Metrics,
    logger: Logger,
  ) {
    this.name = `${first.name}+${escalation.name}`;
    this.events = new TierEvents(metrics, logger);
  }

  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    const out: (Decision | undefined)[] = new Array(items.length);
    const firstIdx: number[] = [];
    const escalate = new Map<number, string>();
    items.forEach((item, i) => {
      const direct = routeDirectly(item, this.opts);
      if (direct) escalate.set(i, direct);
      else firstIdx.push(i);
    });
    const firstDecisions = firstIdx.length > 0 ? await this.first.classify(firstIdx.map((i) => items[i]!)) : [];
    const firstAnswers = new Map<number, Decision>();
    firstIdx.forEach((i, k) => {
      const d = firstDecisions[k]!;
      firstAnswers.set(i, d);
      const reason = escalationReason(d, this.opts);
      if (reason) escalate.set(i, reason);
      else out[i] = d;
    });
    const reasons = new Map<string, number>();
    for (const r of escalate.values()) reasons.set(r, (reasons.get(r) ?? 0) + 1);
    this.events.escalated(items.length, reasons);

    const escIdx = [...escalate.keys()].sort((a, b) => a - b);
    if (escIdx.length > 0) {
      const escDecisions = await this.escalation.classify(escIdx.map((i) => items[i]!));
      escIdx.forEach((i, k) => {
        const d = escDecisions[k]!;
        const firstAnswer = firstAnswers.get(i);
        out[i] = d.degraded && firstAnswer && !firstAnswer.degraded ? keepFirst(firstAnswer, d) : d;
      });
    }
    const decided = new Map<string, number>();
    for (const d of out) {
      const tier = d?.tier ?? "none";
      decided.set(tier, (decided.get(tier) ?? 0) + 1);
    }
    this.events.decided(decided);
    return out as Decision[];
  }
}

/**
 * The escalation tier could not answer (budget, outage): keep the first tier's real answer rather than the rules',
 * but never as an automatic dismissal and never for reuse — it was escalated because it was in doubt.
 */
function keepFirst(first: Decision, failed: Decision): Decision {
  const dismissal = first.classification === "false_positive";
  return {
    ...first,
    classification: dismissal ? "needs_review" : first.classification,
    confidence: dismissal ? Math.min(first.confidence, 50) : first.confidence,
    degraded: true,
    learnable: false,
    fallback_reason: `escalation tier gave no answer (${failed.fallback_reason ?? "degraded"}); the first tier's answer is kept`,
  };
}

type Incrementable = { inc(...args: unknown[]): void };
type Observable = { observe(...args: unknown[]): void };

/** `labels` merged into every call of a counter/histogram (the tier of one LlmClassifier), the metric itself shared. */
function labelled<T extends object>(metric: T, method: "inc" | "observe", extra: Record<string, string>): T {
  const call = (m: T, args: unknown[]) => {
    const [a, b] = args;
    if (a !== null && typeof a === "object") (m as unknown as Record<string, (...x: unknown[]) => void>)[method]!.call(m, { ...a, ...extra }, b);
    else (m as unknown as Record<string, (...x: unknown[]) => void>)[method]!.call(m, extra, a);
  };
  const wrapper = Object.create(metric) as T;
  (wrapper as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => call(metric, args);
  return wrapper;
}

/** The metrics one tier's LlmClassifier writes, with `tier` on its request, token, cost and batch-size series. */
export function tierMetrics(metrics: Metrics, tier: string): Metrics {
  const extra = { tier };
  return {
    ...metrics,
    llmRequests: labelled(metrics.llmRequests as unknown as Incrementable, "inc", extra) as unknown as Metrics["llmRequests"],
    llmTokens: labelled(metrics.llmTokens as unknown as Incrementable, "inc", extra) as unknown as Metrics["llmTokens"],
    llmCostUsd: labelled(metrics.llmCostUsd as unknown as Incrementable, "inc", extra) as unknown as Metrics["llmCostUsd"],
    llmAlertsPerRequest: labelled(metrics.llmAlertsPerRequest as unknown as Observable, "observe", extra) as unknown as Metrics["llmAlertsPerRequest"],
  };
}
