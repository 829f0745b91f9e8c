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

describe("values JSON.parse cannot keep apart", () => {
  const normalizer = createNormalizer(limits);
  const raw = (text: string) => normalizer.normalize(bytes(text));

  it("gives a record with 1e309 and one with null different derived ids", () => {
    const big = raw('{"alert_name":"x","bytes_out":1e309}');
    const nul = raw('{"alert_name":"x","bytes_out":null}');
    const negative = raw('{"alert_name":"x","bytes_out":-1e309}');
    expect(big.ok && nul.ok && negative.ok).toBe(true);
    if (!big.ok || !nul.ok || !negative.ok) return;
    expect(new Set([big.value.alert_id, nul.value.alert_id, negative.value.alert_id]).size).toBe(3);
    // The number beyond the double range is kept as its literal text, not as Infinity (which serialises as null).
    expect(big.value.fields.bytes_out).toBe("1e309");
    expect(negative.value.fields.bytes_out).toBe("-1e309");
  });

  it("names an out-of-range severity by its literal value, not as null", () => {
    const r = raw('{"alert_name":"x","severity":1e309}');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe("invalid_field");
    expect(r.message).toContain("1e309");
    expect(r.message).not.toMatch(/severity null/);
  });

  it("keeps NUL characters out of every decoded string and key", () => {
    const r = raw('{"alert_name":"Login\\u0000 ok","description":"a\\u0000b","note\\u0000":"x","nested":{"list":["\\u0000"]}}');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(JSON.stringify(r.value)).not.toContain("\\u0000");
    expect(r.value.alert_name).toBe("Login\u2400 ok");
    expect(r.value.description).toBe("a\u2400b");
    expect(r.value.fields).toEqual({ "note\u2400": "x", nested: { list: ["\u2400"] } });
  });

  it("leaves an escaped backslash followed by u0000 as the literal text it is", () => {
    const r = raw('{"alert_name":"path C:\\\\u0000"}');
    expect(r.ok && r.value.alert_name).toBe("path C:\\u0000");
  });
});

describe("forbidden keys", () => {
  it("names the path of a nested __proto__ key", () => {
    const r = decodeRecord(bytes('{"a":[{"b":1},{"c":{"__proto__":1}}]}'), limits);
    expect(!r.ok && r.message).toBe("record contains a forbidden key at $.a[1].c.__proto__");
  });
});
