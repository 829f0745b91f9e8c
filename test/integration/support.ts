// Helpers for integration tests on the real broker: unique names, producing, collecting, child services.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Kafka, logLevel, type Consumer, type IHeaders } from "kafkajs";
import { inject } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";

export const brokers = (): string => inject("kafkaBrokers");
/** The Redis checked by global setup (TEST_REDIS_URL, default redis://127.0.0.1:6379; see redis-setup.ts). */
export const redisUrl = (): string => inject("redisUrl");
export const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;

export function kafka(): Kafka {
  return new Kafka({ clientId: unique("test"), brokers: brokers().split(","), logLevel: logLevel.NOTHING });
}

/** A config for one test: fresh topics and group on the test broker. */
export function testConfig(overrides: Record<string, string> = {}): Config & { names: { input: string; output: string; dlq: string; group: string } } {
  const names = { input: unique("in"), output: unique("out"), dlq: unique("dlq"), group: unique("grp") };
  const config = loadConfig({
    KAFKA_BROKERS: brokers(),
    TRIAGE_INPUT_TOPIC: names.input,
    TRIAGE_OUTPUT_TOPIC: names.output,
    TRIAGE_DLQ_TOPIC: names.dlq,
    KAFKA_GROUP_ID: names.group,
    KAFKA_COMMIT_INTERVAL_MS: "200",
    CACHE_URL: "memory://",
    HTTP_PORT: "0",
    LOG_LEVEL: "warn",
    ...overrides,
  });
  return Object.assign({}, config, { names });
}

/** Create the input topic with `partitions` and the output/DLQ topics, waiting for leaders. */
export async function createTopics(names: { input: string; output: string; dlq: string }, partitions: number): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: names.input, numPartitions: partitions, replicationFactor: 1 },
      { topic: names.output, numPartitions: partitions, replicationFactor: 1 },
      { topic: names.dlq, numPartitions: 1, replicationFactor: 1 },
    ],
  });
  await admin.disconnect();
}

/** Produce values (round-robin over partitions via null keys) in chunks. */
export async function produce(topic: string, values: (string | Buffer)[], chunk = 500): Promise<void> {
  const producer = kafka().producer();
  await producer.connect();
  for (let i = 0; i < values.length; i += chunk) {
    await producer.send({ topic, messages: values.slice(i, i + chunk).map((value, j) => ({ key: String(i + j), value })) });
  }
  await producer.disconnect();
}

export interface Collected {
  key: string | null;
  value: string;
  headers: Record<string, string>;
  partition: number;
}

/** Read a topic from the beginning in the background; `until(n)` waits for n messages. */
export async function collect(
  topic: string,
): Promise<{ messages: Collected[]; until(n: number, timeoutMs?: number): Promise<Collected[]>; stop(): Promise<void> }> {
  const consumer: Consumer = kafka().consumer({ groupId: unique("reader"), sessionTimeout: 10_000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const messages: Collected[] = [];
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      messages.push({
        key: message.key?.toString() ?? null,
        value: message.value?.toString("utf8") ?? "",
        headers: headersToStrings(message.headers),
        partition,
      });
    },
  });
  return {
    messages,
    async until(n, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} messages on ${topic}; got ${messages.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return messages;
    },
    stop: () => consumer.disconnect(),
  };
}

function headersToStrings(h: IHeaders | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(h ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString("utf8") : String(v)]));
}

/** Committed offsets of a group summed over partitions, and the topic's end offsets summed. */
export async function committedVsEnd(group: string, topic: string): Promise<{ committed: number; end: number }> {
  const admin = kafka().admin();
  await admin.connect();
  const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  const end = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const sum = (xs: string[]) => xs.reduce((a, x) => a + Math.max(0, Number(x)), 0);
  return { committed: sum((committed?.partitions ?? []).map((p) => p.offset)), end: sum(end.map((p) => p.high)) };
}

/** Run `triage run` as a child process (for SIGKILL tests). */
export function spawnService(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "run"], {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.stderr?.on("data", () => {}); // drain logs
  return child;
}

export const nativeAlert = (i: number, severity = "low", extra: Record<string, unknown> = {}) =>
  JSON.stringify({ alert_id: `alert-${i}`, alert_name: "Port scan detected", severity, source_ip: `198.51.100.${i % 250}`, host: `host-${i % 17}`, ...extra });
