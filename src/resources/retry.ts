import { asTriageError, type Stage, type TriageError } from "../core/errors.js";

/**
 * What one attempt of a retried call came to. Expected outcomes are values: the client says whether retrying can help
 * (and how long the server asks to wait); throwing is left to bugs and lost infrastructure.
 */
export type AttemptOutcome<T, R = string> =
  | { kind: "ok"; value: T }
  /** Retrying may help; afterMs is the server's hint (Retry-After, RetryInfo), waited out before the next attempt. */
  | { kind: "retryable"; error: TriageError; afterMs?: number }
  /** Retrying cannot help; `reason`, when the client has one, is what the caller acts on (default: a human text). */
  | { kind: "failed"; error: TriageError; reason?: R };

/**
 * The end of a retried call: its value, or the error of the attempt it stopped at (or `aborted`); `reason` is passed
 * on from a `failed` attempt; `exhausted` says retryable attempts ran out of deadline or retries.
 */
export type RetryOutcome<T, R = string> = { kind: "ok"; value: T } | { kind: "failed"; error: TriageError; attempts: number; exhausted: boolean; reason?: R };

/** Wait ms, or resolve false at once when the signal aborts (global timers, so tests can fake them). */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface RetryPolicy {
  /** Give up once this much time has passed since the first attempt. */
  deadlineMs: number;
  /** Upper bound on attempts after the first. */
  retries?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
  /** Called after each retryable attempt (for logs/metrics), also the last one. */
  onRetry?: (err: TriageError, attempt: number) => void;
}

/** Jittered exponential backoff before retry n (1-based): min·2^(n-1)·[1, 2), capped at maxDelayMs. */
function backoffMs(retry: number, minDelayMs: number, maxDelayMs: number): number {
  return Math.min(Math.round((Math.random() + 1) * minDelayMs * 2 ** (retry - 1)), maxDelayMs);
}

function aborted(signal: AbortSignal, stage: Stage, attempts: number): RetryOutcome<never, never> {
  return { kind: "failed", error: asTriageError(signal.reason, stage, "aborted"), attempts, exhausted: false };
}

/**
 * A retrying wrapper over a client whose attempts return outcomes (the shape of OpenTelemetry JS's retrying
 * transport): retryable outcomes are tried again with jittered exponential backoff, a server hint is waited out
 * first, all bounded by a deadline and a retry cap. Resolves to a value; an abort resolves to `failed` (`aborted`).
 * Only an exception from the attempt itself (a bug) rejects.
 */
export async function retrying<T, R = string>(
  stage: Stage,
  attempt: (n: number) => Promise<AttemptOutcome<T, R>>,
  policy: RetryPolicy,
): Promise<RetryOutcome<T, R>> {
  const startedAt = Date.now();
  const retries = policy.retries ?? 50;
  const minDelayMs = policy.minDelayMs ?? 100;
  const maxDelayMs = policy.maxDelayMs ?? 5000;
  const signal = policy.signal;
  for (let n = 1; ; n++) {
    if (signal?.aborted) return aborted(signal, stage, n - 1);
    const outcome = await attempt(n);
    if (outcome.kind === "ok") return outcome;
    if (outcome.kind === "failed")
      return { kind: "failed", error: outcome.error, attempts: n, exhausted: false, ...(outcome.reason !== undefined ? { reason: outcome.reason } : {}) };
    policy.onRetry?.(outcome.error, n);
    const giveUp: RetryOutcome<T, R> = { kind: "failed", error: outcome.error, attempts: n, exhausted: true };
    const left = () => policy.deadlineMs - (Date.now() - startedAt);
    const hint = outcome.afterMs ?? 0;
    if (hint > left()) return giveUp; // the server asks for longer than we may wait
    if (left() <= 0 || n > retries) return giveUp;
    if (hint > 0 && !(await sleep(hint, signal))) return aborted(signal!, stage, n);
    const remaining = left();
    if (remaining <= 0) return giveUp;
    const delay = Math.min(backoffMs(n, minDelayMs, maxDelayMs), remaining);
    if (!(await sleep(delay, signal))) return aborted(signal!, stage, n);
  }
}

/**
 * Throwing form of `retrying`, for calls whose failure is lost infrastructure to the caller (sink writes): fn's
 * TriageErrors are retried while `retriable` (TriageError.retryAfterMs as the hint), foreign errors are bugs (no
 * retry); the last error is thrown.
 */
export async function withRetry<T>(stage: Stage, fn: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const result = await retrying<T>(
    stage,
    async (n) => {
      try {
        return { kind: "ok", value: await fn(n) };
      } catch (err) {
        const error = asTriageError(err, stage);
        if (!error.retriable) return { kind: "failed", error };
        return { kind: "retryable", error, ...(error.retryAfterMs !== undefined ? { afterMs: error.retryAfterMs } : {}) };
      }
    },
    policy,
  );
  if (result.kind === "failed") throw result.error;
  return result.value;
}
