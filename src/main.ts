/**
 * Composition root: builds resources from config, wires real adapters into the pipeline, starts it, and
 * shuts down in flow order (stop reading → drain → flush sinks → commit → close clients).
 */
import type { Writable, Readable } from "node:stream";
import type { Config } from "./config/schema.js";
import type { AlertSource, Classifier, DeadLetterSink, Enricher, VerdictSink, StreamProducer, QuotaStoreFactory } from "./core/ports/index.js";
import { Pipeline, noEnrichment } from "./pipeline.js";
import { createKafka, type KafkaClients } from "./resources/kafka.js";
import { createOpsServer } from "./ops/http.js";
import { LagMonitor } from "./ops/lag.js";
import { KafkaSource } from "./sources/kafka.js";
import { LineSource } from "./sources/file.js";
import { registerAnalyzeApi } from "./sources/http-api.js";
import { apiModelShare } from "./sources/api-share.js";
import { FeedbackSource, feedbackGroupId, feedbackPublisher, registerFeedbackApi } from "./sources/feedback.js";
import { FeedbackFlow } from "./feedback-flow.js";
import { kafkaDeadLetterSink, kafkaVerdictSink } from "./sinks/kafka.js";
import { ndjsonDeadLetterSink, ndjsonVerdictSink } from "./sinks/ndjson.js";
import { Telemetry } from "./telemetry/events.js";
import type { Logger } from "./telemetry/logger.js";
import { createMetrics, type Metrics } from "./telemetry/metrics.js";
import { createClassifier, modelVersionForCache } from "./transforms/classify/index.js";
import { modelConfigured } from "./config/model.js";
import { createVerdictCache } from "./transforms/classify/cache/index.js";
import type { CachedAnswer } from "./transforms/classify/cache/caching-classifier.js";
import { createNormalizer, formatsOrThrow } from "./transforms/normalize/index.js";
import { createEnricher } from "./transforms/enrich/index.js";
import { openCaches } from "./resources/cache.js";
import { memoryQuotaStores } from "./resources/limiter.js";
import { openSharedRedis } from "./resources/redis.js";
import { closeInOrder, drainWithin, type Closer } from "./ops/shutdown.js";

/** A running service: stop() performs the graceful shutdown. */
export interface Service {
  readonly pipeline: Pipeline;
  readonly telemetry: Telemetry;
  readonly metrics: Metrics;
  /** HTTP address when the ops server is on. */
  readonly httpAddress: string | null;
  /** Resolves when a finite source is fully processed (never for Kafka). */
  readonly finished: Promise<void>;
  /** Graceful shutdown; resolves true when everything drained within the timeout. */
  stop(reason: string): Promise<boolean>;
}

export interface ServiceIO {
  /** Line input instead of Kafka (file path or stream). */
  input?: string | Readable;
  /** A finite source that replaces the line source built from `input` (replay wraps it to observe each outcome). */
  source?: AlertSource;
  /** Verdict output for line mode (file path or stream). */
  output?: string | Writable;
  /** Dead-letter output for line mode. */
  deadLetters?: string | Writable;
  /** Called per acknowledged record (progress bars). */
  onAck?: () => void;
  /** Start the HTTP ops server (default: in Kafka mode when HTTP_PORT > 0). */
  http?: boolean;
  /** Replace the classifier/enricher (tests, later issues' adapters). */
  classifier?: Classifier;
  enricher?: Enricher;
  metrics?: Metrics;
}

/** Build and start the service described by config. */
export async function startService(config: Config, logger: Logger, io: ServiceIO = {}): Promise<Service> {
  const log = logger.child({ component: "main" });
  // Input formats first: a broken mapping in TRIAGE_FORMATS_DIR stops the start before any connection is made.
  const formats = formatsOrThrow(config.TRIAGE_FORMATS_DIR);
  const metrics = io.metrics ?? createMetrics();
  const kafkaMode = io.input === undefined && io.source === undefined && config.KAFKA_BROKERS !== undefined;
  const telemetry = new Telemetry(metrics, logger, kafkaMode ? "kafka" : "file");

  let source: AlertSource;
  let verdictSink: VerdictSink;
  let deadLetterSink: DeadLetterSink;
  let producer: StreamProducer | undefined;
  let kafkaSource: KafkaSource | undefined;
  let kafka: KafkaClients | undefined;
  let lag: LagMonitor | undefined;

  if (kafkaMode) {
    kafka = createKafka({ brokers: config.KAFKA_BROKERS!, clientId: config.KAFKA_CLIENT_ID, connectionTimeoutMs: config.KAFKA_CONNECT_TIMEOUT_MS }, logger);
    producer = await kafka.producer();
    verdictSink = kafkaVerdictSink(producer, config.TRIAGE_OUTPUT_TOPIC);
    deadLetterSink = kafkaDeadLetterSink(producer, config.TRIAGE_DLQ_TOPIC, { maxValueBytes: config.TRIAGE_DLQ_MAX_VALUE_BYTES });
    const consumer = kafka.consumer({
      groupId: config.KAFKA_GROUP_ID,
      sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
      fromBeginning: config.KAFKA_FROM_BEGINNING === "true",
    });
    kafkaSource = new KafkaSource(consumer, { topic: config.TRIAGE_INPUT_TOPIC, commitIntervalMs: config.KAFKA_COMMIT_INTERVAL_MS }, logger);
    source = kafkaSource;
    const monitor = new LagMonitor({
      admin: await kafka.admin(),
      groupId: config.KAFKA_GROUP_ID,
      topic: config.TRIAGE_INPUT_TOPIC,
      intervalMs: config.KAFKA_LAG_INTERVAL_MS,
      metrics,
      logger,
    });
    consumer.onAssigned((tps) => {
      monitor.setOwned(tps);
      void monitor.sample();
    });
    monitor.start();
    lag = monitor;
  } else {
    const input = io.input ?? config.INPUT_FILE;
    source = io.source ?? new LineSource(input, { maxLineBytes: config.MAX_RECORD_BYTES, ...(io.onAck ? { onAck: io.onAck } : {}) });
    verdictSink = ndjsonVerdictSink(io.output ?? process.stdout);
    deadLetterSink = ndjsonDeadLetterSink(io.deadLetters ?? process.stderr);
  }

  const caches = await openCaches(config.CACHE_URL, { connectTimeoutMs: config.CACHE_CONNECT_TIMEOUT_MS });
  let cachesOpen = true;
  log.info({ backend: caches.backend }, "caches open");
  // With a Redis cache, instances also share their quotas (one Gemini project, one TI key); otherwise per process.
  const sharedRedis = caches.backend === "redis" ? await openSharedRedis(config) : undefined;
  const quotaStores: QuotaStoreFactory = sharedRedis?.quotaStores ?? memoryQuotaStores;
  const spendLedger = sharedRedis?.spendLedger;
  const sharedFlight = sharedRedis?.modelFlight<CachedAnswer>();
  const sharedTiFlight = sharedRedis?.tiFlight;
  const enricher =
    io.enricher ??
    createEnricher({ config, caches, metrics, logger, quotaStores, ...(sharedTiFlight ? { sharedFlight: sharedTiFlight } : {}) }) ??
    noEnrichment;
  // Ends the model's outage retries (LLM_OUTAGE_MODE=wait) when shutdown cannot drain in time.
  const classifierShutdown = new AbortController();
  // AI verdict cache + analyst overrides in front of the model; re-published (overridden) verdicts go to the verdict sink.
  const publishFeedback = producer ? feedbackPublisher(producer, config.TRIAGE_FEEDBACK_TOPIC) : null;
  const verdictCache = createVerdictCache({
    config,
    caches,
    metrics,
    logger,
    // Resolved records the cache emits go through the feedback flow (sink retry + events); called only after start.
    publishFeedback: publishFeedback ? (records) => feedbackFlow.publishFeedback(records) : null,
    ...(sharedFlight ? { sharedFlight } : {}),
    currentVersion: modelVersionForCache(config),
  });
  // The cache (and overrides) front the model; the offline rules are cheaper than a cache lookup, so a rules-only
  // deployment runs them bare (measured: the decorator cost ~30 % of rules-path throughput and ~45 MB).
  const buildClassifier = () => {
    const model = createClassifier({ config, metrics, logger, quotaStores, signal: classifierShutdown.signal, ...(spendLedger ? { spendLedger } : {}) });
    return modelConfigured(config) ? verdictCache.wrap(model) : model;
  };
  const classifier = io.classifier ?? buildClassifier();
  // The second flow (src/feedback-flow.ts): overrides stored by the cache, updated verdicts published with the sink retry.
  const feedbackFlow = new FeedbackFlow({
    overrides: verdictCache,
    verdictSink,
    publishFeedback,
    telemetry,
    sinkRetryDeadlineMs: config.SINK_RETRY_DEADLINE_MS,
  });
  // Overrides from the feedback topic: own group per instance (per-instance SQLite), shared group with Redis.
  let feedback: FeedbackSource | undefined;
  if (kafka) {
    const groupId = feedbackGroupId(config.KAFKA_GROUP_ID, { sharedCache: caches.backend === "redis" });
    feedback = new FeedbackSource(
      kafka.consumer({ groupId, sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS, fromBeginning: true }),
      { topic: config.TRIAGE_FEEDBACK_TOPIC },
      feedbackFlow,
      deadLetterSink,
      logger,
    );
    await feedback.start();
  }

  const pipeline = new Pipeline(
    {
      source,
      normalizer: createNormalizer({ maxRecordBytes: config.MAX_RECORD_BYTES, maxJsonDepth: config.MAX_JSON_DEPTH }, formats),
      enricher,
      classifier,
      verdictSink,
      deadLetterSink,
    },
    {
      batchMaxSize: config.BATCH_MAX_SIZE,
      batchMaxDelayMs: config.BATCH_MAX_DELAY_MS,
      maxInflight: config.MAX_INFLIGHT_ALERTS,
      concurrency: config.PIPELINE_CONCURRENCY,
      sinkRetryDeadlineMs: config.SINK_RETRY_DEADLINE_MS,
    },
    telemetry,
  );

  let stopping = false;
  const notReady = (): string[] => {
    const waiting: string[] = [];
    if (stopping) waiting.push("shutting_down");
    if (kafkaSource && !kafkaSource.isConnected()) waiting.push("consumer");
    if (producer && !producer.isConnected()) waiting.push("producer");
    if (!cachesOpen) waiting.push("caches");
    if (feedback && !feedback.isConnected()) waiting.push("feedback");
    return waiting;
  };

  let httpAddress: string | null = null;
  let httpServer: { close(): Promise<void> } | undefined;
  const wantHttp = io.http ?? (kafkaMode && config.HTTP_PORT > 0);
  if (wantHttp) {
    const app = createOpsServer({
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      registry: metrics.registry,
      notReady,
      logger,
      bodyLimitBytes: config.HTTP_MAX_BODY_BYTES,
    });
    if (!config.HTTP_AUTH_TOKEN)
      log.warn("HTTP_AUTH_TOKEN is unset: the API routes (/analyze, /analyze/batch, /v1/feedback) answer 401; health and metrics are served");
    const modelShare = apiModelShare(config, quotaStores);
    registerAnalyzeApi(app, {
      intake: pipeline,
      authToken: config.HTTP_AUTH_TOKEN,
      maxBatchAlerts: config.HTTP_MAX_BATCH_ALERTS,
      maxJsonDepth: config.MAX_JSON_DEPTH,
      requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
      admissionWaitMs: config.HTTP_ADMISSION_WAIT_MS,
      modelShare,
    });
    registerFeedbackApi(app, { handler: feedbackFlow, authToken: config.HTTP_AUTH_TOKEN });
    httpAddress = await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
    httpServer = app;
    log.info({ address: httpAddress }, "HTTP server listening");
  }
  const readyTimer = setInterval(() => metrics.ready.set(notReady().length === 0 ? 1 : 0), 1000);
  readyTimer.unref();

  await pipeline.start();
  log.info(
    {
      node: process.version,
      source: source.name,
      classifier: classifier.name,
      input: kafkaMode ? config.TRIAGE_INPUT_TOPIC : typeof io.input === "string" ? io.input : config.INPUT_FILE,
    },
    "pipeline started",
  );

  const finished = source.exhausted.then(() => pipeline.drain());

  const stop = async (reason: string): Promise<boolean> => {
    if (stopping) return false;
    stopping = true;
    log.info({ reason, inflight: pipeline.inFlight }, "shutting down");
    await Promise.all([source.stopReading(), feedback?.stopReading()]);
    const drained = await drainWithin(() => pipeline.drain(), config.SHUTDOWN_TIMEOUT_MS);
    if (!drained) {
      pipeline.abortRetries(); // first: aborted batches must not be published as degraded verdicts
      classifierShutdown.abort();
      log.error({ inflight: pipeline.inFlight }, "drain timed out; unacknowledged records stay uncommitted and will be re-delivered");
    }
    // Flow order: flush the sinks, commit what was acknowledged, then release clients. Records are acknowledged only
    // once published or dead-lettered, so the commit is safe even when a sink fails to close.
    const closers: Closer[] = [
      { name: "verdict-sink", close: () => verdictSink.close() },
      { name: "dead-letter-sink", close: () => deadLetterSink.close() },
      { name: "source", close: () => source.close() }, // commits what was acknowledged
      ...(feedback ? [{ name: "feedback-source", close: () => feedback.close() }] : []), // offsets committed as applied
      ...(httpServer ? [{ name: "http", close: () => httpServer.close() }] : []),
      ...(producer ? [{ name: "producer", close: () => producer.disconnect() }] : []),
      ...(lag ? [{ name: "lag-monitor", close: () => lag.stop() }] : []),
      ...(sharedRedis?.closers ?? []),
      {
        name: "caches",
        close: async () => {
          cachesOpen = false;
          await caches.close();
        },
      },
      { name: "ready-timer", close: async () => clearInterval(readyTimer) },
    ];
    const closed = await closeInOrder(closers, { timeoutMs: config.SHUTDOWN_TIMEOUT_MS, logger: log });
    log.info({ drained, closeFailed: closed.failed, closeTimedOut: closed.timedOut }, "stopped");
    return drained;
  };

  pipeline.onFatal((err) => {
    log.fatal({ code: err.code, stage: err.stage, err: err.message }, "pipeline cannot continue; stopping without committing unacknowledged records");
    void stop(`fatal: ${err.code}`).finally(() => {
      process.exitCode = 1;
    });
  });

  return { pipeline, telemetry, metrics, httpAddress, finished, stop };
}
