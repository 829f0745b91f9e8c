/**
 * AbuseIPDB APIv2 client: `GET /api/v2/check` (header `Key`, `Accept: application/json`), the success body
 * validated and mapped to the compact AbuseIpDbData, and its JSON:API error bodies mapped to ProviderError.
 */
import { z } from "zod";
import type { AbuseIpDbData } from "../../core/enrichment.js";
import { bodySnippet, getWithTimeout, retryAfterMs, type FetchLike, type ProviderReply } from "./http.js";
import { ProviderError, readOkBody, type ProviderReason } from "./provider-error.js";
import type { TiClient } from "../../core/ports/index.js";

const checkResponseSchema = z.object({
  data: z.object({
    abuseConfidenceScore: z.number().int().min(0).max(100),
    countryCode: z.string().nullish(),
    usageType: z.string().nullish(),
    isp: z.string().nullish(),
    totalReports: z.number().int().min(0).nullish(),
    isTor: z.boolean().nullish(),
    lastReportedAt: z.string().nullish(),
  }),
});

const errorBodySchema = z.object({
  errors: z.array(z.object({ detail: z.string(), status: z.number().optional(), source: z.object({ parameter: z.string().optional() }).optional() })).min(1),
});

export interface AbuseIpDbClientOptions {
  baseUrl: string;
  apiKey: string;
  maxAgeDays: number;
  timeoutMs: number;
  fetch?: FetchLike;
  now?: () => number;
}

/** The AbuseIPDB port adapter: one check per call; throws ProviderError for anything but a readable 200. */
export function abuseIpDbClient(opts: AbuseIpDbClientOptions): TiClient<AbuseIpDbData> {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const now = opts.now ?? Date.now;
  const headers = { Key: opts.apiKey, Accept: "application/json" };
  return {
    provider: "abuseipdb",
    async lookup(ip) {
      const query = new URLSearchParams({ ipAddress: ip, maxAgeInDays: String(opts.maxAgeDays) });
      const reply = await getWithTimeout("abuseipdb", `${base}/api/v2/check?${query}`, headers, opts.timeoutMs, opts.fetch);
      return readAbuseIpDbReply(reply, now());
    },
  };
}

/** Map an AbuseIPDB reply to data (200) or throw the ProviderError its status and error body describe. */
export function readAbuseIpDbReply(reply: ProviderReply, nowMs: number): AbuseIpDbData {
  if (reply.status === 200) {
    const d = readOkBody("abuseipdb", "AbuseIPDB", "check response", reply, checkResponseSchema).data;
    return {
      abuse_confidence_score: d.abuseConfidenceScore,
      country: d.countryCode ?? null,
      usage_type: d.usageType ?? null,
      isp: d.isp ?? null,
      total_reports: d.totalReports ?? 0,
      is_tor: d.isTor ?? false,
      last_reported_at: d.lastReportedAt ?? null,
    };
  }
  throw abuseIpDbError(reply, nowMs);
}

/** The ProviderError for a non-200 AbuseIPDB reply (body `{"errors":[{detail,status,source?}]}`, or HTML). */
export function abuseIpDbError(reply: ProviderReply, nowMs: number): ProviderError {
  const body = errorBodySchema.safeParse(reply.json);
  const first = body.success ? body.data.errors[0] : undefined;
  const detail = first?.detail ?? (bodySnippet(reply.text) || "no error body");
  const message = `AbuseIPDB ${reply.status}: ${detail}`;
  const s = reply.status;
  if (s === 401) return fail("unauthorized", "rejected", false, message, s);
  if (s === 402) return fail("payment_required", "rejected", false, message, s);
  if (s === 403) return fail("forbidden", "rejected", false, message, s);
  if (s === 422) {
    const aboutIp = first?.source?.parameter === "ipAddress" || /ip ?address/i.test(detail);
    return aboutIp ? fail("invalid_ip", "about_ip", false, message, s) : fail("invalid_request", "rejected", false, message, s);
  }
  if (s === 429) {
    const wait = retryAfterMs(reply.headers, nowMs);
    const daily = /daily/i.test(detail) || reply.headers.get("x-ratelimit-remaining") === "0";
    return fail(daily ? "daily_quota_exceeded" : "rate_limited", "rate_limited", true, message, s, wait);
  }
  if (s >= 500) return fail("server_error", "unavailable", true, message, s, retryAfterMs(reply.headers, nowMs));
  return fail("http_error", "rejected", false, message, s);
}

function fail(
  reason: ProviderReason,
  failure: ProviderError["failure"],
  retriable: boolean,
  message: string,
  status: number,
  retryAfter?: number,
): ProviderError {
  return new ProviderError({
    provider: "abuseipdb",
    reason,
    failure,
    retriable,
    message,
    status,
    ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
  });
}
