// The broker stopped mid-stream and started again a few seconds later (scripts/kafka.sh stop/start, data kept):
// the consumer and producer reconnect by themselves, no alert is lost, and /readyz says "not ready" while the
// broker is away. Runs on a private broker (own ports and data dir, scripts/kafka.sh) so that stopping it does
// not disturb the broker the other test files — or other sessions on this machine — use.
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import type { Classifier } from "../../src/core/ports/index.js";
import { startService } from "../../src/main.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { guardedRulesClassifier } from "../../src/transforms/classify/index.js";
import { PrivateBroker } from "../../scripts/chaos.js";
import { nativeAlert, unique } from "./support.js";

let broker: PrivateBroker;
beforeAll(async () => {
  broker = await PrivateBroker.start();
}, 180_000);
afterAll(async () => {
  await broker?.destroy();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The rules classifier, slowed down so records are in flight (classified, published, committed) when the broker goes. */
function slowRules(msPerBatch: number): Classifier {
  const rules = guardedRulesClassifier({ abuseScoreMin: 90, vtMaliciousMin: 5 });
  return { name: "slow-rules", classify: async (items) => (await sleep(msPerBatch), rules.classify(items)) };
}

describe("broker restart mid-stream", () => {
  it("consumer and producer reconnect by themselves, nothing is lost, /readyz is 503 while the broker is down", async () => {
    const kafka = new Kafka({ clientId: unique("restart-test"), brokers: [broker.brokers], logLevel: logLevel.NOTHING });
    const names = { input: unique("in"), output: unique("out"), dlq: unique("dlq"), group: unique("grp") };
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: names.input, numPartitions: 3 },
        { topic: names.output, numPartitions: 3 },
        { topic: names.dlq, numPartitions: 1 },
      ],
    });
    await admin.disconnect();
    const produce = async (from: number, n: number) => {
      const producer = kafka.producer();
      await producer.connect();
      for (let i = from; i < from + n; i += 500) {
        await producer.send({
          topic: names.input,
          messages: Array.from({ length: Math.min(500, from + n - i) }, (_, j) => ({ key: String(i + j), value: nativeAlert(i + j) })),
        });
      }
      await producer.disconnect();
    };
    await produce(0, 6000);

    const config = loadConfig({
      KAFKA_BROKERS: broker.brokers,
      TRIAGE_INPUT_TOPIC: names.input,
      TRIAGE_OUTPUT_TOPIC: names.output,
      TRIAGE_DLQ_TOPIC: names.dlq,
      KAFKA_GROUP_ID: names.group,
      KAFKA_COMMIT_INTERVAL_MS: "200",
      KAFKA_SESSION_TIMEOUT_MS: "10000",
      CACHE_URL: "memory://",
      HTTP_PORT: "0",
      HTTP_HOST: "127.0.0.1",
      LOG_LEVEL: "silent",
      BATCH_MAX_SIZE: "20",
      PIPELINE_CONCURRENCY: "2",
      SINK_RETRY_DEADLINE_MS: "120000",
    });
    // ~40 batches/s of 20: the 6,000 alerts take ~7 s, so the broker goes away with the stream in full flow.
    const service = await startService(config, createLogger("silent"), { http: true, classifier: slowRules(50) });
    const readyz = async () => {
      const res = await fetch(`${service.httpAddress}/readyz`);
      return { status: res.status, body: (await res.json()) as { waiting: string[] } };
    };
    try {
      const t0 = Date.now();
      while (service.telemetry.stats.verdicts < 1500) {
        if (Date.now() - t0 > 60_000) throw new Error(`only ${service.telemetry.stats.verdicts} verdicts before the outage`);
        await sleep(50);
      }
      expect((await readyz()).status).toBe(200);

      // Outage: stop (SIGTERM, data kept), keep it down ~5 s, start again — readiness polled throughout.
      const seen: { status: number; waiting: string[]; brokerUp: boolean }[] = [];
      let brokerUp = true;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const r = await readyz();
          seen.push({ status: r.status, waiting: r.body.waiting, brokerUp });
          await sleep(200);
        }
      })();
      const outageStarted = Date.now();
      await broker.stop();
      brokerUp = false;
      await sleep(1_000);
      const stalledAt = service.telemetry.stats.verdicts;
      await sleep(4_000);
      expect(service.telemetry.stats.verdicts).toBe(stalledAt); // nothing can be published while it is away
      expect(stalledAt).toBeLessThan(6000); // …and the stream was cut mid-way
      await broker.start();
      brokerUp = true;
      const outageSeconds = (Date.now() - outageStarted) / 1000;
      await produce(6000, 1000); // more input after the restart, through the restarted broker

      // Recovery by itself: every alert id gets a verdict (read back from the output topic).
      const ids = new Map<string, number>();
      const reader = kafka.consumer({ groupId: unique("reader") });
      await reader.connect();
      await reader.subscribe({ topic: names.output, fromBeginning: true });
      await reader.run({ eachMessage: async ({ message }) => void ids.set(message.key!.toString(), (ids.get(message.key!.toString()) ?? 0) + 1) });
      const recoveryStarted = Date.now();
      try {
        while (ids.size < 7000) {
          if (Date.now() - recoveryStarted > 120_000) throw new Error(`only ${ids.size}/7000 alert ids have verdicts 120 s after the broker came back`);
          await sleep(100);
        }
        await sleep(1_000);
      } finally {
        await reader.disconnect();
      }
      const recoverySeconds = (Date.now() - recoveryStarted) / 1000;
      for (let i = 0; i < 7000; i++) expect(ids.has(`alert-${i}`), `alert-${i}`).toBe(true);

      // Ready again once reconnected; not ready at some point while the broker was down.
      const back = Date.now();
      while ((await readyz()).status !== 200) {
        if (Date.now() - back > 30_000) throw new Error("/readyz did not return to 200 after the broker came back");
        await sleep(200);
      }
      polling = false;
      await poller;
      const duringOutage = seen.filter((s) => !s.brokerUp);
      expect(duringOutage.length).toBeGreaterThan(5);
      expect(duringOutage.some((s) => s.status === 503 && s.waiting.some((w) => w === "consumer" || w === "producer"))).toBe(true);
      const duplicates = [...ids.values()].reduce((a, n) => a + n - 1, 0);
      const notReady = duringOutage.filter((s) => s.status === 503).length;
      console.log(
        `broker restart: down ${outageSeconds.toFixed(1)} s; /readyz 503 in ${notReady}/${duringOutage.length} polls while down (waiting: ${[...new Set(duringOutage.flatMap((s) => s.waiting))].join(", ")}); all 7000 alerts had verdicts ${recoverySeconds.toFixed(1)} s after restart; ${duplicates} duplicates`,
      );
    } finally {
      expect(await service.stop("test end")).toBe(true);
    }
    // Everything acknowledged was committed on the restarted broker.
    const check = kafka.admin();
    await check.connect();
    const [committed] = await check.fetchOffsets({ groupId: names.group, topics: [names.input] });
    const end = await check.fetchTopicOffsets(names.input);
    await check.disconnect();
    const sum = (xs: string[]) => xs.reduce((a, x) => a + Math.max(0, Number(x)), 0);
    expect(sum(committed!.partitions.map((p) => p.offset))).toBe(sum(end.map((p) => p.high)));
  });
});
