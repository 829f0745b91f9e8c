/**
 * One provider's lookup path for one IP, in the order that saves quota:
 *   single-flight (same IP in flight → one call) → cache → breaker → rate limiter → HTTP (bounded retries).
 * Always resolves to a ProviderResult value; provider trouble never escapes as an exception.
 */
import { z } from "zod";
import { asTriageError, type TriageError } from "../../core/errors.js";
import type { ProviderResult } from "../../core/enrichment.js";
import type { Cache, SharedFlight, TiClient } from "../../core/ports/index.js";
import type { LimitedOutcome, RateLimiter } from "../../resources/limiter.js";
import { retrying, type RetryOutcome } from "../../resources/retry.js";
import { SingleFlight } from "../../resources/single-flight.js";
import type { Logger } from "../../telemetry/logger.js";
import type { Metrics } from "../../telemetry/metrics.js";
import { TiEvents } from "../../telemetry/component-events.js";
import type { CircuitBreaker } from "./breaker.js";
import { ProviderError, type ProviderName } from "./provider-error.js";

export interface ProviderLookupOptions<T> {
  /** With Redis: one request per IP across instances too; absent = per process. */
  sharedFlight?: SharedFlight<ProviderResult<T>>;
  client: TiClient<T>;
  /** Validates cached data, so an entry written by an older version is a miss, not a bad verdict. */
  dataSchema: z.ZodType<T>;
  cache: Cache;
  limiter: RateLimiter;
  breaker: CircuitBreaker;
  metrics: Metrics;
  logger: Logger;
  ttlMs: number;
  /** Lifetime of cached "nothing about this IP" answers (404/422). */
  negativeTtlMs: number;
  maxRetries: number;
  retryDeadlineMs: number;
  /** Pause after a 429 that names no wait (VirusTotal's QuotaExceededError): one rate window, doubled on repeats. */
  rateLimitPauseMs: number;
  now?: () => number;
}

/** One HTTP call's result: the client's data, or the ProviderError it answered with (provider trouble is a value). */
type CallOutcome<T> = { kind: "ok"; data: T } | { kind: "error"; error: ProviderError };

/** Why a lookup ended without data: a quota refusal of our own limiter, or the provider's (or a bug's) error. */
type LookupFailure = { kind: "daily_budget" } | { kind: "limiter_timeout" } | { kind: "error"; error: TriageError };

/** Longest escalated pause after repeated header-less 429s, in rate windows. */
const MAX_PAUSE_WINDOWS = 64;

/** Looks IPs up at one provider with cache, single-flight, breaker, quota and retries; never throws. */
export class ProviderLookup<T> {
  readonly provider: ProviderName;
  private readonly flights = new SingleFlight<ProviderResult<T>>();
  private readonly cachedSchema;
  private readonly now: () => number;
  private readonly log: Logger;
  private readonly events: TiEvents;
  private dailyQuotaSpentUntil = 0;
  private rateLimitedInARow = 0;
  private readonly loggedCodes = new Set<string>();

  constructor(private readonly opts: ProviderLookupOptions<T>) {
    this.provider = opts.client.provider;
    this.now = opts.now ?? Date.now;
    this.log = opts.logger.child({ component: "enrich", provider: this.provider });
    this.events = new TiEvents(opts.metrics, opts.logger, this.provider);
    this.cachedSchema = z.union([
      z.object({ status: z.literal("ok"), data: opts.dataSchema }),
      z.object({ status: z.literal("error"), code: z.string(), message: z.string() }),
    ]);
  }

  /** Result for one canonical public IP; concurrent calls for the same IP share one lookup. */
  lookup(ip: string): Promise<ProviderResult<T>> {
    const shared = this.opts.sharedFlight;
    if (!shared) return this.flights.do(ip, () => this.resolve(ip));
    const key = `${this.provider}:${ip}`;
    return this.flights.do(ip, () => shared.do(key, () => this.resolve(ip), { lookup: () => this.readCache(key) }));
  }

  private async resolve(ip: string): Promise<ProviderResult<T>> {
    const key = `${this.provider}:${ip}`;
    const hit = await this.readCache(key);
    this.events.cacheLookup(Boolean(hit));
    if (hit) return hit;
    if (this.now() < this.dailyQuotaSpentUntil) return this.skipped("budget", "budget");
    if (this.opts.breaker.isRejecting()) {
      this.count("breaker_open");
      return { status: "error", code: `${this.provider}_unavailable`, message: this.breakerMessage() };
    }
    const result = await this.callWithRetries(ip);
    if (result.kind === "failed") return this.failed(result.reason ?? { kind: "error", error: result.error }, key);
    const data = result.value;
    await this.writeCache(key, { status: "ok", data }, this.opts.ttlMs);
    return { status: "ok", data, cached: false };
  }

  /**
   * Each attempt takes its own quota slot; only 5xx/timeouts/network/unreadable bodies are retried (the server's
   * Retry-After as the hint). Quota refusals and provider answers come back as values; an exception (a bug, or the
   * quota store lost) ends the lookup as an error value too.
   */
  private callWithRetries(ip: string): Promise<RetryOutcome<T, LookupFailure>> {
    return retrying<T, LookupFailure>(
      "enrich",
      async () => {
        let limited: LimitedOutcome<CallOutcome<T>>;
        try {
          limited = await this.opts.limiter.tryRun(1, () => this.attempt(ip));
        } catch (err) {
          const error = asTriageError(err, "enrich");
          return { kind: "failed", error, reason: { kind: "error", error } };
        }
        if (limited.kind !== "ran") return { kind: "failed", error: limited.error, reason: { kind: limited.kind } };
        const call = limited.value;
        if (call.kind === "ok") return { kind: "ok", value: call.data };
        const e = call.error;
        if (e.retriable && (e.failure === "unavailable" || e.failure === "bad_response")) {
          return { kind: "retryable", error: e, ...(e.retryAfterMs !== undefined ? { afterMs: e.retryAfterMs } : {}) };
        }
        return { kind: "failed", error: e, reason: { kind: "error", error: e } };
      },
      { deadlineMs: this.opts.retryDeadlineMs, retries: this.opts.maxRetries, minDelayMs: 200, maxDelayMs: 2000 },
    );
  }

  /** One HTTP call inside the limiter: the breaker decides whether it may happen and learns its outcome. */
  private async attempt(ip: string): Promise<CallOutcome<T>> {
    const breaker = this.opts.breaker;
    if (!breaker.tryAcquire()) {
      this.count("breaker_open");
      return {
        kind: "error",
        error: new ProviderError({ provider: this.provider, reason: "unavailable", failure: "unavailable", retriable: false, message: this.breakerMessage() }),
      };
    }
    try {
      const data = await this.opts.client.lookup(ip);
      breaker.onSuccess();
      this.rateLimitedInARow = 0;
      this.count("ok");
      return { kind: "ok", data };
    } catch (err) {
      const e =
        err instanceof ProviderError
          ? err
          : new ProviderError({
              provider: this.provider,
              reason: "client_bug",
              failure: "rejected",
              retriable: false,
              message: asTriageError(err, "enrich").message,
              cause: err,
            });
      this.count(e.reason);
      if (e.failure === "rate_limited") {
        breaker.release();
        await this.pauseAfter429(e);
      } else if (e.failure === "about_ip") {
        breaker.onSuccess();
      } else {
        breaker.onFailure();
        this.logFailure(e);
      }
      return { kind: "error", error: e };
    }
  }

  /** A 429 stops every request to this provider for the server's wait, or an escalating window when it names none. */
  private async pauseAfter429(e: ProviderError): Promise<void> {
    this.rateLimitedInARow++;
    const fallback = this.opts.rateLimitPauseMs * Math.min(MAX_PAUSE_WINDOWS, 2 ** (this.rateLimitedInARow - 1));
    const pauseMs = e.retryAfterMs ?? fallback;
    await this.opts.limiter.pauseFor(pauseMs);
    if (e.reason === "daily_quota_exceeded") this.dailyQuotaSpentUntil = this.now() + pauseMs;
    this.log.warn({ code: e.code, pauseMs }, "provider rate limit hit; pausing requests");
  }

  /** Quota outcomes become skips; answers about the IP are cached briefly; everything else is an error value. */
  private async failed(f: LookupFailure, key: string): Promise<ProviderResult<T>> {
    if (f.kind === "daily_budget") return this.skipped("budget", "budget");
    if (f.kind === "limiter_timeout") return this.skipped("unavailable", "limiter_timeout");
    const e = f.error;
    if (e instanceof ProviderError && e.reason === "daily_quota_exceeded") return { status: "skipped", skipped: "budget" };
    if (e instanceof ProviderError && e.failure === "about_ip") {
      await this.writeCache(key, { status: "error", code: e.code, message: e.message }, this.opts.negativeTtlMs);
    }
    return { status: "error", code: e.code, message: e.message };
  }

  private skipped(reason: "budget" | "unavailable", outcome: string): ProviderResult<T> {
    this.count(outcome);
    return { status: "skipped", skipped: reason };
  }

  private breakerMessage(): string {
    return `${this.provider} is failing (circuit breaker ${this.opts.breaker.state}); not called`;
  }

  private async readCache(key: string): Promise<ProviderResult<T> | undefined> {
    let raw: unknown;
    try {
      raw = await this.opts.cache.get(key);
    } catch (err) {
      this.logOnce("cache_read_failed", "warn", { err: asTriageError(err, "enrich").message }, "TI cache read failed; looking up instead");
      return undefined;
    }
    if (raw === undefined) return undefined;
    const parsed = this.cachedSchema.safeParse(raw);
    if (!parsed.success) return undefined;
    const v = parsed.data;
    return v.status === "ok" ? { status: "ok", data: v.data as T, cached: true } : { status: "error", code: v.code, message: v.message };
  }

  private async writeCache(key: string, value: unknown, ttlMs: number): Promise<void> {
    try {
      await this.opts.cache.set(key, value, ttlMs);
    } catch (err) {
      this.logOnce("cache_write_failed", "warn", { err: asTriageError(err, "enrich").message }, "TI cache write failed; result used uncached");
    }
  }

  private count(outcome: string): void {
    this.events.request(outcome);
  }

  /** Refusals (bad key, plan) repeat on every call: log each code once at error; transient ones at debug. */
  private logFailure(e: ProviderError): void {
    if (e.failure === "rejected") this.logOnce(e.code, "error", { code: e.code, status: e.status, err: e.message }, "provider refused the request");
    else this.log.debug({ code: e.code, status: e.status, err: e.message }, "provider request failed");
  }

  private logOnce(key: string, level: "warn" | "error", fields: Record<string, unknown>, msg: string): void {
    if (this.loggedCodes.has(key)) return;
    this.loggedCodes.add(key);
    this.log[level](fields, msg);
  }
}
