import type { z } from "zod";
import { groupSchema, int, num, oneOf } from "./options.js";

/**
 * The verdict memory (src/transforms/classify/memory): learns from the model's answers which features decide each
 * rule's verdict and answers repeats from them. Spread into the schema's `options`.
 */
export const memoryOptions = {
  MEMORY: oneOf(
    "Verdict memory in front of the model (replaces the pattern cache: AI_PATTERN_CACHE is then not consulted). Off: exact cache and, if on, the " +
      "pattern cache only.",
    ["on", "off"] as const,
    "on",
  ),
  MEMORY_MIN_SUPPORT: int("Agreeing model answers a memory leaf needs before it answers true_positive or needs_review.", 2, 1, 1000),
  MEMORY_MIN_SUPPORT_FALSE_POSITIVE: int(
    "Agreeing model answers a memory leaf needs before it answers false_positive (dismissing an attack costs more than a review).",
    4,
    1,
    1000,
  ),
  MEMORY_MIN_SOURCES_FALSE_POSITIVE: int(
    "Distinct source IPs among those answers before a leaf answers false_positive (one source — maybe the attacker — never teaches a dismissal for others).",
    2,
    1,
    100,
  ),
  MEMORY_SPOT_CHECK_RATE: num(
    "Share of memory answers also asked of the model (in spare room of requests; lowest priority); disagreements split or retire the leaf and feed " +
      "triage_memory_agreement_ratio.",
    0.02,
    0,
    1,
  ),
  MEMORY_FOR_CRITICAL: oneOf(
    "Whether critical alerts may be answered from memory (otherwise always asked, never held up).",
    ["true", "false"] as const,
    "false",
  ),
  MEMORY_TTL_SECONDS: int("How long a learnt example counts (and the rule's record is kept).", 604_800, 60, 31_536_000),
  MEMORY_MAX_EXAMPLES_PER_RULE: int(
    "Labelled examples kept per rule (analyst overrides first, then the newest model answers); bounds tree size and record size.",
    256,
    8,
    10_000,
  ),
  MEMORY_MAX_RULES: int("Rules (trees) held in this process (LRU; the store keeps the rest until their TTL).", 5_000, 10, 1_000_000),
  MEMORY_MAX_BYTES: int(
    "Bytes (JSON size of the rules' records) the memory holds in this process; least recently used rules are evicted first (the store keeps them until their TTL).",
    268_435_456,
    1_048_576,
    17_179_869_184,
  ),
  MEMORY_MAX_DEPTH: int("Deepest split path of a rule's tree.", 8, 1, 32),
  MEMORY_ASK_MAX_DELAY_MS: int(
    "Longest an alert the memory cannot answer waits for others to fill a model request (critical alerts never wait).",
    250,
    0,
    60_000,
  ),
  MEMORY_MAX_QUEUED_SPOT_CHECKS: int("Spot checks waiting for room in a model request; beyond it the oldest is dropped.", 500, 1, 100_000),
  MEMORY_SYNC_INTERVAL_MS: int(
    "How stale this process's copy of a rule may be before it is re-read from the shared store (instances learn together).",
    2_000,
    0,
    600_000,
  ),
} as const;

/** Just these options, parsed (tools and tests). */
export const memorySchema = groupSchema(memoryOptions);

export type MemoryConfig = Readonly<z.infer<typeof memorySchema>>;

/** Parse the memory options from env-like values (defaults for the rest); throws on invalid values. */
export function parseMemoryOptions(env: Record<string, string | undefined> = {}): MemoryConfig {
  const picked = Object.fromEntries(
    Object.keys(memoryOptions)
      .filter((k) => env[k] !== undefined)
      .map((k) => [k, env[k]]),
  );
  return Object.freeze(memorySchema.parse(picked));
}
