/**
 * The one file that knows `@google/generative-ai` (0.24.1, the legacy SDK): it implements our ModelClient port and
 * turns every SDK outcome into a ModelReply value. Switching to `@google/genai` means rewriting only this file.
 */
import {
  GoogleGenerativeAI,
  GoogleGenerativeAIAbortError,
  GoogleGenerativeAIFetchError,
  type EnhancedGenerateContentResponse,
  type GenerationConfig,
  type RequestOptions,
  type ResponseSchema,
} from "@google/generative-ai";
import type { ModelClient, ModelReply, ModelRequest, TokenUsage } from "./model-port.js";
import { retryDelayMs } from "./retry-info.js";

export interface GeminiClientOptions {
  apiKey: string;
  /** Model id without `models/`. */
  model: string;
  /** SDK baseUrl (origin, optionally with a path prefix); undefined = Google's endpoint. */
  baseUrl?: string | undefined;
}

/** Finish reasons meaning "the answer was withheld", not "the answer is here". */
const BLOCKING_FINISH = new Set(["SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"]);

/** Gemini behind our port. One SDK client per process; a model handle per call (cheap, carries the per-call schema). */
export function createGeminiClient(opts: GeminiClientOptions): ModelClient {
  const sdk = new GoogleGenerativeAI(opts.apiKey);
  // Trailing slashes would give `//v1beta/...` (the SDK does not normalise baseUrl).
  const requestOptions: RequestOptions = opts.baseUrl ? { baseUrl: opts.baseUrl.replace(/\/+$/, "") } : {};
  const where = requestOptions.baseUrl ?? "https://generativelanguage.googleapis.com";

  return {
    model: opts.model,
    async generate(req: ModelRequest): Promise<ModelReply> {
      const generationConfig: GenerationConfig = {
        responseMimeType: "application/json",
        responseSchema: req.responseSchema as unknown as ResponseSchema,
        maxOutputTokens: req.maxOutputTokens,
        candidateCount: 1,
      };
      const model = sdk.getGenerativeModel({ model: opts.model, systemInstruction: req.systemInstruction, generationConfig }, requestOptions);
      // Our own timer, cleared in finally: the SDK's requestOptions.timeout timer is never cleared and would keep
      // the process alive after every fast answer (reference §A.1).
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), req.timeoutMs);
      try {
        const result = await model.generateContent({ contents: [{ role: "user", parts: [{ text: req.userPrompt }] }] }, { signal: controller.signal });
        return fromResponse(result.response);
      } catch (err) {
        return fromError(err, controller.signal.aborted, opts.model, where);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function usageOf(response: EnhancedGenerateContentResponse): TokenUsage | null {
  const u = response.usageMetadata as (Record<string, unknown> & { promptTokenCount?: number; candidatesTokenCount?: number }) | undefined;
  if (!u) return null;
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  // thoughtsTokenCount is not typed in 0.24 but survives in the parsed body.
  return { promptTokens: n(u.promptTokenCount), outputTokens: n(u.candidatesTokenCount), thoughtsTokens: n(u.thoughtsTokenCount) };
}

/** Read the candidate ourselves: response.text() throws on SAFETY and silently returns "" on other blocks. */
function fromResponse(response: EnhancedGenerateContentResponse): ModelReply {
  const usage = usageOf(response);
  const candidate = response.candidates?.[0];
  if (!candidate) {
    const blockReason = response.promptFeedback?.blockReason;
    return blockReason ? { kind: "blocked", reason: `prompt blocked: ${String(blockReason)}`, usage } : { kind: "empty", usage };
  }
  const finishReason = String(candidate.finishReason ?? "STOP");
  if (BLOCKING_FINISH.has(finishReason)) return { kind: "blocked", reason: `answer blocked: ${finishReason}`, usage };
  const text = (candidate.content?.parts ?? []).map((p) => (typeof p.text === "string" ? p.text : "")).join("");
  const truncated = finishReason === "MAX_TOKENS";
  if (text.trim() === "" && !truncated) return { kind: "empty", usage };
  return { kind: "answer", text, truncated, finishReason, usage };
}

function fromError(err: unknown, timedOut: boolean, model: string, where: string): ModelReply {
  const message = err instanceof Error ? err.message : String(err);
  if (timedOut || err instanceof GoogleGenerativeAIAbortError) return { kind: "unavailable", timeout: true, status: null, message };
  if (err instanceof GoogleGenerativeAIFetchError && typeof err.status === "number") {
    const status = err.status;
    if (status === 429) {
      const daily = JSON.stringify(err.errorDetails ?? []).includes("PerDay");
      return { kind: "rate_limited", retryAfterMs: retryDelayMs(err.errorDetails, message), daily, message };
    }
    if (status === 404) {
      return {
        kind: "rejected",
        code: "model_not_found",
        status,
        message: `GEMINI_MODEL "${model}" was not found at ${where} (404 NOT_FOUND): the id is retired or misspelled — set GEMINI_MODEL to a current model (https://ai.google.dev/gemini-api/docs/models), or check GEMINI_BASE_URL`,
      };
    }
    if (status === 401 || status === 403 || (status === 400 && /API_KEY_INVALID|API key not valid/i.test(message))) {
      return { kind: "rejected", code: "auth", status, message: `Gemini rejected GEMINI_API_KEY (${status}): ${message}` };
    }
    if (status === 408 || status >= 500) return { kind: "unavailable", timeout: status === 408 || status === 504, status, message };
    return { kind: "rejected", code: "bad_request", status, message };
  }
  // Network failures, bodies cut mid-read, unexpected SDK errors: transient as far as we can tell.
  return { kind: "unavailable", timeout: false, status: null, message };
}
