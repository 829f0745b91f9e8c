import { afterEach, describe, expect, it } from "vitest";
import { FakeAbuseIpDb, abuseIpDbRecord, type FakeAbuseIpDbOptions } from "../../fakes/abuseipdb.js";
import { sampleIps } from "../../fakes/ip-intel.js";

const fakes: FakeAbuseIpDb[] = [];
async function startFake(opts: FakeAbuseIpDbOptions = {}): Promise<FakeAbuseIpDb> {
  const fake = await FakeAbuseIpDb.start(opts);
  fakes.push(fake);
  return fake;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.stop()));
});

async function check(
  fake: FakeAbuseIpDb,
  ip: string | null,
  opts: { key?: string | null; accept?: string | null; query?: string; signal?: AbortSignal } = {},
): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const params = new URLSearchParams();
  if (ip !== null) params.set("ipAddress", ip);
  params.set("maxAgeInDays", "90");
  const headers: Record<string, string> = {};
  const key = opts.key === undefined ? fake.apiKey : opts.key;
  if (key !== null) headers.Key = key;
  const accept = opts.accept === undefined ? "application/json" : opts.accept;
  if (accept !== null) headers.Accept = accept;
  const res = await fetch(`${fake.url}/api/v2/check?${params.toString()}${opts.query ?? ""}`, { headers, signal: opts.signal });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}

describe("FakeAbuseIpDb", () => {
  it("answers the real success body with X-RateLimit headers, deterministic per IP", async () => {
    const fake = await startFake();
    const [bad] = sampleIps("malicious", 1);
    const [clean] = sampleIps("clean", 1);
    const r = await check(fake, bad!);
    expect(r.status).toBe(200);
    expect(Object.keys(r.json.data)).toEqual([
      "ipAddress",
      "isPublic",
      "ipVersion",
      "isWhitelisted",
      "abuseConfidenceScore",
      "countryCode",
      "usageType",
      "isp",
      "domain",
      "hostnames",
      "isTor",
      "totalReports",
      "numDistinctUsers",
      "lastReportedAt",
    ]);
    expect(r.json.data).toEqual(abuseIpDbRecord(bad!));
    expect(r.json.data.abuseConfidenceScore).toBeGreaterThanOrEqual(90);
    expect(r.json.data.lastReportedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    expect(r.headers.get("x-ratelimit-limit")).toBe("1000");
    expect(r.headers.get("x-ratelimit-remaining")).toBe("999");

    const c = await check(fake, clean!);
    expect(c.json.data).toMatchObject({ abuseConfidenceScore: 0, totalReports: 0, lastReportedAt: null, isPublic: true });
    expect(c.headers.get("x-ratelimit-remaining")).toBe("998");

    const p = await check(fake, "10.1.2.3");
    expect(p.json.data).toEqual({
      ipAddress: "10.1.2.3",
      isPublic: false,
      ipVersion: 4,
      isWhitelisted: false,
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
    });
    const v6 = await check(fake, "2001:db8::1");
    expect(v6.json.data.ipVersion).toBe(6);

    expect(fake.keyCounts.get(bad!)).toBe(1);
    expect(fake.okKeyCounts.get("10.1.2.3")).toBe(1);
    expect(fake.totalRequests).toBe(4);
  });

  it("supports verbose and per-IP overrides", async () => {
    const fake = await startFake({ scores: { "203.0.113.7": 100 }, classes: { "203.0.113.8": "clean" }, records: { "203.0.113.9": { isTor: true } } });
    const v = await check(fake, "203.0.113.7", { query: "&verbose" });
    expect(v.json.data.abuseConfidenceScore).toBe(100);
    expect(Object.keys(v.json.data).slice(5, 7)).toEqual(["countryCode", "countryName"]);
    expect(v.json.data.reports.length).toBeGreaterThan(0);
    expect(v.json.data.reports[0]).toEqual(expect.objectContaining({ categories: expect.any(Array), reporterId: expect.any(Number) }));
    expect((await check(fake, "203.0.113.8")).json.data.abuseConfidenceScore).toBe(0);
    expect((await check(fake, "203.0.113.9")).json.data.isTor).toBe(true);
  });

  it("answers 401 for a missing or wrong key, 422 for bad parameters (with source.parameter)", async () => {
    const fake = await startFake();
    const auth = {
      errors: [
        {
          detail: "Authentication failed. Your API key is either missing, incorrect, or revoked. Note: The APIv2 key differs from the APIv1 key.",
          status: 401,
        },
      ],
    };
    const wrong = await check(fake, "8.8.8.8", { key: "nope" });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual(auth);
    expect((await check(fake, "8.8.8.8", { key: null })).json).toEqual(auth);
    expect((await fetch(`${fake.url}/api/v2/check?ipAddress=8.8.8.8&key=${fake.apiKey}`, { headers: { Accept: "application/json" } })).status).toBe(200);

    const bad = await check(fake, "999.1.1.1");
    expect(bad.status).toBe(422);
    expect(bad.json).toEqual({
      errors: [
        {
          detail: "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or 2001:4860:4860::8888).",
          status: 422,
          source: { parameter: "ipAddress" },
        },
      ],
    });
    const missing = await check(fake, null);
    expect(missing.json.errors[0].source).toEqual({ parameter: "ipAddress" });
    const age = await fetch(`${fake.url}/api/v2/check?ipAddress=8.8.8.8&maxAgeInDays=0`, { headers: { Key: fake.apiKey, Accept: "application/json" } });
    expect(age.status).toBe(422);
    expect(await age.json()).toEqual({ errors: [{ detail: "The max age in days must be between 1 and 365.", status: 422 }] });

    const html = await check(fake, "8.8.8.8", { key: "nope", accept: null });
    expect(html.status).toBe(401);
    expect(html.headers.get("content-type")).toContain("text/html");
    expect(fake.statusCounts.get(422)).toBe(3);
    expect(fake.dailyLimiter.used(Date.now())).toBe(1); // only the admitted request consumed budget
  });

  it("enforces the daily budget: 429 with Retry-After and X-RateLimit-* headers, counted as violations", async () => {
    let now = 1_700_000_000_000;
    const fake = await startFake({ daily: 2, dayMs: 10_000, clock: () => now });
    expect((await check(fake, "8.8.8.8")).headers.get("x-ratelimit-remaining")).toBe("1");
    expect((await check(fake, "8.8.4.4")).headers.get("x-ratelimit-remaining")).toBe("0");
    now += 4_000;
    const r = await check(fake, "1.1.1.1");
    expect(r.status).toBe(429);
    expect(r.json).toEqual({
      errors: [{ detail: "Daily rate limit of 2 requests exceeded for this endpoint. See headers for additional details.", status: 429 }],
    });
    expect(r.headers.get("retry-after")).toBe("6");
    expect(r.headers.get("x-ratelimit-limit")).toBe("2");
    expect(r.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(r.headers.get("x-ratelimit-reset")).toBe(String((1_700_000_000_000 + 10_000) / 1000));
    expect(fake.violations).toBe(1);
    expect(fake.violationsBy.get("daily")).toBe(1);
    now += 6_000; // next "day"
    expect((await check(fake, "1.1.1.1")).status).toBe(200);
  });

  it("enforces an optional per-window rpm", async () => {
    let now = 1_000_000;
    const fake = await startFake({ rpm: 2, windowMs: 6_000, clock: () => now });
    await check(fake, "8.8.8.8");
    await check(fake, "8.8.8.8");
    const r = await check(fake, "8.8.8.8");
    expect(r.status).toBe(429);
    expect(r.headers.get("retry-after")).toBe("6");
    expect(fake.violationsBy.get("rpm")).toBe(1);
    expect(fake.keyCounts.get("8.8.8.8")).toBe(3);
    expect(fake.okKeyCounts.get("8.8.8.8")).toBe(2);
    now += 6_000;
    expect((await check(fake, "8.8.8.8")).status).toBe(200);
  });

  it("serves the fault kinds and setDown", async () => {
    const fake = await startFake();
    fake.failNext(1, "429").failNext(1, "429_no_headers").failNext(1, "500").failNext(1, "503").failNext(1, "502_html").failNext(1, "malformed");
    const a = await check(fake, "8.8.8.8");
    expect(a.status).toBe(429);
    expect(a.headers.get("retry-after")).not.toBeNull();
    expect(a.headers.get("x-ratelimit-reset")).not.toBeNull();
    const b = await check(fake, "8.8.8.8");
    expect(b.status).toBe(429);
    expect(b.json.errors[0].status).toBe(429);
    expect(b.headers.get("retry-after")).toBeNull();
    expect(b.headers.get("x-ratelimit-limit")).toBeNull();
    expect((await check(fake, "8.8.8.8")).json).toEqual({ errors: [{ detail: "Internal Server Error", status: 500 }] });
    expect((await check(fake, "8.8.8.8")).status).toBe(503);
    const html = await check(fake, "8.8.8.8");
    expect(html.status).toBe(502);
    expect(html.text).toContain("cloudflare");
    const m = await check(fake, "8.8.8.8");
    expect(m.status).toBe(200);
    expect(m.json).toBeUndefined();
    expect(fake.violations).toBe(0);

    fake.failNext(1, "reset");
    await expect(check(fake, "8.8.8.8")).rejects.toThrow();

    fake.setDown(true);
    expect((await check(fake, "8.8.8.8")).status).toBe(503);
    fake.setDown(true, 500);
    expect((await check(fake, "8.8.8.8")).status).toBe(500);
    fake.setDown(false);
    expect((await check(fake, "8.8.8.8")).status).toBe(200);
  });

  it("hang: aborting frees the request; stop() ends a hung one and leaves nothing open", async () => {
    const fake = await FakeAbuseIpDb.start({ latencyMs: 30 });
    fake.failNext(2, "hang");
    const ac = new AbortController();
    const aborted = check(fake, "8.8.8.8", { signal: ac.signal }).then(
      () => "answered",
      (e: Error) => e.name,
    );
    await fake.waitFor((f) => f.hangs === 1);
    ac.abort();
    expect(await aborted).toBe("AbortError");
    await fake.waitFor((f) => f.inFlight === 0);

    const hung = check(fake, "8.8.8.8").then(
      () => "answered",
      () => "failed",
    );
    await fake.waitFor((f) => f.hangs === 2);
    await fake.stop();
    expect(await hung).toBe("failed");
    expect(fake.openSockets).toBe(0);
    expect(fake.pendingTimers).toBe(0);
    expect(fake.log.map((e) => e.status)).toEqual(["hang", "hang"]);
  });
});
