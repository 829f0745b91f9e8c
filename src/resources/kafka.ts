/**
 * The only file that imports kafkajs (unmaintained upstream): the kafkajs implementation of our small broker
 * port (core/ports/stream.ts). Swapping the client library means rewriting this file alone.
 */
import { Kafka, Partitioners, logLevel, type Consumer, type Producer, type Admin, type LogEntry, type Message } from "kafkajs";
import { TriageError } from "../core/errors.js";
import type { Logger } from "../telemetry/logger.js";
import type { BrokerAdmin, StreamConsumer, StreamProducer, TopicPartition } from "../core/ports/stream.js";

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  connectionTimeoutMs: number;
}

export interface ConsumerSettings {
  groupId: string;
  sessionTimeoutMs: number;
  fromBeginning: boolean;
}

/** Map a kafkajs error to ours; kafkajs says itself whether a retry can help. */
export function toBrokerError(err: unknown, stage: "source" | "sink" | "dlq"): TriageError {
  const e = err as { name?: string; message?: string; retriable?: boolean };
  return new TriageError({
    code: `kafka_${(e.name ?? "error").replace(/^KafkaJS/, "").toLowerCase()}`,
    stage,
    retriable: e.retriable ?? true,
    message: e.message ?? String(err),
    cause: err,
  });
}

function kafkaLogger(logger: Logger) {
  const log = logger.child({ component: "kafkajs" });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      if (level === logLevel.ERROR) log.error(rest, message);
      else if (level === logLevel.WARN) log.warn(rest, message);
      else log.debug(rest, message);
    };
}

/** Build clients for one cluster. */
export function createKafka(settings: KafkaSettings, logger: Logger) {
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: settings.connectionTimeoutMs,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogger(logger),
    retry: { initialRetryTime: 300, maxRetryTime: 10_000, retries: 8 },
  });
  const log = logger.child({ component: "kafka" });

  return {
    consumer(cs: ConsumerSettings): StreamConsumer {
      const consumer: Consumer = kafka.consumer({
        groupId: cs.groupId,
        sessionTimeout: cs.sessionTimeoutMs,
        heartbeatInterval: Math.max(1000, Math.floor(cs.sessionTimeoutMs / 10)),
        // A broker outage outlasting the client's own retries must not kill the consumer: keep restarting.
        retry: {
          initialRetryTime: 300,
          maxRetryTime: 10_000,
          retries: 8,
          restartOnFailure: async (err: Error) => {
            log.error({ err: err.message }, "consumer failed; restarting");
            return true;
          },
        },
      });
      let connected = false;
      // Ready only once joined to the group (GROUP_JOIN below), not merely connected.
      consumer.on(consumer.events.DISCONNECT, () => (connected = false));
      consumer.on(consumer.events.REBALANCING, () => (connected = false));
      consumer.on(consumer.events.CRASH, (e) => {
        connected = false;
        log.error({ err: e.payload.error.message, restart: e.payload.restart }, "consumer crashed");
      });
      const assignedListeners: ((tps: TopicPartition[]) => void)[] = [];
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        connected = true;
        const tps = Object.entries(e.payload.memberAssignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
        log.info({ assigned: tps.map((t) => `${t.topic}:${t.partition}`) }, "joined consumer group");
        for (const l of assignedListeners) l(tps);
      });
      const grouped = (tps: readonly TopicPartition[]) => {
        const byTopic = new Map<string, number[]>();
        for (const tp of tps) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
        return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
      };
      return {
        async run(topic, onBatch) {
          await consumer.connect();
          await consumer.subscribe({ topics: [topic], fromBeginning: cs.fromBeginning });
          await consumer.run({
            autoCommit: false,
            eachBatchAutoResolve: false,
            partitionsConsumedConcurrently: 1,
            eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
              await onBatch({
                topic: batch.topic,
                partition: batch.partition,
                highWatermark: batch.highWatermark,
                // The client's objects as they are: no per-record copy of key and headers nobody reads.
                messages: batch.messages,
                resolveOffset,
                heartbeat,
                isActive: () => isRunning() && !isStale(),
              });
            },
          });
        },
        async commit(offsets) {
          if (offsets.length === 0) return;
          try {
            await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
          } catch (err) {
            throw toBrokerError(err, "source");
          }
        },
        pause: (tps) => consumer.pause(grouped(tps)),
        resume: (tps) => consumer.resume(grouped(tps)),
        onAssigned: (l) => assignedListeners.push(l),
        stop: () => consumer.stop(),
        async disconnect() {
          await consumer.disconnect();
          connected = false;
        },
        isConnected: () => connected,
      };
    },

    async producer(): Promise<StreamProducer> {
      // Idempotent: a batch kafkajs re-sends after a lost reply is written once, in order (needs acks=-1, as sent
      // below, and at most 5 requests in flight). Retries stay bounded so SINK_RETRY_DEADLINE_MS still applies.
      const producer: Producer = kafka.producer({
        allowAutoTopicCreation: true,
        idempotent: true,
        maxInFlightRequests: 5,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      let connected = false;
      producer.on(producer.events.CONNECT, () => (connected = true));
      producer.on(producer.events.DISCONNECT, () => (connected = false));
      await producer.connect();
      return {
        async send(topic, messages) {
          try {
            // OutgoingMessage is a kafkajs Message already (key, value, optional string headers): no per-message copy.
            await producer.send({ topic, acks: -1, messages: messages as Message[] });
            connected = true;
          } catch (err) {
            connected = false; // kafkajs only signals DISCONNECT on an explicit disconnect: a failed send means not ready
            throw toBrokerError(err, "sink");
          }
        },
        disconnect: () => producer.disconnect(),
        isConnected: () => connected,
      };
    },

    /** Admin operations for tools, lag metrics and tests. */
    async admin(): Promise<BrokerAdmin> {
      const admin: Admin = kafka.admin();
      await admin.connect();
      const byPartition = (rows: { partition: number; offset: string }[]) => new Map(rows.map((r) => [r.partition, r.offset]));
      return {
        async createTopic(topic, partitions) {
          await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }] });
        },
        async committedOffsets(groupId, topic) {
          const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
          return byPartition(res?.partitions ?? []);
        },
        async endOffsets(topic) {
          return byPartition((await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high })));
        },
        close: () => admin.disconnect(),
      };
    },
  };
}

export type KafkaClients = ReturnType<typeof createKafka>;
