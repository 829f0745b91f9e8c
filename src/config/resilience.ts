import type { z } from "zod";
import { int, oneOf, groupSchema } from "./options.js";

/**
 * Scale-out and outage behaviour: what happens to alerts while the model is down, and the cross-instance
 * single-flight lock (Redis) that keeps several instances from asking the model the same question at once.
 * Spread into the schema's `options`.
 */
export const resilienceOptions = {
  LLM_OUTAGE_MODE: oneOf(
    "What alerts do while Gemini answers 5xx/429 or times out: `degrade` = after GEMINI_RETRY_DEADLINE_MS they get rules verdicts flagged degraded; " +
      "`wait` = retried without deadline, one probe request at a time, so the read-ahead window fills, Kafka is paused and lag grows (bounded) until " +
      "the model is back. A spent budget/RPD or a rejected key still goes to the rules in both modes.",
    ["wait", "degrade"] as const,
    "degrade",
  ),
  LLM_ISOLATED_REQUESTS_PER_MINUTE: int(
    "Most model requests per minute (sliding window, per process and model tier) for alerts whose text looks like instructions; each is asked alone, " +
      "after every other request. Beyond it such an alert gets needs_review (degraded, never reused) without a model call, so a flood of them cannot " +
      "spend the quota ordinary alerts need (0 = never ask them).",
    6,
    0,
    10_000,
  ),
  LLM_OUTAGE_PROBE_MAX_DELAY_MS: int(
    "In `wait` mode, the longest pause between probe requests while the model is down (backoff grows to it); recovery is noticed within about this long.",
    5_000,
    100,
    300_000,
  ),
  SINGLE_FLIGHT_LOCK_TTL_MS: int(
    "Lifetime of a cross-instance single-flight lock in Redis; the holder renews it every third of this while it works, so it only runs out when the " +
      "holder died.",
    15_000,
    1_000,
    600_000,
  ),
  // Above GEMINI_RETRY_DEADLINE_MS's default: a follower should outwait a leader that is still retrying.
  SINGLE_FLIGHT_WAIT_MAX_MS: int(
    "Longest an instance waits for another instance's answer to the same question before asking the model itself.",
    130_000,
    0,
    3_600_000,
  ),
  SINGLE_FLIGHT_POLL_MS: int("How often a waiting instance checks whether the lock holder's answer is there.", 100, 10, 10_000),
  SINGLE_FLIGHT_REDIS_TIMEOUT_MS: int(
    "A lock call to Redis slower than this counts as Redis unreachable: the caller does the work itself (as without Redis).",
    1_000,
    50,
    60_000,
  ),
} as const;

/** Just these options, parsed (for tests and tools that build the pieces without the whole schema). */
export const resilienceSchema = groupSchema(resilienceOptions);

export type ResilienceConfig = Readonly<z.infer<typeof resilienceSchema>>;

/** Parse the resilience options from env-like values (defaults for the rest); throws on invalid values. */
export function parseResilienceOptions(env: Record<string, unknown> = {}): ResilienceConfig {
  const picked = Object.fromEntries(
    Object.keys(resilienceOptions)
      .filter((k) => env[k] !== undefined)
      .map((k) => [k, env[k]]),
  );
  return Object.freeze(resilienceSchema.parse(picked));
}
