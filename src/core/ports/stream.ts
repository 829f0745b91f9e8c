/** Our small broker port (Kafka today); resources/kafka.ts implements it on kafkajs, tests pass fakes. */

/**
 * What the source reads of a fetched record: its bytes and offset. Keys and headers are attacker-controlled and
 * nothing reads them, so they are neither copied nor decoded (the client's own message objects are passed through).
 */
export interface BrokerMessage {
  readonly value: Buffer | null;
  readonly offset: string;
  /** Epoch ms as a string (producer CreateTime or broker LogAppendTime); the feedback source dates overrides by it. */
  readonly timestamp?: string;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** One fetched batch of one partition plus the controls the consumer loop needs. */
export interface PartitionBatch extends TopicPartition {
  messages: BrokerMessage[];
  highWatermark: string;
  /** Mark an offset processed for the fetch position (not committed). */
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping or the batch was invalidated by a rebalance/seek. */
  isActive(): boolean;
}

export interface OutgoingMessage {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

export interface StreamConsumer {
  /** Join the group and start fetching; resolves once running. */
  run(topic: string, onBatch: (batch: PartitionBatch) => Promise<void>): Promise<void>;
  commit(offsets: readonly (TopicPartition & { offset: string })[]): Promise<void>;
  pause(tps: readonly TopicPartition[]): void;
  resume(tps: readonly TopicPartition[]): void;
  /** Called after every group join with the partitions assigned to this member. */
  onAssigned(listener: (assigned: TopicPartition[]) => void): void;
  /** Stop fetching; resolves when the running batch handler returned. */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
  /** True while connected to the group (for readiness). */
  isConnected(): boolean;
}

export interface StreamProducer {
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
}

export interface BrokerAdmin {
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Committed offset per partition ("-1" when none). */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, string>>;
  /** Next offset to be written per partition. */
  endOffsets(topic: string): Promise<Map<number, string>>;
  close(): Promise<void>;
}
