import { z } from "zod";
import { int, num, oneOf, optionalStr, str, groupSchema, type Option } from "./options.js";

/** The model backends a tier can use: Gemini (GEMINI_* options) or an OpenAI-compatible server (OPENAI_* options). */
export const MODEL_PROVIDERS = ["gemini", "openai"] as const;
export type ModelProvider = (typeof MODEL_PROVIDERS)[number];

/** Optional decimal option (unset = derived elsewhere). */
function optionalNum(description: string, min: number, max: number): Option<z.ZodType<number | undefined>> {
  const fromEnv = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
  return {
    schema: z.preprocess(fromEnv, z.coerce.number().min(min).max(max).optional()) as z.ZodType<number | undefined>,
    doc: { description, default: "(unset)", bounds: `${min}–${max}` },
  };
}

/** The same option with human bounds (a regex with `|` would break the README table generated from the docs). */
function withBounds<T extends z.ZodType>(o: Option<T>, bounds: string): Option<T> {
  return { schema: o.schema, doc: { ...o.doc, bounds } };
}

const httpUrl = /^https?:\/\/[^\s/]+(\/\S*)?$/;

/**
 * Model selection (provider, tiers, escalation), the OpenAI-compatible backend and prompt pseudonymisation.
 * Spread into the schema's `options`; cross-field rules are in {@link modelConfigIssues}.
 */
export const modelOptions = {
  MODEL_PROVIDER: oneOf(
    "Backend of the model classifier when MODEL_TIERS is empty: `gemini` (GEMINI_* options; no GEMINI_API_KEY = rules only) or `openai` (any " +
      "OpenAI-compatible Chat Completions server, OPENAI_* options).",
    MODEL_PROVIDERS,
    "gemini",
  ),
  MODEL_TIERS: withBounds(
    str(
      "Two-tier classification as `first,escalation` providers, e.g. `openai,gemini` (a local model first, Gemini for hard cases). Empty: one tier, " +
        "MODEL_PROVIDER.",
      "",
      /^$|^(gemini|openai),(gemini|openai)$/,
    ),
    "empty, or `first,escalation` of gemini / openai",
  ),
  ESCALATE_BELOW_CONFIDENCE: int(
    "With MODEL_TIERS: a first-tier answer below this confidence goes to the escalation tier (as do needs_review answers, degraded ones and alerts the " +
      "injection guard flags); 0 = never for confidence, 101 = every answer.",
    70,
    0,
    101,
  ),
  ESCALATE_CRITICAL: oneOf("With MODEL_TIERS: critical alerts go straight to the escalation tier.", ["true", "false"] as const, "true"),
  OPENAI_BASE_URL: str(
    "OpenAI-compatible server: origin (with or without `/v1`), e.g. Ollama `http://127.0.0.1:11434`, vLLM, LiteLLM, LM Studio, " +
      "`https://api.openai.com`; for Azure the deployment URL `https://RESOURCE.openai.azure.com/openai/deployments/DEPLOYMENT`.",
    "http://127.0.0.1:11434",
    httpUrl,
  ),
  OPENAI_API_KEY: optionalStr("Key for the OpenAI-compatible server (Bearer; Azure: `api-key` header). Unset for local servers that need none.", true),
  OPENAI_MODEL: optionalStr(
    "Model id sent to the OpenAI-compatible server and stamped on verdicts (e.g. `llama3.1:8b`, `gpt-4.1-mini`). Required when a tier uses `openai`.",
  ),
  OPENAI_API_VERSION: optionalStr(
    "Azure OpenAI `api-version` (e.g. `2024-10-21`). Set = Azure mode: OPENAI_BASE_URL is the deployment URL and the key goes in `api-key`.",
  ),
  OPENAI_RESPONSE_FORMAT: oneOf(
    "Structured output: `auto` sends response_format json_schema and falls back to plain JSON when the server rejects or ignores it; `json_schema` " +
      "always sends it; `off` never does.",
    ["auto", "json_schema", "off"] as const,
    "auto",
  ),
  OPENAI_TIMEOUT_MS: int(
    "Longest one OpenAI-compatible request may take before it is aborted and retried (local models on CPU are slow).",
    120_000,
    1000,
    600_000,
  ),
  OPENAI_MAX_ALERTS_PER_REQUEST: int("Most alerts per OpenAI-compatible request (small local models do better with fewer).", 10, 1, 200),
  OPENAI_MAX_INPUT_TOKENS_PER_REQUEST: int(
    "Estimated prompt-token budget of one OpenAI-compatible request (keep below the model's context).",
    8_000,
    500,
    1_000_000,
  ),
  OPENAI_OUTPUT_TOKENS_PER_ALERT: int("Answer tokens allowed per alert (sets max_tokens and the cost estimate).", 400, 50, 8192),
  OPENAI_CONCURRENCY: int("OpenAI-compatible requests in flight at once.", 2, 1, 256),
  OPENAI_RPM: int("Requests per OPENAI_RATE_WINDOW_MS allowed by the server (0 = no limit).", 0, 0, 1_000_000),
  OPENAI_TPM: int("Input tokens per OPENAI_RATE_WINDOW_MS allowed by the server (0 = no limit).", 0, 0, 1_000_000_000),
  OPENAI_RPD: int("Requests per UTC day (0 = no limit); when spent, that tier's alerts go to the rules (or escalate).", 0, 0, 100_000_000),
  OPENAI_RATE_WINDOW_MS: int("Length of the OPENAI_RPM/TPM window; 60000 in production, shorter to scale tests down.", 60_000, 100, 3_600_000),
  OPENAI_QUEUE_WAIT_MAX_MS: int("Longest an OpenAI-compatible request waits for quota before the wait counts as a failed attempt.", 120_000, 100, 3_600_000),
  OPENAI_RETRY_DEADLINE_MS: int(
    "How long a batch is retried against the OpenAI-compatible server (429, 5xx, timeouts) before its alerts fall back.",
    120_000,
    1000,
    3_600_000,
  ),
  OPENAI_PRICE_INPUT_PER_MTOK: num("USD per 1M input tokens of OPENAI_MODEL (0 for a local model).", 0, 0, 1000),
  OPENAI_PRICE_OUTPUT_PER_MTOK: num("USD per 1M output (incl. reasoning) tokens of OPENAI_MODEL (0 for a local model).", 0, 0, 1000),
  OPENAI_PRICE_CACHED_INPUT_PER_MTOK: optionalNum(
    "USD per 1M cached input tokens (prompt_tokens_details.cached_tokens). Unset: OPENAI_PRICE_INPUT_PER_MTOK.",
    0,
    1000,
  ),
  OPENAI_DAILY_BUDGET_USD: num(
    "Spend allowed per UTC day on the OpenAI-compatible tier (0 = no limit); the Gemini tier has TRIAGE_DAILY_BUDGET_USD.",
    5,
    0,
    1_000_000,
  ),
  PSEUDONYMIZE: oneOf(
    "Replace user names, host names, e-mail addresses, private IPs and PSEUDONYMIZE_EXTRA_FIELDS by stable keyed tokens (`user_…`, `host_…`) in " +
      "everything sent to a model; verdicts name the real values again.",
    ["true", "false"] as const,
    "false",
  ),
  PSEUDONYMIZE_SECRET: optionalStr(
    "HMAC-SHA256 key of the pseudonym tokens (at least 32 characters; keep it per deployment, rotating it changes every token). Required with " +
      "PSEUDONYMIZE=true.",
    true,
  ),
  PSEUDONYMIZE_PUBLIC_IPS: oneOf("Also tokenise public IPs (threat intel is looked up before, with the real address).", ["true", "false"] as const, "false"),
  PSEUDONYMIZE_EXTRA_FIELDS: withBounds(
    str(
      "Comma-separated alert field names (any nesting level) whose values are tokenised too; the token kind follows the name (user/account → `user_`, " +
        "host/computer → `host_`, mail → `email_`, ip/addr → `ip_`, else `id_`).",
      "",
      /^$|^[A-Za-z0-9_.@-]+(,[A-Za-z0-9_.@-]+)*$/,
    ),
    "comma-separated field names",
  ),
} as const;

/** Just these options, parsed (for tests and tools). */
export const modelSchema = groupSchema(modelOptions);
export type ModelConfig = Readonly<z.infer<typeof modelSchema>>;

/** The providers of the model tiers, first tier first (one entry without MODEL_TIERS). */
export function modelTiers(c: Pick<ModelConfig, "MODEL_PROVIDER" | "MODEL_TIERS">): ModelProvider[] {
  return c.MODEL_TIERS === "" ? [c.MODEL_PROVIDER] : (c.MODEL_TIERS.split(",") as ModelProvider[]);
}

/** Whether a model classifier runs at all (else every alert is decided by the offline rules). */
export function modelConfigured(c: Pick<ModelConfig, "MODEL_PROVIDER" | "MODEL_TIERS"> & { GEMINI_API_KEY?: string | undefined }): boolean {
  const tiers = modelTiers(c);
  return tiers.length > 1 || tiers[0] === "openai" || Boolean(c.GEMINI_API_KEY);
}

export const MIN_PSEUDONYMIZE_SECRET_CHARS = 32;

/** Cross-field problems (the secret's value never appears in a message). */
export function modelConfigIssues(c: ModelConfig & { GEMINI_API_KEY?: string | undefined }): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const tiers = modelTiers(c);
  if (tiers.length === 2 && tiers[0] === tiers[1])
    out.push({ path: "MODEL_TIERS", message: "the two tiers must use different providers (e.g. `openai,gemini`)" });
  if (tiers.includes("openai") && !c.OPENAI_MODEL) out.push({ path: "OPENAI_MODEL", message: "required when a tier uses the openai provider" });
  if (tiers.length === 2 && tiers.includes("gemini") && !c.GEMINI_API_KEY)
    out.push({ path: "GEMINI_API_KEY", message: "required when MODEL_TIERS uses gemini" });
  if (c.PSEUDONYMIZE === "true" && (c.PSEUDONYMIZE_SECRET ?? "").length < MIN_PSEUDONYMIZE_SECRET_CHARS) {
    out.push({ path: "PSEUDONYMIZE_SECRET", message: `PSEUDONYMIZE=true requires a secret of at least ${MIN_PSEUDONYMIZE_SECRET_CHARS} characters` });
  }
  return out;
}

/** zod refinement of the whole config with {@link modelConfigIssues}. */
export function refineModelConfig(c: ModelConfig & { GEMINI_API_KEY?: string | undefined }, ctx: z.RefinementCtx): void {
  for (const issue of modelConfigIssues(c)) ctx.addIssue({ code: "custom", path: [issue.path], message: issue.message });
}
