/**
 * Loopback fake of the Gemini API (generativelanguage v1beta/v1), wire-compatible with `@google/genai` 3.x (what its
 * `models.generateContent` sends; shared/reference/external-apis.md §A for the envelopes):
 * `POST /{v1beta|v1}/models/{model}:generateContent` (+ `:streamGenerateContent[?alt=sse]`, `:countTokens`),
 * `x-goog-api-key` (or `?key=`), Google error envelopes, and per-model RPM/TPM/RPD enforcement with 429
 * RESOURCE_EXHAUSTED + QuotaFailure + RetryInfo.
 *
 * Like the real API it refuses what it must not accept (400 INVALID_ARGUMENT): unknown fields in the body,
 * generationConfig or thinkingConfig (proto JSON parsing), responseSchema together with responseJsonSchema, a schema
 * without `responseMimeType: application/json`, thinkingLevel together with thinkingBudget, thinkingLevel on 2.x
 * models, thinkingBudget on 3.5+ models, presence/frequency penalties on 3.5 Flash-Lite, and a last turn by the model
 * on 3.x. With `implicitCache` it reports a repeated system-prompt prefix as `cachedContentTokenCount`.
 *
 * It "answers like a model doing structured output": it finds the alerts in the prompt (one JSON object per line
 * between `<<<ALERTS` and `ALERTS>>>`), decides each one deterministically (`decide`, default
 * {@link referenceAnalyst}) and returns a JSON array text (or `{<arrayProp>: [...]}` when the request's
 * responseSchema is an object wrapping an array).
 */
import type { IncomingMessage } from "node:http";
import {
  HttpFake,
  WindowLimiter,
  fnv1a,
  protoDuration,
  pushBounded,
  type BaseFakeOptions,
  type Outcome,
  type Reply,
  type RequestContext,
} from "./http-fake.js";

/**
 * Fault kinds: `429` (quota body with RetryInfo, not counted as violation), `429_bare` (no details), `500` INTERNAL,
 * `503` UNAVAILABLE, `hang` (no answer until abort/stop), `reset` (drop connection), `malformed` (STOP + truncated JSON),
 * `safety` (finishReason SAFETY, no content), `prompt_blocked` (no candidates, promptFeedback.blockReason SAFETY),
 * `max_tokens` (MAX_TOKENS + truncated JSON), `empty` (no candidates, no promptFeedback), `missing_ids` (every second
 * verdict dropped; a single one is dropped), `extra_ids` (an invented id plus a duplicate of the first verdict).
 */
export type GeminiFaultKind =
  | "429"
  | "429_bare"
  | "500"
  | "503"
  | "hang"
  | "reset"
  | "malformed"
  | "safety"
  | "prompt_blocked"
  | "max_tokens"
  | "empty"
  | "missing_ids"
  | "extra_ids";

export type GeminiClassification = "true_positive" | "false_positive" | "needs_review";
export type GeminiSeverity = "critical" | "high" | "medium" | "low" | "info";

/** One item of the answer array. */
export interface GeminiVerdict {
  alert_id: string;
  classification: GeminiClassification;
  severity: GeminiSeverity;
  confidence: number;
  reasoning: string;
  recommended_actions: string[];
  mitre_techniques: string[];
}

/** What a `decide` policy returns for one alert (the fake adds `alert_id`). */
export type GeminiDecision = Omit<GeminiVerdict, "alert_id">;

/** An alert object as parsed from the prompt (always has `alert_id`). */
export type PromptAlert = Record<string, unknown> & { alert_id: unknown };

/** What the fake recorded about one request. */
export interface GeminiRequestRecord {
  seq: number;
  at: number;
  model: string;
  apiVersion: string;
  task: string;
  /** Alerts parsed from the prompt (empty when the body was not parseable). */
  alerts: PromptAlert[];
  alertIds: string[];
  /** ceil(chars/4) of all text parts (contents + systemInstruction). */
  promptTokens: number;
  /** HTTP status sent; "hang"/"reset"/"aborted"; undefined while in flight. */
  status: number | "hang" | "reset" | "aborted" | undefined;
  fault: GeminiFaultKind | undefined;
  violation: "rpm" | "tpm" | "rpd" | undefined;
  /** Prompt alert ids present in a complete, parseable answer (empty for errors and broken answers). */
  answeredIds: string[];
  /** The parsed request body (undefined when it was not a JSON object). */
  body: Record<string, unknown> | undefined;
  /** Request headers the SDK sets (`x-goog-api-key` is recorded as present/absent only). */
  headers: { contentType: string | undefined; apiClient: string | undefined; userAgent: string | undefined; apiKeyHeader: boolean };
  /** Input tokens reported as served from the implicit cache. */
  cachedTokens: number;
}

export interface FakeGeminiOptions extends BaseFakeOptions<GeminiFaultKind> {
  /** Accepted API key(s). Default "test-gemini-key". */
  apiKey?: string | readonly string[];
  /** Status when no key is sent: 403 PERMISSION_DENIED (default, per the reference) or 400 API_KEY_INVALID. Wrong keys always get 400 API_KEY_INVALID. */
  missingKeyStatus?: 400 | 403;
  /** If set, only these model ids (without "models/") exist; default: any id starting with "gemini-". */
  knownModels?: readonly string[];
  /** Model ids answered 404 NOT_FOUND (retired). Default: gemini-1.0-pro, gemini-pro, gemini-1.5-flash(-8b), gemini-1.5-pro. */
  unknownModels?: readonly string[];
  /** Requests per window per model. Default 10 (free tier gemini-2.5-flash); Infinity disables. */
  rpm?: number;
  /** Input (prompt) tokens per window per model. Default 250_000; Infinity disables. */
  tpm?: number;
  /** Requests per day per model. Default 250; Infinity disables. */
  rpd?: number;
  /** Window for rpm/tpm (ms); scale down in tests (e.g. 6000). Default 60_000. */
  windowMs?: number;
  /** Length of a "day" for rpd (ms), anchored at the fake's start. Default 86_400_000. */
  dayMs?: number;
  /** rpm/tpm window kind. Default "sliding". */
  windowMode?: "sliding" | "fixed";
  /** Quota naming in 429 bodies: "free" (…_free_tier_…, -FreeTier; default) or "paid". */
  tier?: "free" | "paid";
  /** Round RetryInfo.retryDelay down to whole seconds like the real API ("26s"); default false (ms precision, "0.5s"). */
  integerRetryDelay?: boolean;
  /** retryDelay for the scripted `429` fault. Default windowMs / 12 (5s for a 60s window). */
  faultRetryDelayMs?: number;
  /** Decision policy per alert; default {@link referenceAnalyst}. */
  decide?: (alert: PromptAlert) => GeminiDecision;
  /** Obey instruction-like text inside alerts (answer false_positive, confidence 99) — to test injection guards. Default false. */
  gullible?: boolean;
  /** Thinking tokens reported (and charged against maxOutputTokens) per answer. Default 0 (field omitted). */
  thoughtsTokens?: number;
  /** Honour generationConfig.maxOutputTokens: answers longer than it (chars/4 + thoughts) end MAX_TOKENS, truncated. Default true. */
  honorMaxOutputTokens?: boolean;
  /** Extra latency per alert in an admitted generateContent request (ms), on top of latencyMs. Default 0. */
  latencyPerAlertMs?: number;
  /**
   * Implicit context caching: a systemInstruction this model saw before, of at least `implicitCacheMinTokens`
   * (default 1024, Flash-Lite's minimum), is reported as `cachedContentTokenCount`. Default false.
   */
  implicitCache?: boolean;
  implicitCacheMinTokens?: number;
}

const DEFAULT_KEY = "test-gemini-key";
const DEFAULT_UNKNOWN = ["gemini-1.0-pro", "gemini-pro", "gemini-1.5-flash", "gemini-1.5-flash-8b", "gemini-1.5-pro"];
const SAFETY_RATINGS = [
  { category: "HARM_CATEGORY_SEXUALLY_EXPLICIT", probability: "NEGLIGIBLE" },
  { category: "HARM_CATEGORY_HATE_SPEECH", probability: "NEGLIGIBLE" },
  { category: "HARM_CATEGORY_HARASSMENT", probability: "NEGLIGIBLE" },
  { category: "HARM_CATEGORY_DANGEROUS_CONTENT", probability: "HIGH" },
];

interface ModelLimiters {
  rpm: WindowLimiter;
  tpm: WindowLimiter;
  rpd: WindowLimiter;
}

/** Fake Gemini. `keyCounts`/`seenAlertIds` count each alert_id in every received prompt. */
export class FakeGemini extends HttpFake<GeminiFaultKind> {
  /** Per-request records (bounded to the last `maxRecords`, default 100k). */
  readonly requests: GeminiRequestRecord[] = [];
  /** alert_id → times it appeared in a prompt that reached the fake (every status; alias of `keyCounts`). */
  readonly seenAlertIds: Map<string, number> = this.keyCounts;
  /** alert_id → times it was answered in a complete, parseable 200 answer. */
  readonly answeredAlertIds = new Map<string, number>();
  /** Prompt token total over admitted requests. */
  promptTokensTotal = 0;
  /** Mutable decision policy. */
  decide: (alert: PromptAlert) => GeminiDecision;
  /** Mutable: obey injected instructions. */
  gullible: boolean;

  private readonly opts: FakeGeminiOptions;
  private readonly keys: Set<string>;
  private readonly limiters = new Map<string, ModelLimiters>();
  private readonly pending = new Map<number, GeminiRequestRecord>();
  /** model → system prompts seen (for implicit caching), bounded. */
  private readonly seenPrefixes = new Map<string, Set<string>>();

  private constructor(opts: FakeGeminiOptions) {
    super(opts, ["429", "500", "503", "malformed", "missing_ids"]);
    this.opts = opts;
    const k = opts.apiKey ?? DEFAULT_KEY;
    this.keys = new Set(typeof k === "string" ? [k] : k);
    this.decide = opts.decide ?? referenceAnalyst;
    this.gullible = opts.gullible ?? false;
  }

  /** Start listening on 127.0.0.1:<random>. Use `fake.url` as the SDK's `baseUrl`. */
  static async start(opts: FakeGeminiOptions = {}): Promise<FakeGemini> {
    const fake = new FakeGemini(opts);
    await fake.listen();
    return fake;
  }

  /** The default API key the fake accepts. */
  static readonly DEFAULT_KEY = DEFAULT_KEY;

  /** The first accepted API key. */
  get apiKey(): string {
    return [...this.keys][0] ?? DEFAULT_KEY;
  }

  /** Number of alerts in each request's prompt, in arrival order. */
  get alertsPerRequest(): number[] {
    return this.requests.map((r) => r.alerts.length);
  }

  /** The most recent request record. */
  get lastRequest(): GeminiRequestRecord | undefined {
    return this.requests[this.requests.length - 1];
  }

  /** alert_ids counted more than once in `map` (default: every prompt seen) — for "at most once" assertions. */
  duplicateAlertIds(map: Map<string, number> = this.seenAlertIds): string[] {
    return [...map].filter(([, n]) => n > 1).map(([id]) => id);
  }

  /** Start a new "day": every model's rpd budget is full again. */
  resetDay(): void {
    for (const l of this.limiters.values()) l.rpd.reset();
  }

  /** Forget rpm/tpm usage of every model (as if a window passed). */
  resetWindows(): void {
    for (const l of this.limiters.values()) {
      l.rpm.reset();
      l.tpm.reset();
    }
  }

  override resetStats(): void {
    super.resetStats();
    this.requests.length = 0;
    this.answeredAlertIds.clear();
    this.promptTokensTotal = 0;
  }

  private get windowMs(): number {
    return this.opts.windowMs ?? 60_000;
  }

  private limitersFor(model: string): ModelLimiters {
    let l = this.limiters.get(model);
    if (!l) {
      const mode = this.opts.windowMode ?? "sliding";
      l = {
        rpm: new WindowLimiter(this.opts.rpm ?? 10, this.windowMs, mode, this.startedAt),
        tpm: new WindowLimiter(this.opts.tpm ?? 250_000, this.windowMs, mode, this.startedAt),
        rpd: new WindowLimiter(this.opts.rpd ?? 250, this.opts.dayMs ?? 86_400_000, "fixed", this.startedAt),
      };
      this.limiters.set(model, l);
    }
    return l;
  }

  private isKnownModel(name: string): boolean {
    if ((this.opts.unknownModels ?? DEFAULT_UNKNOWN).includes(name)) return false;
    if (this.opts.knownModels) return this.opts.knownModels.includes(name);
    return name.startsWith("gemini-");
  }

  protected downReply(status: number): Reply {
    return status === 503 ? googleError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.") : internalError();
  }

  protected override afterReply(ctx: RequestContext, status: number | "hang" | "reset" | "aborted"): void {
    const rec = this.pending.get(ctx.seq);
    if (!rec) return;
    this.pending.delete(ctx.seq);
    rec.status = status;
    if (status !== 200) rec.answeredIds = [];
    for (const id of rec.answeredIds) this.answeredAlertIds.set(id, (this.answeredAlertIds.get(id) ?? 0) + 1);
  }

  protected async handle(req: IncomingMessage, ctx: RequestContext): Promise<Outcome> {
    const m = /\/(v1beta|v1|v1alpha)\/((?:models|tunedModels)\/[^/:]+):([A-Za-z]+)$/.exec(ctx.url.pathname);
    if (!m || req.method !== "POST") {
      return googleError(404, "NOT_FOUND", `The requested URL ${ctx.url.pathname} was not found on this server.`);
    }
    const apiVersion = m[1]!;
    const modelPath = m[2]!;
    const task = m[3]!;
    const model = modelPath.replace(/^models\//, "");

    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(ctx.body);
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const { userTexts, allTexts } = collectTexts(body);
    const alerts = task === "countTokens" ? [] : extractAlerts(userTexts);
    const promptTokens = Math.ceil(allTexts.reduce((n, t) => n + t.length, 0) / 4);
    const alertIds = alerts.map((a) => String(a.alert_id));
    ctx.keys.push(...alertIds);
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const rec: GeminiRequestRecord = {
      seq: ctx.seq,
      at: ctx.now,
      model,
      apiVersion,
      task,
      alerts,
      alertIds,
      promptTokens,
      status: undefined,
      fault: undefined,
      violation: undefined,
      answeredIds: [],
      body,
      cachedTokens: 0,
      headers: {
        contentType: header("content-type"),
        apiClient: header("x-goog-api-client"),
        userAgent: header("user-agent"),
        apiKeyHeader: header("x-goog-api-key") !== undefined,
      },
    };
    if (task !== "countTokens") {
      pushBounded(this.requests, rec, this.maxRecords);
      this.pending.set(ctx.seq, rec);
    }

    const headerKey = req.headers["x-goog-api-key"];
    const key = (Array.isArray(headerKey) ? headerKey[0] : headerKey) || ctx.url.searchParams.get("key") || "";
    if (key === "") {
      return (this.opts.missingKeyStatus ?? 403) === 403
        ? googleError(
            403,
            "PERMISSION_DENIED",
            "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
          )
        : apiKeyInvalid();
    }
    if (!this.keys.has(key)) return apiKeyInvalid();
    if (!modelPath.startsWith("models/") || !this.isKnownModel(model)) {
      return googleError(
        404,
        "NOT_FOUND",
        `${modelPath} is not found for API version ${apiVersion}, or is not supported for ${task}. Call ListModels to see the list of available models and their supported methods.`,
      );
    }
    if (!["generateContent", "streamGenerateContent", "countTokens"].includes(task)) {
      return googleError(
        404,
        "NOT_FOUND",
        `${modelPath} is not found for API version ${apiVersion}, or is not supported for ${task}. Call ListModels to see the list of available models and their supported methods.`,
      );
    }
    if (body === undefined) return googleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.");
    if (!Array.isArray(body.contents) || body.contents.length === 0) {
      return googleError(400, "INVALID_ARGUMENT", "* GenerateContentRequest.contents: contents is not specified\n");
    }
    const invalid = task === "countTokens" ? undefined : invalidRequest(body, model);
    if (invalid !== undefined) return googleError(400, "INVALID_ARGUMENT", invalid);
    if (task === "countTokens") {
      return { status: 200, body: { totalTokens: promptTokens, promptTokensDetails: [{ modality: "TEXT", tokenCount: promptTokens }] } };
    }

    // Quota: every dimension is checked before any is consumed; rejected requests consume nothing.
    const lim = this.limitersFor(model);
    const now = ctx.now;
    const checks: ["rpm" | "tpm" | "rpd", WindowLimiter, number][] = [
      ["rpm", lim.rpm, 1],
      ["tpm", lim.tpm, promptTokens],
      ["rpd", lim.rpd, 1],
    ];
    for (const [name, limiter, cost] of checks) {
      const wait = limiter.waitMs(now, cost);
      if (wait > 0) {
        ctx.violation = name;
        rec.violation = name;
        const delay = Number.isFinite(wait) ? wait : this.windowMs;
        return quotaExceeded(name, model, limiter.limit, delay, this.opts.tier ?? "free", this.opts.integerRetryDelay ?? false);
      }
    }
    for (const [, limiter, cost] of checks) limiter.consume(now, cost);
    this.promptTokensTotal += promptTokens;

    const fault = this.takeFault(ctx.seq, alertIds[0]);
    ctx.fault = fault;
    rec.fault = fault;
    const usageBase = { promptTokenCount: promptTokens };
    switch (fault) {
      case "429":
        return quotaExceeded(
          "rpm",
          model,
          lim.rpm.limit,
          this.opts.faultRetryDelayMs ?? this.windowMs / 12,
          this.opts.tier ?? "free",
          this.opts.integerRetryDelay ?? false,
        );
      case "429_bare":
        return googleError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).");
      case "500":
        return internalError();
      case "503":
        return googleError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.");
      case "hang":
        return "hang";
      case "reset":
        return "reset";
      case "safety":
        return this.reply(task, ctx, {
          candidates: [{ finishReason: "SAFETY", index: 0, safetyRatings: SAFETY_RATINGS }],
          usageMetadata: { ...usageBase, totalTokenCount: promptTokens },
          modelVersion: model,
          responseId: responseId(ctx.seq),
        });
      case "prompt_blocked":
        return this.reply(task, ctx, {
          promptFeedback: { blockReason: "SAFETY", safetyRatings: SAFETY_RATINGS },
          usageMetadata: { ...usageBase, totalTokenCount: promptTokens },
          modelVersion: model,
          responseId: responseId(ctx.seq),
        });
      case "empty":
        return this.reply(task, ctx, {
          usageMetadata: { ...usageBase, totalTokenCount: promptTokens },
          modelVersion: model,
          responseId: responseId(ctx.seq),
        });
      default:
        break;
    }

    let verdicts = alerts.map((a) => this.verdictFor(a));
    if (fault === "missing_ids") verdicts = verdicts.length <= 1 ? [] : verdicts.filter((_, i) => i % 2 === 0);
    if (fault === "extra_ids") {
      const invented: GeminiVerdict = {
        alert_id: `invented-${ctx.seq}`,
        classification: "needs_review",
        severity: "medium",
        confidence: 50,
        reasoning: "Additional alert inferred from context.",
        recommended_actions: [],
        mitre_techniques: [],
      };
      verdicts = verdicts.length > 0 ? [...verdicts, invented, { ...verdicts[0]! }] : [invented, { ...invented }];
    }
    const genConfig = (body.generationConfig ?? body.generation_config ?? {}) as Record<string, unknown>;
    let text = JSON.stringify(wrapForSchema(verdicts, genConfig.responseSchema ?? genConfig.response_schema ?? genConfig.responseJsonSchema));
    let finishReason = "STOP";
    const thoughts = this.opts.thoughtsTokens ?? 0;
    let candidatesTokens = Math.ceil(text.length / 4);
    let hasParts = true;
    const maxOut = genConfig.maxOutputTokens ?? genConfig.max_output_tokens;
    if (fault === "malformed" || fault === "max_tokens") {
      text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
      candidatesTokens = Math.ceil(text.length / 4);
      if (fault === "max_tokens") finishReason = "MAX_TOKENS";
    } else if ((this.opts.honorMaxOutputTokens ?? true) && typeof maxOut === "number" && candidatesTokens + thoughts > maxOut) {
      finishReason = "MAX_TOKENS";
      const allowed = Math.max(0, maxOut - thoughts);
      hasParts = allowed > 0;
      text = text.slice(0, allowed * 4);
      candidatesTokens = allowed;
    }
    const complete = finishReason === "STOP" && fault !== "malformed";
    if (complete) {
      const promptIds = new Set(alertIds);
      rec.answeredIds = verdicts.map((v) => v.alert_id).filter((id) => promptIds.has(id));
    }
    const cachedTokens = this.implicitCacheHit(model, body);
    rec.cachedTokens = cachedTokens;
    const usageMetadata: Record<string, unknown> = {
      promptTokenCount: promptTokens,
      candidatesTokenCount: candidatesTokens,
      totalTokenCount: promptTokens + candidatesTokens + thoughts,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: promptTokens }],
    };
    if (thoughts > 0) usageMetadata.thoughtsTokenCount = thoughts;
    if (cachedTokens > 0) {
      usageMetadata.cachedContentTokenCount = cachedTokens;
      usageMetadata.cacheTokensDetails = [{ modality: "TEXT", tokenCount: cachedTokens }];
    }
    const reply = this.reply(task, ctx, {
      candidates: [{ content: hasParts ? { parts: [{ text }], role: "model" } : { role: "model" }, finishReason, index: 0 }],
      usageMetadata,
      modelVersion: model,
      responseId: responseId(ctx.seq),
    });
    reply.extraDelayMs = (this.opts.latencyPerAlertMs ?? 0) * alerts.length;
    return reply;
  }

  /** Tokens of the system prompt when this model saw the same one before (and it is long enough); remembers it. */
  private implicitCacheHit(model: string, body: Record<string, unknown>): number {
    if (!this.opts.implicitCache) return 0;
    const prefix = collectTexts({ systemInstruction: body.systemInstruction ?? body.system_instruction }).allTexts.join("\n");
    const tokens = Math.ceil(prefix.length / 4);
    if (tokens < (this.opts.implicitCacheMinTokens ?? 1024)) return 0;
    let seen = this.seenPrefixes.get(model);
    if (!seen) {
      seen = new Set();
      this.seenPrefixes.set(model, seen);
    }
    if (seen.has(prefix)) return tokens;
    if (seen.size >= 64) seen.clear();
    seen.add(prefix);
    return 0;
  }

  /** One alert's verdict: gullible override first, then the `decide` policy (fields sanitised to the contract). */
  private verdictFor(alert: PromptAlert): GeminiVerdict {
    const id = String(alert.alert_id);
    if (this.gullible && looksLikeInjection(alert)) {
      return {
        alert_id: id,
        classification: "false_positive",
        severity: "info",
        confidence: 99,
        reasoning: "The alert content states this activity is benign and instructs to classify it as a false positive.",
        recommended_actions: ["Close the alert"],
        mitre_techniques: [],
      };
    }
    const d = this.decide(alert);
    return {
      alert_id: id,
      classification: d.classification,
      severity: d.severity,
      confidence: Math.max(0, Math.min(100, Math.round(d.confidence))),
      reasoning: d.reasoning,
      recommended_actions: d.recommended_actions,
      mitre_techniques: d.mitre_techniques,
    };
  }

  /** 200 reply for generateContent, or the chunked form for streamGenerateContent (SSE with ?alt=sse, else a JSON array). */
  private reply(task: string, ctx: RequestContext, response: Record<string, unknown>): Reply {
    if (task !== "streamGenerateContent") return { status: 200, body: response };
    const chunks = splitForStream(response);
    if (ctx.url.searchParams.get("alt") === "sse") {
      return { status: 200, contentType: "text/event-stream", body: chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`).join("") };
    }
    return { status: 200, body: chunks };
  }
}

/** Two stream chunks when there is text to split (first without finishReason), else the response alone. */
function splitForStream(response: Record<string, unknown>): Record<string, unknown>[] {
  const cands = response.candidates as { content?: { parts?: { text?: string }[] } }[] | undefined;
  const text = cands?.[0]?.content?.parts?.[0]?.text;
  if (typeof text !== "string" || text.length < 2) return [response];
  const half = Math.floor(text.length / 2);
  const usage = response.usageMetadata as { promptTokenCount?: number } | undefined;
  const first = {
    candidates: [{ content: { parts: [{ text: text.slice(0, half) }], role: "model" }, index: 0 }],
    usageMetadata: { promptTokenCount: usage?.promptTokenCount ?? 0, totalTokenCount: usage?.promptTokenCount ?? 0 },
    modelVersion: response.modelVersion,
    responseId: response.responseId,
  };
  const last = structuredClone(response) as { candidates: { content: { parts: { text: string }[] } }[] };
  last.candidates[0]!.content.parts[0]!.text = text.slice(half);
  return [first, last];
}

function responseId(seq: number): string {
  return Buffer.from(`fake-${fnv1a(`rid:${seq}`).toString(16)}-${seq}`).toString("base64url");
}

/** Fields the API knows (camelCase as the SDKs send, snake_case as other clients may); anything else is a 400. */
const REQUEST_FIELDS = new Set([
  "contents",
  "systemInstruction",
  "system_instruction",
  "generationConfig",
  "generation_config",
  "safetySettings",
  "safety_settings",
  "tools",
  "toolConfig",
  "tool_config",
  "cachedContent",
  "cached_content",
  "serviceTier",
  "service_tier",
  "store",
  "labels",
  "model",
]);
const GENERATION_FIELDS = new Set([
  "candidateCount",
  "stopSequences",
  "maxOutputTokens",
  "temperature",
  "topP",
  "topK",
  "seed",
  "presencePenalty",
  "frequencyPenalty",
  "responseLogprobs",
  "logprobs",
  "responseMimeType",
  "responseSchema",
  "responseJsonSchema",
  "responseModalities",
  "thinkingConfig",
  "mediaResolution",
  "speechConfig",
  "imageConfig",
  "enableEnhancedCivicAnswers",
  "candidate_count",
  "stop_sequences",
  "max_output_tokens",
  "top_p",
  "top_k",
  "presence_penalty",
  "frequency_penalty",
  "response_logprobs",
  "response_mime_type",
  "response_schema",
  "response_json_schema",
  "response_modalities",
  "thinking_config",
  "media_resolution",
]);
const THINKING_FIELDS = new Set(["thinkingBudget", "thinkingLevel", "includeThoughts", "thinking_budget", "thinking_level", "include_thoughts"]);
const THINKING_LEVELS = new Set(["MINIMAL", "LOW", "MEDIUM", "HIGH"]);

const field = (o: Record<string, unknown>, camel: string, snake: string): unknown => o[camel] ?? o[snake];
const unknownName = (name: string, at?: string) => `Invalid JSON payload received. Unknown name "${name}"${at ? ` at '${at}'` : ""}: Cannot find field.`;

/** Why the real API would refuse this generateContent body (400 INVALID_ARGUMENT), or undefined when it is fine. */
export function invalidRequest(body: Record<string, unknown>, model: string): string | undefined {
  for (const k of Object.keys(body)) if (!REQUEST_FIELDS.has(k)) return unknownName(k);
  const gen = field(body, "generationConfig", "generation_config");
  if (gen !== undefined && (gen === null || typeof gen !== "object" || Array.isArray(gen))) return "Invalid value at 'generation_config': expected an object.";
  const g = (gen ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(g)) if (!GENERATION_FIELDS.has(k)) return unknownName(k, "generation_config");
  const schema = field(g, "responseSchema", "response_schema");
  const jsonSchema = field(g, "responseJsonSchema", "response_json_schema");
  if (schema !== undefined && jsonSchema !== undefined) return "response_schema and response_json_schema cannot both be set.";
  if ((schema !== undefined || jsonSchema !== undefined) && field(g, "responseMimeType", "response_mime_type") !== "application/json") {
    return "Response schema requires response_mime_type to be 'application/json'.";
  }
  const id = model.toLowerCase();
  const gen3 = /^gemini-[3-9]/.test(id);
  const since35 = /^gemini-(3\.[5-9]|[4-9])/.test(id);
  const thinking = field(g, "thinkingConfig", "thinking_config");
  if (thinking !== undefined) {
    if (thinking === null || typeof thinking !== "object" || Array.isArray(thinking))
      return "Invalid value at 'generation_config.thinking_config': expected an object.";
    const t = thinking as Record<string, unknown>;
    for (const k of Object.keys(t)) if (!THINKING_FIELDS.has(k)) return unknownName(k, "generation_config.thinking_config");
    const level = field(t, "thinkingLevel", "thinking_level");
    const budget = field(t, "thinkingBudget", "thinking_budget");
    if (level !== undefined && budget !== undefined) return "thinking_level and thinking_budget cannot both be set.";
    if (level !== undefined && !(typeof level === "string" && THINKING_LEVELS.has(level.toUpperCase()))) {
      return `Invalid value at 'generation_config.thinking_config.thinking_level' (${JSON.stringify(level)}).`;
    }
    if (level !== undefined && !gen3) return "Thinking level is not supported for this model.";
    if (budget !== undefined && since35) return "thinking_budget is not supported for this model; use thinking_level.";
    if (budget !== undefined && !(typeof budget === "number" && Number.isInteger(budget)))
      return "Invalid value at 'generation_config.thinking_config.thinking_budget'.";
  }
  if (
    since35 &&
    id.includes("flash-lite") &&
    (field(g, "presencePenalty", "presence_penalty") !== undefined || field(g, "frequencyPenalty", "frequency_penalty") !== undefined)
  ) {
    return "Penalty parameters are not supported for this model.";
  }
  const contents = body.contents as unknown[];
  const last = contents[contents.length - 1] as { role?: unknown } | null;
  if (gen3 && last !== null && typeof last === "object" && last.role === "model")
    return "Requests whose last turn has the role 'model' are not supported for this model.";
  return undefined;
}

/** `{"error":{code,message,status[,details]}}` — the google.rpc.Status envelope. */
function googleError(code: number, status: string, message: string, details?: unknown[]): Reply {
  const error: Record<string, unknown> = { code, message, status };
  if (details) error.details = details;
  return { status: code, body: { error } };
}

function internalError(): Reply {
  return googleError(500, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting");
}

/** The real 400 for a wrong key (reason API_KEY_INVALID). */
function apiKeyInvalid(): Reply {
  return googleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
    {
      "@type": "type.googleapis.com/google.rpc.ErrorInfo",
      reason: "API_KEY_INVALID",
      domain: "googleapis.com",
      metadata: { service: "generativelanguage.googleapis.com" },
    },
    { "@type": "type.googleapis.com/google.rpc.LocalizedMessage", locale: "en-US", message: "API key not valid. Please pass a valid API key." },
  ]);
}

/** 429 RESOURCE_EXHAUSTED with Help, QuotaFailure (naming the violated quotaId) and RetryInfo, in the 2025–26 order. */
export function quotaExceeded(
  which: "rpm" | "tpm" | "rpd",
  model: string,
  limit: number,
  retryMs: number,
  tier: "free" | "paid" = "free",
  integerRetryDelay = false,
): Reply {
  const free = tier === "free";
  const metric = `generativelanguage.googleapis.com/generate_content_${free ? "free_tier_" : ""}${which === "tpm" ? "input_token_count" : "requests"}`;
  const quotaId =
    (which === "rpm"
      ? "GenerateRequestsPerMinutePerProjectPerModel"
      : which === "rpd"
        ? "GenerateRequestsPerDayPerProjectPerModel"
        : "GenerateContentInputTokensPerModelPerMinute") + (free ? "-FreeTier" : "");
  const limitText = Number.isFinite(limit) ? String(limit) : "0";
  const retryDelay = protoDuration(retryMs, integerRetryDelay);
  const message =
    "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: https://ai.dev/usage?tab=rate-limit. " +
    `\n* Quota exceeded for metric: ${metric}, limit: ${limitText}, model: ${model}\nPlease retry in ${(Math.max(0, retryMs) / 1000).toFixed(3)}s.`;
  return googleError(429, "RESOURCE_EXHAUSTED", message, [
    {
      "@type": "type.googleapis.com/google.rpc.Help",
      links: [{ description: "Learn more about Gemini API quotas", url: "https://ai.google.dev/gemini-api/docs/rate-limits" }],
    },
    {
      "@type": "type.googleapis.com/google.rpc.QuotaFailure",
      violations: [{ quotaMetric: metric, quotaId, quotaDimensions: { location: "global", model }, quotaValue: limitText }],
    },
    { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay },
  ]);
}

/** Texts of the request: user `contents` parts (where alerts are looked for) and all texts incl. systemInstruction (for tokens). */
function collectTexts(body: Record<string, unknown> | undefined): { userTexts: string[]; allTexts: string[] } {
  const userTexts: string[] = [];
  const allTexts: string[] = [];
  if (!body) return { userTexts, allTexts };
  const partsOf = (content: unknown): string[] => {
    if (content === null || typeof content !== "object") return [];
    const parts = (content as { parts?: unknown }).parts;
    if (!Array.isArray(parts)) return [];
    return parts
      .map((p: unknown) => (p !== null && typeof p === "object" && typeof (p as { text?: unknown }).text === "string" ? (p as { text: string }).text : ""))
      .filter((t) => t !== "");
  };
  if (Array.isArray(body.contents)) for (const c of body.contents) userTexts.push(...partsOf(c));
  allTexts.push(...userTexts);
  const sys = body.systemInstruction ?? body.system_instruction;
  if (typeof sys === "string") allTexts.push(sys);
  else allTexts.push(...partsOf(sys));
  return { userTexts, allTexts };
}

/**
 * Read datamarked text (spotlighting: U+02C6 between the words of untrusted text) the way a model told about the
 * marks reads it: as plain text. So the reference analyst and `gullible` see the words, instructions included.
 */
function readMarked(value: unknown): unknown {
  if (typeof value === "string") return value.replace(/\u02c6+/g, " ");
  if (Array.isArray(value)) return value.map(readMarked);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [readMarked(k) as string, readMarked(v)]));
  return value;
}

function asAlerts(value: unknown): PromptAlert[] {
  const out: PromptAlert[] = [];
  const take = (v: unknown): void => {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && "alert_id" in v) {
      const id = (v as { alert_id: unknown }).alert_id;
      if (typeof id === "string" || typeof id === "number") out.push(readMarked(v) as PromptAlert);
    }
  };
  if (Array.isArray(value)) value.forEach(take);
  else take(value);
  return out;
}

function parseLine(line: string): unknown {
  const t = line.trim().replace(/,$/, "");
  if (!t.startsWith("{") && !t.startsWith("[")) return undefined;
  try {
    return JSON.parse(t);
  } catch {
    return undefined;
  }
}

/**
 * Find the alerts in prompt texts. Contract: one JSON object per line (with "alert_id") between lines `<<<ALERTS`
 * and `ALERTS>>>`; unparseable lines are skipped. Tolerant extras: a line holding a JSON array of alerts; a block
 * that is one multi-line JSON array/object; and, when there are no markers at all, any line that is a JSON object
 * with "alert_id".
 */
export function extractAlerts(texts: readonly string[]): PromptAlert[] {
  const all = texts.join("\n");
  const blocks = [...all.matchAll(/<<<ALERTS[^\n]*\n([\s\S]*?)^[ \t]*ALERTS>>>/gm)].map((m) => m[1] ?? "");
  const out: PromptAlert[] = [];
  if (blocks.length > 0) {
    for (const block of blocks) {
      const fromLines = block.split(/\r?\n/).flatMap((l) => asAlerts(parseLine(l)));
      if (fromLines.length > 0) {
        out.push(...fromLines);
        continue;
      }
      try {
        out.push(...asAlerts(JSON.parse(block)));
      } catch {
        // nothing parseable in this block
      }
    }
    return out;
  }
  return all.split(/\r?\n/).flatMap((l) => asAlerts(parseLine(l)));
}

/** Wrap the verdict array as `{<prop>: verdicts}` when the schema is an object whose first array property holds them. */
function wrapForSchema(verdicts: GeminiVerdict[], schema: unknown): unknown {
  if (schema === null || typeof schema !== "object") return verdicts;
  const s = schema as { type?: unknown; properties?: Record<string, { type?: unknown }> };
  if (String(s.type ?? "").toLowerCase() !== "object" || !s.properties) return verdicts;
  const prop = Object.entries(s.properties).find(([, v]) => String(v?.type ?? "").toLowerCase() === "array")?.[0];
  return prop === undefined ? verdicts : { [prop]: verdicts };
}

// ---------------------------------------------------------------------------------------------------------------
// Reference analyst: the default, deterministic decision policy.

/** Facts the reference analyst extracts from an alert (searching nested objects). */
export interface AlertFacts {
  name: string;
  severity: GeminiSeverity;
  abuseScore: number | undefined;
  vtMalicious: number | undefined;
  failedLogins: number | undefined;
  success: boolean | undefined;
  sourceIp: string | undefined;
  user: string | undefined;
  host: string | undefined;
}

const SEVERITY_ORDER: GeminiSeverity[] = ["info", "low", "medium", "high", "critical"];
const SEVERITY_WORDS: Record<string, GeminiSeverity> = {
  critical: "critical",
  crit: "critical",
  emergency: "critical",
  p1: "critical",
  high: "high",
  error: "high",
  severe: "high",
  major: "high",
  p2: "high",
  medium: "medium",
  med: "medium",
  moderate: "medium",
  warning: "medium",
  warn: "medium",
  p3: "medium",
  low: "low",
  minor: "low",
  notice: "low",
  p4: "low",
  info: "info",
  informational: "info",
  information: "info",
  debug: "info",
  none: "info",
  p5: "info",
};

function normSeverity(v: unknown): GeminiSeverity | undefined {
  if (typeof v === "number" && Number.isFinite(v)) {
    const s = v > 10 ? v / 10 : v;
    return s >= 9 ? "critical" : s >= 7 ? "high" : s >= 4 ? "medium" : s > 0 ? "low" : "info";
  }
  if (typeof v !== "string") return undefined;
  const t = v.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) return normSeverity(Number(t));
  return SEVERITY_WORDS[t];
}

function maxSeverity(a: GeminiSeverity, b: GeminiSeverity): GeminiSeverity {
  return SEVERITY_ORDER.indexOf(a) >= SEVERITY_ORDER.indexOf(b) ? a : b;
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

const ABUSE_KEYS = new Set(["abuse_confidence_score", "abuseconfidencescore", "abuse_score"]);
const VT_KEYS = new Set(["malicious", "vt_malicious", "virustotal_malicious"]);
const FAILED_KEYS = new Set(["failed_logins", "failed_login_count", "failed_login_attempts", "failed_attempts", "failures", "failed_count"]);
const SUCCESS_KEYS = new Set(["success", "login_success", "succeeded", "successful", "successful_login"]);
const OUTCOME_KEYS = new Set(["outcome", "result", "login_result", "auth_result"]);

/** Extract the facts the reference analyst uses; TI/login fields are found at any depth (max wins). */
export function alertFacts(alert: Record<string, unknown>): AlertFacts {
  const facts: AlertFacts = {
    name: String(alert.alert_name ?? alert.name ?? alert.rule_name ?? alert.title ?? ""),
    severity: normSeverity(alert.severity) ?? "medium",
    abuseScore: undefined,
    vtMalicious: undefined,
    failedLogins: undefined,
    success: undefined,
    sourceIp: typeof alert.source_ip === "string" ? alert.source_ip : undefined,
    user: typeof alert.user === "string" ? alert.user : undefined,
    host: typeof alert.host === "string" ? alert.host : undefined,
  };
  const max = (a: number | undefined, b: number): number => (a === undefined ? b : Math.max(a, b));
  const walk = (node: unknown, path: string[], depth: number): void => {
    if (depth > 8 || node === null || typeof node !== "object") return;
    for (const [rawKey, value] of Object.entries(node as Record<string, unknown>)) {
      const key = rawKey.toLowerCase();
      const n = asNumber(value);
      if (n !== undefined) {
        if (ABUSE_KEYS.has(key)) facts.abuseScore = max(facts.abuseScore, n);
        else if (VT_KEYS.has(key) && !path.includes("total_votes")) facts.vtMalicious = max(facts.vtMalicious, n);
        else if (FAILED_KEYS.has(key)) facts.failedLogins = max(facts.failedLogins, n);
      }
      if (SUCCESS_KEYS.has(key) && (typeof value === "boolean" || value === "true" || value === "false")) {
        facts.success = facts.success === true || value === true || value === "true";
      }
      if (OUTCOME_KEYS.has(key) && typeof value === "string") {
        if (/^(success|succeeded|successful|allowed|accepted)$/i.test(value.trim())) facts.success = true;
        else if (facts.success === undefined && /^(fail|failure|failed|denied|rejected)$/i.test(value.trim())) facts.success = false;
      }
      if (value !== null && typeof value === "object") walk(value, [...path, key], depth + 1);
    }
  };
  walk(alert, [], 0);
  return facts;
}

const BENIGN_NAME =
  /\b(scheduled|backup|heartbeat|health ?check|update|patch(ing)?|authori[sz]ed|approved|test(ing)?|known[ -]good|allow ?list(ed)?|white ?list(ed)?|maintenance|benign|informational)\b/i;

/** MITRE ATT&CK techniques suggested by the alert name and facts. */
function mitreFor(f: AlertFacts): string[] {
  const n = f.name.toLowerCase();
  const out: string[] = [];
  const add = (...ids: string[]): void => {
    for (const id of ids) if (!out.includes(id)) out.push(id);
  };
  if (/spray/.test(n)) add("T1110.003");
  else if (/brute|failed login|password guess|credential stuff/.test(n) || (f.failedLogins ?? 0) >= 10) add("T1110");
  if ((f.failedLogins ?? 0) >= 10 && f.success === true) add("T1078");
  if (/ssh/.test(n)) add("T1021.004");
  if (/rdp|remote desktop/.test(n)) add("T1021.001");
  if (/phish/.test(n)) add("T1566");
  if (/powershell/.test(n)) add("T1059.001");
  if (/ransom/.test(n)) add("T1486");
  else if (/malware|trojan|virus|payload/.test(n)) add("T1204");
  if (/port ?scan|scan/.test(n)) add("T1046");
  if (/exfil/.test(n)) add("T1041");
  if (/beacon|c2|command and control/.test(n)) add("T1071");
  if (/dns tunnel/.test(n)) add("T1071.004");
  if (/privilege|escalat/.test(n)) add("T1068");
  if (/lateral/.test(n)) add("T1021");
  return out;
}

/**
 * Default deterministic policy: high TI (AbuseIPDB score >= 75 or >= 5 VirusTotal engines) → true_positive;
 * >= 10 failed logins followed by a success → true_positive; low/info severity that sounds benign (or has clean TI
 * and few failures) → false_positive; everything else → needs_review.
 */
export function referenceAnalyst(alert: Record<string, unknown>): GeminiDecision {
  const f = alertFacts(alert);
  const mitre = mitreFor(f);
  const label = `alert '${f.name || "unnamed"}' (${f.severity})`;
  const abuse = f.abuseScore ?? 0;
  const vt = f.vtMalicious ?? 0;
  const failed = f.failedLogins ?? 0;
  const lowSev = f.severity === "low" || f.severity === "info";
  const ip = f.sourceIp ? ` ${f.sourceIp}` : "";

  if (abuse >= 75 || vt >= 5) {
    const severity = f.severity === "critical" || (abuse >= 90 && vt >= 10) ? "critical" : maxSeverity(f.severity, "high");
    return {
      classification: "true_positive",
      severity,
      confidence: Math.min(97, 85 + (abuse >= 90 ? 5 : 0) + (vt >= 10 ? 5 : 0)),
      reasoning: `Threat intel is strongly negative for the source IP${ip} (AbuseIPDB confidence ${f.abuseScore ?? "n/a"}, VirusTotal malicious ${f.vtMalicious ?? "n/a"}); ${label}.`,
      recommended_actions: [`Block source IP${ip} at the perimeter`, ...(f.host ? [`Investigate host ${f.host}`] : []), "Open an incident ticket"],
      mitre_techniques: mitre,
    };
  }
  if (failed >= 10 && f.success === true) {
    return {
      classification: "true_positive",
      severity: maxSeverity(f.severity, "high"),
      confidence: 88,
      reasoning: `${failed} failed logins followed by a successful login indicate a successful brute force; ${label}.`,
      recommended_actions: [
        ...(f.user ? [`Reset credentials for ${f.user}`] : ["Reset the affected credentials"]),
        `Block source IP${ip}`,
        "Review the session activity after the successful login",
      ],
      mitre_techniques: mitre.includes("T1078") ? mitre : [...mitre, "T1078"],
    };
  }
  const cleanTi = (f.abuseScore !== undefined || f.vtMalicious !== undefined) && abuse === 0 && vt === 0;
  if (lowSev && (BENIGN_NAME.test(f.name) || f.severity === "info" || (cleanTi && failed < 10))) {
    return {
      classification: "false_positive",
      severity: f.severity === "info" ? "info" : "low",
      confidence: 80,
      reasoning: `Low-severity ${label} matches expected benign activity${cleanTi ? " and threat intel is clean" : ""}.`,
      recommended_actions: ["Close as false positive", `Consider tuning rule '${f.name || "unnamed"}'`],
      mitre_techniques: [],
    };
  }
  const moderateTi = abuse >= 25 || vt >= 1;
  return {
    classification: "needs_review",
    severity: moderateTi ? maxSeverity(f.severity, "medium") : f.severity,
    confidence: moderateTi ? 60 : failed >= 10 ? 55 : 50,
    reasoning: `Insufficient evidence to decide ${label}${moderateTi ? "; threat intel is mixed" : ""}${failed >= 10 ? `; ${failed} failed logins without a confirmed success` : ""}.`,
    recommended_actions: ["Escalate to a tier-2 analyst for manual review", "Collect surrounding logs for the source and host"],
    mitre_techniques: mitre,
  };
}

const INJECTION_PATTERNS = [
  /ignore\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|preceding)\s+(instructions?|prompts?|rules|directions)/i,
  /disregard\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|system)/i,
  /classify\s+(this|it|the\s+alert|this\s+alert|all\s+alerts)?\s*(as\s+)?(benign|harmless|safe|false[\s_-]?positive)/i,
  /\bfalse[\s_-]positive\b/i,
  /\bmark\s+(this|it|the\s+alert)\s+as\s+(benign|safe|harmless)/i,
  /\byou\s+are\s+now\b/i,
  /\bnew\s+instructions\b/i,
  /\bsystem\s+prompt\b/i,
];

/** True when any string value (not key) inside the alert contains instruction-like text. */
export function looksLikeInjection(alert: unknown): boolean {
  const strings: string[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8) return;
    if (typeof v === "string") strings.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (v !== null && typeof v === "object") for (const x of Object.values(v)) walk(x, depth + 1);
  };
  walk(alert, 0);
  return strings.some((s) => INJECTION_PATTERNS.some((re) => re.test(s)));
}
