import { createHash } from "node:crypto";
import { isUtf8 } from "node:buffer";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { DeadLetter, OutgoingMessage, StreamProducer } from "../../../src/core/ports/index.js";
import { boundValue, deadLetterHeaders, deadLetterJson } from "../../../src/sinks/dead-letter.js";
import { kafkaDeadLetterSink } from "../../../src/sinks/kafka.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const letter = (value: Buffer | null, extra: Partial<DeadLetter> = {}): DeadLetter => ({
  value,
  code: "record_too_large",
  message: "too big",
  origin: { topic: "in", partition: 0, offset: "7" },
  failedAtMs: 0,
  ...extra,
});

describe("boundValue", () => {
  it("keeps a value within the bound whole, with its size and SHA-256", () => {
    const v = Buffer.from('{"alert_name":"x"}');
    const b = boundValue(letter(v), 1024);
    expect(b).toEqual({ value: v, text: true, originalBytes: v.length, originalSha256: sha(v), truncated: false });
  });

  it("cuts UTF-8 text on a character boundary, never above the bound (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }), fc.integer({ min: 4, max: 400 }), (text, max) => {
        const v = Buffer.from(text, "utf8");
        const b = boundValue(letter(v), max);
        expect(b.value!.length).toBeLessThanOrEqual(max);
        expect(b.value!.length).toBeGreaterThanOrEqual(Math.min(v.length, max) - 3);
        expect(b.text).toBe(true);
        expect(isUtf8(b.value!)).toBe(true);
        expect(text.startsWith(b.value!.toString("utf8"))).toBe(true);
        expect(b.truncated).toBe(v.length > max);
        expect(b.originalBytes).toBe(v.length);
        expect(b.originalSha256).toBe(sha(v));
      }),
    );
  });

  it("cuts binary (not UTF-8) values at the byte bound", () => {
    const v = Buffer.from([0xff, 0xfe, ...Buffer.alloc(100, 0xc3)]);
    const b = boundValue(letter(v), 10);
    expect(b.text).toBe(false);
    expect(b.value).toEqual(v.subarray(0, 10));
    expect(b.truncated).toBe(true);
  });

  it("takes size and hash from the source when the source already cut the record", () => {
    const prefix = Buffer.from(`{"d":"${"€".repeat(10)}`).subarray(0, 12); // ends inside a 3-byte €
    const full = { bytes: 52_428_800, sha256: "ab".repeat(32) };
    const b = boundValue(letter(prefix, { full }), 1 << 20);
    expect(b.truncated).toBe(true);
    expect(b.originalBytes).toBe(full.bytes);
    expect(b.originalSha256).toBe(full.sha256);
    expect(b.text).toBe(true);
    expect(b.value!.toString("utf8")).toBe('{"d":"€€'); // the split character is dropped, the text stays valid
  });
});

describe("dead-letter headers and NDJSON", () => {
  it("headers carry the original size, SHA-256 and whether the value was cut", () => {
    const v = Buffer.alloc(5000, 0x61);
    const h = deadLetterHeaders(letter(v), boundValue(letter(v), 1024));
    expect(h).toMatchObject({
      "triage-error-code": "record_too_large",
      "triage-original-bytes": "5000",
      "triage-original-sha256": sha(v),
      "triage-truncated": "true",
      "triage-source-offset": "7",
    });
  });

  it("the file-mode dead letter says when its original bytes were cut, with their real size and SHA-256", () => {
    const full = { bytes: 52_428_800, sha256: "cd".repeat(32) };
    const json = deadLetterJson(letter(Buffer.from('{"alert_name":"x","description":"aaaa'), { full }));
    expect(json).toMatchObject({ value: '{"alert_name":"x","description":"aaaa', original_bytes: 52_428_800, original_sha256: full.sha256, truncated: true });
    const whole = deadLetterJson(letter(Buffer.from("[1]")));
    expect(whole).toMatchObject({ value: "[1]", original_bytes: 3, original_sha256: sha(Buffer.from("[1]")), truncated: false });
  });
});

describe("kafkaDeadLetterSink", () => {
  it("never sends a value above maxValueBytes, so a near-limit record plus headers still fits", async () => {
    const sent: OutgoingMessage[] = [];
    const producer: StreamProducer = { send: async (_t, m) => void sent.push(...m), disconnect: async () => {}, isConnected: () => true };
    const big = Buffer.alloc(1_048_000, 0x62);
    await kafkaDeadLetterSink(producer, "dlq", { maxValueBytes: 4096 }).write([letter(big), letter(Buffer.from("ok"))]);
    expect(sent.map((m) => (m.value as Buffer).length)).toEqual([4096, 2]);
    expect(sent[0]!.headers).toMatchObject({ "triage-original-bytes": "1048000", "triage-original-sha256": sha(big), "triage-truncated": "true" });
    expect(sent[1]!.headers).toMatchObject({ "triage-truncated": "false" });
  });
});

describe("request sizes", () => {
  const realBytes = (m: OutgoingMessage) =>
    Buffer.byteLength(m.value ?? "") +
    Buffer.byteLength(m.key ?? "") +
    Object.entries(m.headers ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);

  it("counts header and multi-byte bytes, so no request of many dead letters outgrows 512 KiB", async () => {
    const requests: number[] = [];
    const producer: StreamProducer = {
      send: async (_t, m) => void requests.push(m.reduce((n, x) => n + realBytes(x), 0)),
      disconnect: async () => {},
      isConnected: () => true,
    };
    // Small values with long, non-ASCII reasons: header bytes dominate.
    const letters = Array.from({ length: 2000 }, (_, i) =>
      letter(Buffer.from(`{"n":${i}}`), { code: "invalid_field", message: `severity "${"é".repeat(600)}" is not a known word` }),
    );
    await kafkaDeadLetterSink(producer, "dlq", { maxValueBytes: 4096 }).write(letters);
    expect(requests.length).toBeGreaterThan(1);
    expect(Math.max(...requests)).toBeLessThanOrEqual(512 * 1024);
  });
});
