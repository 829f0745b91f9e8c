/**
 * VirusTotal API v3 client: `GET /api/v3/ip_addresses/{ip}` (header `x-apikey`), the IP object's analysis
 * stats mapped to the compact VirusTotalData, and `{"error":{code,message}}` bodies mapped to ProviderError.
 */
import { z } from "zod";
import type { VirusTotalData } from "../../core/enrichment.js";
import { bodySnippet, getWithTimeout, retryAfterMs, type FetchLike, type ProviderReply } from "./http.js";
import { ProviderError, readOkBody, type ProviderFailure, type ProviderReason } from "./provider-error.js";
import type { TiClient } from "../../core/ports/index.js";

const count = z.number().int().min(0).optional();

// Every attribute is optional upstream (private/unrouted IPs have few).
const ipObjectSchema = z.object({
  data: z.object({
    attributes: z.object({
      last_analysis_stats: z.object({ malicious: count, suspicious: count, harmless: count, undetected: count }).optional(),
      reputation: z.number().int().optional(),
      as_owner: z.string().nullish(),
      country: z.string().nullish(),
    }),
  }),
});

const errorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string().optional() }) });

// Documented v3 error codes → our reason, what it means, and whether retrying can help.
const KNOWN_ERRORS: Record<string, readonly [reason: ProviderReason, failure: ProviderFailure, retriable: boolean]> = {
  BadRequestError: ["bad_request", "rejected", false],
  InvalidArgumentError: ["invalid_argument", "about_ip", false],
  NotAvailableYet: ["not_available_yet", "unavailable", true],
  AuthenticationRequiredError: ["unauthorized", "rejected", false],
  WrongCredentialsError: ["unauthorized", "rejected", false],
  UserNotActiveError: ["user_not_active", "rejected", false],
  ForbiddenError: ["forbidden", "rejected", false],
  NotFoundError: ["not_found", "about_ip", false],
  QuotaExceededError: ["quota_exceeded", "rate_limited", true],
  TooManyRequestsError: ["too_many_requests", "rate_limited", true],
  TransientError: ["transient", "unavailable", true],
  DeadlineExceededError: ["deadline_exceeded", "unavailable", true],
};

export interface VirusTotalClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  fetch?: FetchLike;
  now?: () => number;
}

/** The VirusTotal port adapter: one IP report per call; throws ProviderError for anything but a readable 200. */
export function virusTotalClient(opts: VirusTotalClientOptions): TiClient<VirusTotalData> {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const now = opts.now ?? Date.now;
  const headers = { "x-apikey": opts.apiKey, Accept: "application/json" };
  return {
    provider: "virustotal",
    async lookup(ip) {
      const reply = await getWithTimeout("virustotal", `${base}/api/v3/ip_addresses/${encodeURIComponent(ip)}`, headers, opts.timeoutMs, opts.fetch);
      return readVirusTotalReply(reply, now());
    },
  };
}

/** Map a VirusTotal reply to data (200) or throw the ProviderError its status and error body describe. */
export function readVirusTotalReply(reply: ProviderReply, nowMs: number): VirusTotalData {
  if (reply.status === 200) {
    const a = readOkBody("virustotal", "VirusTotal", "IP object", reply, ipObjectSchema).data.attributes;
    const stats = a.last_analysis_stats ?? {};
    return {
      malicious: stats.malicious ?? 0,
      suspicious: stats.suspicious ?? 0,
      harmless: stats.harmless ?? 0,
      undetected: stats.undetected ?? 0,
      reputation: a.reputation ?? 0,
      as_owner: a.as_owner ?? null,
      country: a.country ?? null,
    };
  }
  throw virusTotalError(reply, nowMs);
}

/** The ProviderError for a non-200 VirusTotal reply; unknown codes fall back to the HTTP status. */
export function virusTotalError(reply: ProviderReply, nowMs: number): ProviderError {
  const body = errorBodySchema.safeParse(reply.json);
  const code = body.success ? body.data.error.code : undefined;
  const detail = body.success ? `${code}: ${body.data.error.message ?? ""}`.replace(/: $/, "") : bodySnippet(reply.text) || "no error body";
  const message = `VirusTotal ${reply.status}: ${detail}`;
  const s = reply.status;
  const known = code !== undefined ? KNOWN_ERRORS[code] : undefined;
  const [reason, failure, retriable] = known ?? byStatus(s);
  // QuotaExceededError carries no rate headers; a Retry-After, when present, is still honoured.
  const wait = failure === "rate_limited" || failure === "unavailable" ? retryAfterMs(reply.headers, nowMs) : undefined;
  return new ProviderError({ provider: "virustotal", reason, failure, retriable, message, status: s, ...(wait !== undefined ? { retryAfterMs: wait } : {}) });
}

function byStatus(status: number): readonly [ProviderReason, ProviderFailure, boolean] {
  if (status === 401) return ["unauthorized", "rejected", false];
  if (status === 403) return ["forbidden", "rejected", false];
  if (status === 429) return ["too_many_requests", "rate_limited", true];
  if (status >= 500) return ["server_error", "unavailable", true];
  return ["http_error", "rejected", false];
}
