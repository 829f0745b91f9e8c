// npm run bench:scale — alerts/s of the cached/rules path (no Gemini key: every verdict comes from the rules
// classifier, or the AI cache where main.ts wires one) for 1 vs 3 `triage run` instances in one consumer group on
// the local broker, 6 partitions. Each run: the instances join first (empty topic), then BENCH_COUNT alerts are
// produced and the clock runs until every alert id has a verdict on the output topic (producing is inside the
// measured time). BENCH_COUNT (60000) alerts per run, BENCH_REPEAT (3) runs per size, BENCH_INSTANCES ("1,3").
// With Redis on 127.0.0.1:6379 (or BENCH_REDIS_URL) the instances share CACHE_URL=redis://… as a scaled-out
// deployment would; otherwise memory://. On a 2-core machine the instances, the broker and this process share two
// cores, so expect little speed-up: the point is that sharing one group and one Redis stays correct (no loss, no
// duplicates) and costs little.
import { cpus, loadavg } from "node:os";
import { Kafka, logLevel } from "kafkajs";
import { connectRedis } from "../src/resources/redis.js";
import { alive, spawnInstance, stopInstance, type Instance } from "../scripts/chaos.js";
import { ensureBroker } from "./support.js";

const COUNT = Number(process.env.BENCH_COUNT ?? 60_000);
const PARTITIONS = 6;
const RUNS = (process.env.BENCH_INSTANCES ?? "1,3").split(",").map(Number);
/** Runs per group size, interleaved (1, 3, 1, 3, …) so background load hits both alike; the median is reported. */
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);

interface Result {
  instances: number;
  seconds: number;
  alertsPerSecond: number;
  duplicates: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Redis database without triage keys (the service's keys have no prefix option), or null without Redis. */
async function pickRedis(): Promise<{ url: string; cleanup(): Promise<void> } | null> {
  const base = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
  let probe: Awaited<ReturnType<typeof connectRedis>>;
  try {
    probe = await Promise.race([connectRedis(`${base}/14`), sleep(2_000).then(() => Promise.reject(new Error("timeout")))]);
  } catch {
    return null;
  }
  await probe.quit();
  for (let db = 14; db >= 1; db--) {
    const client = await connectRedis(`${base}/${db}`);
    if ((await client.keys("triage:*")).length === 0 && (await client.keys("ti:*")).length === 0) {
      return {
        url: `${base}/${db}`,
        async cleanup() {
          for (const pattern of ["triage:*", "ti:*", "ai-*", "overrides:*"]) {
            const keys = await client.keys(pattern);
            if (keys.length) await client.del(keys);
          }
          await client.quit();
        },
      };
    }
    await client.quit();
  }
  return null;
}

async function runGroup(brokers: string, n: number, cacheUrl: string): Promise<Result> {
  const tag = `bench-scale-${n}-${Date.now().toString(36)}`;
  const topics = { input: `${tag}-in`, output: `${tag}-out`, dlq: `${tag}-dlq` };
  const kafka = new Kafka({ clientId: "bench-scale", brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topics.input, topics.output].map((topic) => ({ topic, numPartitions: PARTITIONS })).concat([{ topic: topics.dlq, numPartitions: 1 }]),
  });
  await admin.disconnect();

  const env = {
    KAFKA_BROKERS: brokers,
    TRIAGE_INPUT_TOPIC: topics.input,
    TRIAGE_OUTPUT_TOPIC: topics.output,
    TRIAGE_DLQ_TOPIC: topics.dlq,
    KAFKA_GROUP_ID: `${tag}-group`,
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
    CACHE_URL: cacheUrl,
    GEMINI_API_KEY: "",
    ABUSEIPDB_API_KEY: "",
    VIRUSTOTAL_API_KEY: "",
  };
  const instances: Instance[] = Array.from({ length: n }, (_, i) => spawnInstance(`bench-${i}`, env));
  const seen = new Set<string>();
  let messages = 0;
  const reader = kafka.consumer({ groupId: `${tag}-reader` });
  try {
    const settle = Date.now() + 90_000;
    while (!(instances.every((i) => i.assigned.length > 0) && new Set(instances.flatMap((i) => i.assigned)).size === PARTITIONS)) {
      for (const i of instances) if (!alive(i)) throw new Error(`${i.name} exited:\n${i.tail.join("\n")}`);
      if (Date.now() > settle) throw new Error("the group did not settle within 90 s");
      await sleep(100);
    }
    await reader.connect();
    await reader.subscribe({ topic: topics.output, fromBeginning: true });
    await reader.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) seen.add(m.key!.toString());
        messages += batch.messages.length;
      },
    });

    const names = ["Port scan detected", "Brute force login attempts", "Malware detected: Emotet loader", "Impossible travel", "Phishing email reported"];
    const sev = ["critical", "high", "medium", "low", "info"];
    const producer = kafka.producer();
    await producer.connect();
    const started = performance.now();
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < COUNT; i += 1000) {
      sends.push(
        producer.send({
          topic: topics.input,
          messages: Array.from({ length: Math.min(1000, COUNT - i) }, (_, j) => {
            const k = i + j;
            return {
              key: String(k),
              value: JSON.stringify({
                alert_id: `${tag}-${k}`,
                alert_name: names[k % 5],
                severity: sev[k % 5],
                source_ip: `203.0.113.${k % 200}`,
                user: `user${k % 50}`,
                host: `host-${k % 30}`,
                description: "Synthetic alert for the scale benchmark",
              }),
            };
          }),
        }),
      );
    }
    await Promise.all(sends);
    await producer.disconnect();
    const deadline = Date.now() + 300_000;
    while (seen.size < COUNT) {
      if (Date.now() > deadline) throw new Error(`only ${seen.size}/${COUNT} verdicts after 300 s`);
      await sleep(20);
    }
    const seconds = (performance.now() - started) / 1000;
    return { instances: n, seconds, alertsPerSecond: Math.round(COUNT / seconds), duplicates: messages - COUNT };
  } finally {
    await reader.disconnect().catch(() => {});
    await Promise.all(instances.map((i) => stopInstance(i)));
  }
}

const brokers = ensureBroker();
const redis = await pickRedis();
const cacheUrl = redis?.url ?? "memory://";
const results = new Map<number, Result[]>(RUNS.map((n) => [n, []]));
try {
  for (let rep = 0; rep < REPEAT; rep++) {
    for (const n of RUNS) {
      const r = await runGroup(brokers, n, cacheUrl);
      results.get(n)!.push(r);
      process.stderr.write(`bench:scale: run ${rep + 1}/${REPEAT}, ${n} instance(s): ${r.alertsPerSecond} alerts/s\n`);
    }
  }
} finally {
  await redis?.cleanup();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `scale benchmark: ${COUNT} alerts per run, ${PARTITIONS} partitions, rules/cached path (no Gemini key), CACHE_URL ${cacheUrl}, broker ${brokers}, ${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(2)}`,
);
const medians = new Map<number, number>();
for (const [n, rs] of results) {
  const rates = rs.map((r) => r.alertsPerSecond);
  medians.set(n, median(rates));
  console.log(
    `  ${String(n).padStart(2)} instance(s)  median ${String(median(rates)).padStart(7)} alerts/s  (runs: ${rates.join(", ")})  duplicates ${rs.reduce((a, r) => a + r.duplicates, 0)}`,
  );
}
const one = medians.get(1);
for (const [n, m] of medians) if (one && n !== 1) console.log(`  ${n} vs 1: ×${(m / one).toFixed(2)} (median)`);
