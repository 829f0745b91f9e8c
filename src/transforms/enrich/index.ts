/**
 * Threat-intel enrichment, wired from config: one client, rate limiter, circuit breaker and lookup path per
 * provider (AbuseIPDB, VirusTotal), sharing the `ti` cache. The composition root calls createEnricher().
 */
import type { z } from "zod";
import type { Config } from "../../config/schema.js";
import { abuseIpDbSchema, virusTotalSchema, type ProviderResult } from "../../core/enrichment.js";
import type { Enricher, Caches, QuotaStoreFactory, SharedFlightFactory, TiClient } from "../../core/ports/index.js";
import { RateLimiter, memoryQuotaStores } from "../../resources/limiter.js";
import type { Logger } from "../../telemetry/logger.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { abuseIpDbClient } from "./abuseipdb.js";
import { TiEvents } from "../../telemetry/component-events.js";
import { BREAKER_STATE_VALUE, CircuitBreaker } from "./breaker.js";
import { ThreatIntelEnricher } from "./enricher.js";
import type { FetchLike } from "./http.js";
import { ProviderLookup } from "./provider-lookup.js";
import { virusTotalClient } from "./virustotal.js";

export { ThreatIntelEnricher } from "./enricher.js";
export { ProviderLookup } from "./provider-lookup.js";

export interface EnricherDeps {
  config: Config;
  caches: Caches;
  metrics: Metrics;
  logger: Logger;
  /** Clock for limiters and breakers (tests). */
  now?: () => number;
  /** HTTP client (tests); global fetch by default. */
  fetch?: FetchLike;
  /** Where quotas are counted: per process by default, Redis when instances share them. */
  quotaStores?: QuotaStoreFactory;
  /** One request per provider and IP across instances (Redis lock), one flight per provider; absent = per process. */
  sharedFlight?: SharedFlightFactory;
}

/** Requests in flight per provider: enough to fill a window quickly, few enough to stay polite. */
const MAX_CONCURRENT_REQUESTS = 8;

/**
 * The TI enricher for the configured providers. A provider without an API key is disabled with one log
 * line here (its results read `skipped: disabled`); with neither key this returns null and the pipeline
 * runs without threat intel.
 */
export function createEnricher(deps: EnricherDeps): Enricher | null {
  const { config: c, logger } = deps;
  const log = logger.child({ component: "enrich" });
  const now = deps.now ?? Date.now;
  const fetchOpt = deps.fetch ? { fetch: deps.fetch } : {};

  const abuseipdb = c.ABUSEIPDB_API_KEY
    ? lookupFor(
        deps,
        abuseIpDbClient({
          baseUrl: c.ABUSEIPDB_BASE_URL,
          apiKey: c.ABUSEIPDB_API_KEY,
          maxAgeDays: c.ABUSEIPDB_MAX_AGE_DAYS,
          timeoutMs: c.TI_TIMEOUT_MS,
          now,
          ...fetchOpt,
        }),
        abuseIpDbSchema,
        { rpm: c.ABUSEIPDB_RPM, rpd: c.ABUSEIPDB_RPD },
      )
    : null;
  const virustotal = c.VIRUSTOTAL_API_KEY
    ? lookupFor(
        deps,
        virusTotalClient({ baseUrl: c.VIRUSTOTAL_BASE_URL, apiKey: c.VIRUSTOTAL_API_KEY, timeoutMs: c.TI_TIMEOUT_MS, now, ...fetchOpt }),
        virusTotalSchema,
        { rpm: c.VIRUSTOTAL_RPM, rpd: c.VIRUSTOTAL_RPD },
      )
    : null;

  if (!abuseipdb) log.info({ provider: "abuseipdb" }, "ABUSEIPDB_API_KEY unset: AbuseIPDB enrichment disabled");
  if (!virustotal) log.info({ provider: "virustotal" }, "VIRUSTOTAL_API_KEY unset: VirusTotal enrichment disabled");
  if (!abuseipdb && !virustotal) return null;
  log.info({ abuseipdb: abuseipdb !== null, virustotal: virustotal !== null, cache: deps.caches.backend }, "threat-intel enrichment on");
  return new ThreatIntelEnricher({ abuseipdb, virustotal });
}

/** One provider's lookup path: its own limiter (quota), breaker (health) and the shared `ti` cache. */
function lookupFor<T>(deps: EnricherDeps, client: TiClient<T>, dataSchema: z.ZodType<T>, quota: { rpm: number; rpd: number }): ProviderLookup<T> {
  const { config: c, metrics } = deps;
  const now = deps.now ?? Date.now;
  const provider = client.provider;
  const events = new TiEvents(metrics, deps.logger, provider);
  const limiter = new RateLimiter({
    name: provider,
    stage: "enrich",
    concurrency: Math.min(quota.rpm, MAX_CONCURRENT_REQUESTS),
    // The limiter counts each request's slot from its completion, so the provider (counting on arrival) never sees more than RPM per window.
    store: (deps.quotaStores ?? memoryQuotaStores)(provider, { rpm: quota.rpm, rpd: quota.rpd, windowMs: c.TI_RATE_WINDOW_MS }),
    maxWaitMs: c.TI_MAX_WAIT_MS,
    onWait: (seconds) => events.limiterWait(seconds),
    now,
  });
  const breaker = new CircuitBreaker({
    failureThreshold: c.TI_BREAKER_FAILURES,
    cooldownMs: c.TI_BREAKER_COOLDOWN_MS,
    now,
    onStateChange: (state) => events.breakerState(state, BREAKER_STATE_VALUE[state]),
  });
  events.breakerState("closed", BREAKER_STATE_VALUE.closed, true);
  const attempts = c.TI_MAX_RETRIES + 1;
  return new ProviderLookup({
    client,
    dataSchema,
    cache: deps.caches.get("ti"),
    limiter,
    breaker,
    metrics,
    logger: deps.logger,
    ttlMs: c.TI_CACHE_TTL_SECONDS * 1000,
    negativeTtlMs: Math.min(c.TI_NEGATIVE_CACHE_TTL_SECONDS, c.TI_CACHE_TTL_SECONDS) * 1000,
    maxRetries: c.TI_MAX_RETRIES,
    // Every attempt may wait for quota and then for the provider; past this, retrying is pointless.
    retryDeadlineMs: attempts * (c.TI_MAX_WAIT_MS + c.TI_TIMEOUT_MS),
    rateLimitPauseMs: c.TI_RATE_WINDOW_MS,
    now,
    ...(deps.sharedFlight ? { sharedFlight: deps.sharedFlight<ProviderResult<T>>(client.provider) } : {}),
  });
}
