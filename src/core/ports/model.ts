/**
 * Our port to a structured-output LLM. The Gemini SDK adapter (transforms/classify/gemini.ts, on @google/genai) and
 * the OpenAI-compatible one (openai.ts) implement it; the
 * classifier and its tests only see these types, so switching SDKs touches one file.
 */

/** Tokens a request used, as the server reported them. */
export interface TokenUsage {
  /** All input tokens, cached ones included. */
  promptTokens: number;
  /** Input tokens served from the model's context cache (part of promptTokens, billed lower); absent = 0. */
  cachedTokens?: number;
  /** Visible answer tokens. */
  outputTokens: number;
  /** Thinking tokens (billed as output). */
  thoughtsTokens: number;
}

/** One structured-output call. */
export interface ModelRequest {
  systemInstruction: string;
  userPrompt: string;
  /** JSON Schema of the answer (sent as Gemini's responseJsonSchema). */
  responseSchema: Record<string, unknown>;
  maxOutputTokens: number;
  /** Abort the call after this long. */
  timeoutMs: number;
}

/**
 * Every way a call can end, as a value. `answer` may still be unusable (partial or malformed text); the
 * caller parses it. Errors carry what the retry policy needs and nothing SDK-specific.
 */
export type ModelReply =
  | { kind: "answer"; text: string; truncated: boolean; finishReason: string; usage: TokenUsage | null }
  /** The prompt or the answer was blocked (SAFETY, RECITATION, PROHIBITED_CONTENT, ...). */
  | { kind: "blocked"; reason: string; usage: TokenUsage | null }
  /** HTTP 200 without candidates or text. */
  | { kind: "empty"; usage: TokenUsage | null }
  /** 429 RESOURCE_EXHAUSTED; retryAfterMs from RetryInfo when sent; daily when a per-day quota was hit. */
  | { kind: "rate_limited"; retryAfterMs: number | null; daily: boolean; message: string }
  /** 5xx, network failure or timeout: worth retrying later. */
  | { kind: "unavailable"; timeout: boolean; status: number | null; message: string }
  /** Request rejected for good (bad key, unknown model, bad request): retrying cannot help. */
  | { kind: "rejected"; code: "model_not_found" | "auth" | "bad_request"; status: number | null; message: string };

/** A model we can ask for structured JSON. */
export interface ModelClient {
  /** Model id stamped on verdicts. */
  readonly model: string;
  generate(request: ModelRequest): Promise<ModelReply>;
}
