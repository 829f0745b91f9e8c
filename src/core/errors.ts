import type { ErrorCode } from "./error-codes.js";

/** Pipeline stages, also used as the `stage` metric label. */
export type Stage = "config" | "source" | "decode" | "normalize" | "batch" | "enrich" | "classify" | "sink" | "dlq" | "ops";

/** The one base error: stable code (also a metric label), stage, and whether retrying can help. */
export class TriageError extends Error {
  /** Catalogued in core/error-codes.ts (ERRORS.md). */
  readonly code: ErrorCode;
  readonly stage: Stage;
  readonly retriable: boolean;
  /** Server-suggested wait before retrying, when known (Retry-After, RetryInfo). */
  readonly retryAfterMs?: number;

  constructor(opts: { code: ErrorCode; stage: Stage; retriable: boolean; message: string; cause?: unknown; retryAfterMs?: number }) {
    super(opts.message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "TriageError";
    this.code = opts.code;
    this.stage = opts.stage;
    this.retriable = opts.retriable;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Narrow an unknown throwable to a TriageError, wrapping foreign errors as non-retriable. */
export function asTriageError(err: unknown, stage: Stage, code: ErrorCode = "unexpected"): TriageError {
  if (err instanceof TriageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TriageError({ code, stage, retriable: false, message, cause: err });
}
