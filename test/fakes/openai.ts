/**
 * Loopback fake of an OpenAI-compatible Chat Completions server: `POST /v1/chat/completions` (OpenAI, Ollama, vLLM,
 * LiteLLM, LM Studio) and Azure's `POST /openai/deployments/{deployment}/chat/completions?api-version=…` (`api-key`
 * header). Error bodies are `{"error": {message, type, param, code}}` (Azure: `{"error": {code, message}}`); 429s carry
 * `retry-after`, `retry-after-ms` and `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`.
 *
 * It answers like a model: the alerts are the JSON lines between `<<<ALERTS` and `ALERTS>>>` in the user message,
 * decided by `decide` (default: the Gemini fake's reference analyst), returned as a JSON array, or as the object
 * the request's json_schema asks for. Server kinds: `jsonSchema: "supported"` (default), `"rejected"` (400 on
 * response_format json_schema, like older vLLM/Ollama), `"ignored"` (answers prose + a fenced JSON block whatever the
 * request says); `tokensPerSecond` makes a slow local model. Every raw request body is kept in `bodies`.
 */
import type { IncomingMessage } from "node:http";
import { HttpFake, WindowLimiter, pushBounded, type BaseFakeOptions, type Outcome, type Reply, type RequestContext } from "./http-fake.js";
import { extractAlerts, looksLikeInjection, referenceAnalyst, type GeminiDecision, type PromptAlert } from "./gemini.js";

/**
 * Faults: `429` (rate limit with headers), `insufficient_quota` (429, billing), `500`, `503`, `hang`, `reset`,
 * `malformed` (half the JSON), `length` (finish_reason length + truncated JSON), `content_filter`, `refusal`,
 * `empty` (no choices), `missing_ids` (every second verdict dropped).
 */
export type OpenAiFaultKind =
  | "429"
  | "insufficient_quota"
  | "500"
  | "503"
  | "hang"
  | "reset"
  | "malformed"
  | "length"
  | "content_filter"
  | "refusal"
  | "empty"
  | "missing_ids";

export interface OpenAiRequestRecord {
  seq: number;
  at: number;
  path: string;
  model: string;
  /** `json_schema`, `json_object`, or `none` (no response_format). */
  responseFormat: string;
  alerts: PromptAlert[];
  alertIds: string[];
  promptTokens: number;
  status: number | "hang" | "reset" | "aborted" | undefined;
  fault: OpenAiFaultKind | undefined;
  /** Which header carried the key: `authorization`, `api-key`, or none. */
  auth: "authorization" | "api-key" | "none";
}

export interface FakeOpenAiOptions extends BaseFakeOptions<OpenAiFaultKind> {
  /** Accepted key; null = no key needed (a local server). Default "test-openai-key". */
  apiKey?: string | null;
  /** Models that exist; default any. */
  knownModels?: readonly string[];
  /** How the server treats response_format json_schema. Default "supported". */
  jsonSchema?: "supported" | "rejected" | "ignored";
  /** Reject `max_tokens` (400, "use max_completion_tokens"), like OpenAI's reasoning models. Default false. */
  rejectMaxTokens?: boolean;
  /** Requests / prompt tokens per window; Infinity (default) = unlimited. */
  rpm?: number;
  tpm?: number;
  windowMs?: number;
  /** Answer-generation speed of a slow local model: completion tokens per second (delay added per answer). Default Infinity. */
  tokensPerSecond?: number;
  /** Report the system message as cached (prompt_tokens_details.cached_tokens) once it was seen. Default true. */
  promptCaching?: boolean;
  /** Decision policy; default the reference analyst. */
  decide?: (alert: PromptAlert) => GeminiDecision;
  /** Obey instruction-like alert text (answer false_positive). Default false. */
  gullible?: boolean;
  /** Azure-style error envelope (`{"error": {code, message}}`). Default false (OpenAI style). */
  azureErrors?: boolean;
}

const DEFAULT_KEY = "test-openai-key";

/** Fake OpenAI-compatible server. */
export class FakeOpenAi extends HttpFake<OpenAiFaultKind> {
  readonly requests: OpenAiRequestRecord[] = [];
  /** Every raw request body received, in arrival order (for "no identifier leaves the building" scans). */
  readonly bodies: string[] = [];
  /** Completion tokens reported in total (answered requests). */
  completionTokensTotal = 0;
  decide: (alert: PromptAlert) => GeminiDecision;
  gullible: boolean;
  private readonly opts: FakeOpenAiOptions;
  private readonly rpm: WindowLimiter;
  private readonly tpm: WindowLimiter;
  private readonly seenSystem = new Set<string>();
  private readonly pending = new Map<number, OpenAiRequestRecord>();

  private constructor(opts: FakeOpenAiOptions) {
    super(opts, ["429", "500", "503", "malformed", "missing_ids"]);
    this.opts = opts;
    this.decide = opts.decide ?? referenceAnalyst;
    this.gullible = opts.gullible ?? false;
    const windowMs = opts.windowMs ?? 60_000;
    this.rpm = new WindowLimiter(opts.rpm ?? Infinity, windowMs, "sliding", this.startedAt);
    this.tpm = new WindowLimiter(opts.tpm ?? Infinity, windowMs, "sliding", this.startedAt);
  }

  static async start(opts: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
    const fake = new FakeOpenAi(opts);
    await fake.listen();
    return fake;
  }

  get apiKey(): string | undefined {
    return this.opts.apiKey === null ? undefined : (this.opts.apiKey ?? DEFAULT_KEY);
  }

  get alertsPerRequest(): number[] {
    return this.requests.map((r) => r.alerts.length);
  }

  protected downReply(status: number): Reply {
    return this.error(
      status,
      status === 503 ? "The server is overloaded or not ready yet." : "The server had an error while processing your request.",
      "server_error",
      null,
    );
  }

  protected override afterReply(ctx: RequestContext, status: number | "hang" | "reset" | "aborted"): void {
    const rec = this.pending.get(ctx.seq);
    if (!rec) return;
    this.pending.delete(ctx.seq);
    rec.status = status;
  }

  private error(
    status: number,
    message: string,
    type: string | null,
    code: string | null,
    param: string | null = null,
    headers?: Record<string, string>,
  ): Reply {
    const body = this.opts.azureErrors ? { error: { code: code ?? String(status), message } } : { error: { message, type, param, code } };
    return { status, body, ...(headers ? { headers } : {}) };
  }

  private rateHeaders(now: number, retryMs: number): Record<string, string> {
    const fmt = (ms: number) => `${Math.max(0, Math.ceil(ms))}ms`;
    const lim = (l: WindowLimiter) => (Number.isFinite(l.limit) ? String(l.limit) : "1000000");
    return {
      "retry-after": String(Math.max(1, Math.ceil(retryMs / 1000))),
      "retry-after-ms": String(Math.max(1, Math.ceil(retryMs))),
      "x-ratelimit-limit-requests": lim(this.rpm),
      "x-ratelimit-remaining-requests": String(Number.isFinite(this.rpm.limit) ? this.rpm.remaining(now) : 1_000_000),
      "x-ratelimit-reset-requests": fmt(Number.isFinite(this.rpm.limit) ? this.rpm.windowEnd(now) - now : 0),
      "x-ratelimit-limit-tokens": lim(this.tpm),
      "x-ratelimit-remaining-tokens": String(Number.isFinite(this.tpm.limit) ? this.tpm.remaining(now) : 1_000_000),
      "x-ratelimit-reset-tokens": fmt(Number.isFinite(this.tpm.limit) ? this.tpm.windowEnd(now) - now : 0),
    };
  }

  protected async handle(req: IncomingMessage, ctx: RequestContext): Promise<Outcome> {
    const path = ctx.url.pathname;
    const azure = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(path);
    if (req.method !== "POST" || (!azure && !/^(\/v1)?\/chat\/completions$/.test(path))) {
      return this.error(404, `Invalid URL (${req.method} ${path})`, "invalid_request_error", null);
    }
    pushBounded(this.bodies, ctx.body, this.maxRecords);
    const authHeader = req.headers.authorization;
    const apiKeyHeader = req.headers["api-key"];
    const key = azure ? (typeof apiKeyHeader === "string" ? apiKeyHeader : "") : typeof authHeader === "string" ? authHeader.replace(/^Bearer\s+/i, "") : "";
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(ctx.body);
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const messages = Array.isArray(body?.messages) ? (body.messages as { role?: unknown; content?: unknown }[]) : [];
    const textOf = (role: string) => messages.filter((m) => m.role === role && typeof m.content === "string").map((m) => m.content as string);
    const userTexts = textOf("user");
    const systemText = textOf("system").join("\n");
    const alerts = extractAlerts(userTexts);
    const alertIds = alerts.map((a) => String(a.alert_id));
    ctx.keys.push(...alertIds);
    const promptTokens = Math.ceil((systemText.length + userTexts.join("\n").length) / 4);
    const rf = body?.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
    const rec: OpenAiRequestRecord = {
      seq: ctx.seq,
      at: ctx.now,
      path,
      model: azure ? decodeURIComponent(azure[1]!) : String(body?.model ?? ""),
      responseFormat: typeof rf?.type === "string" ? rf.type : "none",
      alerts,
      alertIds,
      promptTokens,
      status: undefined,
      fault: undefined,
      auth: typeof apiKeyHeader === "string" ? "api-key" : typeof authHeader === "string" ? "authorization" : "none",
    };
    pushBounded(this.requests, rec, this.maxRecords);
    this.pending.set(ctx.seq, rec);

    if (azure && !ctx.url.searchParams.get("api-version")) return this.error(404, "Resource not found", null, "404");
    const expected = this.apiKey;
    if (expected !== undefined && key !== expected) {
      return this.error(
        401,
        azure
          ? "Access denied due to invalid subscription key or wrong API endpoint."
          : `Incorrect API key provided: ${key ? `${key.slice(0, 3)}***` : "(none)"}.`,
        "invalid_request_error",
        azure ? "401" : "invalid_api_key",
      );
    }
    if (!body) return this.error(400, "We could not parse the JSON body of your request.", "invalid_request_error", null);
    if (this.opts.knownModels && !this.opts.knownModels.includes(rec.model)) {
      return azure
        ? this.error(404, "The API deployment for this resource does not exist.", null, "DeploymentNotFound")
        : this.error(404, `The model \`${rec.model}\` does not exist or you do not have access to it.`, "invalid_request_error", "model_not_found");
    }
    if (messages.length === 0) return this.error(400, "'messages' is a required property", "invalid_request_error", null, "messages");
    if (this.opts.rejectMaxTokens && body.max_tokens !== undefined) {
      return this.error(
        400,
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        "invalid_request_error",
        "unsupported_parameter",
        "max_tokens",
      );
    }
    if (rf?.type === "json_schema" && (this.opts.jsonSchema ?? "supported") === "rejected") {
      return this.error(
        400,
        "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
        "invalid_request_error",
        null,
        "response_format",
      );
    }

    const now = ctx.now;
    for (const [name, l, cost] of [
      ["requests", this.rpm, 1],
      ["tokens", this.tpm, promptTokens],
    ] as const) {
      const wait = l.waitMs(now, cost);
      if (wait > 0) {
        ctx.violation = name === "requests" ? "rpm" : "tpm";
        const retryMs = Number.isFinite(wait) ? wait : l.windowMs;
        return this.error(
          429,
          `Rate limit reached for ${rec.model} on ${name} per min: Limit ${l.limit}, Used ${l.used(now)}, Requested ${cost}. Please try again in ${(retryMs / 1000).toFixed(3)}s.`,
          name,
          "rate_limit_exceeded",
          null,
          this.rateHeaders(now, retryMs),
        );
      }
    }
    this.rpm.consume(now, 1);
    this.tpm.consume(now, promptTokens);

    const fault = this.takeFault(ctx.seq, alertIds[0]);
    ctx.fault = fault;
    rec.fault = fault;
    switch (fault) {
      case "429":
        return this.error(
          429,
          `Rate limit reached for ${rec.model} on requests per min. Please try again in 0.2s.`,
          "requests",
          "rate_limit_exceeded",
          null,
          this.rateHeaders(now, 200),
        );
      case "insufficient_quota":
        return this.error(429, "You exceeded your current quota, please check your plan and billing details.", "insufficient_quota", "insufficient_quota");
      case "500":
        return this.error(500, "The server had an error while processing your request. Sorry about that!", "server_error", null);
      case "503":
        return this.error(503, "The server is overloaded or not ready yet.", "server_error", null);
      case "hang":
        return "hang";
      case "reset":
        return "reset";
      default:
        break;
    }
    const cached = (this.opts.promptCaching ?? true) && this.seenSystem.has(systemText) ? Math.ceil(systemText.length / 4) : 0;
    this.seenSystem.add(systemText);
    const usage = (completion: number) => ({
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
      prompt_tokens_details: { cached_tokens: cached },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    const completion = (content: string | null, finish: string, extra: Record<string, unknown> = {}): Reply => {
      const tokens = content === null ? 0 : Math.ceil(content.length / 4);
      this.completionTokensTotal += tokens;
      const tps = this.opts.tokensPerSecond ?? Infinity;
      return {
        status: 200,
        body: {
          id: `chatcmpl-fake${ctx.seq}`,
          object: "chat.completion",
          created: Math.floor(now / 1000),
          model: rec.model,
          system_fingerprint: "fp_fake",
          choices: [{ index: 0, message: { role: "assistant", content, refusal: null, ...extra }, logprobs: null, finish_reason: finish }],
          usage: usage(tokens),
        },
        extraDelayMs: Number.isFinite(tps) ? Math.round((tokens / tps) * 1000) : 0,
      };
    };
    if (fault === "empty")
      return { status: 200, body: { id: `chatcmpl-fake${ctx.seq}`, object: "chat.completion", model: rec.model, choices: [], usage: usage(0) } };
    if (fault === "content_filter") return completion(null, "content_filter");
    if (fault === "refusal") return completion(null, "stop", { refusal: "I'm sorry, I cannot help with that." });

    let verdicts = alerts.map((a) => this.verdictFor(a));
    if (fault === "missing_ids") verdicts = verdicts.length <= 1 ? [] : verdicts.filter((_, i) => i % 2 === 0);
    const ignoring = (this.opts.jsonSchema ?? "supported") === "ignored";
    const schema = rf?.type === "json_schema" && !ignoring ? rf.json_schema?.schema : undefined;
    let text = JSON.stringify(wrapForSchema(verdicts, schema));
    if (ignoring) text = `Here is my triage of the ${verdicts.length} alerts:\n\n\`\`\`json\n${text}\n\`\`\``;
    let finish = "stop";
    const maxOut =
      typeof body.max_completion_tokens === "number" ? body.max_completion_tokens : typeof body.max_tokens === "number" ? body.max_tokens : Infinity;
    if (fault === "malformed" || fault === "length") {
      text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
      if (fault === "length") finish = "length";
    } else if (Math.ceil(text.length / 4) > maxOut) {
      text = text.slice(0, maxOut * 4);
      finish = "length";
    }
    return completion(text, finish);
  }

  private verdictFor(alert: PromptAlert): Record<string, unknown> {
    const id = String(alert.alert_id);
    if (this.gullible && looksLikeInjection(alert)) {
      return {
        alert_id: id,
        reasoning: "The alert says it is benign.",
        classification: "false_positive",
        severity: "info",
        confidence: 99,
        recommended_actions: ["Close the alert"],
        mitre_techniques: [],
      };
    }
    const d = this.decide(alert);
    return {
      alert_id: id,
      reasoning: d.reasoning,
      classification: d.classification,
      severity: d.severity,
      confidence: d.confidence,
      recommended_actions: d.recommended_actions,
      mitre_techniques: d.mitre_techniques,
    };
  }
}

/** `{<prop>: verdicts}` when the schema's root is an object whose first array property holds them. */
function wrapForSchema(verdicts: unknown[], schema: unknown): unknown {
  if (schema === null || typeof schema !== "object") return verdicts;
  const s = schema as { type?: unknown; properties?: Record<string, { type?: unknown }> };
  if (s.type !== "object" || !s.properties) return verdicts;
  const prop = Object.entries(s.properties).find(([, v]) => v?.type === "array")?.[0];
  return prop === undefined ? verdicts : { [prop]: verdicts };
}
