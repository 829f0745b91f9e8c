/**
 * The LLM classifier: many alerts per request, answers bound to the content asked about, and every alert decided
 * exactly once — by the model, or by the rules classifier (degraded, with the reason) when the model cannot answer.
 *
 *   batch → one question per distinct model view (same content = same question; same alert_id with other content =
 *     another question) → alerts that look like instructions asked alone, last, at the lowest priority and at most
 *     LLM_ISOLATED_REQUESTS_PER_MINUTE of them (beyond: needs_review, no call) → planned requests (critical first), each
 *     question with a request-local id a1..aN → limiter (rpm/tpm/rpd, priority) → model
 *     answer: validated items bound by id; missing ids → a smaller request, then each alone, then rules
 *     blocked / empty / unparseable: split in halves → single → retried once alone → rules
 *     429: pause the whole limiter for RetryInfo.retryDelay, retry; 5xx/timeout: jittered backoff until the deadline
 *       (outage mode `wait`: no deadline; while the model is down one request at a time probes it, the rest wait)
 *     budget or RPD spent, key/model rejected: rules
 *   → learnable only when no alert of the request looked like instructions (the caches store nothing else)
 *   → guard (never an automatic false_positive for injection text or strong threat intel)
 */
import type { ModelPrices } from "../../config/gemini.js";
import { asTriageError, TriageError } from "../../core/errors.js";
import { ModelViewer } from "../../core/model-view.js";
import type { Classifier, EnrichedAlert, ModelClient, ModelReply, ModelRequest, TokenUsage } from "../../core/ports/index.js";
import { severityRank } from "../../core/severity.js";
import type { Decision } from "../../core/verdict.js";
import type { LimitedOutcome, RateLimiter } from "../../resources/limiter.js";
import { retrying, type AttemptOutcome } from "../../resources/retry.js";
import type { Logger } from "../../telemetry/logger.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { LlmEvents } from "../../telemetry/component-events.js";
import { ANSWER_RESPONSE_SCHEMA, type AnswerItem } from "./answer-schema.js";
import type { BudgetGovernor } from "./budget.js";
import { costUsd, estimateCostUsd } from "./cost.js";
import { applyGuard, findInjection, findInjectionInText, type GuardOptions } from "./guard.js";
import { bindAnswers, parseAnswerText } from "./parse-output.js";
import { buildUserPrompt, estimateTokens, PROMPT_VERSION, promptLine, renderAlert, requestIds, SYSTEM_INSTRUCTION, unmark } from "./prompt.js";
import { planRequests, type PlannableAlert } from "./request-plan.js";
import { degradedByRules, RULES_VERSION } from "./rules.js";

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
  /** AI_CACHE_VOLATILE_FIELDS: field names never shown to the model (nor part of a cache key; see core/model-view.ts). */
  volatileFields: RegExp;
  /** Configured GEMINI_RPD, for the fallback reason text. */
  rpd: number;
  /**
   * LLM_OUTAGE_MODE. `degrade` (default): 429/5xx/timeouts are retried until retryDeadlineMs, then rules.
   * `wait`: retried without deadline (the pipeline's window then pauses the source); budget/RPD/rejections still go to rules.
   */
  outageMode?: "wait" | "degrade";
  /** `wait` mode: longest pause between probe requests while the model is down (LLM_OUTAGE_PROBE_MAX_DELAY_MS). */
  outageProbeMaxDelayMs?: number;
  /**
   * LLM_ISOLATED_REQUESTS_PER_MINUTE (default 6): most requests per minute (sliding window, this classifier) for alerts
   * whose text looks like instructions; beyond it such an alert gets needs_review without a model call.
   */
  isolatedRequestsPerMinute?: number;
}

/** The documented default of LLM_ISOLATED_REQUESTS_PER_MINUTE, used when the option is not passed. */
export const DEFAULT_ISOLATED_REQUESTS_PER_MINUTE = 6;

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
  /** Which backend this is, for the classifier name, error codes and texts; default Gemini. */
  provider?: ProviderLabels;
  /** Model tier stamped on its answers (`first`/`escalation` with MODEL_TIERS); default none. */
  tier?: string | null;
}

/** How a backend is named in codes, logs and fallback reasons. */
export interface ProviderLabels {
  /** Classifier name and error-code prefix (`gemini`, `openai`). */
  name: string;
  /** In human text ("Gemini", "OpenAI-compatible model"). */
  display: string;
  /** The option holding its requests-per-day limit, and when that day ends. */
  rpdOption: string;
  dayReset: string;
}

const GEMINI_LABELS: ProviderLabels = { name: "gemini", display: "Gemini", rpdOption: "GEMINI_RPD", dayReset: "midnight Pacific" };

/** One question to the model: a distinct rendered model view, and the first alert that showed it. */
interface Question extends PlannableAlert {
  n: number;
  item: EnrichedAlert;
  /** renderAlert of the view: the prompt line without its request-local id. */
  rendered: string;
  /** Instruction-like text the model would read in it. */
  seen: string | null;
  /** Its strings as plain text, computed when an answer is checked for text copied from it. */
  text?: string;
}

type CallOutcome = { kind: "reply"; reply: ModelReply } | { kind: "failed"; reason: string };

/** The error of an attempt ended by shutdown. */
function abortedError(signal: AbortSignal | undefined): TriageError {
  return asTriageError(signal?.reason ?? new Error("aborted"), "classify", "aborted");
}

/** Room for the array framing and (minimal) thinking on top of the per-alert answer budget. */
const OUTPUT_HEADROOM_TOKENS = 256;
const MAX_OUTPUT_TOKENS = 65_536;

function usageOf(reply: ModelReply): TokenUsage | null {
  return "usage" in reply ? reply.usage : null;
}

/** Lower-cased text with datamarks and whitespace runs as single spaces (for comparing echoed text). */
function plainText(text: string): string {
  return unmark(text).toLowerCase().replace(/\s+/g, " ").trim();
}

/** Every string of a rendered alert line, read as plain text (cached on the question). */
function lineText(q: Question): string {
  if (q.text === undefined) {
    const parts: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === "string") parts.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) parts.push(k), walk(x);
    };
    try {
      walk(JSON.parse(q.rendered));
    } catch {
      parts.push(q.rendered);
    }
    q.text = plainText(parts.join(" "));
  }
  return q.text;
}

/**
 * Whether an answer's reasoning comes from another alert of the request: written there as a `reasoning` value (a
 * forged answer item), or, when long enough to mean it, verbatim.
 */
function copiedFromOthers(reasoning: string, alerts: readonly Question[], self: number): boolean {
  if (alerts.length < 2) return false;
  const r = plainText(reasoning);
  const tight = (t: string) => t.replace(/[\s"'`]/g, "");
  const asValue = `reasoning:${tight(r)}`;
  return alerts.some((q, j) => j !== self && (tight(lineText(q)).includes(asValue) || (r.length >= 24 && lineText(q).includes(r))));
}

/** The Classifier port over a ModelClient: never throws for model trouble, never loses an alert. */
export class LlmClassifier implements Classifier {
  readonly name: string;
  private readonly provider: ProviderLabels;
  private readonly log: Logger;
  private readonly overheadTokens: number;
  private disabledReason: string | null = null;
  private lastWarnedReason = "";
  private readonly outage: OutageGate | null;
  private readonly viewer: ModelViewer;
  private readonly isolated: IsolatedRequestWindow;

  /** Model-request telemetry (each event writes its metric and log line). */
  private readonly events: LlmEvents;

  constructor(private readonly deps: LlmClassifierDeps) {
    this.viewer = new ModelViewer({ volatileFields: deps.options.volatileFields });
    this.isolated = new IsolatedRequestWindow(deps.options.isolatedRequestsPerMinute ?? DEFAULT_ISOLATED_REQUESTS_PER_MINUTE);
    this.provider = deps.provider ?? GEMINI_LABELS;
    this.name = this.provider.name;
    this.log = deps.logger.child({ component: "classify", model: deps.client.model, ...(deps.tier ? { tier: deps.tier } : {}) });
    this.overheadTokens = estimateTokens(SYSTEM_INSTRUCTION.length + buildUserPrompt([]).length);
    this.outage = deps.options.outageMode === "wait" ? new OutageGate(this.log) : null;
    this.events = new LlmEvents(deps.metrics, deps.logger, deps.tier ?? null);
  }

  /** One decision per item, same order; alerts showing the model the same content are asked about once. */
  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    const o = this.deps.options;
    const byText = new Map<string, Question>();
    const questionOf = items.map((item) => {
      const rendered = renderAlert(this.viewer.view(item), o.maxAlertChars);
      let q = byText.get(rendered);
      if (!q) {
        const seen = findInjectionInText(rendered);
        // What it says could steer the answers of the alerts asked with it: asked alone.
        const alone = seen !== null || findInjection(item.alert, item.enrichment) !== null;
        q = { n: byText.size, item, rendered, seen, alone, tokens: estimateTokens(rendered.length + 16), rank: severityRank[item.alert.severity] };
        byText.set(rendered, q);
      }
      return q;
    });
    const plan = planRequests([...byText.values()], {
      maxAlerts: o.maxAlertsPerRequest,
      criticalMaxAlerts: o.criticalAlertsPerRequest,
      maxInputTokens: o.maxInputTokensPerRequest,
      overheadTokens: this.overheadTokens,
    });
    const decided = new Map<number, Decision>();
    // Questions that look like instructions beyond the isolated-request cap: never sent (a flood of them would
    // otherwise spend the quota ordinary alerts need).
    const capped = new Set<number>();
    const results = await Promise.all(
      plan.map((r) => {
        const isolated = r.alerts.length === 1 && r.alerts[0]!.alone === true;
        if (isolated && !this.isolated.tryTake()) {
          capped.add(r.alerts[0]!.n);
          return new Map<number, Decision>();
        }
        // Already alone: a bad answer is not asked again (that would be a second isolated request).
        return this.decideGroup(r.alerts, r.priority, isolated);
      }),
    );
    for (const result of results) for (const [n, d] of result) decided.set(n, d);
    if (capped.size > 0) {
      // Once per flood (until an isolated request goes again), not once per batch.
      const fields = { alerts: capped.size, perMinute: this.isolated.perMinute };
      const message = "isolated-request cap reached: instruction-like alerts get needs_review without a model call";
      if (this.isolated.firstRefusal()) this.log.warn(fields, message);
      else this.log.debug(fields, message);
    }
    return items.map((item, i) => {
      const q = questionOf[i]!;
      if (capped.has(q.n)) {
        this.events.isolatedCapped();
        return applyGuard(item, this.cappedDecision(item), o.guard, q.seen ?? findInjection(item.alert, item.enrichment));
      }
      const answer = decided.get(q.n);
      if (!answer || answer.degraded)
        return applyGuard(item, degradedByRules(item, answer?.fallback_reason ?? "no decision was produced for this alert", o.guard), o.guard);
      // This alert's own content counts too: a field the model never saw (volatile) may still carry instructions.
      const own = q.seen ?? findInjection(item.alert, item.enrichment);
      return applyGuard(item, { ...answer, learnable: answer.learnable && own === null }, o.guard, own);
    });
  }

  /** Decide a group of alerts with one request, narrowing down on whatever the answer lacks. */
  private async decideGroup(alerts: Question[], priority: number, alone: boolean): Promise<Map<number, Decision>> {
    const stop = this.disabledReason ?? this.deps.governor.exhaustedReason();
    if (stop) return this.fallbackAll(alerts, stop);
    // Request-local ids: an answer binds to the line it was asked with, never to an id an alert brought along.
    const ids = requestIds(alerts.length);
    const outcome = await this.callModel(
      alerts.map((a, i) => promptLine(ids[i]!, a.rendered)),
      priority,
    );
    if (outcome.kind === "failed") return this.fallbackAll(alerts, outcome.reason);
    const reply = outcome.reply;
    if (reply.kind === "rejected") {
      this.events.request("rejected");
      if (reply.code !== "bad_request") this.disable(reply.message);
      return this.fallbackAll(alerts, reply.message);
    }

    const decided = new Map<number, Decision>();
    let problem: string;
    if (reply.kind === "answer") {
      const parsed = parseAnswerText(reply.text);
      const bound = bindAnswers(ids, parsed.items);
      // An answer is only reusable when nothing in its request looked like instructions, and when the answer shows no
      // sign of having been steered by the data: ids we never asked about, or an id answered twice (forged items).
      const learnable = alerts.every((a) => !a.alone) && bound.invented.length === 0 && bound.duplicates.length === 0;
      alerts.forEach((a, i) => {
        const item = bound.byId.get(ids[i]!);
        // An item whose reasoning is copied from another alert's text was written by that alert, not by the model:
        // not an answer (the alert is asked again, in a smaller request, eventually alone).
        if (item && !copiedFromOthers(item.reasoning, alerts, i)) decided.set(a.n, this.llmDecision(item, learnable));
      });
      const missing = bound.missing.length;
      const outcome = reply.truncated ? "truncated" : parsed.repaired ? "malformed" : missing === 0 ? "ok" : missing < alerts.length ? "partial" : "invalid";
      this.events.request(outcome);
      if (bound.invented.length > 0 || bound.duplicates.length > 0 || parsed.invalid > 0) {
        this.log.debug(
          { invented: bound.invented.length, duplicates: bound.duplicates.length, invalidItems: parsed.invalid },
          "answer had unknown, repeated or invalid items",
        );
      }
      problem = reply.truncated ? "answer cut off at the token limit" : parsed.repaired ? "malformed JSON" : "alert missing from the answer";
    } else {
      this.events.request(reply.kind);
      problem = reply.kind === "blocked" ? reply.reason : "empty answer";
    }

    const missing = alerts.filter((a) => !decided.has(a.n));
    if (missing.length === 0) return decided;
    let retried: Map<number, Decision>[];
    if (missing.length < alerts.length) {
      retried = [await this.decideGroup(missing, priority, false)];
    } else if (alerts.length > 1) {
      const mid = Math.ceil(alerts.length / 2);
      retried = await Promise.all([this.decideGroup(alerts.slice(0, mid), priority, false), this.decideGroup(alerts.slice(mid), priority, false)]);
    } else if (!alone) {
      retried = [await this.decideGroup(alerts, priority, true)];
    } else {
      retried = [this.fallbackAll(alerts, `${this.provider.display} gave no usable answer for this alert (${problem}), also when asked alone`)];
    }
    for (const m of retried) for (const [n, d] of m) decided.set(n, d);
    return decided;
  }

  /** One request through the limiter, retried on 429/5xx/timeouts until the deadline; spend is reserved and settled. */
  private async callModel(lines: string[], priority: number): Promise<CallOutcome> {
    const { client, limiter, governor, prices, options: o } = this.deps;
    const userPrompt = buildUserPrompt(lines);
    const promptTokens = estimateTokens(SYSTEM_INSTRUCTION.length + userPrompt.length);
    const maxOutputTokens = Math.min(MAX_OUTPUT_TOKENS, OUTPUT_HEADROOM_TOKENS + lines.length * o.outputTokensPerAlert);
    const request: ModelRequest = {
      systemInstruction: SYSTEM_INSTRUCTION,
      userPrompt,
      responseSchema: ANSWER_RESPONSE_SCHEMA,
      maxOutputTokens,
      timeoutMs: o.timeoutMs,
    };
    const estimateUsd = estimateCostUsd(promptTokens, maxOutputTokens, prices);
    const outage = this.outage;
    const caller = {};

    const attempt = async (): Promise<AttemptOutcome<ModelReply>> => {
      if (outage && !(await outage.enter(caller, this.deps.signal))) return { kind: "failed", error: abortedError(this.deps.signal) };
      const reservation = governor.tryReserve(estimateUsd);
      if (!reservation) {
        const reason = governor.exhaustedReason() ?? governor.budgetReason();
        return { kind: "failed", error: new TriageError({ code: "llm_budget_spent", stage: "classify", retriable: false, message: reason }), reason };
      }
      let limited: LimitedOutcome<ModelReply>;
      try {
        limited = await limiter.tryRun(
          promptTokens,
          async (call) => {
            this.events.alertsInRequest(lines.length);
            const r = await client.generate(request);
            const usage = usageOf(r);
            if (usage) await call.settleTokens(usage.promptTokens);
            return r;
          },
          priority,
        );
      } catch (err) {
        // A ModelClient answers with ModelReply values; an exception is a bug or lost infrastructure: not retried,
        // and these alerts still get rules verdicts.
        governor.release(reservation);
        return { kind: "failed", error: asTriageError(err, "classify") };
      }
      if (limited.kind === "daily_budget") {
        governor.release(reservation);
        const reason = `${this.provider.display} daily request limit reached (${this.provider.rpdOption}=${o.rpd}; resets at ${this.provider.dayReset})`;
        governor.markRequestsSpent(reason);
        return { kind: "failed", error: limited.error, reason };
      }
      if (limited.kind === "limiter_timeout") {
        governor.release(reservation);
        return { kind: "retryable", error: limited.error, afterMs: limited.waitMs };
      }
      const reply = limited.value;
      const usage = usageOf(reply);
      const cost = usage ? costUsd(usage, prices) : 0;
      governor.settle(reservation, cost);
      if (usage) this.recordUsage(usage, cost);
      if (reply.kind === "rate_limited") {
        this.events.request("rate_limited");
        if (reply.daily)
          governor.markRequestsSpent(
            `${this.provider.display} reports the daily request quota for ${client.model} spent (429, per-day quota; resets at ${this.provider.dayReset})`,
          );
        else outage?.down(caller, `429: ${reply.message.slice(0, 120)}`);
        await limiter.pauseFor(reply.retryAfterMs ?? o.defaultRateLimitPauseMs);
        // The limiter itself waits out the pause: no hint here.
        const error = new TriageError({
          code: `${this.provider.name}_rate_limited`,
          stage: "classify",
          retriable: !reply.daily,
          message: reply.message.slice(0, 300),
        });
        return reply.daily ? { kind: "failed", error } : { kind: "retryable", error };
      }
      if (reply.kind === "unavailable") {
        this.events.request(reply.timeout ? "timeout" : "error");
        outage?.down(caller, reply.message.slice(0, 120));
        const error = new TriageError({
          code: `${this.provider.name}_${reply.timeout ? "timeout" : "unavailable"}`,
          stage: "classify",
          retriable: true,
          message: reply.message.slice(0, 300),
        });
        return { kind: "retryable", error };
      }
      outage?.up();
      return { kind: "ok", value: reply };
    };

    try {
      const result = await retrying("classify", attempt, {
        // Wait mode: no deadline and no retry cap; the gate spaces the probes, the signal ends it at shutdown.
        deadlineMs: outage ? Number.POSITIVE_INFINITY : o.retryDeadlineMs,
        ...(outage ? { retries: Number.POSITIVE_INFINITY } : {}),
        ...(o.retryMinDelayMs !== undefined ? { minDelayMs: o.retryMinDelayMs } : {}),
        ...(outage ? { maxDelayMs: o.outageProbeMaxDelayMs ?? 5_000 } : o.retryMaxDelayMs !== undefined ? { maxDelayMs: o.retryMaxDelayMs } : {}),
        ...(this.deps.signal ? { signal: this.deps.signal } : {}),
        onRetry: (e, n) => this.log.debug({ code: e.code, attempt: n, alerts: lines.length }, "model request failed, retrying"),
      });
      if (result.kind === "ok") return { kind: "reply", reply: result.value };
      if (this.deps.signal?.aborted) return { kind: "failed", reason: "shutting down while the model was being retried" };
      // Budget and daily-limit refusals name their own reason; anything else may have spent the budget meanwhile.
      if (result.reason !== undefined) return { kind: "failed", reason: result.reason };
      const spent = governor.exhaustedReason();
      if (spent) return { kind: "failed", reason: spent };
      const e = result.error;
      return {
        kind: "failed",
        reason: `${this.provider.display} unavailable (${e.code}: ${e.message.slice(0, 200)}); gave up after retrying for up to ${o.retryDeadlineMs} ms`,
      };
    } finally {
      outage?.leave(caller);
    }
  }

  private recordUsage(usage: TokenUsage, cost: number): void {
    this.events.usage(usage, cost);
  }

  /** The model's answer as a decision; quoted alert text loses its datamarks. */
  private llmDecision(a: AnswerItem, learnable: boolean): Decision {
    return {
      classification: a.classification,
      severity: a.severity,
      confidence: a.confidence,
      reasoning: unmark(a.reasoning),
      source: "llm",
      recommended_actions: a.recommended_actions.map(unmark),
      mitre_techniques: a.mitre_techniques,
      model: this.deps.client.model,
      prompt_version: PROMPT_VERSION,
      degraded: false,
      fallback_reason: null,
      ...(this.deps.tier ? { tier: this.deps.tier } : {}),
      // False when any alert of the request looked like instructions (it is then asked alone).
      learnable,
    };
  }

  /** An instruction-like alert beyond LLM_ISOLATED_REQUESTS_PER_MINUTE: needs_review, never reused, no model call. */
  private cappedDecision(item: EnrichedAlert): Decision {
    const n = this.isolated.perMinute;
    return {
      classification: "needs_review",
      severity: item.alert.severity,
      confidence: 40,
      reasoning: "Its text looks like instructions to the model, and the isolated-request cap was reached, so the model was not asked; an analyst should look.",
      source: "rules",
      recommended_actions: ["Triage manually"],
      mitre_techniques: [],
      model: null,
      prompt_version: RULES_VERSION,
      degraded: true,
      fallback_reason:
        `isolated-request cap reached (LLM_ISOLATED_REQUESTS_PER_MINUTE=${n}): alerts whose text looks like instructions are asked ` +
        `alone, at most ${n} per minute; this one was not asked`,
      learnable: false,
    };
  }

  private fallbackAll(alerts: Question[], reason: string): Map<number, Decision> {
    // One warning per new reason (budget/RPD states would otherwise log every batch).
    if (reason !== this.lastWarnedReason) {
      this.lastWarnedReason = reason;
      this.log.warn({ alerts: alerts.length, reason }, "alerts decided by the rules classifier");
    } else this.log.debug({ alerts: alerts.length, reason }, "alerts decided by the rules classifier");
    return new Map(alerts.map((a) => [a.n, degradedByRules(a.item, reason, this.deps.options.guard)]));
  }

  /** A rejected key or model will not start working by itself: stop calling until restart (config must change). */
  private disable(reason: string): void {
    if (this.disabledReason) return;
    this.disabledReason = reason;
    this.log.error({ reason }, `${this.provider.display} disabled for this process; alerts go to the rules classifier`);
  }
}

/** A sliding one-minute window of isolated requests (bounded: at most perMinute start times kept). */
class IsolatedRequestWindow {
  private readonly starts: number[] = [];
  private refused = false;
  private reported = false;

  constructor(readonly perMinute: number) {}

  /** Whether one more isolated request may go now; counts it when so. */
  tryTake(): boolean {
    const now = Date.now();
    while (this.starts.length > 0 && this.starts[0]! <= now - 60_000) this.starts.shift();
    if (this.starts.length >= this.perMinute) {
      this.refused = true;
      return false;
    }
    this.starts.push(now);
    this.refused = this.reported = false;
    return true;
  }

  /** True the first time it is asked after a refusal since the last request that went. */
  firstRefusal(): boolean {
    const first = this.refused && !this.reported;
    this.reported = true;
    return first;
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

  /**
   * Resolves true when caller may send: at once while the model is up; while down, when it is caller's turn to probe.
   * Resolves false when the signal aborts first (shutdown).
   */
  async enter(caller: object, signal?: AbortSignal): Promise<boolean> {
    while (this.downSince !== null && this.prober !== null && this.prober !== caller) {
      if (signal?.aborted) return false;
      const go = await new Promise<boolean>((resolve) => {
        const onAbort = () => resolve(false);
        this.waiters.push(() => {
          signal?.removeEventListener("abort", onAbort);
          resolve(true);
        });
        signal?.addEventListener("abort", onAbort, { once: true });
      });
      if (!go) return false;
    }
    if (this.downSince !== null) this.prober = caller;
    return true;
  }

  /** caller's request failed with an outage error (5xx, timeout, 429): it keeps the probe turn through its backoff. */
  down(caller: object, reason: string): void {
    if (this.downSince === null) {
      this.downSince = Date.now();
      this.log.warn(
        { reason },
        "Gemini unavailable; LLM_OUTAGE_MODE=wait: probing it one request at a time, alerts wait (the input pauses when the read-ahead window is full)",
      );
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
