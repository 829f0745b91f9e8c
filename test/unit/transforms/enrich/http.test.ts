import { describe, expect, it } from "vitest";
import { getWithTimeout, retryAfterMs } from "../../../../src/transforms/enrich/http.js";

const NOW = Date.UTC(2025, 0, 1, 0, 0, 0);

describe("retryAfterMs", () => {
  it("reads Retry-After in seconds or as an HTTP date", () => {
    expect(retryAfterMs(new Headers({ "Retry-After": "30" }), NOW)).toBe(30_000);
    expect(retryAfterMs(new Headers({ "Retry-After": "0.75" }), NOW)).toBe(750);
    expect(retryAfterMs(new Headers({ "Retry-After": new Date(NOW + 120_000).toUTCString() }), NOW)).toBe(120_000);
  });

  it("falls back to X-RateLimit-Reset: epoch seconds, or seconds from now when small", () => {
    expect(retryAfterMs(new Headers({ "X-RateLimit-Reset": String(NOW / 1000 + 3600) }), NOW)).toBe(3_600_000);
    expect(retryAfterMs(new Headers({ "X-RateLimit-Reset": "45" }), NOW)).toBe(45_000);
  });

  it("is undefined without usable headers", () => {
    expect(retryAfterMs(new Headers(), NOW)).toBeUndefined();
    expect(retryAfterMs(new Headers({ "Retry-After": "soon" }), NOW)).toBeUndefined();
  });
});

describe("getWithTimeout", () => {
  it("a provider that never answers becomes <provider>_timeout, retriable", async () => {
    const hang = (_url: string, init: RequestInit) =>
      new Promise<Response>((_resolve, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason)));
    await expect(getWithTimeout("virustotal", "http://x", {}, 50, hang)).rejects.toMatchObject({
      code: "virustotal_timeout",
      retriable: true,
      failure: "unavailable",
    });
  });

  it("a connection failure becomes <provider>_network, retriable", async () => {
    const refused = async () => {
      throw new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:1") });
    };
    await expect(getWithTimeout("abuseipdb", "http://x", {}, 1000, refused)).rejects.toMatchObject({
      code: "abuseipdb_network",
      retriable: true,
      message: expect.stringContaining("ECONNREFUSED"),
    });
  });

  it("returns status, headers, text and parsed JSON (undefined for non-JSON)", async () => {
    const ok = async () => new Response('{"a":1}', { status: 200, headers: { "X-RateLimit-Remaining": "9" } });
    const r = await getWithTimeout("abuseipdb", "http://x", {}, 1000, ok);
    expect(r).toMatchObject({ status: 200, text: '{"a":1}', json: { a: 1 } });
    expect(r.headers.get("x-ratelimit-remaining")).toBe("9");
    const html = await getWithTimeout("abuseipdb", "http://x", {}, 1000, async () => new Response("<html/>", { status: 502 }));
    expect(html.json).toBeUndefined();
  });
});
