/**
 * The LLM classifier: many alerts per request, answers bound by alert_id, and every alert decided exactly once —
 * by the model, or by the rules classifier (degraded, with the reason) when the model cannot answer for it.
 *
 *   batch → unique prompt ids → planned requests (critical first) → limiter (rpm/tpm/rpd, priority) → model
 *     answer: validated items bound by id; missing ids → a smaller request, then each alone, then rules
 *     blocked / empty / unparseable: split in halves → single → retried once alone → rules
 *     429: pause the whole limiter for RetryInfo.retryDelay, retry; 5xx/timeout: jittered backoff until the deadline
 *       (outage mode `wait`: no deadline; while the model is down one request at a time probes it, the rest wait)
 *     budget or RPD spent, key/model rejected: rules
 *   → guard (never an automatic false_positive for injection text or strong threat intel)
 */
import type { ModelPrices } from "../../config/gemini.js";
import { asTriageError, TriageError } from "../../core/errors.js";
import type { Classifier, EnrichedAlert } from "../../core/ports.js";
import { severityRank } from "../../core/severity.js";
import type { Decision } from "../../core/verdict.js";
import type { RateLimiter } from "../../resources/limiter.js";
import { withRetry } from "../../resources/retry.js";
import type { Logger } from "../../telemetry/logger.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { ANSWER_RESPONSE_SCHEMA, type AnswerItem } from "./answer-schema.js";
import type { BudgetGovernor } from "./budget.js";
import { costUsd, estimateCostUsd } from "./cost.js";
import { applyGuard, type GuardOptions } from "./guard.js";
import type { ModelClient, ModelReply, ModelRequest, TokenUsage } from "./model-port.js";
import { bindAnswers, parseAnswerText } from "./parse-output.js";
import { alertLine, buildUserPrompt, estimateTokens, PROMPT_VERSION, promptIdOf, SYSTEM_INSTRUCTION } from "./prompt.js";
import { planRequests, type PlannableAlert } from "./request-plan.js";
import { decideByRules } from "./rules.js";

export interface LlmClassifierOptions {
  maxAlertsPerRequest: number;
  criticalAlertsPerRequest: number;
  maxInputTokensPerRequest: number;
  outputTokensPerAlert: number;
  maxAlertChars: number;
  timeoutMs: number;
  /** How long one request is retried (429, 5xx, timeouts) before its alerts go to the rules classifier. */
  retryDeadlineMs: number;
  /** Limiter pause after a 429 that carried no RetryInfo. */
  defaultRateLimitPauseMs: number;
  retryMinDelayMs?: number;
  retryMaxDelayMs?: number;
  guard: GuardOptions;
  /** Configured GEMINI_RPD, for the fallback reason text. */
  rpd: number;
  /**
   * LLM_OUTAGE_MODE. `degrade` (default): 429/5xx/timeouts are retried until retryDeadlineMs, then rules.
   * `wait`: retried without deadline (the pipeline's window then pauses the source); budget/RPD/rejections still go to rules.
   */
  outageMode?: "wait" | "degrade";
  /** `wait` mode: longest pause between probe requests while the model is down (LLM_OUTAGE_PROBE_MAX_DELAY_MS). */
  outageProbeMaxDelayMs?: number;
}

export interface LlmClassifierDeps {
  client: ModelClient;
  /** Built once per process (per Gemini project) and shared by every call. */
  limiter: RateLimiter;
  governor: BudgetGovernor;
  prices: ModelPrices;
  metrics: Metrics;
  logger: Logger;
  options: LlmClassifierOptions;
  /** Ends retries and outage waits (shutdown); the alerts then get rules verdicts, flagged degraded. */
  signal?: AbortSignal;
}

/** An alert as it goes into a prompt. */
interface PromptAlert extends PlannableAlert {
  id: string;
  item: EnrichedAlert;
  line: string;
}

type CallOutcome = { kind: "reply"; reply: ModelReply } | { kind: "failed"; reason: string };

/** Room for the array framing and (minimal) thinking on top of the per-alert answer budget. */
const OUTPUT_HEADROOM_TOKENS = 256;
const MAX_OUTPUT_TOKENS = 65_536;

function usageOf(reply: ModelReply): TokenUsage | null {
  return "usage" in reply ? reply.usage : null;
}

/** The Classifier port over a ModelClient: never throws for model trouble, never loses an alert. */
export class LlmClassifier implements Classifier {
  readonly name = "gemini";
  private readonly log: Logger;
  private readonly overheadTokens: number;
  private disabledReason: string | null = null;
  private lastWarnedReason = "";
  private readonly outage: OutageGate | null;

  constructor(private readonly deps: LlmClassifierDeps) {
    this.log = deps.logger.child({ component: "classify", model: deps.client.model });
    this.overheadTokens = estimateTokens(SYSTEM_INSTRUCTION.length + buildUserPrompt([]).length);
    this.outage = deps.options.outageMode === "wait" ? new OutageGate(this.log) : null;
  }

  /** One decision per item, same order; alerts sharing an alert_id are asked about once. */
  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    const o = this.deps.options;
    const unique = new Map<string, PromptAlert>();
    for (const item of items) {
      const id = promptIdOf(item);
      if (unique.has(id)) continue;
      const line = alertLine(item, o.maxAlertChars);
      unique.set(id, { id, item, line, tokens: estimateTokens(line.length + 1), rank: severityRank[item.alert.severity] });
    }
    const plan = planRequests([...unique.values()], {
      maxAlerts: o.maxAlertsPerRequest,
      criticalMaxAlerts: o.criticalAlertsPerRequest,
      maxInputTokens: o.maxInputTokensPerRequest,
      overheadTokens: this.overheadTokens,
    });
    const decided = new Map<string, Decision>();
    const results = await Promise.all(plan.map((r) => this.decideGroup(r.alerts, r.priority, false)));
    for (const result of results) for (const [id, d] of result) decided.set(id, d);
    return items.map((item) => applyGuard(item, decided.get(promptIdOf(item)) ?? this.fallback(item, "no decision was produced for this alert"), o.guard));
  }

  /** Decide a group of alerts with one request, narrowing down on whatever the answer lacks. */
  private async decideGroup(alerts: PromptAlert[], priority: number, alone: boolean): Promise<Map<string, Decision>> {
    const stop = this.disabledReason ?? this.deps.governor.exhaustedReason();
    if (stop) return this.fallbackAll(alerts, stop);
    const outcome = await this.callModel(alerts, priority);
    if (outcome.kind === "failed") return this.fallbackAll(alerts, outcome.reason);
    const reply = outcome.reply;
    if (reply.kind === "rejected") {
      this.deps.metrics.llmRequests.inc({ outcome: "rejected" });
      if (reply.code !== "bad_request") this.disable(reply.message);
      return this.fallbackAll(alerts, reply.message);
    }

    const decided = new Map<string, Decision>();
    let problem: string;
    if (reply.kind === "answer") {
      const parsed = parseAnswerText(reply.text);
      const bound = bindAnswers(alerts.map((a) => a.id), parsed.items);
      for (const [id, item] of bound.byId) decided.set(id, this.llmDecision(item));
      const missing = bound.missing.length;
      const outcome = reply.truncated ? "truncated" : parsed.repaired ? "malformed" : missing === 0 ? "ok" : missing < alerts.length ? "partial" : "invalid";
      this.deps.metrics.llmRequests.inc({ outcome });
      if (bound.invented.length > 0 || bound.duplicates.length > 0 || parsed.invalid > 0) {
        this.log.debug({ invented: bound.invented.length, duplicates: bound.duplicates.length, invalidItems: parsed.invalid }, "answer had unknown, repeated or invalid items");
      }
      problem = reply.truncated ? "answer cut off at the token limit" : parsed.repaired ? "malformed JSON" : "alert missing from the answer";
    } else {
      this.deps.metrics.llmRequests.inc({ outcome: reply.kind });
      problem = reply.kind === "blocked" ? reply.reason : "empty answer";
    }

    const missing = alerts.filter((a) => !decided.has(a.id));
    if (missing.length === 0) return decided;
    let retried: Map<string, Decision>[];
    if (missing.length < alerts.length) {
      retried = [await this.decideGroup(missing, priority, false)];
    } else if (alerts.length > 1) {
      const mid = Math.ceil(alerts.length / 2);
      retried = await Promise.all([this.decideGroup(alerts.slice(0, mid), priority, false), this.decideGroup(alerts.slice(mid), priority, false)]);
    } else if (!alone) {
      retried = [await this.decideGroup(alerts, priority, true)];
    } else {
      retried = [this.fallbackAll(alerts, `Gemini gave no usable answer for this alert (${problem}), also when asked alone`)];
    }
    for (const m of retried) for (const [id, d] of m) decided.set(id, d);
    return decided;
  }

  /** One request through the limiter, retried on 429/5xx/timeouts until the deadline; spend is reserved and settled. */
  private async callModel(alerts: PromptAlert[], priority: number): Promise<CallOutcome> {
    const { client, limiter, governor, prices, metrics, options: o } = this.deps;
    const userPrompt = buildUserPrompt(alerts.map((a) => a.line));
    const promptTokens = estimateTokens(SYSTEM_INSTRUCTION.length + userPrompt.length);
    const maxOutputTokens = Math.min(MAX_OUTPUT_TOKENS, OUTPUT_HEADROOM_TOKENS + alerts.length * o.outputTokensPerAlert);
    const request: ModelRequest = { systemInstruction: SYSTEM_INSTRUCTION, userPrompt, responseSchema: ANSWER_RESPONSE_SCHEMA, maxOutputTokens, timeoutMs: o.timeoutMs };
    const estimateUsd = estimateCostUsd(promptTokens, maxOutputTokens, prices);
    const outage = this.outage;
    const caller = {};

    const attempt = async (): Promise<ModelReply> => {
      if (outage) await outage.enter(caller, this.deps.signal);
      const reservation = governor.tryReserve(estimateUsd);
      if (!reservation) {
        throw new TriageError({ code: "llm_budget_spent", stage: "classify", retriable: false, message: governor.exhaustedReason() ?? governor.budgetReason() });
      }
      let reply: ModelReply;
      try {
        reply = await limiter.run(
          promptTokens,
          async (call) => {
            metrics.llmAlertsPerRequest.observe(alerts.length);
            const r = await client.generate(request);
            const usage = usageOf(r);
            if (usage) await call.settleTokens(usage.promptTokens);
            return r;
          },
          priority,
        );
      } catch (err) {
        governor.release(reservation);
        throw err;
      }
      const usage = usageOf(reply);
      const cost = usage ? costUsd(usage, prices) : 0;
      governor.settle(reservation, cost);
      if (usage) this.recordUsage(usage, cost);
      if (reply.kind === "rate_limited") {
        metrics.llmRequests.inc({ outcome: "rate_limited" });
        if (reply.daily) governor.markRequestsSpent(`Gemini reports the daily request quota for ${client.model} spent (429, per-day quota; resets at midnight Pacific)`);
        else outage?.down(caller, `429: ${reply.message.slice(0, 120)}`);
        await limiter.pauseFor(reply.retryAfterMs ?? o.defaultRateLimitPauseMs);
        throw new TriageError({ code: "gemini_rate_limited", stage: "classify", retriable: !reply.daily, message: reply.message.slice(0, 300) });
      }
      if (reply.kind === "unavailable") {
        metrics.llmRequests.inc({ outcome: reply.timeout ? "timeout" : "error" });
        outage?.down(caller, reply.message.slice(0, 120));
        throw new TriageError({ code: reply.timeout ? "gemini_timeout" : "gemini_unavailable", stage: "classify", retriable: true, message: reply.message.slice(0, 300) });
      }
      outage?.up();
      return reply;
    };

    try {
      const reply = await withRetry("classify", attempt, {
        // Wait mode: no deadline and no retry cap; the gate spaces the probes, the signal ends it at shutdown.
        deadlineMs: outage ? Number.POSITIVE_INFINITY : o.retryDeadlineMs,
        ...(outage ? { retries: Number.POSITIVE_INFINITY } : {}),
        ...(o.retryMinDelayMs !== undefined ? { minDelayMs: o.retryMinDelayMs } : {}),
        ...(outage ? { maxDelayMs: o.outageProbeMaxDelayMs ?? 5_000 } : o.retryMaxDelayMs !== undefined ? { maxDelayMs: o.retryMaxDelayMs } : {}),
        ...(this.deps.signal ? { signal: this.deps.signal } : {}),
        onRetry: (e, n) => this.log.debug({ code: e.code, attempt: n, alerts: alerts.length }, "model request failed, retrying"),
      });
      return { kind: "reply", reply };
    } catch (err) {
      const e = asTriageError(err, "classify");
      if (this.deps.signal?.aborted) return { kind: "failed", reason: "shutting down while the model was being retried" };
      if (e.code === "gemini_daily_budget") {
        const reason = `Gemini daily request limit reached (GEMINI_RPD=${o.rpd}; resets at midnight Pacific)`;
        governor.markRequestsSpent(reason);
        return { kind: "failed", reason };
      }
      if (e.code === "llm_budget_spent") return { kind: "failed", reason: e.message };
      const spent = governor.exhaustedReason();
      if (spent) return { kind: "failed", reason: spent };
      return { kind: "failed", reason: `Gemini unavailable (${e.code}: ${e.message.slice(0, 200)}); gave up after retrying for up to ${o.retryDeadlineMs} ms` };
    } finally {
      outage?.leave(caller);
    }
  }

  private recordUsage(usage: TokenUsage, cost: number): void {
    const m = this.deps.metrics;
    m.llmTokens.inc({ kind: "prompt" }, usage.promptTokens);
    m.llmTokens.inc({ kind: "output" }, usage.outputTokens);
    if (usage.thoughtsTokens > 0) m.llmTokens.inc({ kind: "thoughts" }, usage.thoughtsTokens);
    if (cost > 0) m.llmCostUsd.inc(cost);
  }

  private llmDecision(a: AnswerItem): Decision {
    return {
      classification: a.classification,
      severity: a.severity,
      confidence: a.confidence,
      reasoning: a.reasoning,
      source: "llm",
      recommended_actions: a.recommended_actions,
      mitre_techniques: a.mitre_techniques,
      model: this.deps.client.model,
      prompt_version: PROMPT_VERSION,
      degraded: false,
      fallback_reason: null,
      // The trust-boundary work narrows this to answers from requests without a flagged alert.
      learnable: true,
    };
  }

  private fallback(item: EnrichedAlert, reason: string): Decision {
    return { ...decideByRules(item), degraded: true, fallback_reason: reason };
  }

  private fallbackAll(alerts: PromptAlert[], reason: string): Map<string, Decision> {
    // One warning per new reason (budget/RPD states would otherwise log every batch).
    if (reason !== this.lastWarnedReason) {
      this.lastWarnedReason = reason;
      this.log.warn({ alerts: alerts.length, reason }, "alerts decided by the rules classifier");
    } else this.log.debug({ alerts: alerts.length, reason }, "alerts decided by the rules classifier");
    return new Map(alerts.map((a) => [a.id, this.fallback(a.item, reason)]));
  }

  /** A rejected key or model will not start working by itself: stop calling until restart (config must change). */
  private disable(reason: string): void {
    if (this.disabledReason) return;
    this.disabledReason = reason;
    this.log.error({ reason }, "Gemini disabled for this process; alerts go to the rules classifier");
  }
}

/**
 * `wait` mode: while the model is down, one request at a time (the prober) is sent, spaced by its own backoff;
 * the others wait here instead of each retrying, so a recovering model is not hit by every queued batch at once
 * and failed attempts do not eat the RPM/RPD quota. The first good answer lets everyone through.
 */
class OutageGate {
  private downSince: number | null = null;
  /** The callModel invocation currently allowed to probe. */
  private prober: object | null = null;
  private waiters: (() => void)[] = [];

  constructor(private readonly log: Logger) {}

  /** Resolves when caller may send: at once while the model is up; while down, when it is caller's turn to probe. */
  async enter(caller: object, signal?: AbortSignal): Promise<void> {
    while (this.downSince !== null && this.prober !== null && this.prober !== caller) {
      signal?.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal!.reason);
        this.waiters.push(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        });
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
    if (this.downSince !== null) this.prober = caller;
  }

  /** caller's request failed with an outage error (5xx, timeout, 429): it keeps the probe turn through its backoff. */
  down(caller: object, reason: string): void {
    if (this.downSince === null) {
      this.downSince = Date.now();
      this.log.warn({ reason }, "Gemini unavailable; LLM_OUTAGE_MODE=wait: probing it one request at a time, alerts wait (the input pauses when the read-ahead window is full)");
    }
    this.prober = caller;
  }

  /** caller got an answer: the model is back, everyone goes. */
  up(): void {
    if (this.downSince !== null) {
      this.log.warn({ downSeconds: Math.round((Date.now() - this.downSince) / 1000) }, "Gemini answers again; waiting alerts proceed");
      this.downSince = null;
    }
    this.prober = null;
    this.wake();
  }

  /** caller is done (answered, gave up or aborted): if it held the probe turn, pass it on. */
  leave(caller: object): void {
    if (this.prober !== caller) return;
    this.prober = null;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
