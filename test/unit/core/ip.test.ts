import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { classifyIp } from "../../../src/core/ip.js";

// Independent oracle: IPv4 special-purpose ranges as numbers (not BlockList), so the property tests check
// the implementation against a second reading of the IANA registry.
const V4_SPECIAL: readonly [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];
const toInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
const toV4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const inV4 = (n: number, [base, bits]: readonly [string, number]) => Math.floor(n / 2 ** (32 - bits)) === Math.floor(toInt(base) / 2 ** (32 - bits));
const v4In = (base: string, bits: number) => fc.integer({ min: 0, max: 2 ** (32 - bits) - 1 }).map((off) => toV4(toInt(base) + off));
const hex = (n: number) => n.toString(16);
const v6With = (first: fc.Arbitrary<number>) =>
  fc.tuple(first, fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 7, maxLength: 7 })).map(([h, rest]) => [h, ...rest].map(hex).join(":"));

describe("classifyIp", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["1.1.1.1", "public"],
    ["100.128.0.1", "public"],
    ["2606:4700::1111", "public"],
    ["2001:4860:4860::8888", "public"],
    ["10.0.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["127.0.0.1", "loopback"],
    ["::1", "loopback"],
    ["169.254.10.1", "link_local"],
    ["fe80::1", "link_local"],
    ["100.64.0.1", "cgnat"],
    ["100.127.255.255", "cgnat"],
    ["224.0.0.251", "multicast"],
    ["ff02::1", "multicast"],
    ["192.0.2.7", "documentation"],
    ["198.51.100.7", "documentation"],
    ["203.0.113.7", "documentation"],
    ["2001:db8::7", "documentation"],
    ["3fff::1", "documentation"],
    ["198.18.0.1", "benchmarking"],
    ["fc00::1", "unique_local"],
    ["fd12:3456::1", "unique_local"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["255.255.255.255", "reserved"],
    ["240.0.0.1", "reserved"],
    ["2001::1", "reserved"],
    ["4000::1", "reserved"],
  ])("%s is %s", (ip, expected) => {
    const c = classifyIp(ip);
    expect(c.kind === "public" ? "public" : c.kind === "non_public" ? c.range : "invalid").toBe(expected);
  });

  it("rejects text that is not an address", () => {
    for (const t of ["", "abc", "1.2.3", "1.2.3.4.5", "256.1.1.1", "010.1.1.1", "1.2.3.4:443", "example.com", "2001:db8::g"])
      expect(classifyIp(t)).toEqual({ kind: "invalid" });
  });

  it("canonicalises: case, zero runs, brackets, zones, IPv4-mapped and NAT64 addresses", () => {
    expect(classifyIp("2001:4860:4860:0:0:0:0:8888")).toMatchObject({ kind: "public", ip: "2001:4860:4860::8888" });
    expect(classifyIp(" [2606:4700:0000::1111] ")).toMatchObject({ kind: "public", ip: "2606:4700::1111" });
    expect(classifyIp("FE80::1%eth0")).toMatchObject({ kind: "non_public", ip: "fe80::1", range: "link_local" });
    expect(classifyIp("::ffff:10.1.2.3")).toMatchObject({ kind: "non_public", ip: "10.1.2.3", version: 4 });
    expect(classifyIp("::ffff:8.8.8.8")).toEqual({ kind: "public", ip: "8.8.8.8", version: 4 });
    expect(classifyIp("64:ff9b::808:808")).toEqual({ kind: "public", ip: "8.8.8.8", version: 4 });
  });

  it("property: every address in 10/8, 172.16/12, 192.168/16, 127/8, 169.254/16, 100.64/10 is not public", () => {
    const arb = fc.oneof(
      v4In("10.0.0.0", 8),
      v4In("172.16.0.0", 12),
      v4In("192.168.0.0", 16),
      v4In("127.0.0.0", 8),
      v4In("169.254.0.0", 16),
      v4In("100.64.0.0", 10),
    );
    fc.assert(
      fc.property(arb, (ip) => classifyIp(ip).kind === "non_public"),
      { numRuns: 2000 },
    );
  });

  it("property: any IPv4 is public exactly when it is outside every special-purpose range", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        const special = V4_SPECIAL.some((r) => inV4(n, r));
        expect(classifyIp(toV4(n)).kind).toBe(special ? "non_public" : "public");
      }),
      { numRuns: 5000 },
    );
  });

  it("property: every address in fc00::/7, fe80::/10, ff00::/8, 2001:db8::/32 is not public", () => {
    const arb = fc.oneof(
      v6With(fc.integer({ min: 0xfc00, max: 0xfdff })),
      v6With(fc.integer({ min: 0xfe80, max: 0xfebf })),
      v6With(fc.integer({ min: 0xff00, max: 0xffff })),
      fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 6, maxLength: 6 }).map((rest) => ["2001", "db8", ...rest.map(hex)].join(":")),
    );
    fc.assert(
      fc.property(arb, (ip) => classifyIp(ip).kind === "non_public"),
      { numRuns: 2000 },
    );
  });

  it("property: generated global-unicast IPv6 (2400::–3ffe:ffff::) is public and round-trips its canonical form", () => {
    fc.assert(
      fc.property(v6With(fc.integer({ min: 0x2400, max: 0x3ffe })), (ip) => {
        const c = classifyIp(ip);
        expect(c.kind).toBe("public");
        if (c.kind === "public") expect(classifyIp(c.ip)).toEqual(c);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: an IPv4-mapped IPv6 address classifies like its IPv4", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        expect(classifyIp(`::ffff:${toV4(n)}`)).toEqual(classifyIp(toV4(n)));
      }),
      { numRuns: 2000 },
    );
  });
});
