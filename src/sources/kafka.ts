import type { AlertSource, RecordIntake, PartitionBatch, StreamConsumer } from "../core/ports/index.js";
import type { Logger } from "../telemetry/logger.js";
import { OffsetTracker } from "./offset-tracker.js";

export interface KafkaSourceOptions {
  topic: string;
  commitIntervalMs: number;
}

const HEARTBEAT_EVERY = 500;

/**
 * Kafka input with at-least-once delivery: records are resolved for fetching as they enter the pipeline,
 * but offsets are committed only up to the first record not yet acknowledged (published or dead-lettered).
 * A full read-ahead window pauses the partition; it resumes once the window drains.
 */
export class KafkaSource implements AlertSource {
  readonly name = "kafka";
  readonly exhausted = new Promise<void>(() => {}); // a topic never ends
  private readonly tracker = new OffsetTracker();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly log: Logger;

  constructor(
    private readonly consumer: StreamConsumer,
    private readonly opts: KafkaSourceOptions,
    logger: Logger,
  ) {
    const log = logger.child({ component: "kafka-source" });
    this.log = log;
    // After a rebalance the client re-fetches from committed offsets. Partitions we lost are forgotten (never
    // committed again); partitions we kept keep their tracking, so re-fetched records still in flight or already
    // acknowledged are skipped instead of processed twice (eager rebalancing: nobody else owned them meanwhile).
    consumer.onAssigned((tps) => {
      this.tracker.retainOnly(new Set(tps.map((t) => `${t.topic}:${t.partition}`)));
      log.info({ partitions: tps.length }, "assignment changed");
    });
  }

  async start(intake: RecordIntake): Promise<void> {
    await this.consumer.run(this.opts.topic, (batch) => this.onBatch(batch, intake));
    this.commitTimer = setInterval(() => void this.commit(), this.opts.commitIntervalMs);
  }

  private async onBatch(batch: PartitionBatch, intake: RecordIntake): Promise<void> {
    const { topic, partition } = batch;
    let sinceHeartbeat = 0;
    for (const message of batch.messages) {
      if (this.stopped || !batch.isActive()) return;
      if (this.tracker.isKnown(topic, partition, message.offset)) {
        batch.resolveOffset(message.offset); // re-fetched after a rebalance: already in flight or done
        continue;
      }
      if (!intake.hasCapacity() && !(await this.waitForCapacity(batch, intake))) return;
      this.tracker.track(topic, partition, message.offset);
      intake.push({
        value: message.value,
        origin: { topic, partition, offset: message.offset },
        receivedAtMs: Date.now(),
        ack: () => this.tracker.ack(topic, partition, message.offset),
      });
      batch.resolveOffset(message.offset);
      if (++sinceHeartbeat >= HEARTBEAT_EVERY) {
        sinceHeartbeat = 0;
        await batch.heartbeat();
      }
    }
    await batch.heartbeat();
  }

  /**
   * Read-ahead window full: pause the partition and wait here (heartbeating) until the pipeline drains,
   * then resume and carry on with the same batch — no re-fetch, no fetch-wait stall.
   * Returns false when the batch is no longer ours (stop or rebalance); its unresolved records are re-fetched.
   */
  private async waitForCapacity(batch: PartitionBatch, intake: RecordIntake): Promise<boolean> {
    const tp = { topic: batch.topic, partition: batch.partition };
    this.consumer.pause([tp]);
    try {
      while (!intake.hasCapacity()) {
        if (this.stopped || !batch.isActive()) return false;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([intake.whenCapacity(), new Promise((r) => (timer = setTimeout(r, 1000)))]);
        clearTimeout(timer);
        await batch.heartbeat();
      }
      return !this.stopped && batch.isActive();
    } finally {
      if (!this.stopped) this.consumer.resume([tp]);
    }
  }

  /** Commit everything acknowledged so far; serialised, errors logged and retried next tick. */
  commit(): Promise<void> {
    this.committing = this.committing.then(async () => {
      const commits = this.tracker.pendingCommits();
      if (commits.length === 0) return;
      try {
        await this.consumer.commit(commits);
        this.tracker.markCommitted(commits);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "offset commit failed; will retry");
      }
    });
    return this.committing;
  }

  /** Records pushed and not yet acknowledged (for tests and readiness). */
  inFlight(): number {
    return this.tracker.inFlight();
  }

  isConnected(): boolean {
    return this.consumer.isConnected();
  }

  async stopReading(): Promise<void> {
    this.stopped = true;
    await this.consumer.stop();
  }

  async close(): Promise<void> {
    if (this.commitTimer) clearInterval(this.commitTimer);
    await this.commit();
    await this.consumer.disconnect();
  }
}
