// The sinks on the real broker. Dead letters: a rejected record as large as the broker accepts must still be
// dead-lettered (bounded value, its full size and hash in headers) and its offset committed, instead of a
// MESSAGE_TOO_LARGE crash loop. Verdicts and dead letters are written by an idempotent producer.
import { afterEach, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { startService, type Service } from "../../src/main.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { collect, committedVsEnd, createTopics, kafka, nativeAlert, produce, testConfig, unique } from "./support.js";

const logger = createLogger("silent");
const running: Service[] = [];
afterEach(async () => {
  while (running.length) await running.pop()!.stop("test end");
});

/** The broker's message.max.bytes default (scripts/kafka.sh keeps it): the largest record batch it accepts. */
const BROKER_MAX_MESSAGE_BYTES = 1_048_588;
/** A one-record batch adds 61 bytes of batch header and ~12 of record framing (key "0", no headers). */
const NEAR_LIMIT_VALUE_BYTES = BROKER_MAX_MESSAGE_BYTES - 61 - 12 - 40;

describe("dead letters near the broker's size limit", () => {
  it("a rejected record of ~1 MiB is dead-lettered, cut to the DLQ bound with its size and SHA-256, and its offset committed", async () => {
    const config = testConfig();
    await createTopics(config.names, 1);
    // Valid JSON text with two-byte characters, too large for MAX_RECORD_BYTES: rejected as record_too_large.
    const head = '{"alert_name":"huge","description":"';
    const body = "é".repeat(Math.floor((NEAR_LIMIT_VALUE_BYTES - head.length - 2) / 2));
    let record = Buffer.from(`${head}${body}"}`, "utf8");
    record = Buffer.concat([record.subarray(0, record.length - 2), Buffer.alloc(NEAR_LIMIT_VALUE_BYTES - record.length, 0x20), Buffer.from('"}')]);
    expect(record.length).toBe(NEAR_LIMIT_VALUE_BYTES);
    await produce(config.names.input, [record], 1); // the broker accepts it: it is within message.max.bytes
    const dlq = await collect(config.names.dlq);
    running.push(await startService(config, logger));
    const [letter] = await dlq.until(1, 60_000);
    await dlq.stop();
    expect(letter!.headers["triage-error-code"]).toBe("record_too_large");
    expect(letter!.headers["triage-error-message"]).toContain(`record is ${record.length} bytes`);
    expect(letter!.headers["triage-original-bytes"]).toBe(String(record.length));
    expect(letter!.headers["triage-original-sha256"]).toBe(createHash("sha256").update(record).digest("hex"));
    expect(letter!.headers["triage-truncated"]).toBe("true");
    const value = Buffer.from(letter!.value, "utf8");
    expect(value.length).toBeLessThanOrEqual(config.TRIAGE_DLQ_MAX_VALUE_BYTES);
    expect(value.length).toBeGreaterThan(config.TRIAGE_DLQ_MAX_VALUE_BYTES - 4);
    // Cut on a character boundary: the kept bytes are a prefix of the record and still valid UTF-8 text.
    expect(record.subarray(0, value.length).equals(value)).toBe(true);
    expect(letter!.value.endsWith("é")).toBe(true);
    await running.pop()!.stop("done");
    const { committed, end } = await committedVsEnd(config.names.group, config.names.input);
    expect(committed).toBe(end);
  });
});

describe("the producer", () => {
  it("writes verdicts and dead letters idempotently (a broker-assigned producer id on every record batch)", async () => {
    const config = testConfig();
    await createTopics(config.names, 2);
    await produce(config.names.input, [...Array.from({ length: 50 }, (_, i) => nativeAlert(i)), "not json"]);
    const producerIds = new Map<string, Set<string>>([
      [config.names.output, new Set()],
      [config.names.dlq, new Set()],
    ]);
    let seen = 0;
    const reader = kafka().consumer({ groupId: unique("reader"), sessionTimeout: 10_000 });
    await reader.connect();
    await reader.subscribe({ topics: [config.names.output, config.names.dlq], fromBeginning: true });
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    await reader.run({
      eachMessage: async ({ topic, message }) => {
        producerIds.get(topic)!.add(String((message as unknown as { batchContext: { producerId: string } }).batchContext.producerId));
        if (++seen === 51) done();
      },
    });
    running.push(await startService(config, logger));
    await all;
    await reader.disconnect();
    for (const ids of producerIds.values()) {
      expect(ids.size).toBe(1);
      expect(Number([...ids][0])).toBeGreaterThanOrEqual(0); // -1 = not idempotent
    }
  });
});
