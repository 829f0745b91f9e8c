/**
 * Builds the classify stage from config: the model tier(s) — Gemini and/or an OpenAI-compatible server, each with its
 * limiter and budget governor, built once here — or the offline rules classifier when no model is configured. All
 * pass through the guard.
 */
import { GEMINI_MODEL_PRICES, resolveModelPrices, type ModelPrices } from "../../config/gemini.js";
import { modelConfigured, modelTiers, type ModelProvider } from "../../config/model.js";
import { parseResilienceOptions } from "../../config/resilience.js";
import type { Config } from "../../config/schema.js";
import type { Classifier, QuotaStoreFactory } from "../../core/ports/index.js";
import { RateLimiter, memoryQuotaStores, utcDay } from "../../resources/limiter.js";
import type { Logger } from "../../telemetry/logger.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { LlmEvents } from "../../telemetry/component-events.js";
import { BudgetGovernor, pacificDay } from "./budget.js";
import type { SpendLedger } from "../../resources/spend-ledger.js";
import { createGeminiClient } from "./gemini.js";
import { applyGuard, type GuardOptions } from "./guard.js";
import { LlmClassifier } from "./llm-classifier.js";
import { PROMPT_VERSION } from "./prompt.js";
import { createOpenAiClient } from "./openai.js";
import { Pseudonymizer, PseudonymizingClassifier } from "./pseudonymize.js";
import { ESCALATION_TIER, FIRST_TIER, TieredClassifier, tierMetrics } from "./tiers.js";
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

/**
 * The classifier the pipeline uses: the model tier(s) from MODEL_PROVIDER / MODEL_TIERS (the rules when no model is
 * configured, one log line says which), behind the pseudonymiser when PSEUDONYMIZE=true. The verdict cache wraps the
 * result in main.ts, so it sees real values: CachingClassifier(Pseudonymizing(Tiered(Llm…))).
 */
export function createClassifier(deps: ClassifierDeps): Classifier {
  const { config, logger } = deps;
  const log = logger.child({ component: "classify" });
  const guard: GuardOptions = { abuseScoreMin: config.GUARD_ABUSE_SCORE_MIN, vtMaliciousMin: config.GUARD_VT_MALICIOUS_MIN };
  if (!modelConfigured(config)) {
    log.info("GEMINI_API_KEY unset: every alert is decided by the offline rules classifier");
    return guardedRulesClassifier(guard);
  }
  const tiers = modelTiers(config);
  let model: Classifier;
  if (tiers.length === 1) model = buildTier(tiers[0]!, null, deps);
  else {
    model = new TieredClassifier(
      buildTier(tiers[0]!, FIRST_TIER, deps),
      buildTier(tiers[1]!, ESCALATION_TIER, deps),
      { escalateBelowConfidence: config.ESCALATE_BELOW_CONFIDENCE, escalateCritical: config.ESCALATE_CRITICAL === "true" },
      deps.metrics,
      logger,
    );
    log.info(
      { first: tiers[0], escalation: tiers[1], escalateBelowConfidence: config.ESCALATE_BELOW_CONFIDENCE, escalateCritical: config.ESCALATE_CRITICAL },
      "two model tiers",
    );
  }
  if (config.PSEUDONYMIZE !== "true") return model;
  const extraFields = config.PSEUDONYMIZE_EXTRA_FIELDS === "" ? [] : config.PSEUDONYMIZE_EXTRA_FIELDS.split(",");
  log.info({ publicIps: config.PSEUDONYMIZE_PUBLIC_IPS, extraFields }, "prompts pseudonymised (user, host, e-mail, internal IPs)");
  return new PseudonymizingClassifier(
    model,
    new Pseudonymizer({ secret: config.PSEUDONYMIZE_SECRET!, publicIps: config.PSEUDONYMIZE_PUBLIC_IPS === "true", extraFields }),
    guard,
  );
}

/** One model tier: its client, limiter and budget (built once here), metrics labelled with its tier. */
function buildTier(provider: ModelProvider, tier: string | null, deps: ClassifierDeps): LlmClassifier {
  return provider === "openai" ? openAiClassifier(tier, deps) : geminiClassifier(tier, deps);
}

function geminiClassifier(
  tier: string | null,
  { config, metrics: rootMetrics, logger, quotaStores = memoryQuotaStores, signal, spendLedger }: ClassifierDeps,
): LlmClassifier {
  const log = logger.child({ component: "classify" });
  const guard: GuardOptions = { abuseScoreMin: config.GUARD_ABUSE_SCORE_MIN, vtMaliciousMin: config.GUARD_VT_MALICIOUS_MIN };
  const metrics = tier ? tierMetrics(rootMetrics, tier) : rootMetrics;
  let prices: ModelPrices | null = resolveModelPrices(config);
  if (!prices) {
    // Unknown model without explicit prices: count spend at the dearest known price so the budget still holds.
    prices = Object.values(GEMINI_MODEL_PRICES).reduce((a, b) => (b.outputPerMTok > a.outputPerMTok ? b : a));
    log.warn({ model: config.GEMINI_MODEL, prices }, "no built-in price for GEMINI_MODEL; set GEMINI_PRICE_INPUT_PER_MTOK/GEMINI_PRICE_OUTPUT_PER_MTOK");
  }
  const unlimited = (n: number) => (n > 0 ? n : undefined);
  const windowMs = config.GEMINI_RATE_WINDOW_MS;
  const limiterEvents = new LlmEvents(metrics, logger, tier);
  const limiter = new RateLimiter({
    name: "gemini",
    stage: "classify",
    concurrency: config.GEMINI_CONCURRENCY,
    store: quotaStores(
      "gemini",
      {
        rpm: unlimited(config.GEMINI_RPM),
        tpm: unlimited(config.GEMINI_TPM),
        rpd: unlimited(config.GEMINI_RPD),
        windowMs: windowMs + dispatchAllowanceMs(windowMs),
      },
      pacificDay,
    ),
    maxWaitMs: config.GEMINI_QUEUE_WAIT_MAX_MS,
    onWait: (seconds) => limiterEvents.limiterWait("gemini", seconds),
    onThrottled: (reason) => limiterEvents.throttled("gemini", reason),
  });
  const client = createGeminiClient({ apiKey: config.GEMINI_API_KEY!, model: config.GEMINI_MODEL, baseUrl: config.GEMINI_BASE_URL });
  // A request larger than the TPM could never be admitted.
  const maxInputTokensPerRequest =
    config.GEMINI_TPM > 0 ? Math.min(config.GEMINI_MAX_INPUT_TOKENS_PER_REQUEST, config.GEMINI_TPM) : config.GEMINI_MAX_INPUT_TOKENS_PER_REQUEST;
  // The resilience options (LLM_OUTAGE_MODE, …) as parsed into config; defaults where the schema lacks them.
  const resilience = parseResilienceOptions(config);
  log.info(
    {
      model: config.GEMINI_MODEL,
      rpm: config.GEMINI_RPM,
      tpm: config.GEMINI_TPM,
      rpd: config.GEMINI_RPD,
      maxAlertsPerRequest: config.GEMINI_MAX_ALERTS_PER_REQUEST,
      dailyBudgetUsd: config.TRIAGE_DAILY_BUDGET_USD,
      outageMode: resilience.LLM_OUTAGE_MODE,
    },
    "classifying with Gemini",
  );
  return new LlmClassifier({
    client,
    ...(tier ? { tier } : {}),
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
      volatileFields: new RegExp(config.AI_CACHE_VOLATILE_FIELDS, "i"),
      rpd: config.GEMINI_RPD,
      outageMode: resilience.LLM_OUTAGE_MODE,
      outageProbeMaxDelayMs: resilience.LLM_OUTAGE_PROBE_MAX_DELAY_MS,
      isolatedRequestsPerMinute: resilience.LLM_ISOLATED_REQUESTS_PER_MINUTE,
    },
  });
}

/** The OpenAI-compatible tier: its own limiter (OPENAI_RPM/TPM/RPD, UTC days) and budget (OPENAI_DAILY_BUDGET_USD). */
function openAiClassifier(
  tier: string | null,
  { config, metrics: rootMetrics, logger, quotaStores = memoryQuotaStores, signal }: ClassifierDeps,
): LlmClassifier {
  const log = logger.child({ component: "classify", provider: "openai", ...(tier ? { tier } : {}) });
  const metrics = tier ? tierMetrics(rootMetrics, tier) : rootMetrics;
  const guard: GuardOptions = { abuseScoreMin: config.GUARD_ABUSE_SCORE_MIN, vtMaliciousMin: config.GUARD_VT_MALICIOUS_MIN };
  const unlimited = (n: number) => (n > 0 ? n : undefined);
  const windowMs = config.OPENAI_RATE_WINDOW_MS;
  const limiterName = tier ? `openai-${tier}` : "openai";
  const limiter = new RateLimiter({
    name: "openai",
    stage: "classify",
    concurrency: config.OPENAI_CONCURRENCY,
    store: quotaStores(
      limiterName,
      {
        rpm: unlimited(config.OPENAI_RPM),
        tpm: unlimited(config.OPENAI_TPM),
        rpd: unlimited(config.OPENAI_RPD),
        windowMs: windowMs + dispatchAllowanceMs(windowMs),
      },
      utcDay,
    ),
    maxWaitMs: config.OPENAI_QUEUE_WAIT_MAX_MS,
    onWait: (seconds) => rootMetrics.limiterWait.observe({ limiter: limiterName }, seconds),
    onThrottled: (reason) => rootMetrics.limiterThrottled.inc({ limiter: limiterName, reason }),
  });
  const model = config.OPENAI_MODEL!;
  const client = createOpenAiClient({
    baseUrl: config.OPENAI_BASE_URL,
    model,
    apiKey: config.OPENAI_API_KEY,
    apiVersion: config.OPENAI_API_VERSION,
    responseFormat: config.OPENAI_RESPONSE_FORMAT,
    onFallback: (reason) => log.warn({ reason }, "OpenAI-compatible server gives no structured output; asking for plain JSON from now on"),
  });
  const prices = {
    inputPerMTok: config.OPENAI_PRICE_INPUT_PER_MTOK,
    cachedInputPerMTok: config.OPENAI_PRICE_CACHED_INPUT_PER_MTOK ?? config.OPENAI_PRICE_INPUT_PER_MTOK,
    outputPerMTok: config.OPENAI_PRICE_OUTPUT_PER_MTOK,
  };
  const maxInputTokensPerRequest =
    config.OPENAI_TPM > 0 ? Math.min(config.OPENAI_MAX_INPUT_TOKENS_PER_REQUEST, config.OPENAI_TPM) : config.OPENAI_MAX_INPUT_TOKENS_PER_REQUEST;
  const resilience = parseResilienceOptions(config);
  log.info(
    {
      model,
      baseUrl: config.OPENAI_BASE_URL,
      azure: config.OPENAI_API_VERSION !== undefined,
      rpm: config.OPENAI_RPM,
      tpm: config.OPENAI_TPM,
      dailyBudgetUsd: config.OPENAI_DAILY_BUDGET_USD,
      prices,
    },
    "classifying with an OpenAI-compatible model",
  );
  return new LlmClassifier({
    client,
    limiter,
    governor: new BudgetGovernor({ dailyBudgetUsd: config.OPENAI_DAILY_BUDGET_USD, dayKey: utcDay }),
    prices,
    metrics,
    logger,
    provider: { name: "openai", display: "OpenAI-compatible model", rpdOption: "OPENAI_RPD", dayReset: "midnight UTC" },
    ...(tier ? { tier } : {}),
    ...(signal ? { signal } : {}),
    options: {
      maxAlertsPerRequest: config.OPENAI_MAX_ALERTS_PER_REQUEST,
      criticalAlertsPerRequest: Math.min(config.GEMINI_CRITICAL_ALERTS_PER_REQUEST, config.OPENAI_MAX_ALERTS_PER_REQUEST),
      maxInputTokensPerRequest,
      outputTokensPerAlert: config.OPENAI_OUTPUT_TOKENS_PER_ALERT,
      maxAlertChars: config.GEMINI_MAX_ALERT_CHARS,
      timeoutMs: config.OPENAI_TIMEOUT_MS,
      retryDeadlineMs: config.OPENAI_RETRY_DEADLINE_MS,
      defaultRateLimitPauseMs: Math.min(60_000, Math.max(500, Math.round(windowMs / 12))),
      guard,
      volatileFields: new RegExp(config.AI_CACHE_VOLATILE_FIELDS, "i"),
      rpd: config.OPENAI_RPD,
      outageMode: resilience.LLM_OUTAGE_MODE,
      outageProbeMaxDelayMs: resilience.LLM_OUTAGE_PROBE_MAX_DELAY_MS,
      isolatedRequestsPerMinute: resilience.LLM_ISOLATED_REQUESTS_PER_MINUTE,
    },
  });
}

/**
 * The model/prompt a cached answer must carry to be reused: the one tier's model, or null with two tiers (answers of
 * either tier's model are current; the cache checks one model id, so the check is off — change PROMPT_VERSION or
 * AI_CACHE_KEY_PREFIX to drop old answers after a model change).
 */
export function modelVersionForCache(config: Config): { model: string; promptVersion: string } | null {
  const tiers = modelTiers(config);
  if (tiers.length > 1) return null;
  return { model: tiers[0] === "openai" ? config.OPENAI_MODEL! : config.GEMINI_MODEL, promptVersion: PROMPT_VERSION };
}

/** The rules classifier behind the same guard, so no path yields an automatic false_positive for injected text. */
export function guardedRulesClassifier(guard: GuardOptions): Classifier {
  return { name: "rules", classify: async (items) => items.map((item) => applyGuard(item, decideByRules(item, guard), guard)) };
}

export { LlmClassifier } from "./llm-classifier.js";
export type { ModelClient, ModelReply, ModelRequest } from "../../core/ports/index.js";
