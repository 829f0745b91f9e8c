import { describe, expect, it } from "vitest";
import { readVirusTotalReply } from "../../../../src/transforms/enrich/virustotal.js";
import type { ProviderReply } from "../../../../src/transforms/enrich/http.js";
import type { ProviderError } from "../../../../src/transforms/enrich/provider-error.js";
import { providerErrorOf, providerReply } from "./support.js";

const NOW = Date.UTC(2025, 0, 1);

const reply = providerReply;
const errorOf = (r: ProviderReply): ProviderError => providerErrorOf(readVirusTotalReply, r, NOW);

const vtError = (code: string, message = "m") => ({ error: { code, message } });

describe("VirusTotal IP object", () => {
  it("maps analysis stats, reputation, owner and country", () => {
    const body = {
      data: {
        id: "8.8.8.8",
        type: "ip_address",
        links: { self: "https://www.virustotal.com/api/v3/ip_addresses/8.8.8.8" },
        attributes: {
          as_owner: "GOOGLE",
          asn: 15169,
          country: "US",
          reputation: 542,
          tags: [],
          total_votes: { harmless: 224, malicious: 38 },
          last_analysis_stats: { harmless: 62, malicious: 0, suspicious: 0, undetected: 32, timeout: 0 },
          last_analysis_results: { Kaspersky: { method: "blacklist", engine_name: "Kaspersky", category: "harmless", result: "clean" } },
        },
      },
    };
    expect(readVirusTotalReply(reply(200, body), NOW)).toEqual({
      malicious: 0,
      suspicious: 0,
      harmless: 62,
      undetected: 32,
      reputation: 542,
      as_owner: "GOOGLE",
      country: "US",
    });
  });

  it("treats every attribute as optional (private/unrouted IPs have few)", () => {
    expect(readVirusTotalReply(reply(200, { data: { id: "10.0.0.1", type: "ip_address", attributes: { reputation: -3 } } }), NOW)).toEqual({
      malicious: 0,
      suspicious: 0,
      harmless: 0,
      undetected: 0,
      reputation: -3,
      as_owner: null,
      country: null,
    });
  });

  it("a truncated 200 is retriable; a 200 without data.attributes is not", () => {
    expect(errorOf(reply(200, '{"data":{"id":"1.2.3.4","attri'))).toMatchObject({ code: "virustotal_bad_response", retriable: true });
    expect(errorOf(reply(200, { data: { id: "1.2.3.4" } }))).toMatchObject({ code: "virustotal_bad_response", retriable: false });
  });
});

describe("VirusTotal error bodies", () => {
  it.each([
    [401, "AuthenticationRequiredError", "virustotal_unauthorized", "rejected", false],
    [401, "WrongCredentialsError", "virustotal_unauthorized", "rejected", false],
    [401, "UserNotActiveError", "virustotal_user_not_active", "rejected", false],
    [403, "ForbiddenError", "virustotal_forbidden", "rejected", false],
    [400, "BadRequestError", "virustotal_bad_request", "rejected", false],
    [400, "InvalidArgumentError", "virustotal_invalid_argument", "about_ip", false],
    [404, "NotFoundError", "virustotal_not_found", "about_ip", false],
    [429, "QuotaExceededError", "virustotal_quota_exceeded", "rate_limited", true],
    [429, "TooManyRequestsError", "virustotal_too_many_requests", "rate_limited", true],
    [503, "TransientError", "virustotal_transient", "unavailable", true],
    [504, "DeadlineExceededError", "virustotal_deadline_exceeded", "unavailable", true],
    [500, "InternalError", "virustotal_server_error", "unavailable", true],
    [418, "TeapotError", "virustotal_http_error", "rejected", false],
  ] as const)("%i %s → %s", (status, code, expected, failure, retriable) => {
    const e = errorOf(reply(status, vtError(code, "Quota exceeded")));
    expect(e).toMatchObject({ code: expected, failure, retriable, status, stage: "enrich" });
    expect(e.message).toContain(code);
  });

  it("QuotaExceededError has no wait hint (no headers); a Retry-After, when sent, is honoured", () => {
    expect(errorOf(reply(429, vtError("QuotaExceededError"))).retryAfterMs).toBeUndefined();
    expect(errorOf(reply(429, vtError("QuotaExceededError"), { "Retry-After": "17" })).retryAfterMs).toBe(17_000);
  });

  it("a non-JSON error body is classified by status", () => {
    expect(errorOf(reply(502, "<html>Bad Gateway</html>"))).toMatchObject({ code: "virustotal_server_error", retriable: true });
    expect(errorOf(reply(429, ""))).toMatchObject({ code: "virustotal_too_many_requests", failure: "rate_limited" });
  });
});
