/**
 * An OpenAI-compatible Chat Completions backend behind our ModelClient port (Ollama, vLLM, LiteLLM, LM Studio,
 * OpenAI, Azure OpenAI): `POST {base}/v1/chat/completions`, or for Azure `{deployment URL}/chat/completions
 * ?api-version=…` with an `api-key` header. Plain `fetch` (Node 24), not the `openai` package: it is one endpoint, we
 * own retries, limits and timeouts (the package retries twice by default and has its own timeout), and every server
 * quirk (a 400 for response_format, an answer that ignores it, missing usage) has to be handled here anyway.
 *
 * Structured output: `response_format: {type: "json_schema", json_schema: {name, schema, strict}}` where the server
 * accepts it; a 400 that rejects it, or answers that keep ignoring it, switch the client to plain JSON (the prompt
 * then asks for JSON only; the classifier's repair + retry path handles bad JSON either way).
 */
import type { ModelClient, ModelReply, ModelRequest, TokenUsage } from "../../core/ports/index.js";

export interface OpenAiClientOptions {
  /** Server origin (`http://localhost:11434`, `https://api.openai.com`, with or without `/v1`), or an Azure deployment URL. */
  baseUrl: string;
  /** Model id sent in the body (and stamped on verdicts); for Azure the deployment's model. */
  model: string;
  /** Bearer key; unset for local servers that need none. */
  apiKey?: string | undefined;
  /** Azure OpenAI `api-version`: set = Azure mode (`api-key` header, `{base}/chat/completions?api-version=`). */
  apiVersion?: string | undefined;
  /** `auto`: json_schema until the server shows it does not support it; `json_schema`: always; `off`: plain JSON. */
  responseFormat?: "auto" | "json_schema" | "off";
  /** Called once when auto mode falls back to plain JSON (for one log line). */
  onFallback?: (reason: string) => void;
  /** Largest response body read (bounded memory against a misbehaving server). */
  maxResponseBytes?: number;
  fetch?: typeof fetch;
}

/** Answers in json_schema mode that were not JSON before auto mode concludes the server ignores response_format. */
const IGNORED_ANSWERS_BEFORE_FALLBACK = 3;
const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Appended to the system prompt when the server gives no structured output. */
export const PLAIN_JSON_NOTE =
  'Answer with JSON only (no prose, no code fences): {"verdicts": [{"alert_id", "reasoning", "classification", "severity", "confidence", ' +
  '"recommended_actions", "mitre_techniques"}, ...]}.';

/** The chat-completions URL for a base: Azure deployment + api-version, else `{origin}[/prefix]/v1/chat/completions`. */
export function chatCompletionsUrl(baseUrl: string, apiVersion?: string): string {
  const base = baseUrl.replace(/\/+$/, "");
  if (apiVersion) return `${base}/chat/completions?api-version=${encodeURIComponent(apiVersion)}`;
  if (/\/chat\/completions$/.test(base)) return base;
  return /\/v1$/.test(base) ? `${base}/chat/completions` : `${base}/v1/chat/completions`;
}

/** JSON Schema keywords every structured-output server we target accepts (OpenAI strict mode is the narrowest). */
const KEPT_KEYWORDS = new Set(["type", "properties", "items", "required", "enum", "description", "additionalProperties", "anyOf"]);

/**
 * Our answer schema in the form strict mode accepts: an object root (a top-level array is wrapped as `{verdicts: [...]}`,
 * which parse-output reads as well), `additionalProperties: false` and every property required on each object, and
 * only keywords of the common subset (bounds, propertyOrdering, … are dropped; our zod validation still applies them).
 */
export function strictJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const clean = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(clean);
    if (node === null || typeof node !== "object") return node;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
      if (!KEPT_KEYWORDS.has(k)) continue;
      if (k === "properties" && v !== null && typeof v === "object") out[k] = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, clean(s)]));
      else out[k] = clean(v);
    }
    if (out.type === "object") {
      out.additionalProperties = false;
      if (out.properties && typeof out.properties === "object") out.required = Object.keys(out.properties);
    }
    return out;
  };
  const root = clean(schema) as Record<string, unknown>;
  if (root.type === "object") return root;
  return { type: "object", properties: { verdicts: root }, required: ["verdicts"], additionalProperties: false };
}

/** Milliseconds of an OpenAI reset duration ("1s", "6m0s", "20ms", "1h2m3.5s"); null when it is not one. */
export function parseResetDurationMs(value: string | null | undefined): number | null {
  if (!value) return null;
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.ceil(Number(t) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n * 3_600_000;
    consumed += m[0].length;
  }
  return consumed === t.length && consumed > 0 ? Math.ceil(total) : null;
}

/**
 * The wait a 429 asks for: `retry-after-ms`, then `retry-after` (seconds or an HTTP date), then the
 * `x-ratelimit-reset-*` of the exhausted dimension (the larger when unclear), then "try again in 20s" in the message.
 */
export function retryAfterMsOf(headers: Headers, message = "", nowMs = Date.now()): number | null {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.ceil(Number(ms));
  const ra = headers.get("retry-after");
  if (ra !== null) {
    if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.ceil(Number(ra) * 1000);
    const at = Date.parse(ra);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  const requests = parseResetDurationMs(headers.get("x-ratelimit-reset-requests"));
  const tokens = parseResetDurationMs(headers.get("x-ratelimit-reset-tokens"));
  const spent = (dim: string) => headers.get(`x-ratelimit-remaining-${dim}`)?.trim() === "0";
  if (spent("requests") && requests !== null && !spent("tokens")) return requests;
  if (spent("tokens") && tokens !== null && !spent("requests")) return tokens;
  if (requests !== null || tokens !== null) return Math.max(requests ?? 0, tokens ?? 0);
  const m = /(?:try again|retry after) in (\d+(?:\.\d+)?)\s*(ms|s|seconds?)\b|retry after (\d+(?:\.\d+)?)\s*seconds?/i.exec(message);
  if (m) return m[3] !== undefined ? Math.ceil(Number(m[3]) * 1000) : Math.ceil(Number(m[1]) * (m[2] === "ms" ? 1 : 1000));
  return null;
}

interface ErrorBody {
  message: string;
  code: string | null;
  type: string | null;
  param: string | null;
}

/** `{"error": {message, type, param, code}}` (OpenAI, Ollama, vLLM), Azure's `{"error": {code, message}}`, or text. */
function errorBodyOf(text: string): ErrorBody {
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown };
    const e = (typeof parsed.error === "object" && parsed.error !== null ? parsed.error : parsed) as Record<string, unknown>;
    const s = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : null);
    const message = s(e.message) ?? s(parsed.error) ?? s(parsed.detail) ?? text.slice(0, 300);
    return { message, code: s(e.code), type: s(e.type), param: s(e.param) };
  } catch {
    return { message: text.slice(0, 300), code: null, type: null, param: null };
  }
}

/** A 400 that says the server does not take the parameter (response_format / max_tokens). */
function rejectsParam(err: ErrorBody, param: string): boolean {
  if (err.param === param || err.param?.startsWith(`${param}.`)) return true;
  return (
    new RegExp(param.replace("_", "[_ ]?"), "i").test(err.message) &&
    /not supported|unsupported|unknown|unrecognized|invalid|not allowed|extra/i.test(err.message)
  );
}

function usageOf(body: Record<string, unknown>): TokenUsage | null {
  const u = body.usage as Record<string, unknown> | undefined | null;
  if (!u || typeof u !== "object") return null;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0);
  const promptTokens = n(u.prompt_tokens);
  const cached = n((u.prompt_tokens_details as Record<string, unknown> | undefined)?.cached_tokens);
  const reasoning = n((u.completion_tokens_details as Record<string, unknown> | undefined)?.reasoning_tokens);
  const completion = n(u.completion_tokens);
  // completion_tokens includes reasoning tokens; keep them apart like Gemini's thoughts (both billed as output).
  return { promptTokens, cachedTokens: Math.min(cached, promptTokens), outputTokens: Math.max(0, completion - reasoning), thoughtsTokens: reasoning };
}

function looksLikeJson(text: string): boolean {
  const t = text
    .trim()
    .replace(/^```(?:json)?\s*/i, "")
    .replace(/```$/, "")
    .trim();
  try {
    JSON.parse(t);
    return true;
  } catch {
    return false;
  }
}

/** Read at most maxBytes of a body (a server streaming garbage cannot exhaust memory). */
async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new Error(`response body larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

type Mode = "json_schema" | "plain";

/** The OpenAI-compatible backend. One per tier; it remembers what the server supports. */
export function createOpenAiClient(opts: OpenAiClientOptions): ModelClient & { readonly structuredOutput: Mode } {
  const url = chatCompletionsUrl(opts.baseUrl, opts.apiVersion);
  const doFetch = opts.fetch ?? fetch;
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const setting = opts.responseFormat ?? "auto";
  let mode: Mode = setting === "off" ? "plain" : "json_schema";
  let tokensParam: "max_tokens" | "max_completion_tokens" = "max_tokens";
  let ignoredInARow = 0;
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json" };
  if (opts.apiKey) {
    if (opts.apiVersion) headers["api-key"] = opts.apiKey;
    else headers.authorization = `Bearer ${opts.apiKey}`;
  }
  const where = url.replace(/\?.*$/, "");

  const fallBack = (reason: string) => {
    if (mode === "plain" || setting !== "auto") return;
    mode = "plain";
    opts.onFallback?.(reason);
  };

  const bodyOf = (req: ModelRequest): string => {
    const plain = mode === "plain";
    const body: Record<string, unknown> = {
      model: opts.model,
      messages: [
        { role: "system", content: plain ? `${req.systemInstruction}\n${PLAIN_JSON_NOTE}` : req.systemInstruction },
        { role: "user", content: req.userPrompt },
      ],
      [tokensParam]: req.maxOutputTokens,
      n: 1,
      stream: false,
    };
    if (!plain)
      body.response_format = { type: "json_schema", json_schema: { name: "triage_verdicts", schema: strictJsonSchema(req.responseSchema), strict: true } };
    return JSON.stringify(body);
  };

  const once = async (req: ModelRequest, signal: AbortSignal): Promise<ModelReply | { kind: "retry_now" }> => {
    const sentMode = mode;
    const res = await doFetch(url, { method: "POST", headers, body: bodyOf(req), signal });
    const text = await readCapped(res, maxBytes);
    if (res.ok) {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // A proxy's HTML page or a body cut mid-way: transient as far as we can tell.
        return {
          kind: "unavailable",
          timeout: false,
          status: res.status,
          message: `OpenAI-compatible server at ${where} sent a 200 that is not JSON: ${text.slice(0, 120)}`,
        };
      }
      return fromCompletion(body, sentMode);
    }
    const err = errorBodyOf(text);
    const status = res.status;
    if (status === 400 || status === 422) {
      if (sentMode === "json_schema" && setting === "auto" && rejectsParam(err, "response_format")) {
        fallBack(`the server rejected response_format json_schema (${status}: ${err.message.slice(0, 200)})`);
        return { kind: "retry_now" };
      }
      // Only the "use max_completion_tokens instead" refusal (reasoning models), not a max_tokens value out of range.
      if (tokensParam === "max_tokens" && rejectsParam(err, "max_tokens") && /max_completion_tokens/i.test(err.message)) {
        tokensParam = "max_completion_tokens";
        return { kind: "retry_now" };
      }
    }
    return fromError(status, err, res.headers, where);
  };

  const fromCompletion = (body: Record<string, unknown>, sentMode: Mode): ModelReply => {
    const usage = usageOf(body);
    const choice = (Array.isArray(body.choices) ? body.choices[0] : undefined) as Record<string, unknown> | undefined;
    if (!choice) return { kind: "empty", usage };
    const message = (choice.message ?? {}) as Record<string, unknown>;
    const finishReason = typeof choice.finish_reason === "string" ? choice.finish_reason : "stop";
    if (typeof message.refusal === "string" && message.refusal.trim() !== "")
      return { kind: "blocked", reason: `answer refused: ${message.refusal.slice(0, 200)}`, usage };
    if (finishReason === "content_filter") return { kind: "blocked", reason: "answer blocked: content_filter", usage };
    const content = typeof message.content === "string" ? message.content : "";
    const truncated = finishReason === "length";
    if (content.trim() === "" && !truncated) return { kind: "empty", usage };
    if (sentMode === "json_schema" && !truncated && setting === "auto") {
      ignoredInARow = looksLikeJson(content) ? 0 : ignoredInARow + 1;
      if (ignoredInARow >= IGNORED_ANSWERS_BEFORE_FALLBACK) fallBack(`${ignoredInARow} answers in a row ignored response_format json_schema`);
    }
    return { kind: "answer", text: content, truncated, finishReason, usage };
  };

  return {
    model: opts.model,
    get structuredOutput() {
      return mode;
    },
    async generate(req: ModelRequest): Promise<ModelReply> {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), req.timeoutMs);
      try {
        // At most two feature fallbacks (response_format, max_tokens) plus the real call, all within one timeout.
        for (let i = 0; i < 3; i++) {
          const r = await once(req, controller.signal);
          if (r.kind !== "retry_now") return r;
        }
        return { kind: "rejected", code: "bad_request", status: 400, message: `OpenAI-compatible server at ${where} kept rejecting the request's parameters` };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (controller.signal.aborted)
          return { kind: "unavailable", timeout: true, status: null, message: `no answer from ${where} within ${req.timeoutMs} ms` };
        // Connection refused/reset, DNS, a body cut mid-read: transient as far as we can tell.
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
        return { kind: "unavailable", timeout: false, status: null, message: `${message}${cause}` };
      } finally {
        clearTimeout(timer);
      }
    },
  };

  function fromError(status: number, err: ErrorBody, h: Headers, at: string): ModelReply {
    const text = err.message.slice(0, 500);
    if (status === 429) {
      // insufficient_quota (billing) does not pass by waiting; treat it like a spent daily quota.
      const daily = err.code === "insufficient_quota" || err.type === "insufficient_quota";
      return { kind: "rate_limited", retryAfterMs: retryAfterMsOf(h, text), daily, message: text };
    }
    if (status === 401 || status === 403)
      return { kind: "rejected", code: "auth", status, message: `OpenAI-compatible server at ${at} rejected OPENAI_API_KEY (${status}): ${text}` };
    if (status === 404) {
      return {
        kind: "rejected",
        code: "model_not_found",
        status,
        message:
          `OPENAI_MODEL "${opts.model}" (or the endpoint) was not found at ${at} (404${err.code ? ` ${err.code}` : ""}: ${text.slice(0, 200)}) ` +
          `— check OPENAI_MODEL and OPENAI_BASE_URL (Azure: the deployment URL and OPENAI_API_VERSION)`,
      };
    }
    if (status === 408 || status === 409 || status >= 500) return { kind: "unavailable", timeout: status === 408 || status === 504, status, message: text };
    return { kind: "rejected", code: "bad_request", status, message: `${status}: ${text}` };
  }
}
