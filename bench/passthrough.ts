// npm run bench:passthrough — on the local broker, (a) bare kafkajs consume→produce and (b) our pipeline
// with the rules classifier, same run, same 10k-message backlog; prints alerts/s for both, the ratio, and
// peak RSS of each (each runs in its own child process so RSS is its own). Each mode runs BENCH_RUNS times
// (default 3, alternating, a fresh consumer group each time) and the median is reported: one run lasts well under
// a second, so a single one mostly measures whatever else the machine was doing. Peak RSS is the worst run's.
// The children run with the V8 flags of the deployed service (NODE_FLAGS below). BENCH_PROFILE=1 writes a CPU
// profile of each pipeline run to /tmp/prof.
import { spawnSync } from "node:child_process";
import { Kafka, logLevel } from "kafkajs";
import { ensureBroker, sampleRss } from "./support.js";
import { loadConfig } from "../src/config/load.js";
import { startService } from "../src/main.js";
import { createLogger } from "../src/telemetry/logger.js";

const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const PARTITIONS = 3;
/**
 * As NODE_OPTIONS in the Dockerfile and deploy/k8s/configmap.yaml: Node 24's V8 grows the young generation to
 * far larger semi-spaces than Node 20 did, which alone added ~50 MB of peak RSS with a 10k backlog.
 */
const NODE_FLAGS = ["--max-semi-space-size=16"];

interface Result {
  mode: string;
  alertsPerSecond: number;
  seconds: number;
  peakRssMb: number;
  cpuPercent: number;
}

/** CPU time of this process over the interval, as % of one core. */
function cpuShare(since: NodeJS.CpuUsage, seconds: number): number {
  const d = process.cpuUsage(since);
  return Math.round(((d.user + d.system) / 1e6 / seconds) * 100);
}

async function bare(brokers: string, topic: string): Promise<Result> {
  const kafka = new Kafka({ clientId: "bench-bare", brokers: [brokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: `bench-bare-${Date.now()}` });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const rss = sampleRss();
  let n = 0;
  let started = 0;
  let cpu0 = process.cpuUsage();
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        if (!started) {
          started = performance.now();
          cpu0 = process.cpuUsage();
        }
        await producer.send({ topic: `${topic}.bare-out`, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })) });
        n += batch.messages.length;
        if (n >= COUNT) resolve();
      },
    });
  });
  await done;
  const seconds = (performance.now() - started) / 1000;
  const cpuPercent = cpuShare(cpu0, seconds);
  const peakRssMb = rss.stop();
  await consumer.disconnect();
  await producer.disconnect();
  return { mode: "bare kafkajs", alertsPerSecond: Math.round(COUNT / seconds), seconds, peakRssMb, cpuPercent };
}

async function pipeline(brokers: string, topic: string): Promise<Result> {
  const config = loadConfig({
    ...process.env,
    KAFKA_BROKERS: brokers,
    TRIAGE_INPUT_TOPIC: topic,
    TRIAGE_OUTPUT_TOPIC: `${topic}.verdicts`,
    TRIAGE_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: `bench-pipe-${Date.now()}`,
    HTTP_PORT: "0",
    LOG_LEVEL: "error",
    CACHE_URL: "memory://",
  });
  const rss = sampleRss();
  const service = await startService(config, createLogger("error"));
  let started = 0;
  let cpu0 = process.cpuUsage();
  while (service.telemetry.stats.verdicts + service.telemetry.stats.dlq < COUNT) {
    if (!started && service.telemetry.stats.received > 0) {
      started = performance.now();
      cpu0 = process.cpuUsage();
    }
    if (process.env.BENCH_TRACE && started)
      process.stderr.write(
        `${(performance.now() - started).toFixed(0)}ms rx=${service.telemetry.stats.received} out=${service.telemetry.stats.verdicts} inflight=${service.pipeline.inFlight}\n`,
      );
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuPercent = cpuShare(cpu0, seconds);
  const peakRssMb = rss.stop();
  await service.stop("bench done");
  return { mode: "triage pipeline (rules)", alertsPerSecond: Math.round(COUNT / seconds), seconds, peakRssMb, cpuPercent };
}

async function produceBacklog(brokers: string, topic: string): Promise<void> {
  const kafka = new Kafka({ clientId: "bench-producer", brokers: [brokers], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [topic, `${topic}.verdicts`, `${topic}.bare-out`, `${topic}.dlq`].map((t) => ({ topic: t, numPartitions: PARTITIONS })),
  });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const names = ["Port scan detected", "Brute force login attempts", "Malware detected: Emotet loader", "Impossible travel", "Phishing email reported"];
  const sev = ["critical", "high", "medium", "low", "info"];
  for (let i = 0; i < COUNT; i += 1000) {
    await producer.send({
      topic,
      messages: Array.from({ length: Math.min(1000, COUNT - i) }, (_, j) => {
        const k = i + j;
        return {
          key: String(k),
          value: JSON.stringify({
            alert_id: `bench-${k}`,
            alert_name: names[k % 5],
            severity: sev[k % 5],
            source_ip: `203.0.113.${k % 200}`,
            user: `user${k % 50}`,
            host: `host-${k % 30}`,
            timestamp: new Date(1763890000000 + k * 1000).toISOString(),
            description: "Synthetic alert for the passthrough benchmark",
          }),
        };
      }),
    });
  }
  await producer.disconnect();
}

const [mode, brokersArg, topicArg] = process.argv.slice(2);
if (mode === "bare" || mode === "pipeline") {
  const r = mode === "bare" ? await bare(brokersArg!, topicArg!) : await pipeline(brokersArg!, topicArg!);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}

const brokers = ensureBroker();
const topic = `bench-pass-${Date.now()}`;
await produceBacklog(brokers, topic);
const run = (m: string): Result => {
  const out = spawnSync(
    process.execPath,
    [
      ...NODE_FLAGS,
      ...(process.env.BENCH_PROFILE && m === "pipeline" ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : []),
      "--import",
      "tsx",
      new URL(import.meta.url).pathname,
      m,
      brokers,
      topic,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  if (out.status !== 0) throw new Error(`${m} run failed`);
  return JSON.parse(out.stdout.trim().split("\n").pop()!) as Result;
};
/** Median throughput run of a mode, with the worst peak RSS of all its runs. */
const summarize = (results: Result[]): Result => {
  const sorted = [...results].sort((x, y) => x.alertsPerSecond - y.alertsPerSecond);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, peakRssMb: Math.max(...results.map((r) => r.peakRssMb)) };
};
const bares: Result[] = [];
const pipelines: Result[] = [];
for (let i = 0; i < RUNS; i++) {
  bares.push(run("bare"));
  pipelines.push(run("pipeline"));
}
const a = summarize(bares);
const b = summarize(pipelines);
console.log(
  `passthrough benchmark: ${COUNT} messages, ${PARTITIONS} partitions, broker ${brokers}, node ${process.version} ${NODE_FLAGS.join(" ")}, median of ${RUNS} runs`,
);
for (const [r, all] of [
  [a, bares],
  [b, pipelines],
] as const) {
  console.log(
    `  ${r.mode.padEnd(26)} ${String(r.alertsPerSecond).padStart(7)} alerts/s  ${r.seconds.toFixed(2)} s  peak RSS ${r.peakRssMb} MB  CPU ${r.cpuPercent}% of a core  (runs: ${all.map((x) => x.alertsPerSecond).join(", ")})`,
  );
}
console.log(
  `  ratio pipeline/bare: ${(b.alertsPerSecond / a.alertsPerSecond).toFixed(2)} (target ≥ 0.7); pipeline peak RSS ${b.peakRssMb} MB (target ≤ 256 MB)`,
);
