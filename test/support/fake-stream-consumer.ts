// A StreamConsumer (the broker port KafkaSource reads through) driven by the test: the test hands out batches,
// rebalances, and sees every call the source makes (commits, pauses, heartbeats, stop/disconnect) in one log, in
// order. kafkajs semantics kept where the source relies on them: stop() resolves only after the running batch
// handler returned, and a batch stops being active once the consumer stops or the batch goes stale.
import type { RecordIntake, SourceRecord, BrokerMessage, PartitionBatch, StreamConsumer, TopicPartition } from "../../src/core/ports/index.js";

export type ConsumerCall =
  | { call: "commit"; offsets: { topic: string; partition: number; offset: string }[] }
  | { call: "pause" | "resume"; tps: TopicPartition[] }
  | { call: "heartbeat"; partition: number }
  | { call: "stop" | "disconnect" };

/** One batch handed to the source, with what the source did to it. */
export interface DeliveredBatch {
  /** Offsets the source resolved for the fetch position, in order. */
  resolved: string[];
  /** Make the batch stale (a rebalance or seek invalidated it). */
  invalidate(): void;
  /** Resolves when the source's handler returned for this batch. */
  handled: Promise<void>;
}

export class FakeStreamConsumer implements StreamConsumer {
  readonly calls: ConsumerCall[] = [];
  /** Next commit(s) reject with this error (once per entry). */
  readonly commitFailures: Error[] = [];
  private handler: ((batch: PartitionBatch) => Promise<void>) | undefined;
  private readonly assigned: ((tps: TopicPartition[]) => void)[] = [];
  private readonly running = new Set<Promise<void>>();
  private stopped = false;
  private connected = false;
  topic = "";

  async run(topic: string, onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void> {
    this.topic = topic;
    this.handler = onBatch;
    this.connected = true;
  }

  async commit(offsets: readonly (TopicPartition & { offset: string })[]): Promise<void> {
    const failure = this.commitFailures.shift();
    if (failure) throw failure;
    this.calls.push({ call: "commit", offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })) });
  }

  pause(tps: readonly TopicPartition[]): void {
    this.calls.push({ call: "pause", tps: [...tps] });
  }

  resume(tps: readonly TopicPartition[]): void {
    this.calls.push({ call: "resume", tps: [...tps] });
  }

  onAssigned(listener: (assigned: TopicPartition[]) => void): void {
    this.assigned.push(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    this.calls.push({ call: "stop" });
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    this.calls.push({ call: "disconnect" });
  }

  isConnected(): boolean {
    return this.connected;
  }

  /** A group join with these partitions of the topic (what kafkajs reports after every rebalance). */
  assign(partitions: number[]): void {
    for (const l of this.assigned) l(partitions.map((partition) => ({ topic: this.topic, partition })));
  }

  /** Fetch a batch of these offsets of one partition and hand it to the source. */
  deliver(partition: number, offsets: (number | string)[]): DeliveredBatch {
    if (!this.handler) throw new Error("deliver() before the source called run()");
    let stale = false;
    const resolved: string[] = [];
    const messages: BrokerMessage[] = offsets.map((o) => ({ offset: String(o), value: Buffer.from(`{"offset":${o}}`) }));
    const batch: PartitionBatch = {
      topic: this.topic,
      partition,
      messages,
      highWatermark: String(Number(offsets.at(-1) ?? -1) + 1),
      resolveOffset: (offset) => void resolved.push(offset),
      heartbeat: async () => void this.calls.push({ call: "heartbeat", partition }),
      isActive: () => !this.stopped && !stale,
    };
    const handled = this.handler(batch);
    this.running.add(handled);
    void handled.finally(() => this.running.delete(handled));
    return { resolved, invalidate: () => (stale = true), handled };
  }

  /** The calls of one kind, in order. */
  callsOf<K extends ConsumerCall["call"]>(kind: K): Extract<ConsumerCall, { call: K }>[] {
    return this.calls.filter((c): c is Extract<ConsumerCall, { call: K }> => c.call === kind);
  }
}

/** A bounded read-ahead window standing in for the pipeline: records wait in `records` until the test acks them. */
export class FakeIntake implements RecordIntake {
  readonly records: SourceRecord[] = [];
  private unacked = 0;
  private readonly acked = new Set<SourceRecord>();
  private waiters: (() => void)[] = [];
  /** Resolvers of tests waiting for a record count (see `whenPushed`). */
  private pushWaiters: { count: number; resolve: () => void }[] = [];
  /** True once whenCapacity() was called while full (the source is waiting). */
  waitedForCapacity = false;

  constructor(private readonly window: number) {}

  push(record: SourceRecord): void {
    this.records.push(record);
    this.unacked++;
    this.pushWaiters = this.pushWaiters.filter((w) => (this.records.length >= w.count ? (w.resolve(), false) : true));
  }

  hasCapacity(): boolean {
    return this.unacked < this.window;
  }

  whenCapacity(): Promise<void> {
    if (this.hasCapacity()) return Promise.resolve();
    this.waitedForCapacity = true;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Acknowledge the records of a partition at these offsets (as the pipeline does once a verdict or dead letter is written). */
  ack(partition: number, ...offsets: number[]): void {
    for (const o of offsets) {
      const record = this.records.find((r) => r.origin.partition === partition && r.origin.offset === String(o) && !this.acked.has(r));
      if (!record) throw new Error(`no unacknowledged record at ${partition}:${o} was pushed`);
      this.acked.add(record);
      record.ack({ deadLetter: { value: record.value, code: "test", message: "acked by the test", origin: record.origin, failedAtMs: 0 } });
      this.unacked--;
    }
    if (!this.hasCapacity()) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves once `count` records were pushed in total. */
  whenPushed(count: number): Promise<void> {
    if (this.records.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.pushWaiters.push({ count, resolve }));
  }

  /** Offsets pushed from one partition, in order. */
  offsets(partition: number): string[] {
    return this.records.filter((r) => r.origin.partition === partition).map((r) => r.origin.offset!);
  }
}
