// Fakes for enrichment unit tests: an in-memory Cache that records TTLs, scripted TI clients, a lookup builder.
import { Writable } from "node:stream";
import pino from "pino";
import type { Alert } from "../../../../src/core/alert.js";
import { abuseIpDbSchema, virusTotalSchema, type AbuseIpDbData, type VirusTotalData } from "../../../../src/core/enrichment.js";
import type { Cache, TiClient } from "../../../../src/core/ports/index.js";
import { MemoryQuotaStore, RateLimiter } from "../../../../src/resources/limiter.js";
import { createMetrics, type Metrics } from "../../../../src/telemetry/metrics.js";
import { CircuitBreaker } from "../../../../src/transforms/enrich/breaker.js";
import { ProviderError, type ProviderFailure, type ProviderName, type ProviderReason } from "../../../../src/transforms/enrich/provider-error.js";
import { ProviderLookup } from "../../../../src/transforms/enrich/provider-lookup.js";
import type { ProviderReply } from "../../../../src/transforms/enrich/http.js";

export const silentLogger = pino({ level: "silent" });

/** A logger whose JSON lines are collected in `lines`. */
export function capturingLogger(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const raw: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, cb) => (raw.push(String(chunk)), cb()) });
  return {
    logger: pino({ level: "debug" }, stream),
    lines: () =>
      raw
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface RecordingCache extends Cache {
  readonly store: Map<string, unknown>;
  readonly sets: { key: string; value: unknown; ttlMs: number | undefined }[];
  failReads: boolean;
}

/** Map-backed Cache (no expiry) that records every write and its TTL. */
export function recordingCache(): RecordingCache {
  const store = new Map<string, unknown>();
  const sets: RecordingCache["sets"] = [];
  const cache: RecordingCache = {
    store,
    sets,
    failReads: false,
    async get<T>(key: string) {
      if (cache.failReads) throw new Error("cache down");
      return store.get(key) as T | undefined;
    },
    async set(key, value, ttlMs) {
      sets.push({ key, value, ttlMs });
      store.set(key, structuredClone(value));
    },
    async delete(key) {
      store.delete(key);
    },
  };
  return cache;
}

export const abuseData = (score: number): AbuseIpDbData => ({
  abuse_confidence_score: score,
  country: "US",
  usage_type: "Data Center/Web Hosting/Transit",
  isp: "Example",
  total_reports: score,
  is_tor: false,
  last_reported_at: null,
});
export const vtData = (malicious: number): VirusTotalData => ({
  malicious,
  suspicious: 0,
  harmless: 60,
  undetected: 30,
  reputation: -malicious,
  as_owner: "EXAMPLE-AS",
  country: "US",
});

export type Behaviour<T> = (ip: string, call: number) => T | ProviderError | Promise<T | ProviderError>;

/** A TI client whose answer per call is scripted; records the IPs it was asked for. */
export function scriptedClient<T>(provider: ProviderName, behaviour: Behaviour<T>, delayMs = 0): TiClient<T> & { calls: string[] } {
  const calls: string[] = [];
  return {
    provider,
    calls,
    async lookup(ip) {
      calls.push(ip);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      const out = await behaviour(ip, calls.length);
      if (out instanceof ProviderError) throw out;
      return out;
    },
  };
}

/** A ProviderError as the real clients would build it. */
export function providerError(
  provider: ProviderName,
  reason: ProviderReason,
  failure: ProviderFailure,
  retriable: boolean,
  retryAfterMs?: number,
): ProviderError {
  return new ProviderError({ provider, reason, failure, retriable, message: `${provider} ${reason}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
}

export interface LookupOptions {
  rpm?: number;
  rpd?: number;
  windowMs?: number;
  maxWaitMs?: number;
  maxRetries?: number;
  failureThreshold?: number;
  cooldownMs?: number;
  cache?: RecordingCache;
  metrics?: Metrics;
  /** Clock for the breaker (and lookup); the limiter uses real time. */
  now?: () => number;
}

/** A ProviderLookup around `client` with small, test-friendly limits. */
export function buildLookup<T>(client: TiClient<T>, o: LookupOptions = {}) {
  const cache = o.cache ?? recordingCache();
  const metrics = o.metrics ?? createMetrics({ defaultMetrics: false });
  const now = o.now ?? Date.now;
  const windowMs = o.windowMs ?? 1000;
  const limiter = new RateLimiter({
    name: client.provider,
    stage: "enrich",
    concurrency: 4,
    store: new MemoryQuotaStore({ rpm: o.rpm ?? 1000, rpd: o.rpd ?? 100000, windowMs }),
    maxWaitMs: o.maxWaitMs ?? 5000,
  });
  const breaker = new CircuitBreaker({ failureThreshold: o.failureThreshold ?? 5, cooldownMs: o.cooldownMs ?? 30000, now });
  const dataSchema = (client.provider === "abuseipdb" ? abuseIpDbSchema : virusTotalSchema) as never;
  const lookup = new ProviderLookup<T>({
    client,
    dataSchema,
    cache,
    limiter,
    breaker,
    metrics,
    logger: silentLogger,
    ttlMs: 86_400_000,
    negativeTtlMs: 3_600_000,
    maxRetries: o.maxRetries ?? 0,
    retryDeadlineMs: 10_000,
    rateLimitPauseMs: windowMs,
    now,
  });
  return { lookup, cache, metrics, limiter, breaker };
}

/** A normalized alert with the given addresses. */
export function alertWith(source_ip: string | null, destination_ip: string | null = null, id = `A-${Math.random().toString(36).slice(2, 8)}`): Alert {
  return {
    alert_id: id,
    alert_name: "Brute force login attempts",
    severity: "high",
    source_ip,
    destination_ip,
    user: null,
    host: null,
    timestamp: null,
    description: null,
    format: "native",
    fields: {},
  };
}

/** Sum of a counter's values matching the given labels. */
export async function counterValue(metrics: Metrics, name: "tiRequests" | "cacheRequests", labels: Record<string, string>): Promise<number> {
  const m = await metrics[name].get();
  return m.values.filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val)).reduce((s, v) => s + v.value, 0);
}

/** A provider reply as the HTTP layer hands it to the readers: JSON parsed when the body is JSON. */
export function providerReply(status: number, body: unknown, headers: Record<string, string> = {}): ProviderReply {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status, headers: new Headers(headers), text, json };
}

/** The ProviderError a reader throws for a reply (fails the test if it returns or throws something else). */
export function providerErrorOf(read: (reply: ProviderReply, nowMs: number) => unknown, r: ProviderReply, nowMs: number): ProviderError {
  try {
    read(r, nowMs);
  } catch (err) {
    if (!(err instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(err)}`);
    return err;
  }
  throw new Error("expected a ProviderError");
}
