import { createHash } from "node:crypto";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { RecordIntake, SourceRecord } from "../../../src/core/ports/index.js";
import { LineSource } from "../../../src/sources/file.js";
import { createNormalizer } from "../../../src/transforms/normalize/index.js";
import { loadConfig } from "../../../src/config/load.js";
import { startService } from "../../../src/main.js";
import { createLogger } from "../../../src/telemetry/logger.js";

/** Collects what the source pushes; always has room. */
function collectingIntake(): RecordIntake & { records: SourceRecord[] } {
  const records: SourceRecord[] = [];
  return { records, push: (r) => void records.push(r), hasCapacity: () => true, whenCapacity: async () => {} };
}

/** A 50 MiB NDJSON line streamed in 1 MiB chunks (never held whole), then a small line. */
function hugeThenSmall(): { stream: Readable; hugeBytes: number; hugeSha256: string } {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  const head = Buffer.from('{"alert_name":"huge","description":"');
  const tail = Buffer.from('"}\n{"alert_name":"small"}\n');
  const hash = createHash("sha256").update(head);
  for (let i = 0; i < 50; i++) hash.update(chunk);
  hash.update('"}');
  const hugeBytes = head.length + 50 * chunk.length + 2;
  const stream = Readable.from(
    (function* () {
      yield head;
      for (let i = 0; i < 50; i++) yield chunk;
      yield tail;
    })(),
  );
  return { stream, hugeBytes, hugeSha256: hash.digest("hex") };
}

describe("LineSource", () => {
  it("passes on a 50 MiB line cut to max+1 bytes with its real size and SHA-256, and the next line intact", async () => {
    const { stream, hugeBytes, hugeSha256 } = hugeThenSmall();
    const source = new LineSource(stream, { maxLineBytes: 262_144 });
    const intake = collectingIntake();
    await source.start(intake);
    await source.exhausted;
    expect(intake.records).toHaveLength(2);
    const [huge, small] = intake.records;
    expect(huge!.value!.length).toBe(262_145);
    expect(huge!.full).toEqual({ bytes: hugeBytes, sha256: hugeSha256 });
    expect(small!.value!.toString()).toBe('{"alert_name":"small"}');
    expect(small!.full).toBeUndefined();
    expect(small!.origin.line).toBe(2);
  });

  it("a 50 MiB record is reported with its real size, not the size of the kept prefix", async () => {
    const { stream, hugeBytes } = hugeThenSmall();
    const source = new LineSource(stream, { maxLineBytes: 262_144 });
    const intake = collectingIntake();
    await source.start(intake);
    await source.exhausted;
    const huge = intake.records[0]!;
    const r = createNormalizer({ maxRecordBytes: 262_144, maxJsonDepth: 32 }).normalize(huge.value, huge.full?.bytes);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.code).toBe("record_too_large");
    expect(r.message).toBe(`record is ${hugeBytes} bytes, above MAX_RECORD_BYTES=262144`);
    expect(hugeBytes).toBeGreaterThan(50 * 1024 * 1024);
  });

  it("a line of exactly max+1 bytes is passed on whole, without a digest", async () => {
    const line = `{"alert_name":"${"b".repeat(101 - 17)}"}`;
    expect(line.length).toBe(101);
    const source = new LineSource(Readable.from([Buffer.from(`${line}\n`)]), { maxLineBytes: 100 });
    const intake = collectingIntake();
    await source.start(intake);
    await source.exhausted;
    expect(intake.records[0]!.value!.toString()).toBe(line);
    expect(intake.records[0]!.full).toBeUndefined();
  });
});

describe("a 50 MiB line through the file-mode pipeline", () => {
  it("is dead-lettered with its real size and SHA-256 and truncated: true; the next line gets its verdict", async () => {
    const { stream, hugeBytes, hugeSha256 } = hugeThenSmall();
    const out = new PassThrough();
    const dlq = new PassThrough();
    const read = (s: PassThrough) => {
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      return () =>
        Buffer.concat(chunks)
          .toString("utf8")
          .trim()
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    const verdicts = read(out);
    const letters = read(dlq);
    const config = loadConfig({ CACHE_URL: "memory://", HTTP_PORT: "0", LOG_LEVEL: "silent" });
    const service = await startService(config, createLogger("silent"), { input: stream, output: out, deadLetters: dlq, http: false });
    await service.finished;
    await service.stop("input exhausted");
    expect(verdicts()).toHaveLength(1);
    const [letter] = letters();
    expect(letter).toMatchObject({
      error_code: "record_too_large",
      error_message: `record is ${hugeBytes} bytes, above MAX_RECORD_BYTES=262144`,
      original_bytes: hugeBytes,
      original_sha256: hugeSha256,
      truncated: true,
      origin: { line: 1 },
    });
    expect(String(letter!.value).length).toBeLessThanOrEqual(262_145);
  });
});
