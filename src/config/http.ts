import { int, optionalStr } from "./options.js";

/** HTTP API options (POST /analyze, /analyze/batch, /v1/feedback); /metrics and health stay open. */
export const httpOptions = {
  HTTP_AUTH_TOKEN: optionalStr("Bearer token required on the API routes when set (401 without it). Health and metrics stay open.", true),
  HTTP_MAX_BODY_BYTES: int("Largest accepted request body; larger ones get 413.", 5_242_880, 1024, 104_857_600),
  HTTP_MAX_BATCH_ALERTS: int("Most alerts accepted by one POST /analyze/batch; more get 413.", 1000, 1, 100_000),
  HTTP_REQUEST_TIMEOUT_MS: int("How long an API request waits for its verdicts; alerts still pending then are reported as `timeout` (they are still processed and published).", 30_000, 100, 600_000),
} as const;
