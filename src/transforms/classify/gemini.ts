/**
 * The one file that knows `@google/genai` (the supported Gemini SDK): it implements our ModelClient port and turns
 * every SDK outcome into a ModelReply value. Retries, timeouts and quota live outside, in our own layers.
 */
import { ApiError, GoogleGenAI, ThinkingLevel, type GenerateContentConfig, type GenerateContentResponse, type ThinkingConfig } from "@google/genai";
import type { ModelClient, ModelReply, ModelRequest, TokenUsage } from "../../core/ports/index.js";
import { retryDelayMs } from "./retry-info.js";

export interface GeminiClientOptions {
  apiKey: string;
  /** Model id without `models/`. */
  model: string;
  /** Origin of the API (optionally with a path prefix); undefined = Google's endpoint. */
  baseUrl?: string | undefined;
}

/**
 * API version we speak. Pinned rather than left to the SDK (3.x defaults to `v1`): `v1beta` is the surface Google
 * documents responseJsonSchema, thinking levels and usage details on, and a default changing under an SDK update
 * must not change what we send.
 */
export const GEMINI_API_VERSION = "v1beta";

/** Finish reasons meaning "the answer was withheld", not "the answer is here". */
const BLOCKING_FINISH = new Set(["SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT"]);

/**
 * Sampling/thinking settings per model family. 3.x models take `thinkingLevel` (3.5+ reject `thinkingBudget`) and
 * Flash-Lite ignores custom temperature/topP, so neither is sent; Flash-Lite thinks "minimal" (Google's default for
 * classification), other 3.x "low". 2.5 models take `thinkingBudget` in tokens, which counts against maxOutputTokens:
 * 0 (off) where the model allows it, Pro's minimum (128) otherwise. Older models get no thinking config at all.
 */
export function thinkingConfigFor(model: string): ThinkingConfig | undefined {
  const id = model.toLowerCase();
  if (/^gemini-[3-9]/.test(id)) return { thinkingLevel: id.includes("flash-lite") ? ThinkingLevel.MINIMAL : ThinkingLevel.LOW };
  if (id.startsWith("gemini-2.5")) return { thinkingBudget: id.includes("pro") ? 128 : 0 };
  return undefined;
}

/** Gemini behind our port. One SDK client per process, no SDK retries (ours wrap this client). */
export function createGeminiClient(opts: GeminiClientOptions): ModelClient {
  // Trailing slashes would give `//v1beta/...`.
  const baseUrl = opts.baseUrl?.replace(/\/+$/, "");
  // No `retryOptions`: the SDK then sends each call exactly once (it retries only when retryOptions is set), so our
  // retry policy (llm-classifier) is the only one. No `timeout`: the SDK's per-attempt timer outlives fast answers;
  // ours below is cleared in finally.
  const sdk = new GoogleGenAI({ apiKey: opts.apiKey, apiVersion: GEMINI_API_VERSION, ...(baseUrl ? { httpOptions: { baseUrl } } : {}) });
  const where = baseUrl ?? "https://generativelanguage.googleapis.com";
  const thinkingConfig = thinkingConfigFor(opts.model);

  return {
    model: opts.model,
    async generate(req: ModelRequest): Promise<ModelReply> {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), req.timeoutMs);
      const config: GenerateContentConfig = {
        // The system prompt is the first thing the model reads and the same bytes on every call (nothing per-call in
        // it), so Gemini's implicit context cache can serve it (cachedContentTokenCount, billed lower).
        systemInstruction: req.systemInstruction,
        responseMimeType: "application/json",
        responseJsonSchema: req.responseSchema,
        maxOutputTokens: req.maxOutputTokens,
        candidateCount: 1,
        ...(thinkingConfig ? { thinkingConfig } : {}),
        abortSignal: controller.signal,
        // A CONTINUATION finish would make the SDK send follow-up requests on its own: one call, one request.
        automaticContinuation: false,
      };
      try {
        const response = await sdk.models.generateContent({ model: opts.model, contents: [{ role: "user", parts: [{ text: req.userPrompt }] }], config });
        return fromResponse(response);
      } catch (err) {
        return fromError(err, controller.signal.aborted, opts.model, where);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function usageOf(response: GenerateContentResponse): TokenUsage | null {
  const u = response.usageMetadata;
  if (!u) return null;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : 0);
  const promptTokens = n(u.promptTokenCount);
  // cachedContentTokenCount is part of promptTokenCount; never more than it, whatever the server says.
  return {
    promptTokens,
    cachedTokens: Math.min(n(u.cachedContentTokenCount), promptTokens),
    outputTokens: n(u.candidatesTokenCount),
    thoughtsTokens: n(u.thoughtsTokenCount),
  };
}

/** Read the candidate ourselves: `response.text` warns on non-text parts and says nothing about why text is missing. */
function fromResponse(response: GenerateContentResponse): ModelReply {
  const usage = usageOf(response);
  const candidate = response.candidates?.[0];
  if (!candidate) {
    const blockReason = response.promptFeedback?.blockReason;
    return blockReason ? { kind: "blocked", reason: `prompt blocked: ${String(blockReason)}`, usage } : { kind: "empty", usage };
  }
  const finishReason = String(candidate.finishReason ?? "STOP");
  if (BLOCKING_FINISH.has(finishReason)) return { kind: "blocked", reason: `answer blocked: ${finishReason}`, usage };
  // Thought summaries (thought: true) are not the answer.
  const text = (candidate.content?.parts ?? []).map((p) => (typeof p.text === "string" && p.thought !== true ? p.text : "")).join("");
  const truncated = finishReason === "MAX_TOKENS";
  if (text.trim() === "" && !truncated) return { kind: "empty", usage };
  return { kind: "answer", text, truncated, finishReason, usage };
}

/** The SDK's ApiError carries the HTTP status and the response body (JSON text) as its message. */
function errorBody(err: ApiError): { message: string; details: unknown } {
  try {
    const parsed = JSON.parse(err.message) as { error?: { message?: unknown; details?: unknown } };
    const message = typeof parsed.error?.message === "string" ? parsed.error.message : err.message;
    return { message, details: parsed.error?.details };
  } catch {
    return { message: err.message, details: undefined };
  }
}

function fromError(err: unknown, timedOut: boolean, model: string, where: string): ModelReply {
  const raw = err instanceof Error ? err.message : String(err);
  if (timedOut || (err instanceof Error && err.name === "AbortError")) return { kind: "unavailable", timeout: true, status: null, message: raw };
  if (err instanceof ApiError && typeof err.status === "number") {
    const status = err.status;
    const { message, details } = errorBody(err);
    if (status === 429) {
      const daily = JSON.stringify(details ?? []).includes("PerDay");
      return { kind: "rate_limited", retryAfterMs: retryDelayMs(details, message), daily, message };
    }
    if (status === 404) {
      return {
        kind: "rejected",
        code: "model_not_found",
        status,
        message:
          `GEMINI_MODEL "${model}" was not found at ${where} (404 NOT_FOUND): the id is retired or misspelled — set GEMINI_MODEL to a current ` +
          `model (https://ai.google.dev/gemini-api/docs/models), or check GEMINI_BASE_URL`,
      };
    }
    if (status === 401 || status === 403 || (status === 400 && /API_KEY_INVALID|API key not valid/i.test(raw))) {
      return { kind: "rejected", code: "auth", status, message: `Gemini rejected GEMINI_API_KEY (${status}): ${message}` };
    }
    if (status === 408 || status >= 500) return { kind: "unavailable", timeout: status === 408 || status === 504, status, message };
    return { kind: "rejected", code: "bad_request", status, message };
  }
  // Network failures, bodies cut mid-read, unexpected SDK errors: transient as far as we can tell.
  return { kind: "unavailable", timeout: false, status: null, message: raw };
}
