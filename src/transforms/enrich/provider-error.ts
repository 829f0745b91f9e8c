import type { ProviderReason } from "../../core/error-codes.js";
import { TriageError } from "../../core/errors.js";
import type { ProviderName } from "../../core/ports/ti.js";

export type { ProviderReason };

/** The threat-intel providers we call (defined with the TiClient port). */
export type { ProviderName } from "../../core/ports/ti.js";

/**
 * What a failed provider call means for the caller:
 * - `about_ip`: the provider answered, but about this IP there is nothing (404/422) — cache it briefly;
 * - `rate_limited`: a 429 — pause the provider's limiter, do not count against its health;
 * - `unavailable`: 5xx, timeout, network — retry a little, counts against the breaker;
 * - `rejected`: the provider refuses us (bad key, plan, request) — no retry, counts against the breaker;
 * - `bad_response`: a 200 we cannot read — counts against the breaker.
 */
export type ProviderFailure = "about_ip" | "rate_limited" | "unavailable" | "rejected" | "bad_response";

/** A provider call that failed, with a stable `<provider>_<reason>` code (metric label) and its meaning. */
export class ProviderError extends TriageError {
  readonly provider: ProviderName;
  readonly failure: ProviderFailure;
  /** HTTP status when the provider answered. */
  readonly status: number | undefined;

  constructor(opts: {
    provider: ProviderName;
    reason: ProviderReason;
    failure: ProviderFailure;
    retriable: boolean;
    message: string;
    status?: number;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    super({
      code: `${opts.provider}_${opts.reason}`,
      stage: "enrich",
      retriable: opts.retriable,
      message: opts.message,
      ...(opts.retryAfterMs !== undefined ? { retryAfterMs: opts.retryAfterMs } : {}),
      ...(opts.cause !== undefined ? { cause: opts.cause } : {}),
    });
    this.name = "ProviderError";
    this.provider = opts.provider;
    this.failure = opts.failure;
    this.status = opts.status;
  }

  /** The code without the provider prefix: the `outcome` metric label. */
  get reason(): string {
    return this.code.slice(this.provider.length + 1);
  }
}

/**
 * The body of a provider's 200 reply, validated: not JSON is retriable (a proxy page), an unexpected shape is not.
 * `what` names the payload in the error message ("check response", "IP object").
 */
export function readOkBody<T>(
  provider: ProviderName,
  label: string,
  what: string,
  reply: { status: number; json: unknown },
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } } },
): T {
  if (reply.json === undefined) {
    throw new ProviderError({
      provider,
      reason: "bad_response",
      failure: "bad_response",
      retriable: true,
      message: `${label}: 200 with a body that is not JSON`,
      status: reply.status,
    });
  }
  const parsed = schema.safeParse(reply.json);
  if (!parsed.success) {
    throw new ProviderError({
      provider,
      reason: "bad_response",
      failure: "bad_response",
      retriable: false,
      message: `${label}: unexpected ${what}: ${parsed.error.issues[0]?.message ?? "invalid"}`,
      status: reply.status,
    });
  }
  return parsed.data;
}
