import pRetry, { AbortError } from "p-retry";
import { asTriageError, type Stage, TriageError } from "../core/errors.js";

/** Wait ms, or reject with the signal's reason once it aborts (global timers, so tests can fake them). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
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
  /** Called before each retry (for logs/metrics). */
  onRetry?: (err: TriageError, attempt: number) => void;
}

/**
 * Run fn with jittered exponential backoff while its errors are retriable, bounded by a deadline.
 * A server hint (TriageError.retryAfterMs: Retry-After, RetryInfo) is waited out before the next attempt.
 */
export async function withRetry<T>(stage: Stage, fn: (attempt: number) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const startedAt = Date.now();
  return pRetry(
    async (attempt) => {
      try {
        return await fn(attempt);
      } catch (err) {
        const e = asTriageError(err, stage);
        if (!e.retriable) throw new AbortError(e);
        throw e;
      }
    },
    {
      retries: policy.retries ?? 50,
      minTimeout: policy.minDelayMs ?? 100,
      maxTimeout: policy.maxDelayMs ?? 5000,
      factor: 2,
      randomize: true,
      maxRetryTime: policy.deadlineMs,
      ...(policy.signal ? { signal: policy.signal } : {}),
      onFailedAttempt: async ({ error, attemptNumber }) => {
        const e = error instanceof TriageError ? error : asTriageError(error, stage);
        policy.onRetry?.(e, attemptNumber);
        const hint = e.retryAfterMs;
        if (hint && hint > 0) {
          const left = policy.deadlineMs - (Date.now() - startedAt);
          if (hint > left) throw e; // the server asks for longer than we may wait
          await sleep(hint, policy.signal);
        }
      },
    },
  ).catch((err: unknown) => {
    throw asTriageError(err, stage);
  });
}
