import { describe, expect, it } from "vitest";
import { enrichmentSchema, type AbuseIpDbData, type VirusTotalData } from "../../../../src/core/enrichment.js";
import { ThreatIntelEnricher } from "../../../../src/transforms/enrich/enricher.js";
import { abuseData, alertWith, buildLookup, providerError, scriptedClient, vtData } from "./support.js";

function twoProviders(
  abuse = scriptedClient<AbuseIpDbData>("abuseipdb", () => abuseData(95)),
  vt = scriptedClient<VirusTotalData>("virustotal", () => vtData(14)),
) {
  const enricher = new ThreatIntelEnricher({ abuseipdb: buildLookup(abuse).lookup, virustotal: buildLookup(vt).lookup });
  return { enricher, abuse, vt };
}

describe("ThreatIntelEnricher", () => {
  it("attaches both providers' data for a public source IP; every enrichment is a valid verdict field", async () => {
    const { enricher } = twoProviders();
    const [out] = await enricher.enrich([alertWith("45.155.205.233", "10.0.4.21")]);
    expect(out!.enrichment).toEqual({
      ip: "45.155.205.233",
      ip_role: "source",
      abuseipdb: { status: "ok", data: abuseData(95), cached: false },
      virustotal: { status: "ok", data: vtData(14), cached: false },
    });
    expect(enrichmentSchema.safeParse(out!.enrichment).success).toBe(true);
  });

  it("one provider failing never stops the other, nor the alert", async () => {
    const abuse = scriptedClient<AbuseIpDbData>("abuseipdb", () => providerError("abuseipdb", "server_error", "unavailable", true));
    const { enricher } = twoProviders(abuse);
    const [out] = await enricher.enrich([alertWith("45.155.205.233")]);
    expect(out!.enrichment!.abuseipdb).toMatchObject({ status: "error", code: "abuseipdb_server_error" });
    expect(out!.enrichment!.virustotal).toEqual({ status: "ok", data: vtData(14), cached: false });
  });

  it("a provider whose client throws something unexpected still yields a value", async () => {
    const vt = scriptedClient<VirusTotalData>("virustotal", () => {
      throw new RangeError("bug");
    });
    const { enricher } = twoProviders(undefined, vt);
    const [out] = await enricher.enrich([alertWith("45.155.205.233")]);
    expect(out!.enrichment!.virustotal).toMatchObject({ status: "error", code: "virustotal_client_bug" });
    expect(out!.enrichment!.abuseipdb.status).toBe("ok");
  });

  it("looks each distinct IP up once per batch and keeps one result per alert, in order", async () => {
    const { enricher, abuse, vt } = twoProviders();
    const alerts = [
      alertWith("5.1.1.1", null, "a"),
      alertWith("5.2.2.2", null, "b"),
      alertWith("5.1.1.1", null, "c"),
      alertWith("::ffff:5.1.1.1", null, "d"),
      alertWith("10.0.0.1", null, "e"),
    ];
    const out = await enricher.enrich(alerts);
    expect(out.map((o) => o.alert.alert_id)).toEqual(["a", "b", "c", "d", "e"]);
    expect(out.map((o) => o.enrichment!.ip)).toEqual(["5.1.1.1", "5.2.2.2", "5.1.1.1", "5.1.1.1", "10.0.0.1"]);
    expect(abuse.calls.sort()).toEqual(["5.1.1.1", "5.2.2.2"]);
    expect(vt.calls.sort()).toEqual(["5.1.1.1", "5.2.2.2"]);
  });

  it("concurrent batches with the same IP share one request (single-flight); later batches hit the cache", async () => {
    const abuse = scriptedClient<AbuseIpDbData>("abuseipdb", () => abuseData(40), 25);
    const vt = scriptedClient<VirusTotalData>("virustotal", () => vtData(2), 25);
    const { enricher } = twoProviders(abuse, vt);
    await Promise.all([enricher.enrich([alertWith("5.9.9.9")]), enricher.enrich([alertWith("5.9.9.9")]), enricher.enrich([alertWith("5.9.9.9")])]);
    expect(abuse.calls).toHaveLength(1);
    expect(vt.calls).toHaveLength(1);
    const [later] = await enricher.enrich([alertWith("5.9.9.9")]);
    expect(later!.enrichment).toMatchObject({ abuseipdb: { status: "ok", cached: true }, virustotal: { status: "ok", cached: true } });
    expect(abuse.calls).toHaveLength(1);
  });

  it("private, invalid and missing addresses are not looked up", async () => {
    const { enricher, abuse, vt } = twoProviders();
    const out = await enricher.enrich([
      alertWith("192.168.1.5", "10.0.0.9"),
      alertWith("not-an-ip", null),
      alertWith(null, null),
      alertWith("fe80::1", "2001:db8::1"),
    ]);
    expect(out.map((o) => o.enrichment)).toEqual([
      { ip: "192.168.1.5", ip_role: "source", abuseipdb: { status: "skipped", skipped: "private" }, virustotal: { status: "skipped", skipped: "private" } },
      { ip: "not-an-ip", ip_role: "source", abuseipdb: { status: "skipped", skipped: "invalid" }, virustotal: { status: "skipped", skipped: "invalid" } },
      { ip: null, ip_role: null, abuseipdb: { status: "skipped", skipped: "no_ip" }, virustotal: { status: "skipped", skipped: "no_ip" } },
      { ip: "fe80::1", ip_role: "source", abuseipdb: { status: "skipped", skipped: "private" }, virustotal: { status: "skipped", skipped: "private" } },
    ]);
    expect(abuse.calls).toHaveLength(0);
    expect(vt.calls).toHaveLength(0);
  });

  it("uses the destination when it is public and the source is absent or private", async () => {
    const { enricher, abuse } = twoProviders();
    const out = await enricher.enrich([alertWith("10.0.7.13", "91.240.118.172"), alertWith(null, "2606:4700:0::1111")]);
    expect(out.map((o) => [o.enrichment!.ip, o.enrichment!.ip_role])).toEqual([
      ["91.240.118.172", "destination"],
      ["2606:4700::1111", "destination"],
    ]);
    expect(abuse.calls.sort()).toEqual(["2606:4700::1111", "91.240.118.172"]);
  });

  it("a disabled provider reads skipped: disabled on every alert", async () => {
    const abuse = scriptedClient<AbuseIpDbData>("abuseipdb", () => abuseData(5));
    const enricher = new ThreatIntelEnricher({ abuseipdb: buildLookup(abuse).lookup, virustotal: null });
    const out = await enricher.enrich([alertWith("5.1.1.1"), alertWith("10.1.1.1")]);
    expect(out[0]!.enrichment).toMatchObject({ abuseipdb: { status: "ok" }, virustotal: { status: "skipped", skipped: "disabled" } });
    expect(out[1]!.enrichment).toMatchObject({ abuseipdb: { status: "skipped", skipped: "private" }, virustotal: { status: "skipped", skipped: "disabled" } });
  });
});
