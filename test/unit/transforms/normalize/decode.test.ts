import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { decodeRecord } from "../../../../src/transforms/normalize/decode.js";
import { createNormalizer } from "../../../../src/transforms/normalize/index.js";

const limits = { maxRecordBytes: 4096, maxJsonDepth: 8 };
const bytes = (s: string) => Buffer.from(s, "utf8");

describe("decodeRecord", () => {
  it.each([
    ["empty", Buffer.alloc(0), "empty_record"],
    ["invalid JSON", bytes('{"alert_name": "x'), "invalid_json"],
    ["array", bytes("[1,2]"), "not_an_object"],
    ["number", bytes("42"), "not_an_object"],
    ["null", bytes("null"), "not_an_object"],
    ["bad UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), "invalid_utf8"],
    ["too deep", bytes(`${"[".repeat(20)}${"]".repeat(20)}`), "too_deep"],
    ["__proto__ key", bytes('{"alert_name":"x","__proto__":{"admin":true}}'), "forbidden_key"],
    ["nested __proto__", bytes('{"a":[{"b":{"__proto__":1}}]}'), "forbidden_key"],
    ["too large", Buffer.alloc(5000, 0x20), "record_too_large"],
  ])("rejects %s with a reason", (_name, input, code) => {
    const r = decodeRecord(input, limits);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(code);
      expect(r.message.length).toBeGreaterThan(5);
    }
  });

  it("ignores braces inside strings when measuring depth", () => {
    const r = decodeRecord(bytes(JSON.stringify({ alert_name: "[[[[[[[[[[[[{{{{{{{{{{{" })), limits);
    expect(r.ok).toBe(true);
  });

  it("never throws and always answers ok|invalid for random bytes (property)", () => {
    const normalizer = createNormalizer(limits);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (arr) => {
        const r = normalizer.normalize(Buffer.from(arr));
        expect(typeof r.ok).toBe("boolean");
        if (!r.ok) expect(r.code).toMatch(/^[a-z0-9_]+$/);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws for random JSON values (property)", () => {
    const normalizer = createNormalizer({ maxRecordBytes: 1 << 20, maxJsonDepth: 32 });
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = normalizer.normalize(bytes(JSON.stringify(v) ?? "null"));
        expect(typeof r.ok).toBe("boolean");
      }),
      { numRuns: 1000 },
    );
  });
});
