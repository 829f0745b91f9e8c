/**
 * Every error code the service emits, in one place: the code is stable (a metric label, a DLQ `error_code`, an API
 * `error.code`), and each says where it arises, whether retrying can help, and what it means. `{upstream}`,
 * `{provider}` and `{model}` stand for a name (a limiter, a TI provider, a model backend); ERRORS.md is generated
 * from this table (`npm run docs:errors`).
 */
import type { Stage } from "./errors.js";

export interface ErrorCodeInfo {
  stage: Stage;
  /** Whether retrying the same thing later can succeed. */
  retriable: boolean;
  /** What happened, for a human reading a log line, a dead letter or an API reply. */
  description: string;
}

const c = (stage: Stage, retriable: boolean, description: string): ErrorCodeInfo => ({ stage, retriable, description });

export const ERROR_CODES = {
  // Bugs, shutdown
  unexpected: c("ops", false, "An error that is not one of ours (a bug): not retried, logged with its cause."),
  aborted: c("ops", false, "Shutdown ended a retry or wait; the affected alerts get a degraded verdict."),
  // Config and resources
  cache_url_invalid: c("config", false, "CACHE_URL has an unsupported scheme or cannot be parsed."),
  cache_unreachable: c("config", false, "Redis (REDIS_URL / CACHE_URL) could not be reached at start."),
  cache_write_failed: c("enrich", true, "The cache refused a write; the result is used uncached."),
  "kafka_{kafkajs_error}": c("source", true, "A Kafka client error (the KafkaJS error name, lower-cased); retriable as KafkaJS says."),
  output_write_failed: c("sink", false, "Verdicts or dead letters could not be written to the output file."),
  // Decode and normalize (dead-lettered with this code)
  empty_record: c("decode", false, "The Kafka record has no value."),
  record_too_large: c("decode", false, "The record is larger than the configured maximum."),
  invalid_utf8: c("decode", false, "The record is not valid UTF-8."),
  invalid_json: c("decode", false, "The record or request body is not valid JSON."),
  too_deep: c("decode", false, "JSON nesting deeper than MAX_JSON_DEPTH."),
  forbidden_key: c("decode", false, "The JSON has a key such as __proto__ that is never accepted."),
  not_an_object: c("decode", false, "The record is JSON but not an object."),
  unknown_format: c("normalize", false, "No SIEM format recognises the record."),
  formats_invalid: c("normalize", false, "The record matched no format; each format's problem is listed."),
  not_an_alert: c("normalize", false, "A mapping's reject rule says the record is not an alert."),
  invalid_field: c("normalize", false, "An alert field has a value of the wrong type or out of bounds."),
  missing_field: c("normalize", false, "A required alert field is missing."),
  invalid_alert: c("normalize", false, "The normalized alert fails the alert schema."),
  bad_labels_map: c("normalize", false, "The record's labels map is not a flat string map."),
  normalize_failed: c("normalize", false, "The normalizer failed on this record (reported, not thrown)."),
  // Feedback
  invalid_feedback: c("source", false, "A feedback record fails the feedback schema, or is dated in the future."),
  unknown_alert: c("source", false, "Feedback names an alert the verdict memory does not know."),
  ambiguous_alert: c("source", false, "Feedback names an alert id seen with different content; name the verdict instead."),
  unavailable: c("source", true, "Feedback cannot be recorded now (no verdict memory, or it is unreachable)."),
  // HTTP API
  api_disabled: c("ops", false, "The HTTP API is disabled until HTTP_AUTH_TOKEN is set."),
  unauthorized: c("ops", false, "Missing or wrong bearer token."),
  unsupported_media_type: c("ops", false, "Content-Type is not application/json."),
  not_an_array: c("source", false, "The request body is not an array of alerts (nor {alerts: [...]})."),
  too_many_alerts: c("source", false, "More alerts in one request than HTTP_MAX_BATCH_ALERTS or the read-ahead window."),
  api_share_spent: c("source", true, "The API's share of the read-ahead window is spent; Retry-After says when to come back."),
  busy: c("source", true, "The read-ahead window is full; retry shortly."),
  timeout: c("source", true, "No verdict within HTTP_REQUEST_TIMEOUT_MS; the alert is still being processed."),
  // Rate limiters (any upstream: gemini, openai, abuseipdb, virustotal)
  "{upstream}_daily_budget": c("classify", false, "(classify or enrich) The upstream's requests-per-day budget is spent; calls resume the next day."),
  "{upstream}_limiter_timeout": c("classify", true, "(classify or enrich) Waiting for quota would exceed the limiter's longest wait."),
  // LLM classification
  llm_budget_spent: c("classify", false, "The LLM spend budget (LLM_DAILY_BUDGET_USD) is spent; alerts go to the rules classifier."),
  "{model}_rate_limited": c("classify", true, "The model answered 429; the limiter pauses for its RetryInfo (a per-day 429 is not retried)."),
  "{model}_unavailable": c("classify", true, "The model answered 5xx or could not be reached."),
  "{model}_timeout": c("classify", true, "The model did not answer within the request timeout."),
  model_not_found: c("classify", false, "The configured model does not exist for this key; the backend is disabled until restart."),
  auth: c("classify", false, "The model API key is rejected; the backend is disabled until restart."),
  bad_request: c("classify", false, "The model refused this request as malformed; its alerts go to the rules classifier."),
  // Threat intel (provider: abuseipdb, virustotal)
  "{provider}_internal": c("enrich", false, "A bug in a provider's lookup; reported as an error result, not thrown."),
  "{provider}_unavailable": c("enrich", true, "The provider is failing (circuit breaker open) or unavailable; not called."),
  "{provider}_server_error": c("enrich", true, "The provider answered 5xx."),
  "{provider}_timeout": c("enrich", true, "The provider did not answer in time."),
  "{provider}_network": c("enrich", true, "The provider could not be reached."),
  "{provider}_bad_response": c("enrich", true, "A 200 whose body cannot be read (not JSON is retried; a wrong shape is not)."),
  "{provider}_rate_limited": c("enrich", true, "429: every request to the provider pauses for its Retry-After."),
  "{provider}_too_many_requests": c("enrich", true, "429 (VirusTotal): every request to the provider pauses."),
  "{provider}_quota_exceeded": c("enrich", true, "VirusTotal's QuotaExceededError: paused for one rate window, doubled on repeats."),
  "{provider}_daily_quota_exceeded": c("enrich", false, "The provider's daily quota is spent; lookups are skipped until it resets."),
  "{provider}_not_available_yet": c("enrich", true, "VirusTotal has no answer yet for this IP."),
  "{provider}_transient": c("enrich", true, "VirusTotal reports a transient error."),
  "{provider}_deadline_exceeded": c("enrich", true, "VirusTotal's own deadline was exceeded."),
  "{provider}_unauthorized": c("enrich", false, "The provider rejects the API key."),
  "{provider}_payment_required": c("enrich", false, "The provider requires a paid plan for this call."),
  "{provider}_forbidden": c("enrich", false, "The provider forbids this call for the key."),
  "{provider}_user_not_active": c("enrich", false, "The provider account is not active."),
  "{provider}_bad_request": c("enrich", false, "The provider rejects the request as malformed."),
  "{provider}_invalid_request": c("enrich", false, "The provider rejects the request (AbuseIPDB 422 not about the IP)."),
  "{provider}_invalid_ip": c("enrich", false, "The provider has nothing about this IP (422); cached briefly."),
  "{provider}_invalid_argument": c("enrich", false, "The provider has nothing about this IP (InvalidArgumentError); cached briefly."),
  "{provider}_not_found": c("enrich", false, "The provider has nothing about this IP (404); cached briefly."),
  "{provider}_http_error": c("enrich", false, "An HTTP status the provider does not document."),
  "{provider}_client_bug": c("enrich", false, "The provider client threw something other than a ProviderError (a bug)."),
} as const satisfies Record<string, ErrorCodeInfo>;

/** A catalogue key with its `{name}` placeholders as `string`, e.g. `${string}_daily_budget`. */
type Expand<K extends string> = K extends `${infer A}{${string}}${infer B}` ? `${A}${string}${Expand<B>}` : K;

/** Every code the service may emit (typed by the catalogue, so an uncatalogued code does not compile). */
export type ErrorCode = Expand<keyof typeof ERROR_CODES>;

/** The `<provider>_<reason>` reasons of threat-intel failures (ProviderError), from the catalogue. */
export type ProviderReason = { [K in keyof typeof ERROR_CODES]: K extends `{provider}_${infer R}` ? R : never }[keyof typeof ERROR_CODES];

/** The catalogue entry a concrete code falls under (`gemini_daily_budget` → `{upstream}_daily_budget`). */
export function describeCode(code: string): (ErrorCodeInfo & { key: string }) | undefined {
  const table = ERROR_CODES as Record<string, ErrorCodeInfo>;
  if (table[code]) return { key: code, ...table[code] };
  for (const [key, info] of Object.entries(table)) {
    if (!key.includes("{")) continue;
    const pattern = new RegExp(`^${key.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[a-z_]+\}/g, "[a-z0-9]+")}$`);
    if (pattern.test(code)) return { key, ...info };
  }
  return undefined;
}

/** ERRORS.md: the catalogue as a table (code | stage | retriable | meaning), generated so it cannot drift. */
export function renderErrorsMarkdown(): string {
  const rows = Object.entries(ERROR_CODES as Record<string, ErrorCodeInfo>).map(
    ([code, i]) => `| \`${code}\` | ${i.stage} | ${i.retriable ? "yes" : "no"} | ${i.description.replace(/\|/g, "\\|")} |`,
  );
  return [
    "# Error codes",
    "",
    "<!-- Generated from src/core/error-codes.ts by `npm run docs:errors`; do not edit by hand. -->",
    "",
    "Every code the service emits: in logs, as a metric label, as `error_code` on dead letters and as `error.code` in",
    "HTTP API replies. `{upstream}` is a rate limiter's name (`gemini`, `openai`, `abuseipdb`, `virustotal`), `{model}` a",
    "model backend (`gemini`, `openai`), `{provider}` a threat-intel provider (`abuseipdb`, `virustotal`),",
    "`{kafkajs_error}` a KafkaJS error name without its `KafkaJS` prefix, lower-cased.",
    "",
    "| Code | Stage | Retriable | Meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}
