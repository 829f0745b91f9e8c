import type { z } from "zod";
import { int, num, optionalStr, type Option } from "./options.js";

/** Shortest HTTP_AUTH_TOKEN accepted: a short bearer token can be guessed by anyone who reaches the port. */
export const MIN_HTTP_AUTH_TOKEN_CHARS = 16;

/**
 * HTTP_AUTH_TOKEN: unset turns the API off; when set, at least {@link MIN_HTTP_AUTH_TOKEN_CHARS} characters and no
 * whitespace (a token with a space or a trailing newline can never match an `Authorization: Bearer` header, which would
 * leave the API silently closed). The option is secret, so the error never shows the value.
 */
function authToken(description: string): Option<z.ZodType<string | undefined>> {
  const base = optionalStr(description, true);
  return {
    schema: base.schema
      .refine((t) => t === undefined || t.length >= MIN_HTTP_AUTH_TOKEN_CHARS, {
        message: `HTTP_AUTH_TOKEN must be at least ${MIN_HTTP_AUTH_TOKEN_CHARS} characters long`,
      })
      .refine((t) => t === undefined || !/\s/.test(t), {
        message: "HTTP_AUTH_TOKEN must not contain whitespace (it could never match an `Authorization: Bearer` header)",
      }) as z.ZodType<string | undefined>,
    doc: { ...base.doc, bounds: `≥ ${MIN_HTTP_AUTH_TOKEN_CHARS} characters, no whitespace` },
  };
}

/** HTTP API options (POST /analyze, /analyze/batch, /v1/feedback); /metrics and health stay open. */
export const httpOptions = {
  HTTP_AUTH_TOKEN: authToken(
    "Bearer token of the API routes (`Authorization: Bearer <token>`). " +
      "Unset: the API routes are not served (401 `api_disabled`); health and metrics stay open either way.",
  ),
  HTTP_MAX_BODY_BYTES: int("Largest accepted request body; larger ones get 413.", 5_242_880, 1024, 104_857_600),
  HTTP_MAX_BATCH_ALERTS: int("Most alerts accepted by one POST /analyze/batch (and never more than MAX_INFLIGHT_ALERTS); more get 413.", 1000, 1, 100_000),
  HTTP_ADMISSION_WAIT_MS: int(
    "How long an API request waits for room for all its alerts in the read-ahead window (MAX_INFLIGHT_ALERTS) " +
      "before 503 + Retry-After; nothing of it is taken meanwhile.",
    5_000,
    0,
    60_000,
  ),
  HTTP_API_MODEL_SHARE: num(
    "Share of the model's daily requests the API may spend: at most share × RPD API alerts per 24 hours " +
      "(an alert costs at most one model request), 429 + Retry-After beyond, so Kafka alerts keep the rest. " +
      "RPD is the smallest of the tiers in use: GEMINI_RPD (with GEMINI_API_KEY), OPENAI_RPD. " +
      "Shared by all instances with CACHE_URL=redis://, else per instance. " +
      "Not applied when no tier has a daily limit (rules only, RPD 0).",
    0.2,
    0,
    1,
  ),
  HTTP_REQUEST_TIMEOUT_MS: int(
    "How long an API request waits for its verdicts; alerts still pending then are reported as `timeout` " +
      "with status 504 (they are still processed and published).",
    30_000,
    100,
    600_000,
  ),
} as const;
