/**
 * Builds the classify stage from config: the Gemini classifier (with its limiter and budget governor, built once
 * here) when GEMINI_API_KEY is set, else the offline rules classifier. Both pass through the guard.
 */
import { GEMINI_MODEL_PRICES, resolveModelPrices, type ModelPrices } from "../../config/gemini.js";
import { parseResilienceOptions } from "../../config/resilience.js";
import type { Config } from "../../config/schema.js";
import type { Classifier } from "../../core/ports.js";
import { RateLimiter, memoryQuotaStores, type QuotaStoreFactory } from "../../resources/limiter.js";
import type { Logger } from "../../telemetry/logger.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { BudgetGovernor, pacificDay } from "./budget.js";
import type { SpendLedger } from "../../resources/spend-ledger.js";
import { createGeminiClient } from "./gemini.js";
import { applyGuard, type GuardOptions } from "./guard.js";
import { LlmClassifier } from "./llm-classifier.js";
import { decideByRules } from "./rules.js";

/**
 * Added to the quota window: the time between our reservation and the server counting the request (first-call
 * connection setup, event-loop delay, network). The store's own margin is relative (2 %), which scaled-down
 * windows shrink below a cold first request's delay (~40-150 ms measured). 250 ms is 0.4 % of a real window.
 */
function dispatchAllowanceMs(windowMs: number): number {
  return Math.min(250, Math.round(windowMs * 0.1));
}

export interface ClassifierDeps {
  config: Config;
  metrics: Metrics;
  logger: Logger;
  /** Where the Gemini quota is counted: per process by default, Redis when instances share one project. */
  quotaStores?: QuotaStoreFactory;
  /** Daily spend shared by all instances (Redis); absent = per process. */
  spendLedger?: SpendLedger;
  /** Aborted at shutdown: ends model retries and LLM_OUTAGE_MODE=wait waits (those alerts stay unacknowledged). */
  signal?: AbortSignal;
}

/** The classifier the pipeline uses: Gemini when a key is configured, the rules otherwise (one log line says which). */
export function createClassifier({ config, metrics, logger, quotaStores = memoryQuotaStores, signal, spendLedger }: ClassifierDeps): Classifier {
  const log = logger.child({ component: "classify" });
  const guard: GuardOptions = { abuseScoreMin: config.GUARD_ABUSE_SCORE_MIN, vtMaliciousMin: config.GUARD_VT_MALICIOUS_MIN };
  if (!config.GEMINI_API_KEY) {
    log.info("GEMINI_API_KEY unset: every alert is decided by the offline rules classifier");
    return guardedRulesClassifier(guard);
  }

  let prices: ModelPrices | null = resolveModelPrices(config);
  if (!prices) {
    // Unknown model without explicit prices: count spend at the dearest known price so the budget still holds.
    prices = Object.values(GEMINI_MODEL_PRICES).reduce((a, b) => (b.outputPerMTok > a.outputPerMTok ? b : a));
    log.warn({ model: config.GEMINI_MODEL, prices }, "no built-in price for GEMINI_MODEL; set GEMINI_PRICE_INPUT_PER_MTOK/GEMINI_PRICE_OUTPUT_PER_MTOK");
  }
  const unlimited = (n: number) => (n > 0 ? n : undefined);
  const windowMs = config.GEMINI_RATE_WINDOW_MS;
  const limiter = new RateLimiter({
    name: "gemini",
    stage: "classify",
    concurrency: config.GEMINI_CONCURRENCY,
    store: quotaStores("gemini", { rpm: unlimited(config.GEMINI_RPM), tpm: unlimited(config.GEMINI_TPM), rpd: unlimited(config.GEMINI_RPD), windowMs: windowMs + dispatchAllowanceMs(windowMs) }, pacificDay),
    maxWaitMs: config.GEMINI_QUEUE_WAIT_MAX_MS,
    onWait: (seconds) => metrics.limiterWait.observe({ limiter: "gemini" }, seconds),
  });
  const client = createGeminiClient({ apiKey: config.GEMINI_API_KEY, model: config.GEMINI_MODEL, baseUrl: config.GEMINI_BASE_URL });
  // A request larger than the TPM could never be admitted.
  const maxInputTokensPerRequest = config.GEMINI_TPM > 0 ? Math.min(config.GEMINI_MAX_INPUT_TOKENS_PER_REQUEST, config.GEMINI_TPM) : config.GEMINI_MAX_INPUT_TOKENS_PER_REQUEST;
  // The resilience options (LLM_OUTAGE_MODE, …) as parsed into config; defaults where the schema lacks them.
  const resilience = parseResilienceOptions(config);
  log.info(
    { model: config.GEMINI_MODEL, rpm: config.GEMINI_RPM, tpm: config.GEMINI_TPM, rpd: config.GEMINI_RPD, maxAlertsPerRequest: config.GEMINI_MAX_ALERTS_PER_REQUEST, dailyBudgetUsd: config.TRIAGE_DAILY_BUDGET_USD, outageMode: resilience.LLM_OUTAGE_MODE },
    "classifying with Gemini",
  );
  return new LlmClassifier({
    client,
    limiter,
    governor: new BudgetGovernor({ dailyBudgetUsd: config.TRIAGE_DAILY_BUDGET_USD, dayKey: pacificDay, ...(spendLedger ? { ledger: spendLedger } : {}) }),
    prices,
    metrics,
    logger,
    ...(signal ? { signal } : {}),
    options: {
      maxAlertsPerRequest: config.GEMINI_MAX_ALERTS_PER_REQUEST,
      criticalAlertsPerRequest: config.GEMINI_CRITICAL_ALERTS_PER_REQUEST,
      maxInputTokensPerRequest,
      outputTokensPerAlert: config.GEMINI_OUTPUT_TOKENS_PER_ALERT,
      maxAlertChars: config.GEMINI_MAX_ALERT_CHARS,
      timeoutMs: config.GEMINI_TIMEOUT_MS,
      retryDeadlineMs: config.GEMINI_RETRY_DEADLINE_MS,
      defaultRateLimitPauseMs: Math.min(60_000, Math.max(500, Math.round(windowMs / 12))),
      guard,
      rpd: config.GEMINI_RPD,
      outageMode: resilience.LLM_OUTAGE_MODE,
      outageProbeMaxDelayMs: resilience.LLM_OUTAGE_PROBE_MAX_DELAY_MS,
    },
  });
}

/** The rules classifier behind the same guard, so no path yields an automatic false_positive for injected text. */
export function guardedRulesClassifier(guard: GuardOptions): Classifier {
  return { name: "rules", classify: async (items) => items.map((item) => applyGuard(item, decideByRules(item), guard)) };
}

export { LlmClassifier } from "./llm-classifier.js";
export type { ModelClient, ModelReply, ModelRequest } from "./model-port.js";
