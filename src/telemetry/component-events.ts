/**
 * Typed events of the stages' components (caches, threat-intel lookups, model requests, model tiers, limiters and
 * breakers), as Vector's internal_events: each event writes its metric and its log line, so a component never
 * touches a metric directly and the names and labels live here. Per-alert events log at trace, state changes higher.
 */
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/** Cache lookups, sizes and evictions (AI exact/pattern caches, overrides, verdict record, TI cache). */
export class CacheEvents {
  private readonly log: Logger;

  constructor(
    private readonly metrics: Metrics,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "cache-events" });
  }

  /** `n` lookups in `cache` that ended in `result` (hit, miss, stale, policy, ...); 0 still creates the series. */
  lookups(cache: string, result: string, n = 1): void {
    this.metrics.cacheRequests.inc({ cache, result }, n);
    this.log.trace({ cache, result, n }, "cache lookups");
  }

  /** Entries this process wrote to `cache` and still holds. */
  entries(cache: string, n: number): void {
    this.metrics.cacheEntries.set({ cache }, n);
  }

  /** An entry dropped for the size or age bound. */
  evicted(cache: string, reason: "size" | "expired"): void {
    this.metrics.cacheEvictions.inc({ cache });
    this.log.trace({ cache, reason }, "cache entry evicted");
  }

  /** An analyst's label counted against what the cache had (agree, disagree, unknown when it had nothing). */
  analystOverride(agreement: "agree" | "disagree" | "unknown", alertId: string): void {
    this.metrics.analystOverrides.inc({ agreement });
    this.log.debug({ agreement, alert_id: alertId.slice(0, 200) }, "inline analyst label applied");
  }
}

/** Threat-intel requests of one provider: its cache, its outcomes, its limiter and breaker. */
export class TiEvents {
  private readonly log: Logger;

  constructor(
    private readonly metrics: Metrics,
    logger: Logger,
    private readonly provider: string,
  ) {
    this.log = logger.child({ component: "enrich", provider });
  }

  cacheLookup(hit: boolean): void {
    this.metrics.cacheRequests.inc({ cache: "ti", result: hit ? "hit" : "miss" });
    this.log.trace({ result: hit ? "hit" : "miss" }, "TI cache lookup");
  }

  /** One provider request (or refusal before one: breaker_open, budget) by outcome. */
  request(outcome: string): void {
    this.metrics.tiRequests.inc({ provider: this.provider, outcome });
    this.log.trace({ outcome }, "TI request");
  }

  limiterWait(seconds: number): void {
    this.metrics.limiterWait.observe({ limiter: this.provider }, seconds);
    this.log.trace({ seconds }, "TI request waited for the rate limiter");
  }

  /** The breaker's state as a gauge (0 closed, 1 half-open, 2 open); `initial` only sets the gauge. */
  breakerState(state: "closed" | "half_open" | "open", value: number, initial = false): void {
    this.metrics.breakerState.set({ provider: this.provider }, value);
    if (!initial) this.log[state === "open" ? "warn" : "info"]({ state }, `circuit breaker ${state}`);
  }
}

/** Model requests of one LlmClassifier (its metrics carry its tier label, see tierMetrics). */
export class LlmEvents {
  private readonly log: Logger;

  constructor(
    private readonly metrics: Metrics,
    logger: Logger,
    private readonly tier: string | null = null,
  ) {
    this.log = logger.child({ component: "llm-events", ...(tier ? { tier } : {}) });
  }

  /** One model request by outcome (ok, partial, invalid, malformed, truncated, rejected, rate_limited, timeout, error, ...). */
  request(outcome: string): void {
    this.metrics.llmRequests.inc({ outcome });
    this.log.trace({ outcome }, "model request");
  }

  /** A request about to be sent with this many alerts. */
  alertsInRequest(n: number): void {
    this.metrics.llmAlertsPerRequest.observe(n);
  }

  /** Tokens and estimated spend of one answered request (cached is a subset of prompt). */
  usage(u: { promptTokens: number; outputTokens: number; thoughtsTokens: number; cachedTokens?: number }, costUsd: number): void {
    this.metrics.llmTokens.inc({ kind: "prompt" }, u.promptTokens);
    this.metrics.llmTokens.inc({ kind: "output" }, u.outputTokens);
    if (u.thoughtsTokens > 0) this.metrics.llmTokens.inc({ kind: "thoughts" }, u.thoughtsTokens);
    if ((u.cachedTokens ?? 0) > 0) this.metrics.llmTokens.inc({ kind: "cached" }, u.cachedTokens ?? 0);
    if (costUsd > 0) this.metrics.llmCostUsd.inc(costUsd);
    this.log.trace({ ...u, costUsd }, "model usage");
  }

  /** An alert that looks like instructions given needs_review without a call: the isolated-request cap was reached. */
  isolatedCapped(): void {
    if (this.tier) this.metrics.llmIsolatedCapped.inc({ tier: this.tier });
    else this.metrics.llmIsolatedCapped.inc();
    this.log.trace("isolated request capped");
  }

  limiterWait(limiter: string, seconds: number): void {
    this.metrics.limiterWait.observe({ limiter }, seconds);
    this.log.trace({ limiter, seconds }, "model request waited for the rate limiter");
  }

  /** A request the limiter held back (once per request), by why: rpm, tpm or paused. */
  throttled(limiter: string, reason: string): void {
    this.metrics.limiterThrottled.inc({ limiter, reason });
    this.log.trace({ limiter, reason }, "model request throttled");
  }
}

/** Model tiers (MODEL_TIERS): escalations and who decided. */
export class TierEvents {
  private readonly log: Logger;

  constructor(
    private readonly metrics: Metrics,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "classify-tiers" });
  }

  /** Of a batch of `alerts`, these went to the escalation tier, counted by reason. */
  escalated(alerts: number, reasons: ReadonlyMap<string, number>): void {
    let escalated = 0;
    for (const [reason, n] of reasons) {
      this.metrics.tierEscalations.inc({ reason }, n);
      escalated += n;
    }
    if (escalated > 0) this.log.debug({ alerts, escalated, reasons: Object.fromEntries(reasons) }, "alerts escalated");
  }

  /** Alerts decided per tier (none = rules fallback). */
  decided(byTier: ReadonlyMap<string, number>): void {
    for (const [tier, n] of byTier) this.metrics.tierDecisions.inc({ tier }, n);
    this.log.trace({ byTier: Object.fromEntries(byTier) }, "alerts decided per tier");
  }
}

/** The verdict memory: asks and their reasons, answers, spot checks and the running agreement, its size. */
export class MemoryEvents {
  private readonly log: Logger;

  constructor(
    private readonly metrics: Metrics,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "memory-events" });
  }

  /** An alert the memory sent to the model, and why (no leaf, disagreement, critical, spot check room, ...). */
  asked(reason: string): void {
    this.metrics.memoryAsked.inc({ reason });
    this.log.trace({ reason }, "memory asked the model");
  }

  /** An alert answered from memory without a model call. */
  answered(): void {
    this.metrics.memoryAnswered.inc();
  }

  /** A spot check came back: whether the model agreed with the memory's answer, and the running agreement since start. */
  spotCheck(agree: boolean, ratio: number): void {
    this.metrics.memorySpotChecks.inc({ outcome: agree ? "agree" : "disagree" });
    this.metrics.memoryAgreement.set(ratio);
    this.log.trace({ agree, ratio }, "memory spot check");
  }

  /** What the memory holds (rules, leaves, examples, bytes). */
  size(size: Record<string, number>): void {
    for (const [kind, n] of Object.entries(size)) this.metrics.memorySize.set({ kind }, n);
  }
}
