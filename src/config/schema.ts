import type { z } from "zod";
import { groupSchema, int, list, oneOf, optionalStr, str, type OptionDoc } from "./options.js";
import { cacheOptions } from "./cache.js";
import { httpOptions } from "./http.js";
import { resilienceOptions } from "./resilience.js";
import { tiOptions } from "./ti.js";
import { geminiOptions } from "./gemini.js";
import { aiCacheOptions } from "./ai-cache.js";
import { formatsOptions } from "./formats.js";
import { memoryOptions } from "./memory.js";
import { modelOptions, refineModelConfig } from "./model.js";

export type { OptionDoc };

const topic = /^[A-Za-z0-9._-]{1,249}$/;

/** Every option the service reads. Names are the environment variable names. */
const coreOptions = {
  KAFKA_BROKERS: list("Kafka bootstrap brokers. Unset: `run` processes INPUT_FILE to stdout instead of Kafka (embedded default)."),
  KAFKA_CLIENT_ID: str("Kafka client id reported to the broker.", "triage"),
  KAFKA_GROUP_ID: str("Consumer group; instances with the same group split the input partitions.", "triage"),
  TRIAGE_INPUT_TOPIC: str("Topic alerts are read from.", "siem.alerts", topic),
  TRIAGE_OUTPUT_TOPIC: str("Topic verdicts are published to (message key = alert_id).", "siem.verdicts", topic),
  TRIAGE_DLQ_TOPIC: str("Dead-letter topic for records that cannot be decoded or validated.", "siem.alerts.dlq", topic),
  TRIAGE_DLQ_MAX_VALUE_BYTES: int(
    "Largest dead-letter value written to the DLQ topic; a longer record is cut (on a UTF-8 character boundary when it is text) and headers keep its " +
      "full size and SHA-256. Keep at least 16 KiB below the DLQ topic's max.message.bytes, room for the headers.",
    524288,
    1024,
    1000000,
  ),
  KAFKA_FROM_BEGINNING: oneOf("Where a new consumer group starts reading.", ["true", "false"] as const, "true"),
  KAFKA_SESSION_TIMEOUT_MS: int("Consumer session timeout.", 30000, 6000, 300000),
  KAFKA_CONNECT_TIMEOUT_MS: int("Broker connection timeout.", 10000, 1000, 120000),
  KAFKA_LAG_INTERVAL_MS: int("How often consumer lag is measured for triage_consumer_lag.", 15000, 1000, 600000),
  KAFKA_COMMIT_INTERVAL_MS: int("How often acknowledged offsets are committed.", 1000, 50, 60000),
  INPUT_FILE: str("NDJSON file processed by `run` when KAFKA_BROKERS is unset.", "examples/alerts.ndjson"),
  BATCH_MAX_SIZE: int("Alerts per micro-batch (flush on size).", 50, 1, 1000),
  BATCH_MAX_DELAY_MS: int("Longest an alert waits in the batcher before its batch is flushed (flush on age).", 250, 1, 60000),
  MAX_INFLIGHT_ALERTS: int("Read-ahead window: records read but not yet acknowledged. Full window pauses the source.", 10000, 1, 1000000),
  PIPELINE_CONCURRENCY: int("Micro-batches processed at once (classify and publish overlap; the model has its own concurrency limit).", 8, 1, 64),
  MAX_RECORD_BYTES: int(
    "Largest accepted input record; larger ones are dead-lettered. Keep below the broker's message.max.bytes so the DLQ copy fits.",
    262144,
    256,
    900000,
  ),
  MAX_JSON_DEPTH: int("Deepest accepted JSON nesting; deeper records are dead-lettered.", 32, 2, 512),
  SINK_RETRY_DEADLINE_MS: int(
    "How long publishing a verdict/DLQ record is retried (broker outage) before the process exits non-zero; offsets stay uncommitted, so nothing is lost.",
    300000,
    1000,
    3600000,
  ),
  SHUTDOWN_TIMEOUT_MS: int("Upper bound for a graceful shutdown (stop fetching, drain, flush, commit, close).", 30000, 1000, 600000),
  HTTP_PORT: int("Port of the HTTP server (metrics, health, API). 0 = disabled.", 9464, 0, 65535),
  HTTP_HOST: str("Address the HTTP server binds.", "0.0.0.0"),
  LOG_LEVEL: oneOf("pino log level (logs go to stderr).", ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const, "info"),
  TRIAGE_CONFIG_FILE: optionalStr("Optional JSON file with any of these options; environment variables win over it."),
} as const;

/** Every option, grouped by the part of the service that reads it. */
export const options = {
  ...coreOptions,
  ...httpOptions,
  ...cacheOptions,
  ...tiOptions,
  ...geminiOptions,
  ...resilienceOptions,
  ...aiCacheOptions,
  ...memoryOptions,
  ...modelOptions,
  ...formatsOptions,
} as const;

export type OptionName = keyof typeof options;

/** The zod schema of the whole configuration. */
export const configSchema = groupSchema(options).strict().superRefine(refineModelConfig);

export type Config = Readonly<z.infer<typeof configSchema>>;
