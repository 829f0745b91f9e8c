import PQueue from "p-queue";
import { TriageError, type Stage } from "../core/errors.js";
import type { QuotaLimits, QuotaStore, QuotaStoreFactory, Reservation } from "../core/ports/quota.js";

/** Sliding-window log in memory: exact, so the configured limits are never exceeded within this process. */
export class MemoryQuotaStore implements QuotaStore {
  /** One entry per request in the window; in-flight entries never expire (the server may not have counted them yet). */
  private log: { at: number; tokens: number; id: number; inFlight: boolean }[] = [];
  private nextId = 1;
  private pausedUntil = 0;
  private day = "";
  private dayCount = 0;
  private readonly windowMs: number;

  constructor(
    private readonly limits: QuotaLimits,
    private readonly dayKey: (nowMs: number) => string = utcDay,
  ) {
    // A small margin absorbs clock jitter between us and the server's window; slots count from completion.
    const w = limits.windowMs ?? 60_000;
    this.windowMs = w + Math.max(50, Math.round(w * 0.02));
  }

  async reserve(tokens: number, now: number): Promise<Reservation> {
    if (now < this.pausedUntil) return { granted: false, waitMs: this.pausedUntil - now, reason: "paused" };
    const key = this.dayKey(now);
    if (key !== this.day) {
      this.day = key;
      this.dayCount = 0;
    }
    if (this.limits.rpd !== undefined && this.dayCount >= this.limits.rpd) return { granted: false, waitMs: null, reason: "rpd" };
    const since = now - this.windowMs;
    if (this.log.some((e) => !e.inFlight && e.at <= since)) this.log = this.log.filter((e) => e.inFlight || e.at > since);
    // When each entry leaves the window: in-flight ones no earlier than a full window from now.
    const expiry = () => this.log.map((e) => ({ until: (e.inFlight ? now : e.at) + this.windowMs, tokens: e.tokens })).sort((a, b) => a.until - b.until);
    if (this.limits.rpm !== undefined && this.log.length >= this.limits.rpm) {
      const order = expiry();
      return { granted: false, waitMs: order[this.log.length - this.limits.rpm]!.until - now + 1, reason: "rpm" };
    }
    if (this.limits.tpm !== undefined && this.log.length > 0) {
      let used = 0;
      for (const e of this.log) used += e.tokens;
      if (used + tokens > this.limits.tpm) {
        // Wait until enough of the oldest entries leave the window.
        let freed = 0;
        const order = expiry();
        for (const e of order) {
          freed += e.tokens;
          if (used - freed + tokens <= this.limits.tpm) return { granted: false, waitMs: e.until - now + 1, reason: "tpm" };
        }
        return { granted: false, waitMs: order[order.length - 1]!.until - now + 1, reason: "tpm" };
      }
    }
    const id = this.nextId++;
    this.log.push({ at: now, tokens, id, inFlight: true });
    this.dayCount++;
    return { granted: true, id };
  }

  async settle(id: number, tokens: number): Promise<void> {
    const entry = this.log.find((e) => e.id === id);
    if (entry) entry.tokens = tokens;
  }

  async finished(id: number, now: number): Promise<void> {
    const entry = this.log.find((e) => e.id === id);
    if (!entry) return;
    entry.inFlight = false;
    entry.at = Math.max(entry.at, now);
  }

  async pauseFor(ms: number, now: number): Promise<void> {
    this.pausedUntil = Math.max(this.pausedUntil, now + ms);
  }
}

/** Calendar day in UTC, the default reset of daily budgets. */
export function utcDay(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10);
}

export interface LimiterOptions {
  /** Limiter name: metric label and error text. */
  name: string;
  stage: Stage;
  /** Requests in flight at once. */
  concurrency: number;
  store: QuotaStore;
  /** Longest a request may wait for quota before failing retriably. */
  maxWaitMs: number;
  /** Observed time each request waited for quota. */
  onWait?: (seconds: number) => void;
  /** Called once per request that had to wait for quota, with the first reason (a 429 pause shows as "paused"). */
  onThrottled?: (reason: "rpm" | "tpm" | "paused") => void;
  now?: () => number;
}

/** Why the limiter did not run a call: the day's budget is spent, or the quota wait would exceed maxWaitMs. */
export type LimitRefusal = { kind: "daily_budget"; error: TriageError } | { kind: "limiter_timeout"; error: TriageError; waitMs: number };

/** What tryRun came to: the call's value, or a refusal (the call did not run). */
export type LimitedOutcome<T> = { kind: "ran"; value: T } | LimitRefusal;

/** Context handed to the limited call, to report its real token use. */
export interface LimitedCall {
  settleTokens(tokens: number): Promise<void>;
}

/**
 * Rate limiter built once per upstream and injected: a p-queue bounds concurrency and orders work by
 * priority; each request then waits for room in the quota store (rpm, tpm, rpd, 429 pauses).
 */
export class RateLimiter {
  private readonly queue: PQueue;
  private readonly now: () => number;
  private waiters: (() => void)[] = [];

  constructor(private readonly opts: LimiterOptions) {
    this.queue = new PQueue({ concurrency: opts.concurrency });
    this.now = opts.now ?? Date.now;
  }

  /**
   * Run fn within the quota; higher priority runs first. Quota refusals are values: `daily_budget` (the day's budget
   * is spent, code `<name>_daily_budget`) or `limiter_timeout` (the wait would exceed maxWaitMs, retriable, with the
   * wait as hint). fn's own exceptions pass through.
   */
  tryRun<T>(estimatedTokens: number, fn: (call: LimitedCall) => Promise<T>, priority = 0): Promise<LimitedOutcome<T>> {
    return this.queue.add(
      async (): Promise<LimitedOutcome<T>> => {
        const grant = await this.acquire(estimatedTokens);
        if (grant.kind !== "granted") return grant;
        const id = grant.id;
        try {
          return { kind: "ran", value: await fn({ settleTokens: (tokens) => this.opts.store.settle(id, tokens) }) };
        } finally {
          await this.opts.store.finished(id, this.now());
          this.wakeWaiters(); // a settled/finished request may have freed room sooner than estimated
        }
      },
      { priority },
    );
  }

  /** Throwing form of tryRun, for callers to whom a refusal is an error: throws the refusal's TriageError. */
  async run<T>(estimatedTokens: number, fn: (call: LimitedCall) => Promise<T>, priority = 0): Promise<T> {
    const outcome = await this.tryRun(estimatedTokens, fn, priority);
    if (outcome.kind !== "ran") throw outcome.error;
    return outcome.value;
  }

  /** Pause every request for ms (server's retry delay). */
  pauseFor(ms: number): Promise<void> {
    return this.opts.store.pauseFor(ms, this.now());
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Requests waiting or running. */
  get pending(): number {
    return this.queue.size + this.queue.pending;
  }

  private async acquire(tokens: number): Promise<{ kind: "granted"; id: number } | LimitRefusal> {
    const started = this.now();
    let throttled = false;
    for (;;) {
      const r = await this.opts.store.reserve(tokens, this.now());
      if (r.granted) {
        this.opts.onWait?.((this.now() - started) / 1000);
        return { kind: "granted", id: r.id };
      }
      if (r.waitMs === null) {
        const error = new TriageError({
          code: `${this.opts.name}_daily_budget`,
          stage: this.opts.stage,
          retriable: false,
          message: `${this.opts.name}: daily request budget spent`,
        });
        return { kind: "daily_budget", error };
      }
      if (!throttled) {
        throttled = true;
        this.opts.onThrottled?.(r.reason);
      }
      const waited = this.now() - started;
      if (waited + r.waitMs > this.opts.maxWaitMs) {
        const message = `${this.opts.name}: quota wait would exceed ${this.opts.maxWaitMs} ms (${r.reason})`;
        return {
          kind: "limiter_timeout",
          error: new TriageError({ code: `${this.opts.name}_limiter_timeout`, stage: this.opts.stage, retriable: true, message, retryAfterMs: r.waitMs }),
          waitMs: r.waitMs,
        };
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, r.waitMs));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiters.push(done);
      });
    }
  }
}

/** The per-process default. */
export const memoryQuotaStores: QuotaStoreFactory = (_name, limits, dayKey) => new MemoryQuotaStore(limits, dayKey);
