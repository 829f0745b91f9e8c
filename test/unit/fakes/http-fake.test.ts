import { describe, expect, it } from "vitest";
import { WindowLimiter, fnv1a, mulberry32, protoDuration } from "../../fakes/http-fake.js";
import { defaultIpClass, isPrivateIp, sampleIps } from "../../fakes/ip-intel.js";

describe("fake helpers", () => {
  it("sliding WindowLimiter: at most `limit` units in any window; waitMs is exact", () => {
    const l = new WindowLimiter(3, 1_000);
    l.consume(0);
    l.consume(100);
    l.consume(200, 1);
    expect(l.waitMs(300)).toBe(700);
    expect(l.waitMs(300, 2)).toBe(800);
    expect(l.waitMs(300, 4)).toBe(Infinity);
    expect(l.waitMs(1_000)).toBe(0);
    expect(l.remaining(1_000)).toBe(1);
  });

  it("fixed WindowLimiter resets at anchored boundaries", () => {
    const l = new WindowLimiter(2, 1_000, "fixed", 500);
    l.consume(600);
    l.consume(700);
    expect(l.waitMs(1_400)).toBe(100);
    expect(l.windowEnd(1_400)).toBe(1_500);
    expect(l.waitMs(1_500)).toBe(0);
    const unlimited = new WindowLimiter(Infinity, 1_000);
    unlimited.consume(0, 1e9);
    expect(unlimited.waitMs(0)).toBe(0);
  });

  it("protoDuration formats like google.protobuf.Duration JSON", () => {
    expect(protoDuration(26_000)).toBe("26s");
    expect(protoDuration(4_500)).toBe("4.5s");
    expect(protoDuration(1.2)).toBe("0.002s");
    expect(protoDuration(26_374, true)).toBe("26s");
    expect(protoDuration(300, true)).toBe("1s");
  });

  it("PRNG and hash are deterministic; IP classes are stable", () => {
    const a = mulberry32(5);
    const b = mulberry32(5);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
    expect(fnv1a("x")).toBe(fnv1a("x"));
    expect(isPrivateIp("172.16.0.1")).toBe(true);
    expect(isPrivateIp("172.32.0.1")).toBe(false);
    expect(isPrivateIp("fe80::1")).toBe(true);
    expect(isPrivateIp("203.0.113.7")).toBe(false);
    const mal = sampleIps("malicious", 50);
    expect(new Set(mal).size).toBe(50);
    expect(mal.every((ip) => defaultIpClass(ip) === "malicious")).toBe(true);
    expect(sampleIps("clean", 3, 2)).toEqual(sampleIps("clean", 5).slice(2));
  });
});
