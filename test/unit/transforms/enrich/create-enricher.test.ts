import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../../src/config/load.js";
import { openCaches } from "../../../../src/resources/cache.js";
import type { Caches } from "../../../../src/core/ports/index.js";
import { createMetrics } from "../../../../src/telemetry/metrics.js";
import { createEnricher } from "../../../../src/transforms/enrich/index.js";
import { alertWith, capturingLogger } from "./support.js";

const opened: Caches[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.close();
});

async function caches(): Promise<Caches> {
  const c = await openCaches("memory://");
  opened.push(c);
  return c;
}

describe("createEnricher", () => {
  it("without any API key: returns null (pipeline runs without TI) and says so once per provider", async () => {
    const { logger, lines } = capturingLogger();
    const enricher = createEnricher({ config: loadConfig({}), caches: await caches(), metrics: createMetrics({ defaultMetrics: false }), logger });
    expect(enricher).toBeNull();
    const msgs = lines().map((l) => l.msg);
    expect(msgs).toEqual(["ABUSEIPDB_API_KEY unset: AbuseIPDB enrichment disabled", "VIRUSTOTAL_API_KEY unset: VirusTotal enrichment disabled"]);
  });

  it("with one key: the other provider is skipped: disabled, with no request and no per-alert error", async () => {
    const { logger, lines } = capturingLogger();
    const requests: string[] = [];
    const fetch = async (url: string) => {
      requests.push(url);
      return new Response(JSON.stringify({ data: { attributes: { last_analysis_stats: { malicious: 3 }, reputation: -5 } } }), { status: 200 });
    };
    const config = loadConfig({ VIRUSTOTAL_API_KEY: "vt-secret-key-123", VIRUSTOTAL_BASE_URL: "http://vt.test/" });
    const enricher = createEnricher({ config, caches: await caches(), metrics: createMetrics({ defaultMetrics: false }), logger, fetch });
    const [out] = await enricher!.enrich([alertWith("5.1.1.1")]);
    expect(out!.enrichment).toMatchObject({
      abuseipdb: { status: "skipped", skipped: "disabled" },
      virustotal: { status: "ok", data: { malicious: 3, reputation: -5 } },
    });
    expect(requests).toEqual(["http://vt.test/api/v3/ip_addresses/5.1.1.1"]);
    const text = JSON.stringify(lines());
    expect(text).toContain("AbuseIPDB enrichment disabled");
    expect(text).not.toContain("vt-secret-key-123");
  });

  it("sends each provider's auth header and query as documented", async () => {
    const seen: { url: string; headers: Record<string, string> }[] = [];
    const fetch = async (url: string, init: RequestInit) => {
      seen.push({ url, headers: init.headers as Record<string, string> });
      return url.includes("abuse")
        ? new Response(
            JSON.stringify({
              data: { abuseConfidenceScore: 7, countryCode: "FR", usageType: null, isp: null, totalReports: 2, isTor: false, lastReportedAt: null },
            }),
            { status: 200 },
          )
        : new Response(JSON.stringify({ data: { attributes: {} } }), { status: 200 });
    };
    const config = loadConfig({
      ABUSEIPDB_API_KEY: "ak",
      VIRUSTOTAL_API_KEY: "vk",
      ABUSEIPDB_BASE_URL: "http://abuse.test",
      VIRUSTOTAL_BASE_URL: "http://vt.test",
      ABUSEIPDB_MAX_AGE_DAYS: "30",
    });
    const enricher = createEnricher({
      config,
      caches: await caches(),
      metrics: createMetrics({ defaultMetrics: false }),
      logger: capturingLogger().logger,
      fetch,
    });
    const [out] = await enricher!.enrich([alertWith("2a00:1450::200e")]);
    expect(out!.enrichment).toMatchObject({ abuseipdb: { status: "ok", data: { abuse_confidence_score: 7, country: "FR" } }, virustotal: { status: "ok" } });
    const abuse = seen.find((s) => s.url.includes("abuse"))!;
    expect(abuse.url).toBe("http://abuse.test/api/v2/check?ipAddress=2a00%3A1450%3A%3A200e&maxAgeInDays=30");
    expect(abuse.headers).toMatchObject({ Key: "ak", Accept: "application/json" });
    const vt = seen.find((s) => s.url.includes("vt.test"))!;
    expect(vt.url).toBe("http://vt.test/api/v3/ip_addresses/2a00%3A1450%3A%3A200e");
    expect(vt.headers).toMatchObject({ "x-apikey": "vk" });
  });
});
