/**
 * The AI verdict cache, built once by the composition root: exact and pattern caches, analyst overrides and the
 * per-alert verdict record, on the injected Keyv caches (SQLite by default, Redis when shared). `wrap()` puts it in
 * front of any Classifier. Overrides are stored and looked up here only: the feedback flow (src/feedback-flow.ts)
 * asks `prepareOverride()` / `storeResolved()` and publishes the updated verdicts itself.
 */
import type { AiCacheConfig } from "../../../config/ai-cache.js";
import { parseAssetRoles } from "../../../config/ai-cache.js";
import { KeyDeriver, type KeyOptions } from "../../../core/cache-keys.js";
import type { Classifier, SharedFlight, Caches } from "../../../core/ports/index.js";
import { VERDICT_SCHEMA_VERSION, type Verdict } from "../../../core/verdict.js";
import type { Logger } from "../../../telemetry/logger.js";
import type { Metrics } from "../../../telemetry/metrics.js";
import { CacheEvents } from "../../../telemetry/component-events.js";
import { PROMPT_VERSION } from "../prompt.js";
import { parseMemoryOptions, type MemoryConfig } from "../../../config/memory.js";
import { createVerdictMemory, type VerdictMemory } from "../memory/index.js";
import { CachingClassifier, type CachedAnswer, type VerdictCacheParts } from "./caching-classifier.js";
import { OverrideBook, verdictLogKey, VerdictLogTier } from "./override-book.js";
import { overrideDecision, sameDecision, toStored, type AnalystOverride, type FeedbackPublisher, type ResolvedOverride } from "./overrides.js";
import { CacheTier } from "./tier.js";

export { CachingClassifier, type CachedAnswer } from "./caching-classifier.js";
export {
  parseFeedbackRecord,
  analystOverrideSchema,
  isResolved,
  type AnalystOverride,
  type FeedbackPublisher,
  type FeedbackRecord,
  type ResolvedOverride,
} from "./overrides.js";

/** The options the verdict cache reads (AI_* + the classify guard thresholds, which are always band edges). */
export type VerdictCacheConfig = AiCacheConfig & {
  readonly GUARD_ABUSE_SCORE_MIN: number;
  readonly GUARD_VT_MALICIOUS_MIN: number;
  readonly GEMINI_MODEL: string;
} & Partial<MemoryConfig> & { readonly GEMINI_MAX_ALERTS_PER_REQUEST?: number };

export interface VerdictCacheDeps {
  config: VerdictCacheConfig;
  caches: Caches;
  metrics: Metrics;
  logger: Logger;
  /** Publishes to TRIAGE_FEEDBACK_TOPIC (keys bound while classifying); null/absent in file mode. */
  publishFeedback?: FeedbackPublisher | null;
  /** Answers of another model/prompt are stale. Default: GEMINI_MODEL with the current PROMPT_VERSION; null = no check. */
  currentVersion?: { model: string; promptVersion: string } | null;
  /** Cross-instance single-flight (Redis lock per exact key); absent = per process only. */
  sharedFlight?: SharedFlight<CachedAnswer>;
  now?: () => number;
}

/**
 * What became of an analyst override: applied (the updated verdict when this process re-published one; null when it
 * was applied already), or refused — `unknown_alert` for an alert id not in the verdict record (an override may only
 * name an alert the service triaged: one planted ahead would decide a future alert that reuses the id), `expired`
 * when older than OVERRIDE_TTL_SECONDS, `ambiguous_alert` for an id the service saw with two different contents
 * (ids are attacker-chosen: binding to the latest content would let a record reusing the id pick what the analyst's
 * decision applies to).
 */
export type OverrideOutcome =
  | { status: "applied"; verdict: Verdict | null /** The override's time as stored (submitOverride: the server's). */; at?: string }
  | { status: "unknown_alert" | "expired" | "ambiguous_alert"; message: string };

/**
 * What storing an override leaves for the feedback flow to do: nothing (refused, or applied and published already),
 * or publish `verdict`, then `recordPublished()` (marks it done in the verdict record, so a redelivery after a failed
 * publish publishes again), then put `resolved` on the feedback topic for the other instances.
 */
export type OverridePlan =
  | { status: "unknown_alert" | "expired" | "ambiguous_alert"; message: string }
  | { status: "applied"; verdict: null }
  | { status: "applied"; verdict: Verdict; agreement: "agree" | "disagree"; resolved: ResolvedOverride; recordPublished: () => Promise<void> };

export interface VerdictCache {
  /** The classifier with the cache in front (one per process; shares single-flight state). */
  wrap(inner: Classifier): Classifier;
  /**
   * Store an analyst override durably (alert id; exact and pattern keys when the alert's verdict is known): it wins
   * from now on. Returns the updated verdict for the flow to publish. One per alert id at a time (the flow's job).
   */
  prepareOverride(o: AnalystOverride & { at: string }): Promise<OverridePlan>;
  /** A resolved feedback record: an override another instance bound to its alert's keys. */
  storeResolved(r: ResolvedOverride): Promise<void>;
  /** The key derivation in use (tools, tests). */
  readonly keys: KeyDeriver;
}

/** Pattern-key options from config; the guard thresholds are added as band edges so the guard's outcome follows the key. */
export function keyOptionsFrom(c: VerdictCacheConfig): KeyOptions {
  const withEdge = (edges: readonly number[], edge: number) => [...new Set([...edges, edge])].sort((a, b) => a - b);
  return {
    countBuckets: c.AI_PATTERN_COUNT_BUCKETS,
    scoreBands: withEdge(c.AI_PATTERN_TI_BANDS, c.GUARD_ABUSE_SCORE_MIN),
    engineBands: withEdge(c.AI_PATTERN_VT_BANDS, c.GUARD_VT_MALICIOUS_MIN),
    ipScope: c.AI_PATTERN_IP_SCOPE,
    description: c.AI_PATTERN_DESCRIPTION,
    privilegedUsers: new RegExp(c.AI_PRIVILEGED_USERS, "i"),
    assetRoles: parseAssetRoles(c.AI_ASSET_ROLES) ?? [],
    volatileFields: new RegExp(c.AI_CACHE_VOLATILE_FIELDS, "i"),
  };
}

/** Build the verdict cache once (composition root). */
export function createVerdictCache(deps: VerdictCacheDeps): VerdictCache {
  const c = deps.config;
  const now = deps.now ?? Date.now;
  const prefix = c.AI_CACHE_KEY_PREFIX;
  const ttlMs = c.AI_CACHE_TTL_SECONDS * 1000;
  const cacheEvents = new CacheEvents(deps.metrics, deps.logger);
  const tier = <V>(name: string, cache: "ai-exact" | "ai-pattern" | "overrides", ttl: number, maxEntries: number, writtenAt?: (v: V) => number) =>
    new CacheTier<V>({
      name,
      cache: deps.caches.get(cache),
      keyPrefix: prefix,
      ttlMs: ttl,
      maxEntries,
      keepValues: writtenAt !== undefined,
      ...(writtenAt ? { writtenAt } : {}),
      events: cacheEvents,
      now,
    });
  const answerWrittenAt = (a: CachedAnswer) => Date.parse(a.stored_at) || now();
  const parts: VerdictCacheParts = {
    keys: new KeyDeriver(keyOptionsFrom(c)),
    exact: tier<CachedAnswer>("ai-exact", "ai-exact", ttlMs, c.AI_CACHE_MAX_ENTRIES, answerWrittenAt),
    pattern: tier<CachedAnswer>("ai-pattern", "ai-pattern", ttlMs, c.AI_CACHE_MAX_ENTRIES, answerWrittenAt),
    overrides: new OverrideBook({ cache: deps.caches.get("overrides"), keyPrefix: prefix, ttlMs: c.OVERRIDE_TTL_SECONDS * 1000, now }),
    // Verdict records are large and read only for overrides: the LRU keeps their keys (for the bound), not them.
    // Marks an id seen with two contents, so an override by that id is refused rather than bound to the latest one.
    verdictLog:
      c.AI_VERDICT_LOG_TTL_SECONDS > 0
        ? new VerdictLogTier({
            name: "verdict-log",
            cache: deps.caches.get("overrides"),
            keyPrefix: prefix,
            ttlMs: c.AI_VERDICT_LOG_TTL_SECONDS * 1000,
            maxEntries: c.AI_VERDICT_LOG_MAX_ENTRIES,
            keepValues: false,
            events: cacheEvents,
            now,
          })
        : null,
    // The verdict memory (MEMORY=on) replaces the pattern cache; the exact cache and overrides stay in front of it.
    policy: {
      pattern: c.AI_PATTERN_CACHE === "on" && c.MEMORY !== "on",
      patternMinConfidence: c.AI_PATTERN_MIN_CONFIDENCE,
      patternForCritical: c.AI_PATTERN_FOR_CRITICAL === "true",
      trustInlineOverrides: c.TRUST_INLINE_OVERRIDES === "true",
    },
    guard: { abuseScoreMin: c.GUARD_ABUSE_SCORE_MIN, vtMaliciousMin: c.GUARD_VT_MALICIOUS_MIN },
    currentVersion: deps.currentVersion === undefined ? { model: c.GEMINI_MODEL, promptVersion: PROMPT_VERSION } : deps.currentVersion,
    publishFeedback: deps.publishFeedback ?? null,
    sharedFlight: deps.sharedFlight ?? null,
    events: cacheEvents,
    logger: deps.logger,
    now,
  };
  const log = deps.logger.child({ component: "verdict-cache" });
  log.info(
    {
      backend: deps.caches.backend,
      pattern: parts.policy.pattern,
      ttlSeconds: c.AI_CACHE_TTL_SECONDS,
      maxEntries: c.AI_CACHE_MAX_ENTRIES,
      keyFingerprint: parts.keys.fingerprint,
    },
    "verdict cache on",
  );
  const version = parts.currentVersion ?? { model: c.GEMINI_MODEL, promptVersion: PROMPT_VERSION };
  const memory =
    c.MEMORY === "on"
      ? createVerdictMemory({
          config: {
            ...parseMemoryOptions(c as unknown as Record<string, string | undefined>),
            AI_CACHE_KEY_PREFIX: prefix,
            GEMINI_MAX_ALERTS_PER_REQUEST: c.GEMINI_MAX_ALERTS_PER_REQUEST ?? 25,
          },
          caches: deps.caches,
          keys: parts.keys,
          guard: parts.guard,
          version,
          metrics: deps.metrics,
          logger: deps.logger,
          now,
        })
      : null;
  return new OverrideStore(parts, log, memory);
}

/** The override path of the verdict cache (the classify path is CachingClassifier): stores, never publishes. */
class OverrideStore implements VerdictCache {
  readonly keys: KeyDeriver;

  constructor(
    private readonly p: VerdictCacheParts,
    private readonly log: Logger,
    private readonly memory: VerdictMemory | null = null,
  ) {
    this.keys = p.keys;
  }

  wrap(inner: Classifier): Classifier {
    return new CachingClassifier(this.memory ? this.memory.wrap(inner) : inner, this.p);
  }

  async storeResolved(r: ResolvedOverride): Promise<void> {
    await this.p.overrides.store(toStored(r, true), { exact: r.exact, pattern: r.pattern });
  }

  async prepareOverride(o: AnalystOverride & { at: string }): Promise<OverridePlan> {
    const at = o.at;
    const log = this.p.verdictLog;
    if (!log) {
      return {
        status: "unknown_alert",
        message: `override for alert ${o.alert_id.slice(0, 200)} refused: AI_VERDICT_LOG_TTL_SECONDS=0 keeps no verdict record, so no alert id can be verified`,
      };
    }
    const logged = (await log.read([verdictLogKey(o.alert_id)]))[0];
    // The record must be of this very id (keys are derived from ids; a record of another id is not this alert's).
    const previous = logged?.alert.alert_id === o.alert_id ? logged : undefined;
    if (!previous) {
      // Never stored by bare id: it would decide a future alert that reuses the id, skipping the guard. The instance
      // that knows the alert publishes a resolved record with its keys, which every instance applies.
      return {
        status: "unknown_alert",
        message:
          `override for alert ${o.alert_id.slice(0, 200)} refused: no verdict for that alert id in the verdict record (unknown, older than ` +
          `AI_VERDICT_LOG_TTL_SECONDS, triaged without the model — rules only keep no record —, or, with per-instance caches, triaged by another ` +
          `instance: send it to the feedback topic)`,
      };
    }
    if (previous.ambiguous) {
      return {
        status: "ambiguous_alert",
        message:
          `override for alert ${o.alert_id.slice(0, 200)} refused: that alert id came with more than one content within ` +
          `AI_VERDICT_LOG_TTL_SECONDS (a record reused it), so it does not say which alert the decision is about; nothing stored`,
      };
    }
    const record = toStored({ ...o, at }, true);
    if (!(await this.p.overrides.store(record, { exact: previous.exact, pattern: previous.pattern }))) {
      return { status: "expired", message: `override for alert ${o.alert_id.slice(0, 200)} at ${at} is older than OVERRIDE_TTL_SECONDS; ignored` };
    }
    if (previous.override && sameDecision(previous.override, record)) return { status: "applied", verdict: null }; // already applied and published
    const decision = overrideDecision(record, previous.alert, "alert_id", previous.decision);
    const verdict: Verdict = {
      schema_version: VERDICT_SCHEMA_VERSION,
      alert_id: previous.alert.alert_id,
      ...decision,
      enrichment: previous.enrichment,
      alert: previous.alert,
      received_at: previous.seen_at,
      classified_at: new Date(this.p.now()).toISOString(),
    };
    const agreement = previous.decision.classification === record.classification ? "agree" : "disagree";
    const recordPublished = async () => {
      await log.write([
        {
          key: verdictLogKey(o.alert_id),
          value: { ...previous, decision, override: { classification: record.classification, analyst: record.analyst, reason: record.reason } },
        },
      ]);
      // Evidence against the memory leaf that answered (or would answer) this alert: it splits or retires.
      if (this.memory) {
        await this.memory
          .learnOverride({ alert: previous.alert, enrichment: previous.enrichment }, record.classification, record.severity ?? decision.severity)
          .catch((err: unknown) => {
            this.log.warn({ alert_id: o.alert_id, err: (err as Error).message }, "verdict memory could not learn the override");
          });
      }
    };
    const resolved: ResolvedOverride = {
      ...o,
      at,
      kind: "resolved",
      exact: previous.exact,
      pattern: previous.pattern,
      previous: previous.decision.classification,
    };
    return { status: "applied", verdict, agreement, resolved, recordPublished };
  }
}
