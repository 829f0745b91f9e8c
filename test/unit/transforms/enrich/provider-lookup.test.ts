import { describe, expect, it } from "vitest";
import { abuseData, buildLookup, counterValue, providerError, recordingCache, scriptedClient, vtData } from "./support.js";
import type { AbuseIpDbData, VirusTotalData } from "../../../../src/core/enrichment.js";

describe("ProviderLookup: cache", () => {
  it("caches an answer under provider:ip with the TI TTL; the next lookup is served from cache, marked cached", async () => {
    const client = scriptedClient<AbuseIpDbData>("abuseipdb", () => abuseData(90));
    const { lookup, cache, metrics } = buildLookup(client);
    expect(await lookup.lookup("45.155.205.233")).toEqual({ status: "ok", data: abuseData(90), cached: false });
    expect(cache.sets).toEqual([{ key: "abuseipdb:45.155.205.233", value: { status: "ok", data: abuseData(90) }, ttlMs: 86_400_000 }]);
    expect(await lookup.lookup("45.155.205.233")).toEqual({ status: "ok", data: abuseData(90), cached: true });
    expect(client.calls).toEqual(["45.155.205.233"]);
    expect(await counterValue(metrics, "cacheRequests", { cache: "ti", result: "hit" })).toBe(1);
    expect(await counterValue(metrics, "cacheRequests", { cache: "ti", result: "miss" })).toBe(1);
    expect(await counterValue(metrics, "tiRequests", { provider: "abuseipdb", outcome: "ok" })).toBe(1);
  });

  it("negative answers about the IP (404) are cached for the shorter TTL and not fetched again", async () => {
    const client = scriptedClient<VirusTotalData>("virustotal", () => providerError("virustotal", "not_found", "about_ip", false));
    const { lookup, cache } = buildLookup(client);
    const first = await lookup.lookup("91.240.118.172");
    expect(first).toMatchObject({ status: "error", code: "virustotal_not_found" });
    expect(cache.sets[0]).toMatchObject({ key: "virustotal:91.240.118.172", ttlMs: 3_600_000 });
    expect(await lookup.lookup("91.240.118.172")).toMatchObject({ status: "error", code: "virustotal_not_found" });
    expect(client.calls).toHaveLength(1);
  });

  it("provider failures (5xx) are not cached: the next alert tries again", async () => {
    const client = scriptedClient<VirusTotalData>("virustotal", (_ip, n) =>
      n === 1 ? providerError("virustotal", "transient", "unavailable", true) : vtData(3),
    );
    const { lookup, cache } = buildLookup(client);
    expect(await lookup.lookup("5.1.1.1")).toMatchObject({ status: "error", code: "virustotal_transient" });
    expect(cache.sets).toHaveLength(0);
    expect(await lookup.lookup("5.1.1.1")).toEqual({ status: "ok", data: vtData(3), cached: false });
  });

  it("an unreadable or outdated cache entry is a miss; a cache that is down does not stop the lookup", async () => {
    const client = scriptedClient<AbuseIpDbData>("abuseipdb", () => abuseData(10));
    const cache = recordingCache();
    cache.store.set("abuseipdb:5.1.1.1", { status: "ok", data: { score: 10 } });
    const { lookup } = buildLookup(client, { cache });
    expect(await lookup.lookup("5.1.1.1")).toMatchObject({ status: "ok", cached: false });
    cache.failReads = true;
    expect(await lookup.lookup("5.1.1.1")).toMatchObject({ status: "ok", cached: false });
    expect(client.calls).toHaveLength(2);
  });
});

describe("ProviderLookup: single-flight", () => {
  it("concurrent lookups of the same IP make one request and share its result", async () => {
    const client = scriptedClient<VirusTotalData>("virustotal", () => vtData(12), 30);
    const { lookup } = buildLookup(client);
    const results = await Promise.all(Array.from({ length: 20 }, () => lookup.lookup("185.220.101.4")));
    expect(client.calls).toEqual(["185.220.101.4"]);
    for (const r of results) expect(r).toEqual({ status: "ok", data: vtData(12), cached: false });
  });
});

describe("ProviderLookup: retries", () => {
  it("retries 5xx/timeouts a bounded number of times", async () => {
    const client = scriptedClient<AbuseIpDbData>("abuseipdb", (_ip, n) =>
      n <= 2 ? providerError("abuseipdb", "server_error", "unavailable", true) : abuseData(50),
    );
    const { lookup } = buildLookup(client, { maxRetries: 2 });
    expect(await lookup.lookup("5.2.2.2")).toMatchObject({ status: "ok", data: abuseData(50) });
    expect(client.calls).toHaveLength(3);

    const down = scriptedClient<AbuseIpDbData>("abuseipdb", () => providerError("abuseipdb", "timeout", "unavailable", true));
    const { lookup: l2 } = buildLookup(down, { maxRetries: 1 });
    expect(await l2.lookup("5.2.2.3")).toMatchObject({ status: "error", code: "abuseipdb_timeout" });
    expect(down.calls).toHaveLength(2);
  });

  it("does not retry refusals (401) or negative answers", async () => {
    const client = scriptedClient<AbuseIpDbData>("abuseipdb", () => providerError("abuseipdb", "unauthorized", "rejected", false));
    const { lookup } = buildLookup(client, { maxRetries: 2 });
    expect(await lookup.lookup("5.3.3.3")).toMatchObject({ status: "error", code: "abuseipdb_unauthorized" });
    expect(client.calls).toHaveLength(1);
  });
});

describe("ProviderLookup: circuit breaker", () => {
  it("opens after N consecutive failures: further lookups are <provider>_unavailable without a call; a probe after the cooldown closes it", async () => {
    let t = 0;
    let healthy = false;
    const client = scriptedClient<VirusTotalData>("virustotal", () => (healthy ? vtData(1) : providerError("virustotal", "server_error", "unavailable", true)));
    const { lookup, breaker, metrics } = buildLookup(client, { failureThreshold: 3, cooldownMs: 10_000, now: () => t });
    for (const ip of ["5.0.0.1", "5.0.0.2", "5.0.0.3"]) await lookup.lookup(ip);
    expect(breaker.state).toBe("open");
    const refused = await lookup.lookup("5.0.0.4");
    expect(refused).toMatchObject({ status: "error", code: "virustotal_unavailable" });
    expect(client.calls).toHaveLength(3);
    expect(await counterValue(metrics, "tiRequests", { provider: "virustotal", outcome: "breaker_open" })).toBe(1);

    t += 10_000;
    healthy = true;
    expect(await lookup.lookup("5.0.0.4")).toMatchObject({ status: "ok" });
    expect(breaker.state).toBe("closed");
    expect(client.calls).toHaveLength(4);
  });

  it("negative answers and 429s do not count as failures", async () => {
    let n = 0;
    const client = scriptedClient<VirusTotalData>("virustotal", () =>
      n++ % 2 === 0 ? providerError("virustotal", "not_found", "about_ip", false) : providerError("virustotal", "quota_exceeded", "rate_limited", true, 1),
    );
    const { lookup, breaker } = buildLookup(client, { failureThreshold: 2 });
    for (let i = 0; i < 6; i++) await lookup.lookup(`5.0.1.${i}`);
    expect(breaker.state).toBe("closed");
  });
});

describe("ProviderLookup: quota", () => {
  it("a 429 without a wait hint pauses the provider for one window; lookups that can't wait are skipped: unavailable, not called", async () => {
    const client = scriptedClient<VirusTotalData>("virustotal", (_ip, n) =>
      n === 1 ? providerError("virustotal", "quota_exceeded", "rate_limited", true) : vtData(0),
    );
    const { lookup, metrics } = buildLookup(client, { windowMs: 60_000, maxWaitMs: 100 });
    expect(await lookup.lookup("5.4.4.1")).toMatchObject({ status: "error", code: "virustotal_quota_exceeded" });
    expect(await lookup.lookup("5.4.4.2")).toEqual({ status: "skipped", skipped: "unavailable" });
    expect(client.calls).toEqual(["5.4.4.1"]);
    expect(await counterValue(metrics, "tiRequests", { provider: "virustotal", outcome: "quota_exceeded" })).toBe(1);
    expect(await counterValue(metrics, "tiRequests", { provider: "virustotal", outcome: "limiter_timeout" })).toBe(1);
  });

  it("a 429 with Retry-After pauses for that long, then requests flow again", async () => {
    const client = scriptedClient<AbuseIpDbData>("abuseipdb", (_ip, n) =>
      n === 1 ? providerError("abuseipdb", "rate_limited", "rate_limited", true, 150) : abuseData(0),
    );
    const { lookup } = buildLookup(client, { maxWaitMs: 2000 });
    await lookup.lookup("5.5.5.1");
    const t0 = Date.now();
    expect(await lookup.lookup("5.5.5.2")).toMatchObject({ status: "ok" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
  });

  it("the daily budget spent → skipped: budget, no call", async () => {
    const client = scriptedClient<VirusTotalData>("virustotal", () => vtData(0));
    const { lookup, metrics } = buildLookup(client, { rpd: 2 });
    await lookup.lookup("5.6.6.1");
    await lookup.lookup("5.6.6.2");
    expect(await lookup.lookup("5.6.6.3")).toEqual({ status: "skipped", skipped: "budget" });
    expect(client.calls).toHaveLength(2);
    expect(await counterValue(metrics, "tiRequests", { provider: "virustotal", outcome: "budget" })).toBe(1);
  });

  it("AbuseIPDB's own daily-limit 429 → skipped: budget until its reset, without further calls", async () => {
    const client = scriptedClient<AbuseIpDbData>("abuseipdb", () => providerError("abuseipdb", "daily_quota_exceeded", "rate_limited", true, 3_600_000));
    const { lookup } = buildLookup(client);
    expect(await lookup.lookup("5.7.7.1")).toEqual({ status: "skipped", skipped: "budget" });
    expect(await lookup.lookup("5.7.7.2")).toEqual({ status: "skipped", skipped: "budget" });
    expect(client.calls).toHaveLength(1);
  });

  it("never exceeds rpm within a window, even with many IPs in flight", async () => {
    const stamps: number[] = [];
    const client = scriptedClient<VirusTotalData>("virustotal", () => (stamps.push(Date.now()), vtData(0)));
    const { lookup } = buildLookup(client, { rpm: 3, windowMs: 200, maxWaitMs: 5000 });
    await Promise.all(Array.from({ length: 9 }, (_, i) => lookup.lookup(`5.8.8.${i}`)));
    expect(stamps).toHaveLength(9);
    for (let i = 3; i < stamps.length; i++) expect(stamps[i]! - stamps[i - 3]!).toBeGreaterThanOrEqual(200);
  });
});
