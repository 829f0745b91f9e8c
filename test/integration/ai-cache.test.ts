// The verdict cache on the real broker with the Gemini classifier against the loopback fake: pattern hits that agree
// with what the model answers, analyst overrides via the feedback topic and via POST /v1/feedback that change later
// verdicts on every instance and survive a restart — once on SQLite, once on the local Redis (TEST_REDIS_URL, default 127.0.0.1:6379).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { createClient } from "@keyv/redis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parseAiCacheOptions } from "../../src/config/ai-cache.js";
import type { Config } from "../../src/config/schema.js";
import type { Enrichment } from "../../src/core/enrichment.js";
import type { EnrichedAlert, Enricher, Caches, StreamProducer } from "../../src/core/ports/index.js";
import type { Verdict } from "../../src/core/verdict.js";
import { startService, type Service } from "../../src/main.js";
import { openCaches } from "../../src/resources/cache.js";
import { createKafka } from "../../src/resources/kafka.js";
import { kafkaVerdictSink } from "../../src/sinks/kafka.js";
import { feedbackGroupId, feedbackPublisher, FeedbackSource, registerFeedbackApi } from "../../src/sources/feedback.js";
import { FeedbackFlow } from "../../src/feedback-flow.js";
import { Telemetry } from "../../src/telemetry/events.js";
import { registerAnalyzeApi } from "../../src/sources/http-api.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { createMetrics, type Metrics } from "../../src/telemetry/metrics.js";
import { createVerdictCache, type VerdictCache } from "../../src/transforms/classify/cache/index.js";
import { createClassifier } from "../../src/transforms/classify/index.js";
import { FakeGemini } from "../fakes/gemini.js";
import { MemoryDeadLetterSink } from "../support/memory.js";
import { attackStream, referenceDecision, toRecord } from "../unit/transforms/classify/cache/support.js";
import { brokers, collect, createTopics, kafka, produce, redisUrl, testConfig, unique, type Collected } from "./support.js";

const logger = createLogger("warn");
const REDIS_URL = redisUrl();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Threat intel by IP, as a fixed enricher (the TI providers are not under test here). */
function fixedIntel(items: readonly EnrichedAlert[]): Enricher {
  const byIp = new Map<string, Enrichment>();
  for (const i of items) if (i.alert.source_ip && i.enrichment) byIp.set(i.alert.source_ip, i.enrichment);
  return { enrich: async (alerts) => alerts.map((alert) => ({ alert, enrichment: (alert.source_ip && byIp.get(alert.source_ip)) || null })) };
}

interface Instance {
  service: Service;
  cache: VerdictCache;
  metrics: Metrics;
  http: FastifyInstance;
  stop(): Promise<void>;
}

interface World {
  config: Config & { names: { input: string; output: string; dlq: string; group: string } };
  feedbackTopic: string;
  fake: FakeGemini;
  cacheUrl: (instance: string) => string;
  prefix: string;
}

/** One triage instance as main.ts will wire it: verdict cache around the Gemini classifier, feedback consumer, HTTP routes. */
async function startInstance(world: World, host: string, enricher: Enricher): Promise<Instance> {
  const { config } = world;
  const metrics = createMetrics({ defaultMetrics: false });
  const caches: Caches = await openCaches(world.cacheUrl(host));
  const clients = createKafka({ brokers: brokers().split(","), clientId: `triage-${host}`, connectionTimeoutMs: 10_000 }, logger);
  const producer: StreamProducer = await clients.producer();
  const cache = createVerdictCache({
    // This test is about the pattern cache, which the verdict memory (MEMORY=on, the default) replaces.
    config: { ...config, ...parseAiCacheOptions({ AI_CACHE_KEY_PREFIX: world.prefix, TRIAGE_FEEDBACK_TOPIC: world.feedbackTopic }), MEMORY: "off" },
    caches,
    metrics,
    logger,
    publishFeedback: feedbackPublisher(producer, world.feedbackTopic),
  });
  const flow = new FeedbackFlow({
    overrides: cache,
    verdictSink: kafkaVerdictSink(producer, config.TRIAGE_OUTPUT_TOPIC),
    publishFeedback: feedbackPublisher(producer, world.feedbackTopic),
    telemetry: new Telemetry(metrics, logger, "kafka"),
    sinkRetryDeadlineMs: config.SINK_RETRY_DEADLINE_MS,
  });
  const feedback = new FeedbackSource(
    clients.consumer({
      groupId: feedbackGroupId(config.KAFKA_GROUP_ID, { sharedCache: caches.backend === "redis", host }),
      sessionTimeoutMs: 10_000,
      fromBeginning: true,
    }),
    { topic: world.feedbackTopic },
    flow,
    new MemoryDeadLetterSink(),
    logger,
  );
  await feedback.start();
  const service = await startService(config, logger, { classifier: cache.wrap(createClassifier({ config, metrics, logger })), enricher, metrics, http: false });
  // main.ts registers these on its ops server; here on a bare Fastify app, next to the analyze API as in production.
  const http = Fastify();
  registerAnalyzeApi(http, {
    intake: service.pipeline,
    authToken: "t0ken",
    maxBatchAlerts: 100,
    maxJsonDepth: 32,
    requestTimeoutMs: 20_000,
    admissionWaitMs: 5_000,
    modelShare: null,
  });
  registerFeedbackApi(http, { handler: flow, authToken: "t0ken" });
  let stopped = false;
  return {
    service,
    cache,
    metrics,
    http,
    async stop() {
      if (stopped) return;
      stopped = true;
      await http.close();
      // Stop fetching on both consumers at once (each waits up to a fetch's max wait), then drain and close.
      await Promise.all([feedback.stopReading(), service.stop("test end")]);
      await feedback.close();
      await producer.disconnect();
      await caches.close();
    },
  };
}

async function world(backend: "sqlite" | "redis"): Promise<World> {
  const fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity });
  cleanups.push(() => fake.stop());
  const config = testConfig({
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: "0",
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    BATCH_MAX_SIZE: "50",
    BATCH_MAX_DELAY_MS: "50",
    LOG_LEVEL: "warn",
  });
  await createTopics(config.names, 3);
  const feedbackTopic = unique("feedback");
  const admin = kafka().admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: feedbackTopic, numPartitions: 2, replicationFactor: 1 }] });
  await admin.disconnect();
  const prefix = `${unique("t")}:`;
  let cacheUrl: (instance: string) => string;
  if (backend === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "triage-ai-cache-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cacheUrl = (instance) => `sqlite://${join(dir, `${instance}.sqlite`)}`; // one file per instance, as on separate disks
  } else {
    cacheUrl = () => REDIS_URL;
    redisPrefixes.push(prefix);
  }
  return { config, feedbackTopic, fake, cacheUrl, prefix };
}

const redisPrefixes: string[] = [];
afterAll(async () => {
  if (redisPrefixes.length === 0) return;
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  let deleted = 0;
  for (const prefix of redisPrefixes) {
    for await (const keys of client.scanIterator({ MATCH: `*${prefix}*`, COUNT: 500 })) {
      if (keys.length > 0) deleted += await client.del(keys);
    }
  }
  await client.quit();
  console.log(`redis cleanup: ${deleted} keys of this run deleted`);
});

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const parse = (m: Collected) => JSON.parse(m.value) as Verdict;
const agreementCount = async (m: Metrics, agreement: string) =>
  (await m.analystOverrides.get()).values.find((v) => v.labels.agreement === agreement)?.value ?? 0;

/** A login alert from the same attacker with the given count (pattern: same bucket → same key). */
const login = (id: string, failed: number, user = "erin") =>
  JSON.stringify({
    alert_id: id,
    alert_name: "Brute force login attempts",
    severity: "medium",
    source_ip: "45.155.205.233",
    destination_ip: "10.0.4.21",
    user,
    host: "laptop-eng-77",
    timestamp: new Date().toISOString(),
    description: `${failed} failed SSH logins for ${user} on laptop-eng-77 within 5 minutes`,
    failed_logins: failed,
    success: false,
  });
const loginIntel: Enricher = fixedIntel([
  {
    alert: JSON.parse(login("x", 1)),
    enrichment: {
      ip: "45.155.205.233",
      ip_role: "source",
      abuseipdb: {
        status: "ok",
        cached: false,
        data: { abuse_confidence_score: 40, country: "NL", usage_type: null, isp: null, total_reports: 9, is_tor: false, last_reported_at: null },
      },
      virustotal: {
        status: "ok",
        cached: false,
        data: { malicious: 0, suspicious: 0, harmless: 70, undetected: 10, reputation: 0, as_owner: null, country: null },
      },
    },
  },
]);

describe.each(["sqlite", "redis"] as const)("verdict cache on the real broker (%s)", (backend) => {
  it("a stream of repeated attackers with varying counts: pattern hits that agree with the model's answers", async () => {
    const w = await world(backend);
    const stream = attackStream({ count: 800, attackers: 60, seed: 5, idPrefix: `${backend}-S` });
    const out = await collect(w.config.names.output);
    cleanups.push(() => out.stop());
    const instance = await startInstance(w, "host-a", fixedIntel(stream));
    cleanups.push(() => instance.stop());
    await produce(
      w.config.names.input,
      stream.map((e) => JSON.stringify(toRecord(e))),
    );
    const verdicts = (await out.until(stream.length, 90_000)).map(parse);
    expect(new Set(verdicts.map((v) => v.alert_id)).size).toBe(stream.length);

    const bySource: Record<string, number> = {};
    for (const v of verdicts) bySource[v.source] = (bySource[v.source] ?? 0) + 1;
    const agree = (source: string) => {
      const of = verdicts.filter((v) => v.source === source);
      const same = of.filter((v) => {
        const ref = referenceDecision({ alert: v.alert, enrichment: v.enrichment });
        return ref.classification === v.classification && ref.severity === v.severity;
      });
      return { n: of.length, agree: same.length, rate: of.length === 0 ? 1 : same.length / of.length };
    };
    const pattern = agree("cache:pattern");
    const exact = agree("cache:exact");
    const llm = agree("llm");
    const hits = (bySource["cache:exact"] ?? 0) + (bySource["cache:pattern"] ?? 0);
    const asked = w.fake.alertsPerRequest.reduce((a, b) => a + b, 0);
    console.log(
      `AI-CACHE [${backend}] ${stream.length} alerts: hit rate ${((100 * hits) / stream.length).toFixed(1)}% ` +
        `(exact ${bySource["cache:exact"] ?? 0}, pattern ${bySource["cache:pattern"] ?? 0}); model: ${w.fake.requests.length} requests, ${asked} alerts asked; ` +
        `agreement with the fake's reference answers (classification+severity): pattern ${pattern.agree}/${pattern.n} = ${(100 * pattern.rate).toFixed(2)}%, ` +
        `exact ${exact.agree}/${exact.n}, llm ${llm.agree}/${llm.n}; by source ${JSON.stringify(bySource)}`,
    );
    expect(bySource["cache:pattern"] ?? 0).toBeGreaterThan(50);
    expect(pattern.rate).toBeGreaterThanOrEqual(0.99);
    expect(exact.rate).toBe(1);
    expect(llm.rate).toBe(1); // the oracle itself is right
    expect(asked).toBe(bySource.llm ?? 0); // every alert the model saw was asked once; the rest came from the cache
    for (const v of verdicts.filter((x) => x.source.startsWith("cache:")))
      expect(v).toMatchObject({ model: "gemini-3.5-flash-lite", prompt_version: expect.any(String), degraded: false });
  });

  it("an override on the feedback topic is re-published, changes later verdicts on every instance, and survives a restart", async () => {
    const w = await world(backend);
    const out = await collect(w.config.names.output);
    cleanups.push(() => out.stop());
    let a = await startInstance(w, "host-a", loginIntel);
    cleanups.push(() => a.stop());
    await produce(w.config.names.input, [login(`${backend}-ovr-1`, 12)]);
    const [first] = (await out.until(1)).map(parse);
    expect(first).toMatchObject({ source: "llm", classification: "needs_review" });

    // A second instance with its own cache (own SQLite file) and feedback group, e.g. another pod.
    const b = await startInstance(w, "host-b", loginIntel);
    cleanups.push(() => b.stop());

    const sentAt = Date.now();
    await produce(w.feedbackTopic, [
      JSON.stringify({ alert_id: `${backend}-ovr-1`, classification: "FALSE_POSITIVE", analyst: "ana", reason: "authorised pentest" }),
    ]);
    const republished = parse(
      await until("the re-published verdict", () => out.messages.find((m) => m.key === `${backend}-ovr-1` && parse(m).source === "override")),
    );
    expect(republished).toMatchObject({ alert_id: `${backend}-ovr-1`, source: "override", classification: "false_positive", confidence: 100 });
    expect(republished.alert.alert_id).toBe(`${backend}-ovr-1`);
    await until("the override counted", async () =>
      (await agreementCount(a.metrics, "disagree")) + (await agreementCount(b.metrics, "disagree")) > 0 ? true : undefined,
    );

    // Instance B never saw the alert; the resolved record gives it the keys. Same pattern (14 vs 12 failed logins, other user):
    const probe = {
      alert: {
        alert_id: "probe",
        alert_name: "Brute force login attempts",
        severity: "medium" as const,
        source_ip: "45.155.205.233",
        destination_ip: "10.0.4.21",
        user: "bob",
        host: "laptop-eng-77",
        timestamp: null,
        description: "14 failed SSH logins for bob on laptop-eng-77 within 5 minutes",
        format: "native",
        fields: { failed_logins: 14, success: false },
      },
      enrichment: (await loginIntel.enrich([JSON.parse(login("p", 14))]))[0]!.enrichment,
    };
    const onB = b.cache.wrap({
      name: "none",
      classify: async (items) =>
        items.map(() => {
          throw new Error("the model must not be asked");
        }),
    });
    await until("the override on instance B", async () => ((await onB.classify([probe]))[0]!.source === "override" ? true : undefined), 20_000);
    console.log(`AI-CACHE [${backend}] override reached the other instance ${Date.now() - sentAt} ms after it was produced`);

    // Through the pipeline on A: the same attacker with another count → the analyst's verdict, no model call.
    const askedBefore = w.fake.alertsPerRequest.reduce((x, y) => x + y, 0);
    await produce(w.config.names.input, [login(`${backend}-ovr-2`, 14, "bob")]);
    const later = parse(await until("the next verdict", () => out.messages.find((m) => m.key === `${backend}-ovr-2`)));
    expect(later).toMatchObject({ alert_id: `${backend}-ovr-2`, source: "override", classification: "false_positive" });
    expect(w.fake.alertsPerRequest.reduce((x, y) => x + y, 0)).toBe(askedBefore);

    // Restart A on the same cache (same SQLite file / Redis): the override still wins.
    const firstA = a.metrics;
    await a.stop();
    a = await startInstance(w, "host-a", loginIntel);
    cleanups.push(() => a.stop());
    await produce(w.config.names.input, [login(`${backend}-ovr-3`, 11, "carol")]);
    const afterRestart = parse(await until("the verdict after the restart", () => out.messages.find((m) => m.key === `${backend}-ovr-3`)));
    expect(afterRestart).toMatchObject({ source: "override", classification: "false_positive" });
    expect(out.messages.filter((m) => m.key === `${backend}-ovr-1`)).toHaveLength(2); // once by the model, once updated: no instance published it again
    expect((await agreementCount(firstA, "disagree")) + (await agreementCount(a.metrics, "disagree")) + (await agreementCount(b.metrics, "disagree"))).toBe(1);
  });

  it("an override via POST /v1/feedback reaches the topic, is re-published, changes later verdicts and survives a restart", async () => {
    const w = await world(backend);
    const out = await collect(w.config.names.output);
    const feedbackReader = await collect(w.feedbackTopic);
    cleanups.push(
      () => out.stop(),
      () => feedbackReader.stop(),
    );
    let a = await startInstance(w, "host-a", loginIntel);
    cleanups.push(() => a.stop());
    const auth = { "content-type": "application/json", authorization: "Bearer t0ken" };
    const analyze = async (body: string) =>
      (await a.http.inject({ method: "POST", url: "/analyze", headers: auth, payload: body })).json() as { verdict: Verdict };

    expect((await analyze(login(`${backend}-http-1`, 25))).verdict).toMatchObject({ source: "llm", classification: "needs_review" });
    const res = await a.http.inject({
      method: "POST",
      url: "/v1/feedback",
      headers: auth,
      payload: JSON.stringify({ alert_id: `${backend}-http-1`, classification: "true_positive", analyst: "bo", reason: "credential stuffing campaign" }),
    });
    expect(res.statusCode).toBe(202);
    expect(res.json().updated_verdict).toMatchObject({ source: "override", classification: "true_positive" });
    const unauth = await a.http.inject({ method: "POST", url: "/v1/feedback", headers: { "content-type": "application/json" }, payload: "{}" });
    expect(unauth.statusCode).toBe(401);
    const invalid = await a.http.inject({
      method: "POST",
      url: "/v1/feedback",
      headers: auth,
      payload: JSON.stringify({ alert_id: "x", classification: "perhaps", analyst: "bo", reason: "r" }),
    });
    expect(invalid.statusCode).toBe(422);

    const onTopic = await feedbackReader.until(2); // the analyst's record and the resolved record with the alert's keys
    expect(onTopic.map((m) => JSON.parse(m.value).kind ?? "override").sort()).toEqual(["override", "resolved"]);
    await until("the re-published verdict", () =>
      out.messages.some((m) => m.key === `${backend}-http-1` && parse(m).source === "override") ? true : undefined,
    );
    expect(await agreementCount(a.metrics, "disagree")).toBe(1);

    expect((await analyze(login(`${backend}-http-2`, 28, "dave"))).verdict).toMatchObject({ source: "override", classification: "true_positive" });
    await a.stop();
    a = await startInstance(w, "host-a", loginIntel);
    cleanups.push(() => a.stop());
    expect((await analyze(login(`${backend}-http-3`, 21, "frank"))).verdict).toMatchObject({ source: "override", classification: "true_positive" });
  });
});
