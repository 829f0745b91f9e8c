import type { BrokerAdmin, TopicPartition } from "../core/ports/index.js";
import type { Logger } from "../telemetry/logger.js";
import type { Metrics } from "../telemetry/metrics.js";

export interface LagMonitorOptions {
  admin: BrokerAdmin;
  groupId: string;
  topic: string;
  intervalMs: number;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Publishes triage_consumer_lag for the partitions this instance owns (end offset − committed offset),
 * so N instances report N disjoint series and dashboards can sum them.
 */
export class LagMonitor {
  private owned: TopicPartition[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly opts: LagMonitorOptions) {
    this.log = opts.logger.child({ component: "lag" });
  }

  /** Partitions assigned after a rebalance; series of partitions we lost are removed. */
  setOwned(tps: TopicPartition[]): void {
    for (const tp of this.owned)
      if (!tps.some((t) => t.topic === tp.topic && t.partition === tp.partition))
        this.opts.metrics.consumerLag.remove({ topic: tp.topic, partition: String(tp.partition) });
    this.owned = tps.filter((t) => t.topic === this.opts.topic);
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One measurement; errors are logged, never thrown (lag is advisory). */
  sample(): Promise<void> {
    this.running = this.running.then(async () => {
      if (this.owned.length === 0) return;
      try {
        const [end, committed] = await Promise.all([
          this.opts.admin.endOffsets(this.opts.topic),
          this.opts.admin.committedOffsets(this.opts.groupId, this.opts.topic),
        ]);
        for (const tp of this.owned) {
          const high = Number(end.get(tp.partition) ?? 0);
          const done = Number(committed.get(tp.partition) ?? -1);
          this.opts.metrics.consumerLag.set({ topic: tp.topic, partition: String(tp.partition) }, Math.max(0, high - Math.max(0, done)));
        }
      } catch (err) {
        this.log.debug({ err: (err as Error).message }, "lag sample failed");
      }
    });
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.opts.admin.close();
  }
}
