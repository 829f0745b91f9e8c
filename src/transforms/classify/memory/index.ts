/**
 * The verdict memory, built once by the composition root on the shared Keyv caches (namespace `ai-pattern`: the
 * memory replaces the pattern cache there). `wrap()` puts it in front of the model classifier; the verdict cache's
 * exact tier and analyst overrides stay in front of it. Another model, prompt or feature derivation (or key
 * options) is another key space, so it starts a fresh memory.
 */
import type { MemoryConfig } from "../../../config/memory.js";
import { sha256Hex } from "../../../core/canonical.js";
import type { KeyDeriver } from "../../../core/cache-keys.js";
import type { Classifier, EnrichedAlert, Caches } from "../../../core/ports/index.js";
import type { Classification } from "../../../core/verdict.js";
import type { Logger } from "../../../telemetry/logger.js";
import type { Metrics } from "../../../telemetry/metrics.js";
import type { GuardOptions } from "../guard.js";
import type { Timers } from "./ask-queue.js";
import { FEATURE_VERSION } from "./features.js";
import { MemoryStore } from "./store.js";
import { MemoryClassifier } from "./verdict-memory.js";

export { MemoryClassifier } from "./verdict-memory.js";

export interface VerdictMemoryDeps {
  config: MemoryConfig & { readonly AI_CACHE_KEY_PREFIX: string; readonly GEMINI_MAX_ALERTS_PER_REQUEST: number };
  caches: Caches;
  /** The verdict cache's key deriver: the memory's features reuse its classes and templates. */
  keys: KeyDeriver;
  guard: GuardOptions;
  /** Model and prompt version of the answers learnt: another pair is another memory. */
  version: { model: string; promptVersion: string };
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  timers?: Timers;
}

export interface VerdictMemory {
  /** The classifier with the memory in front (one per process: it owns the leaf single-flight and the ask queue). */
  wrap(inner: Classifier): MemoryClassifier;
  /** An analyst override of an alert the memory may have answered: evidence against its leaf. */
  learnOverride(item: EnrichedAlert, classification: Classification, severity: string): Promise<void>;
}

/** The memory's key prefix for a version (exported for tests and tools). */
export function memoryKeyPrefix(keyPrefix: string, keys: KeyDeriver, version: { model: string; promptVersion: string }): string {
  return `${keyPrefix}mem:${sha256Hex(`${version.model}\u0000${version.promptVersion}\u0000${FEATURE_VERSION}\u0000${keys.fingerprint}`).slice(0, 16)}:`;
}

export function createVerdictMemory(deps: VerdictMemoryDeps): VerdictMemory {
  const c = deps.config;
  const now = deps.now ?? Date.now;
  const store = new MemoryStore({
    cache: deps.caches.get("ai-pattern"),
    keyPrefix: memoryKeyPrefix(c.AI_CACHE_KEY_PREFIX, deps.keys, deps.version),
    ttlMs: c.MEMORY_TTL_SECONDS * 1000,
    maxExamplesPerRule: c.MEMORY_MAX_EXAMPLES_PER_RULE,
    maxRules: c.MEMORY_MAX_RULES,
    maxBytes: c.MEMORY_MAX_BYTES,
    policy: {
      minSupport: c.MEMORY_MIN_SUPPORT,
      minSupportFalsePositive: c.MEMORY_MIN_SUPPORT_FALSE_POSITIVE,
      minSourcesFalsePositive: c.MEMORY_MIN_SOURCES_FALSE_POSITIVE,
      maxDepth: c.MEMORY_MAX_DEPTH,
    },
    now,
  });
  let classifier: MemoryClassifier | null = null;
  deps.logger.child({ component: "verdict-memory" }).info(
    {
      backend: deps.caches.backend,
      minSupport: c.MEMORY_MIN_SUPPORT,
      minSupportFalsePositive: c.MEMORY_MIN_SUPPORT_FALSE_POSITIVE,
      spotCheckRate: c.MEMORY_SPOT_CHECK_RATE,
    },
    "verdict memory on",
  );
  return {
    wrap(inner) {
      classifier = new MemoryClassifier(inner, {
        keys: deps.keys,
        store,
        policy: { spotCheckRate: c.MEMORY_SPOT_CHECK_RATE, forCritical: c.MEMORY_FOR_CRITICAL === "true", syncIntervalMs: c.MEMORY_SYNC_INTERVAL_MS },
        queue: {
          maxPerRequest: deps.config.GEMINI_MAX_ALERTS_PER_REQUEST,
          maxDelayMs: c.MEMORY_ASK_MAX_DELAY_MS,
          maxQueuedSpotChecks: c.MEMORY_MAX_QUEUED_SPOT_CHECKS,
        },
        guard: deps.guard,
        metrics: deps.metrics,
        logger: deps.logger,
        now,
        random: deps.random ?? Math.random,
        ...(deps.timers ? { timers: deps.timers } : {}),
      });
      return classifier;
    },
    async learnOverride(item, classification, severity) {
      if (classifier) await classifier.learnOverride(item, classification, severity);
    },
  };
}
