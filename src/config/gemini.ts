import { z } from "zod";
import { int, num, optionalStr, str, type Option } from "./options.js";

/**
 * Default model. gemini-2.5-flash-lite (the prototype's) was shut down on 2026-07-22 (deprecations page, see
 * shared/reference/external-apis.md §A.6); gemini-3.5-flash-lite is the GA (stable) Flash-Lite Google lists since
 * July 2026 (https://ai.google.dev/gemini-api/docs/whats-new-gemini-3.6, models/gemini-3.5-flash-lite), thinking
 * level "minimal" by default, which suits high-volume classification; gemini-3.1-flash-lite (GA May 2026) is the
 * cheaper fallback. Ids retire often: a 404 names GEMINI_MODEL so the fix is one env var.
 */
export const DEFAULT_GEMINI_MODEL = "gemini-3.5-flash-lite";

/** USD per 1M tokens (paid tier, standard, text). Output includes thinking tokens. */
export interface ModelPrices {
  inputPerMTok: number;
  /** Input tokens served from the context cache (implicit or explicit); absent = the input price (never under-counts). */
  cachedInputPerMTok?: number;
  outputPerMTok: number;
}

/**
 * Known per-model prices, checked 2026-12-01. Input/output: Google's pricing page (https://ai.google.dev/gemini-api/docs/pricing)
 * as transcribed on 2026-10-07 (api-evangelist/deepmind plans/deepmind-plans-pricing.yml) for 3.5 Flash-Lite
 * ($0.30/$2.50), 2.5 Flash and 2.5 Flash-Lite; 3.1 Flash-Lite from provider catalogues listing Google's price
 * ($0.25/$1.50). Cached input is a tenth of the input price on these models (context-caching rows of the pricing
 * page; 3.5 Flash-Lite $0.03 as relisted at "official price" by resellers). 2.0 Flash from the reference doc §A.7.
 * Override with GEMINI_PRICE_*_PER_MTOK when they change.
 */
export const GEMINI_MODEL_PRICES: Readonly<Record<string, Required<ModelPrices>>> = {
  "gemini-3.5-flash-lite": { inputPerMTok: 0.3, cachedInputPerMTok: 0.03, outputPerMTok: 2.5 },
  "gemini-3.1-flash-lite": { inputPerMTok: 0.25, cachedInputPerMTok: 0.025, outputPerMTok: 1.5 },
  "gemini-2.5-flash-lite": { inputPerMTok: 0.1, cachedInputPerMTok: 0.01, outputPerMTok: 0.4 },
  "gemini-2.5-flash": { inputPerMTok: 0.3, cachedInputPerMTok: 0.03, outputPerMTok: 2.5 },
  "gemini-2.0-flash": { inputPerMTok: 0.1, cachedInputPerMTok: 0.025, outputPerMTok: 0.4 },
};

/** Optional decimal option (unset = derived elsewhere). */
function optionalNum(description: string, min: number, max: number): Option<z.ZodType<number | undefined>> {
  const fromEnv = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
  return {
    schema: z.preprocess(fromEnv, z.coerce.number().min(min).max(max).optional()) as z.ZodType<number | undefined>,
    doc: { description, default: "(unset)", bounds: `${min}–${max}` },
  };
}

/** Optional http(s) URL (unset = the library default). */
function optionalUrl(description: string): Option<z.ZodType<string | undefined>> {
  const fromEnv = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
  return {
    schema: z.preprocess(
      fromEnv,
      z
        .string()
        .regex(/^https?:\/\/[^\s]+$/, "must be an http(s) URL")
        .optional(),
    ) as z.ZodType<string | undefined>,
    doc: { description, default: "(unset)", bounds: "http(s) URL" },
  };
}

/** Gemini classification options: model, request shaping, quota, retries, spend and the post-model guard. */
export const geminiOptions = {
  GEMINI_API_KEY: optionalStr("Gemini API key. Unset: every alert is decided by the offline rules classifier.", true),
  GEMINI_MODEL: str("Gemini model id (without `models/`). Google retires ids often; a 404 names this option.", DEFAULT_GEMINI_MODEL, /^[A-Za-z0-9._-]+$/),
  GEMINI_BASE_URL: optionalUrl("Origin of the Gemini API (the SDK's baseUrl), e.g. a proxy or a test fake. Unset: https://generativelanguage.googleapis.com."),
  GEMINI_TIMEOUT_MS: int("Longest one Gemini request may take (connect + answer) before it is aborted and retried.", 60000, 1000, 600000),
  GEMINI_MAX_ALERTS_PER_REQUEST: int("Most alerts classified by one Gemini request.", 25, 1, 200),
  GEMINI_CRITICAL_ALERTS_PER_REQUEST: int("Most critical alerts per request; critical alerts go in these smaller requests, sent first.", 10, 1, 200),
  GEMINI_MAX_INPUT_TOKENS_PER_REQUEST: int("Estimated prompt-token budget of one request; fewer alerts are packed when they are large.", 20000, 500, 1000000),
  GEMINI_OUTPUT_TOKENS_PER_ALERT: int("Answer tokens allowed per alert (sets maxOutputTokens and the cost estimate).", 400, 50, 8192),
  GEMINI_MAX_ALERT_CHARS: int("Characters of one alert (fields + threat intel) sent to the model; longer text is truncated.", 1500, 200, 20000),
  GEMINI_RPM: int("Requests per rate window allowed by the project's quota (0 = no limit). Match AI Studio's value to never get a 429.", 15, 0, 1000000),
  GEMINI_TPM: int("Input tokens per rate window allowed by the project's quota (0 = no limit).", 250000, 0, 1000000000),
  GEMINI_RPD: int(
    "Requests per day (resets at midnight Pacific, like Google's) (0 = no limit). When spent, alerts go to the rules classifier.",
    1000,
    0,
    100000000,
  ),
  GEMINI_CONCURRENCY: int("Gemini requests in flight at once.", 4, 1, 256),
  GEMINI_RATE_WINDOW_MS: int("Length of the RPM/TPM window; 60000 in production, shorter to scale tests down.", 60000, 100, 3600000),
  GEMINI_QUEUE_WAIT_MAX_MS: int("Longest a request waits for quota before the wait counts as a failed attempt.", 120000, 100, 3600000),
  GEMINI_RETRY_DEADLINE_MS: int("How long a batch is retried (429, 5xx, timeouts) before its alerts go to the rules classifier.", 120000, 1000, 3600000),
  GEMINI_PRICE_INPUT_PER_MTOK: optionalNum("USD per 1M input tokens. Unset: the built-in price of GEMINI_MODEL.", 0, 1000),
  GEMINI_PRICE_CACHED_INPUT_PER_MTOK: optionalNum(
    "USD per 1M input tokens served from Gemini's context cache (usageMetadata.cachedContentTokenCount). Unset: the built-in price of GEMINI_MODEL, or " +
      "GEMINI_PRICE_INPUT_PER_MTOK when that is set.",
    0,
    1000,
  ),
  GEMINI_PRICE_OUTPUT_PER_MTOK: optionalNum("USD per 1M output (incl. thinking) tokens. Unset: the built-in price of GEMINI_MODEL.", 0, 1000),
  TRIAGE_DAILY_BUDGET_USD: num("Model spend allowed per day (midnight Pacific); when spent, alerts go to the rules classifier (0 = no limit).", 5, 0, 1000000),
  GUARD_ABUSE_SCORE_MIN: int("AbuseIPDB confidence at or above which an alert can never be an automatic false_positive.", 90, 0, 100),
  GUARD_VT_MALICIOUS_MIN: int("VirusTotal engines flagging the IP at or above which an alert can never be an automatic false_positive.", 5, 1, 1000),
} as const;

/**
 * Prices for the configured model: explicit options win, then the built-in table; null when unknown. An explicit
 * input price without a cached price bills cached tokens at that input price (never below what was configured).
 */
export function resolveModelPrices(config: {
  GEMINI_MODEL: string;
  GEMINI_PRICE_INPUT_PER_MTOK?: number | undefined;
  GEMINI_PRICE_CACHED_INPUT_PER_MTOK?: number | undefined;
  GEMINI_PRICE_OUTPUT_PER_MTOK?: number | undefined;
}): Required<ModelPrices> | null {
  const known = GEMINI_MODEL_PRICES[config.GEMINI_MODEL];
  const inputPerMTok = config.GEMINI_PRICE_INPUT_PER_MTOK ?? known?.inputPerMTok;
  const outputPerMTok = config.GEMINI_PRICE_OUTPUT_PER_MTOK ?? known?.outputPerMTok;
  if (inputPerMTok === undefined || outputPerMTok === undefined) return null;
  const cachedInputPerMTok =
    config.GEMINI_PRICE_CACHED_INPUT_PER_MTOK ??
    (config.GEMINI_PRICE_INPUT_PER_MTOK !== undefined ? inputPerMTok : (known?.cachedInputPerMTok ?? inputPerMTok));
  return { inputPerMTok, cachedInputPerMTok, outputPerMTok };
}
