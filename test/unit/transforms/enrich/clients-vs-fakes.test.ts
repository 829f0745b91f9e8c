// The real clients against the loopback provider fakes: wire format, auth headers and each fault the fakes inject.
import { afterEach, describe, expect, it } from "vitest";
import { FakeAbuseIpDb, abuseIpDbRecord } from "../../../fakes/abuseipdb.js";
import { FakeVirusTotal, virusTotalAttributes } from "../../../fakes/virustotal.js";
import { sampleIps } from "../../../fakes/ip-intel.js";
import { abuseIpDbClient } from "../../../../src/transforms/enrich/abuseipdb.js";
import { virusTotalClient } from "../../../../src/transforms/enrich/virustotal.js";

const fakes: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  while (fakes.length) await fakes.pop()!.stop();
});

async function abuse(opts: Parameters<typeof FakeAbuseIpDb.start>[0] = {}) {
  const fake = await FakeAbuseIpDb.start(opts);
  fakes.push(fake);
  return { fake, client: abuseIpDbClient({ baseUrl: fake.url, apiKey: fake.apiKey, maxAgeDays: 90, timeoutMs: 300 }) };
}

async function vt(opts: Parameters<typeof FakeVirusTotal.start>[0] = {}) {
  const fake = await FakeVirusTotal.start({ rpm: Infinity, ...opts });
  fakes.push(fake);
  return { fake, client: virusTotalClient({ baseUrl: fake.url, apiKey: fake.apiKey, timeoutMs: 300 }) };
}

const [malicious] = sampleIps("malicious", 1);

describe("abuseIpDbClient vs FakeAbuseIpDb", () => {
  it("maps a check to the compact data", async () => {
    const { client } = await abuse();
    const rec = abuseIpDbRecord(malicious!);
    expect(await client.lookup(malicious!)).toEqual({
      abuse_confidence_score: rec.abuseConfidenceScore,
      country: rec.countryCode,
      usage_type: rec.usageType,
      isp: rec.isp,
      total_reports: rec.totalReports,
      is_tor: rec.isTor,
      last_reported_at: rec.lastReportedAt,
    });
  });

  it("a wrong key → abuseipdb_unauthorized", async () => {
    const fake = await FakeAbuseIpDb.start();
    fakes.push(fake);
    const client = abuseIpDbClient({ baseUrl: fake.url, apiKey: "wrong", maxAgeDays: 90, timeoutMs: 300 });
    await expect(client.lookup("5.1.1.1")).rejects.toMatchObject({ code: "abuseipdb_unauthorized", retriable: false });
  });

  it("daily budget spent → 429 with the reset as retryAfterMs", async () => {
    const { client } = await abuse({ daily: 1 });
    await client.lookup("5.1.1.1");
    const err = await client.lookup("5.1.1.2").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "abuseipdb_daily_quota_exceeded", failure: "rate_limited", retriable: true });
    expect((err as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(80_000_000);
  });

  it.each([
    ["502_html", "abuseipdb_server_error"],
    ["503", "abuseipdb_server_error"],
    ["hang", "abuseipdb_timeout"],
    ["reset", "abuseipdb_network"],
    ["malformed", "abuseipdb_bad_response"],
    ["429_no_headers", "abuseipdb_daily_quota_exceeded"],
  ] as const)("fault %s → %s", async (kind, code) => {
    const { fake, client } = await abuse();
    fake.failNext(1, kind);
    await expect(client.lookup("5.1.1.1")).rejects.toMatchObject({ code });
  });
});

describe("virusTotalClient vs FakeVirusTotal", () => {
  it("maps the IP object to the compact data", async () => {
    const { client } = await vt();
    const a = virusTotalAttributes(malicious!);
    expect(await client.lookup(malicious!)).toEqual({
      malicious: a.last_analysis_stats.malicious,
      suspicious: a.last_analysis_stats.suspicious,
      harmless: a.last_analysis_stats.harmless,
      undetected: a.last_analysis_stats.undetected,
      reputation: a.reputation,
      as_owner: a.as_owner,
      country: a.country,
    });
  });

  it("a wrong key → virustotal_unauthorized; an unknown IP → virustotal_not_found (about the IP)", async () => {
    const { fake, client } = await vt({ notFoundIps: ["5.4.3.2"] });
    await expect(client.lookup("5.4.3.2")).rejects.toMatchObject({ code: "virustotal_not_found", failure: "about_ip" });
    const bad = virusTotalClient({ baseUrl: fake.url, apiKey: "wrong", timeoutMs: 300 });
    await expect(bad.lookup("5.1.1.1")).rejects.toMatchObject({ code: "virustotal_unauthorized" });
  });

  it("over the per-minute quota → virustotal_quota_exceeded with no wait hint", async () => {
    const { client } = await vt({ rpm: 1 });
    await client.lookup("5.1.1.1");
    const err = await client.lookup("5.1.1.2").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "virustotal_quota_exceeded", failure: "rate_limited" });
    expect((err as { retryAfterMs?: number }).retryAfterMs).toBeUndefined();
  });

  it.each([
    ["429_too_many", "virustotal_too_many_requests"],
    ["500", "virustotal_server_error"],
    ["503", "virustotal_transient"],
    ["504", "virustotal_deadline_exceeded"],
    ["hang", "virustotal_timeout"],
    ["reset", "virustotal_network"],
    ["malformed", "virustotal_bad_response"],
  ] as const)("fault %s → %s", async (kind, code) => {
    const { fake, client } = await vt();
    fake.failNext(1, kind);
    await expect(client.lookup("5.1.1.1")).rejects.toMatchObject({ code });
  });
});
