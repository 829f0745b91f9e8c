// KafkaSource, the heart of at-least-once, against a fake StreamConsumer: what it commits, when it pauses and
// resumes, what a rebalance does to tracking, and the order of shutdown.
import { afterEach, describe, expect, it, vi } from "vitest";
import { KafkaSource } from "../../../src/sources/kafka.js";
import { createLogger } from "../../../src/telemetry/logger.js";
import { FakeIntake, FakeStreamConsumer } from "../../support/fake-stream-consumer.js";

const TOPIC = "alerts-in";
const logger = createLogger("silent");
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function started(window = 100, commitIntervalMs = 60_000) {
  const consumer = new FakeStreamConsumer();
  const source = new KafkaSource(consumer, { topic: TOPIC, commitIntervalMs }, logger);
  const intake = new FakeIntake(window);
  await source.start(intake);
  consumer.assign([0, 1]);
  return { consumer, source, intake };
}

/** Everything committed so far, flattened to "partition:offset". */
const committed = (consumer: FakeStreamConsumer) => consumer.callsOf("commit").flatMap((c) => c.offsets.map((o) => `${o.partition}:${o.offset}`));

afterEach(() => {
  vi.useRealTimers();
});

describe("KafkaSource commits", () => {
  it("commits only up to the first unacknowledged offset, and never the same offset twice", async () => {
    const { consumer, source, intake } = await started();
    const batch = consumer.deliver(0, range(10, 14));
    await batch.handled;
    expect(intake.offsets(0)).toEqual(["10", "11", "12", "13", "14"]);
    expect(batch.resolved).toEqual(["10", "11", "12", "13", "14"]); // fetch position moves on; commit does not
    expect(source.inFlight()).toBe(5);

    intake.ack(0, 11, 13);
    await source.commit();
    expect(consumer.callsOf("commit")).toEqual([]); // 10 is still in flight: nothing may be committed

    intake.ack(0, 10);
    await source.commit();
    expect(committed(consumer)).toEqual(["0:12"]); // next to read = first unacknowledged (12)
    await source.commit();
    expect(committed(consumer)).toEqual(["0:12"]);

    intake.ack(0, 12, 14);
    await source.commit();
    expect(committed(consumer)).toEqual(["0:12", "0:15"]);
    expect(source.inFlight()).toBe(0);
  });

  it("commits each partition on its own, on the commit timer", async () => {
    vi.useFakeTimers();
    const { consumer, intake, source } = await started(100, 5_000);
    await consumer.deliver(0, [0, 1]).handled;
    await consumer.deliver(1, [7, 8]).handled;
    intake.ack(0, 0, 1);
    intake.ack(1, 7);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(consumer.callsOf("commit")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(committed(consumer).sort()).toEqual(["0:2", "1:8"]);
    await source.close();
  });

  it("a failed commit is logged and retried on the next one, not lost", async () => {
    const { consumer, source, intake } = await started();
    await consumer.deliver(0, [0, 1, 2]).handled;
    intake.ack(0, 0, 1, 2);
    consumer.commitFailures.push(new Error("coordinator not available"));
    await expect(source.commit()).resolves.toBeUndefined();
    expect(consumer.callsOf("commit")).toEqual([]);
    await source.commit();
    expect(committed(consumer)).toEqual(["0:3"]);
  });
});

describe("KafkaSource read-ahead window", () => {
  it("pauses the partition when the window is full and resumes once it drains, carrying on with the same batch", async () => {
    const { consumer, intake } = await started(2);
    const batch = consumer.deliver(0, range(0, 4));
    await intake.whenPushed(2);
    expect(consumer.callsOf("pause")).toEqual([{ call: "pause", tps: [{ topic: TOPIC, partition: 0 }] }]);
    expect(consumer.callsOf("resume")).toEqual([]);
    expect(batch.resolved).toEqual(["0", "1"]); // offset 2 not resolved while waiting: a rebalance would re-fetch it

    intake.ack(0, 0);
    await intake.whenPushed(3);
    expect(consumer.callsOf("resume")).toEqual([{ call: "resume", tps: [{ topic: TOPIC, partition: 0 }] }]);
    expect(consumer.callsOf("heartbeat").length).toBeGreaterThan(0); // kept the session alive while paused

    intake.ack(0, 1, 2);
    await batch.handled;
    expect(intake.offsets(0)).toEqual(["0", "1", "2", "3", "4"]);
    expect(batch.resolved).toEqual(["0", "1", "2", "3", "4"]);
    // Every pause was followed by a resume.
    const toggles = consumer.calls.filter((c) => c.call === "pause" || c.call === "resume").map((c) => c.call);
    expect(toggles.length % 2).toBe(0);
    expect(toggles.every((c, i) => c === (i % 2 === 0 ? "pause" : "resume"))).toBe(true);
  });

  it("a batch made stale by a rebalance while waiting stops there: the rest is left for the re-fetch", async () => {
    vi.useFakeTimers();
    const { consumer, intake } = await started(1);
    const batch = consumer.deliver(0, range(0, 3));
    await intake.whenPushed(1);
    batch.invalidate();
    await vi.advanceTimersByTimeAsync(1_000); // the wait re-checks the batch at least every second
    await batch.handled;
    expect(batch.resolved).toEqual(["0"]);
    expect(intake.offsets(0)).toEqual(["0"]);
    expect(consumer.callsOf("resume")).toHaveLength(1); // not stopping: the partition is resumed for the new owner
  });
});

describe("KafkaSource rebalance", () => {
  it("never commits a partition it lost, even when its records are acknowledged afterwards", async () => {
    const { consumer, source, intake } = await started();
    await consumer.deliver(0, [0, 1]).handled;
    await consumer.deliver(1, [0, 1]).handled;
    intake.ack(0, 0);
    consumer.assign([0]); // partition 1 went to another member
    intake.ack(1, 0, 1); // its records finish after the rebalance
    await source.commit();
    expect(committed(consumer)).toEqual(["0:1"]);
    expect(source.inFlight()).toBe(1); // only 0:1 is still ours
  });

  it("on a kept partition, re-fetched records already in flight or acknowledged are skipped, not processed twice", async () => {
    const { consumer, source, intake } = await started();
    await consumer.deliver(0, range(0, 3)).handled;
    intake.ack(0, 0, 1);
    consumer.assign([0, 1]); // rebalance that kept both partitions: the client re-fetches from the committed offset
    const refetch = consumer.deliver(0, range(0, 5));
    await refetch.handled;
    expect(intake.offsets(0)).toEqual(["0", "1", "2", "3", "4", "5"]); // 0..3 once, then the new 4 and 5
    expect(refetch.resolved).toEqual(["0", "1", "2", "3", "4", "5"]);
    intake.ack(0, 2, 3, 4, 5);
    await source.commit();
    expect(committed(consumer)).toEqual(["0:6"]);
  });

  it("a partition lost and later reassigned is read again from the committed offset (at-least-once)", async () => {
    const { consumer, source, intake } = await started();
    await consumer.deliver(1, [5, 6]).handled;
    consumer.assign([0]);
    await source.commit();
    expect(consumer.callsOf("commit")).toEqual([]);
    consumer.assign([0, 1]);
    await consumer.deliver(1, [5, 6]).handled;
    expect(intake.offsets(1)).toEqual(["5", "6", "5", "6"]); // processed again: never skipped as "already seen"
    // Either copy being written means the record at that offset was written: the commit may then move past it.
    intake.ack(1, 5);
    await source.commit();
    expect(committed(consumer)).toEqual(["1:6"]);
    intake.ack(1, 6, 5, 6);
    await source.commit();
    expect(committed(consumer)).toEqual(["1:6", "1:7"]);
    expect(source.inFlight()).toBe(0);
  });
});

describe("KafkaSource shutdown", () => {
  it("stops fetching first, commits what drained, then disconnects", async () => {
    vi.useFakeTimers();
    const { consumer, source, intake } = await started(100, 5_000);
    await consumer.deliver(0, range(0, 2)).handled;
    await source.stopReading();
    const late = consumer.deliver(0, [3]); // anything fetched after stop is not taken
    await late.handled;
    expect(late.resolved).toEqual([]);
    intake.ack(0, 0, 1, 2); // the pipeline drains
    await source.close();
    expect(consumer.calls.filter((c) => c.call !== "heartbeat")).toEqual([
      { call: "stop" },
      { call: "commit", offsets: [{ topic: TOPIC, partition: 0, offset: "3" }] },
      { call: "disconnect" },
    ]);
    await vi.advanceTimersByTimeAsync(20_000); // the commit timer is gone
    expect(consumer.callsOf("commit")).toHaveLength(1);
    expect(source.isConnected()).toBe(false);
  });

  it("stop while paused on a full window returns without resuming, leaving unresolved records for the re-fetch", async () => {
    vi.useFakeTimers();
    const { consumer, source, intake } = await started(1);
    const batch = consumer.deliver(0, range(0, 2));
    await intake.whenPushed(1);
    const stopping = source.stopReading();
    await vi.advanceTimersByTimeAsync(1_000);
    await stopping;
    await batch.handled;
    expect(batch.resolved).toEqual(["0"]);
    expect(consumer.callsOf("pause")).toHaveLength(1);
    expect(consumer.callsOf("resume")).toEqual([]);
    intake.ack(0, 0);
    await source.close();
    expect(committed(consumer)).toEqual(["0:1"]);
    expect(consumer.calls.at(-1)).toEqual({ call: "disconnect" });
  });
});
