import { afterEach, describe, expect, it } from "vitest";
import { FakeVirusTotal, virusTotalAttributes, type FakeVirusTotalOptions } from "../../fakes/virustotal.js";
import { abuseIpDbRecord } from "../../fakes/abuseipdb.js";
import { sampleIps } from "../../fakes/ip-intel.js";

const fakes: FakeVirusTotal[] = [];
async function startFake(opts: FakeVirusTotalOptions = {}): Promise<FakeVirusTotal> {
  const fake = await FakeVirusTotal.start(opts);
  fakes.push(fake);
  return fake;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.stop()));
});

async function lookup(
  fake: FakeVirusTotal,
  ip: string,
  opts: { key?: string | null; signal?: AbortSignal } = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const key = opts.key === undefined ? fake.apiKey : opts.key;
  if (key !== null) headers["x-apikey"] = key;
  const res = await fetch(`${fake.url}/api/v3/ip_addresses/${encodeURIComponent(ip)}`, { headers, signal: opts.signal });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, headers: res.headers };
}

describe("FakeVirusTotal", () => {
  it("answers the real IP object, deterministic and consistent with FakeAbuseIpDb", async () => {
    const fake = await startFake({ rpm: Infinity });
    const [bad] = sampleIps("malicious", 1);
    const [clean] = sampleIps("clean", 1);
    const r = await lookup(fake, bad!);
    expect(r.status).toBe(200);
    expect(r.json.data).toMatchObject({ id: bad, type: "ip_address", links: { self: `https://www.virustotal.com/api/v3/ip_addresses/${bad}` } });
    const a = r.json.data.attributes;
    expect(a).toEqual(virusTotalAttributes(bad!));
    expect(Object.keys(a.last_analysis_stats).sort()).toEqual(["harmless", "malicious", "suspicious", "timeout", "undetected"]);
    expect(a.last_analysis_stats.malicious).toBeGreaterThanOrEqual(8);
    expect(a.reputation).toBeLessThan(0);
    expect(Number.isInteger(a.last_analysis_date)).toBe(true);
    expect(typeof a.as_owner).toBe("string");
    expect(typeof a.asn).toBe("number");
    expect(a.network).toMatch(/\/24$/);
    const engines = Object.values(a.last_analysis_results) as { category: string }[];
    expect(engines.filter((e) => e.category === "malicious").length).toBe(Math.min(a.last_analysis_stats.malicious, engines.length));
    expect(abuseIpDbRecord(bad!).abuseConfidenceScore).toBeGreaterThanOrEqual(90); // same world in both fakes

    const c = await lookup(fake, clean!);
    expect(c.json.data.attributes.last_analysis_stats.malicious).toBe(0);
    const priv = await lookup(fake, "192.168.1.10");
    expect(priv.json.data.attributes.as_owner).toBeUndefined();
    expect(priv.json.data.attributes.last_analysis_stats.malicious).toBe(0);
    expect((await lookup(fake, "2001:db8::1")).status).toBe(200);
    expect(fake.keyCounts.get("2001:db8::1")).toBe(1);
  });

  it("applies per-IP overrides", async () => {
    const fake = await startFake({
      rpm: Infinity,
      classes: { "203.0.113.5": "malicious" },
      records: { "203.0.113.6": { last_analysis_stats: { malicious: 3 }, reputation: -7 } },
    });
    expect((await lookup(fake, "203.0.113.5")).json.data.attributes.last_analysis_stats.malicious).toBeGreaterThanOrEqual(8);
    const o = (await lookup(fake, "203.0.113.6")).json.data.attributes;
    expect(o.last_analysis_stats.malicious).toBe(3);
    expect(o.reputation).toBe(-7);
  });

  it("answers the documented error envelopes", async () => {
    const fake = await startFake({ rpm: Infinity, notFoundIps: ["198.51.100.1"] });
    const missing = await lookup(fake, "8.8.8.8", { key: null });
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual({ error: { code: "AuthenticationRequiredError", message: "X-Apikey header is missing" } });
    const wrong = await lookup(fake, "8.8.8.8", { key: "nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ error: { code: "WrongCredentialsError", message: "Wrong API key" } });
    const invalid = await lookup(fake, "not-an-ip");
    expect(invalid.status).toBe(400);
    expect(invalid.json.error.code).toBe("InvalidArgumentError");
    const nf = await lookup(fake, "198.51.100.1");
    expect(nf.status).toBe(404);
    expect(nf.json.error.code).toBe("NotFoundError");

    const fake404 = await startFake({ invalidIpStatus: 404 });
    expect((await lookup(fake404, "300.1.1.1")).json.error.code).toBe("NotFoundError");
  });

  it("enforces the public-tier 4/min (sliding) with 429 QuotaExceededError and no rate-limit headers", async () => {
    let now = 2_000_000;
    const fake = await startFake({ windowMs: 6_000, clock: () => now });
    for (let i = 0; i < 4; i++) {
      expect((await lookup(fake, `8.8.8.${i + 1}`)).status).toBe(200);
      now += 1_000;
    }
    const r = await lookup(fake, "8.8.8.8");
    expect(r.status).toBe(429);
    expect(r.json).toEqual({ error: { code: "QuotaExceededError", message: "Quota exceeded" } });
    expect(r.headers.get("retry-after")).toBeNull();
    expect([...r.headers.keys()].filter((h) => h.startsWith("x-ratelimit"))).toEqual([]);
    expect(fake.violations).toBe(1);
    now += 2_000; // the first request (t=0) has left the 6 s window
    expect((await lookup(fake, "8.8.8.8")).status).toBe(200);
    expect((await lookup(fake, "8.8.8.8")).status).toBe(429);
    expect(fake.violationsBy.get("rpm")).toBe(2);
  });

  it("enforces the daily budget and can send Retry-After when asked", async () => {
    const now = 3_000_000;
    const fake = await startFake({ rpm: Infinity, daily: 2, dayMs: 20_000, clock: () => now, retryAfterHeader: true });
    await lookup(fake, "8.8.8.8");
    await lookup(fake, "8.8.4.4");
    const r = await lookup(fake, "1.1.1.1");
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("20");
    expect(fake.violationsBy.get("daily")).toBe(1);
    fake.resetDay();
    expect((await lookup(fake, "1.1.1.1")).status).toBe(200);
  });

  it("serves the fault kinds, setDown, and seeded random faults", async () => {
    const fake = await startFake({ rpm: Infinity });
    fake.failNext(1, "429").failNext(1, "429_too_many").failNext(1, "500").failNext(1, "503").failNext(1, "504").failNext(1, "malformed");
    expect((await lookup(fake, "8.8.8.8")).json.error.code).toBe("QuotaExceededError");
    expect((await lookup(fake, "8.8.8.8")).json.error.code).toBe("TooManyRequestsError");
    expect((await lookup(fake, "8.8.8.8")).status).toBe(500);
    expect((await lookup(fake, "8.8.8.8")).json).toEqual({ error: { code: "TransientError", message: "Transient error, please try again later" } });
    expect((await lookup(fake, "8.8.8.8")).json.error.code).toBe("DeadlineExceededError");
    const m = await lookup(fake, "8.8.8.8");
    expect(m.status).toBe(200);
    expect(m.json).toBeUndefined();
    expect(fake.violations).toBe(0);
    fake.failNext(1, "reset");
    await expect(lookup(fake, "8.8.8.8")).rejects.toThrow();
    fake.setDown(true);
    expect((await lookup(fake, "8.8.8.8")).json.error.code).toBe("TransientError");
    fake.setDown(false);

    const seq = async (): Promise<(string | undefined)[]> => {
      const f = await startFake({ rpm: Infinity, faultRate: 0.3, seed: 7, faultKinds: ["429", "503"] });
      for (let i = 0; i < 20; i++) await lookup(f, "8.8.8.8");
      return f.log.map((e) => e.fault);
    };
    const [s1, s2] = [await seq(), await seq()];
    expect(s1).toEqual(s2);
    expect(s1.some((x) => x !== undefined)).toBe(true);
  });

  it("hang + stop: the request fails, no socket or timer is left", async () => {
    const fake = await FakeVirusTotal.start({ rpm: Infinity, latencyMs: 60_000 });
    fake.failNext(1, "hang");
    const hung = lookup(fake, "8.8.8.8").then(
      () => "answered",
      () => "failed",
    );
    const slow = lookup(fake, "8.8.4.4").then(
      () => "answered",
      () => "failed",
    );
    await fake.waitFor((f) => f.hangs === 1 && f.pendingTimers === 1);
    expect(fake.inFlight).toBe(2);
    expect(fake.maxConcurrent).toBe(2);
    await fake.stop();
    expect(await hung).toBe("failed");
    expect(await slow).toBe("failed");
    expect(fake.openSockets).toBe(0);
    expect(fake.pendingTimers).toBe(0);
  });
});
