import { describe, expect, it } from "vitest";
import { readAbuseIpDbReply } from "../../../../src/transforms/enrich/abuseipdb.js";
import type { ProviderReply } from "../../../../src/transforms/enrich/http.js";
import type { ProviderError } from "../../../../src/transforms/enrich/provider-error.js";
import { providerErrorOf, providerReply } from "./support.js";

const NOW = Date.UTC(2018, 11, 27, 12, 0, 0);

const reply = providerReply;
const errorOf = (r: ProviderReply): ProviderError => providerErrorOf(readAbuseIpDbReply, r, NOW);

describe("AbuseIPDB check response", () => {
  it("maps the documented verbose example to the compact data", () => {
    const body = {
      data: {
        ipAddress: "118.25.6.39",
        isPublic: true,
        ipVersion: 4,
        isWhitelisted: false,
        abuseConfidenceScore: 100,
        countryCode: "CN",
        countryName: "China",
        usageType: "Data Center/Web Hosting/Transit",
        isp: "Tencent Cloud Computing (Beijing) Co. Ltd",
        domain: "tencent.com",
        hostnames: [],
        isTor: false,
        totalReports: 1,
        numDistinctUsers: 1,
        lastReportedAt: "2018-12-20T20:55:14+00:00",
        reports: [
          {
            reportedAt: "2018-12-20T20:55:14+00:00",
            comment: "sshd",
            categories: [18, 22],
            reporterId: 1,
            reporterCountryCode: "US",
            reporterCountryName: "United States",
          },
        ],
      },
    };
    expect(readAbuseIpDbReply(reply(200, body), NOW)).toEqual({
      abuse_confidence_score: 100,
      country: "CN",
      usage_type: "Data Center/Web Hosting/Transit",
      isp: "Tencent Cloud Computing (Beijing) Co. Ltd",
      total_reports: 1,
      is_tor: false,
      last_reported_at: "2018-12-20T20:55:14+00:00",
    });
  });

  it("accepts the nulls of a reserved address", () => {
    const body = {
      data: {
        ipAddress: "255.255.255.123",
        isPublic: false,
        ipVersion: 4,
        isWhitelisted: null,
        abuseConfidenceScore: 0,
        countryCode: null,
        usageType: "Reserved",
        isp: null,
        domain: null,
        hostnames: [],
        isTor: false,
        totalReports: 0,
        numDistinctUsers: 0,
        lastReportedAt: null,
      },
    };
    expect(readAbuseIpDbReply(reply(200, body), NOW)).toEqual({
      abuse_confidence_score: 0,
      country: null,
      usage_type: "Reserved",
      isp: null,
      total_reports: 0,
      is_tor: false,
      last_reported_at: null,
    });
  });

  it("a truncated 200 is retriable; a 200 of the wrong shape is not", () => {
    expect(errorOf(reply(200, '{"data":{"ipAddress":"1.2.3.4","abuseConf'))).toMatchObject({
      code: "abuseipdb_bad_response",
      retriable: true,
      failure: "bad_response",
    });
    expect(errorOf(reply(200, { data: { abuseConfidenceScore: "high" } }))).toMatchObject({ code: "abuseipdb_bad_response", retriable: false });
  });
});

describe("AbuseIPDB error bodies", () => {
  it("401: bad key → abuseipdb_unauthorized, not retriable, detail kept", () => {
    const e = errorOf(
      reply(401, {
        errors: [
          {
            detail: "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.",
            status: 401,
          },
        ],
      }),
    );
    expect(e).toMatchObject({ code: "abuseipdb_unauthorized", retriable: false, failure: "rejected", status: 401, stage: "enrich" });
    expect(e.message).toContain("Authentication failed");
  });

  it("402: plan lacks the feature → abuseipdb_payment_required", () => {
    expect(errorOf(reply(402, { errors: [{ detail: "Payment required.", status: 402 }] }))).toMatchObject({
      code: "abuseipdb_payment_required",
      retriable: false,
    });
  });

  it("422 about ipAddress is a negative answer about the IP; 422 about maxAgeInDays is our mistake", () => {
    const bad = errorOf(
      reply(422, {
        errors: [
          {
            detail: "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).",
            status: 422,
            source: { parameter: "ipAddress" },
          },
        ],
      }),
    );
    expect(bad).toMatchObject({ code: "abuseipdb_invalid_ip", failure: "about_ip", retriable: false });
    const age = errorOf(reply(422, { errors: [{ detail: "The max age in days must be between 1 and 365.", status: 422 }] }));
    expect(age).toMatchObject({ code: "abuseipdb_invalid_request", failure: "rejected" });
  });

  it("429 daily limit → retriable with Retry-After as the wait", () => {
    const e = errorOf(
      reply(
        429,
        { errors: [{ detail: "Daily rate limit of 1000 requests exceeded for this endpoint. See headers for additional details.", status: 429 }] },
        { "Retry-After": "29241", "X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1545973200" },
      ),
    );
    expect(e).toMatchObject({ code: "abuseipdb_daily_quota_exceeded", failure: "rate_limited", retriable: true, retryAfterMs: 29_241_000 });
  });

  it("429 without Retry-After falls back to X-RateLimit-Reset (epoch seconds)", () => {
    const e = errorOf(reply(429, { errors: [{ detail: "Too many requests.", status: 429 }] }, { "X-RateLimit-Reset": String(NOW / 1000 + 90) }));
    expect(e).toMatchObject({ code: "abuseipdb_rate_limited", retryAfterMs: 90_000 });
  });

  it("429 with no headers at all has no wait hint", () => {
    expect(errorOf(reply(429, { errors: [{ detail: "Too many requests.", status: 429 }] })).retryAfterMs).toBeUndefined();
  });

  it("5xx, JSON or Cloudflare HTML → abuseipdb_server_error, retriable", () => {
    expect(errorOf(reply(503, { errors: [{ detail: "Service Unavailable", status: 503 }] }))).toMatchObject({
      code: "abuseipdb_server_error",
      retriable: true,
      failure: "unavailable",
    });
    const html = errorOf(reply(502, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"));
    expect(html).toMatchObject({ code: "abuseipdb_server_error", retriable: true });
    expect(html.message).toContain("502 Bad Gateway");
  });

  it("any other status → abuseipdb_http_error, not retriable", () => {
    expect(errorOf(reply(404, { errors: [{ detail: "Not Found", status: 404 }] }))).toMatchObject({ code: "abuseipdb_http_error", retriable: false });
  });
});
