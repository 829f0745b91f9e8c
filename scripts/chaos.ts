// npm run chaos [-- --instances 3 --iterations 20 --rate 200 --partitions 6 --seed 1 --kill-every-ms 2500]
//
// Delivery under failure, on loopback only: a private single-node broker (scripts/kafka.sh on free ports and its own
// data dir, so the shared test broker is never touched), the loopback fake Gemini, and N `triage run` instances in
// one consumer group. While a producer streams alerts, K iterations SIGKILL a random instance (and start a
// replacement), and once, half-way, the broker is stopped and started again. Then the stream stops, the group
// drains, and the script reports lost alerts (must be 0) and the duplicate share. Exit status 1 if anything was
// lost or the drain did not finish within --drain-timeout-s.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { Kafka, logLevel, type Consumer, type Producer } from "kafkajs";
import { FakeGemini } from "../test/fakes/gemini.js";
import { mulberry32 as prng } from "../test/fakes/http-fake.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const kafkaScript = join(repo, "scripts/kafka.sh");
const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A broker of our own (scripts/kafka.sh with free ports and a temporary data dir; the jar cache is shared), so
 * stopping it never disturbs the broker other tests or sessions use. Calls are asynchronous: the event loop (and an
 * in-process service) keeps running while the broker stops and starts.
 */
export class PrivateBroker {
  private constructor(
    private readonly env: Record<string, string>,
    readonly brokers: string,
    private readonly dataDir: string,
  ) {}

  /** Start a fresh broker; resolves once it answers Kafka requests. */
  static async start(): Promise<PrivateBroker> {
    const dataDir = mkdtempSync(join(tmpdir(), "triage-broker-"));
    const port = await freePort();
    let controller = await freePort();
    while (controller === port) controller = await freePort();
    const broker = new PrivateBroker(
      { KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(controller), KAFKA_DATA_DIR: dataDir },
      `127.0.0.1:${port}`,
      dataDir,
    );
    await broker.start();
    return broker;
  }

  /** Start (again) on the same data: topics and committed offsets survive a stop. */
  async start(): Promise<void> {
    await this.sh("start");
  }

  /** SIGTERM the broker (SIGKILL after KAFKA_STOP_TIMEOUT); data is kept. */
  async stop(): Promise<void> {
    await this.sh("stop");
  }

  /** Stop and delete everything. */
  async destroy(): Promise<void> {
    await this.sh("reset").catch(() => {});
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async sh(command: string): Promise<void> {
    try {
      await run("bash", [kafkaScript, command], { env: { ...process.env, ...this.env }, timeout: 180_000 });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`scripts/kafka.sh ${command} failed: ${e.stderr?.trim().split("\n").slice(-15).join("\n") ?? e.message}`);
    }
  }
}

/** A `triage run` child process with its log tail and its latest group assignment. */
export interface Instance {
  name: string;
  child: ChildProcess;
  /** Partitions of the last group join ("topic:partition"), from the "joined consumer group" log line. */
  assigned: string[];
  /** Set when we killed it on purpose. */
  killed: boolean;
  exit: Promise<unknown>;
  /** Last stderr lines, for error messages. */
  tail: string[];
}

/** Spawn `node --import tsx src/cli.ts run` with env (LOG_LEVEL=info to see assignments). */
export function spawnInstance(name: string, env: Record<string, string>): Instance {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "run"], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const inst: Instance = { name, child, assigned: [], killed: false, exit: once(child, "exit"), tail: [] };
  createInterface({ input: child.stderr! }).on("line", (line) => {
    inst.tail.push(line);
    if (inst.tail.length > 30) inst.tail.shift();
    if (!line.includes("joined consumer group")) return;
    try {
      inst.assigned = (JSON.parse(line) as { assigned: string[] }).assigned;
    } catch {
      // not one of our JSON log lines
    }
  });
  return inst;
}

/** True while the process runs. */
export function alive(inst: Instance): boolean {
  return inst.child.exitCode === null && inst.child.signalCode === null;
}

/** SIGTERM (graceful drain), SIGKILL after graceMs. */
export async function stopInstance(inst: Instance, graceMs = 20_000): Promise<void> {
  if (!alive(inst)) return;
  inst.child.kill("SIGTERM");
  const timer = setTimeout(() => inst.child.kill("SIGKILL"), graceMs);
  await inst.exit;
  clearTimeout(timer);
}

// ── the chaos run ────────────────────────────────────────────────────────────────────────────────────────────────

interface Options {
  instances: number;
  iterations: number;
  partitions: number;
  /** Alerts produced per second while the chaos lasts. */
  rate: number;
  /** Mean pause between kills (uniform in 0.5×–1.5×). */
  killEveryMs: number;
  /** How long the broker stays down. */
  brokerDownMs: number;
  drainTimeoutS: number;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    instances: 3,
    iterations: 20,
    partitions: 6,
    rate: 200,
    killEveryMs: 2_500,
    brokerDownMs: 4_000,
    drainTimeoutS: 180,
    seed: Date.now() % 100_000,
  };
  const names: Record<string, keyof Options> = {
    "--instances": "instances",
    "--iterations": "iterations",
    "--partitions": "partitions",
    "--rate": "rate",
    "--kill-every-ms": "killEveryMs",
    "--broker-down-ms": "brokerDownMs",
    "--drain-timeout-s": "drainTimeoutS",
    "--seed": "seed",
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split("=", 2) as [string, string | undefined];
    const key = names[flag];
    if (!key) throw new Error(`unknown option ${flag}; known: ${Object.keys(names).join(", ")}`);
    const value = Number(inline ?? argv[++i]);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} needs a non-negative number`);
    o[key] = value;
  }
  if (o.instances < 1 || o.partitions < 1 || o.rate < 1) throw new Error("--instances, --partitions and --rate must be at least 1");
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stderr.write(`chaos: ${msg}\n`);

const NAMES = [
  "Brute force login attempts",
  "Impossible travel",
  "Port scan detected",
  "Phishing email reported",
  "Suspicious PowerShell",
  "Ransomware behaviour: mass file encryption",
];
const SEVERITIES = ["critical", "high", "medium", "low", "info"];

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const random = prng(o.seed);
  const started = Date.now();
  log(`seed ${o.seed}: ${o.instances} instances, ${o.partitions} partitions, ${o.iterations} kill iterations + 1 broker restart, ${o.rate} alerts/s`);

  const broker = await PrivateBroker.start();
  log(`private broker on ${broker.brokers}`);
  const fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity, latencyMs: 30 });
  const instances: Instance[] = [];
  let collector: Consumer | undefined;
  let producer: Producer | undefined;
  const cleanup = async () => {
    await Promise.all(instances.map((i) => stopInstance(i, 5_000)));
    await collector?.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
    await fake.stop();
    await broker.destroy();
  };
  process.once("SIGINT", () => void cleanup().finally(() => process.exit(130)));

  try {
    const tag = `chaos-${Date.now().toString(36)}`;
    const topics = { input: `${tag}-in`, output: `${tag}-out`, dlq: `${tag}-dlq` };
    const kafka = new Kafka({ clientId: "chaos", brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 10, maxRetryTime: 5_000 } });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.input, numPartitions: o.partitions },
        { topic: topics.output, numPartitions: o.partitions },
        { topic: topics.dlq, numPartitions: 1 },
      ],
    });
    await admin.disconnect();

    // Verdicts, de-duplicated by (partition, offset): the collector itself may re-read after the broker restart.
    const verdictAt = new Map<string, string>();
    collector = kafka.consumer({ groupId: `${tag}-reader`, sessionTimeout: 10_000 });
    await collector.connect();
    await collector.subscribe({ topic: topics.output, fromBeginning: true });
    await collector.run({ eachMessage: async ({ partition, message }) => void verdictAt.set(`${partition}:${message.offset}`, message.key?.toString() ?? "") });

    const env = {
      KAFKA_BROKERS: broker.brokers,
      TRIAGE_INPUT_TOPIC: topics.input,
      TRIAGE_OUTPUT_TOPIC: topics.output,
      TRIAGE_DLQ_TOPIC: topics.dlq,
      KAFKA_GROUP_ID: `${tag}-group`,
      KAFKA_SESSION_TIMEOUT_MS: "6000",
      KAFKA_COMMIT_INTERVAL_MS: "200",
      MAX_INFLIGHT_ALERTS: "2000",
      HTTP_PORT: "0",
      LOG_LEVEL: "info",
      CACHE_URL: "memory://",
      GEMINI_API_KEY: fake.apiKey,
      GEMINI_BASE_URL: fake.url,
      GEMINI_RPM: "0",
      GEMINI_TPM: "0",
      GEMINI_RPD: "0",
      SINK_RETRY_DEADLINE_MS: "120000",
    };
    let generation = 0;
    const launch = (slot: number) => (instances[slot] = spawnInstance(`triage-${slot}.${generation++}`, env));
    for (let i = 0; i < o.instances; i++) launch(i);

    // The stream: `rate` alerts per second in 100 ms ticks, paused while the broker is down (a send that fails then
    // would be retried and could write a chunk twice, which would count as our duplicate).
    producer = kafka.producer();
    await producer.connect();
    const produced: string[] = [];
    let producing = true;
    let brokerUp = true;
    let nextId = 0;
    const stream = (async () => {
      const perTick = Math.max(1, Math.round(o.rate / 10));
      while (producing) {
        if (brokerUp) {
          const ids = Array.from({ length: perTick }, () => `${tag}-${nextId++}`);
          const messages = ids.map((id, j) => ({
            key: id,
            value: JSON.stringify({
              alert_id: id,
              alert_name: NAMES[(nextId + j) % NAMES.length],
              severity: SEVERITIES[(nextId + j) % SEVERITIES.length],
              source_ip: `10.${(nextId >> 16) & 255}.${(nextId >> 8) & 255}.${(nextId + j) & 255}`,
              user: `user${(nextId + j) % 500}`,
            }),
          }));
          try {
            await producer!.send({ topic: topics.input, messages });
            produced.push(...ids);
          } catch (err) {
            log(`produce failed (${(err as Error).message}); those ${ids.length} alerts are not counted`);
          }
        }
        await sleep(100);
      }
    })();

    const brokerRestartAt = Math.floor(o.iterations / 2);
    let kills = 0;
    for (let it = 0; it < o.iterations; it++) {
      await sleep(o.killEveryMs * (0.5 + random()));
      if (it === brokerRestartAt) {
        log(`broker restart (down ${o.brokerDownMs} ms)`);
        brokerUp = false;
        await broker.stop();
        await sleep(o.brokerDownMs);
        await broker.start();
        brokerUp = true;
      }
      const slot = Math.floor(random() * o.instances);
      const victim = instances[slot]!;
      victim.killed = true;
      victim.child.kill("SIGKILL");
      await victim.exit;
      kills++;
      log(`iteration ${it + 1}/${o.iterations}: SIGKILLed ${victim.name} (${produced.length} produced, ${new Set(verdictAt.values()).size} with verdicts)`);
      launch(slot);
    }
    if (o.iterations === 0) {
      await sleep(o.killEveryMs);
      log("broker restart");
      brokerUp = false;
      await broker.stop();
      await sleep(o.brokerDownMs);
      await broker.start();
      brokerUp = true;
    }
    producing = false;
    await stream;

    // Drain: every produced alert id must get a verdict.
    const want = new Set(produced);
    const drainDeadline = Date.now() + o.drainTimeoutS * 1000;
    let have = new Set<string>();
    for (;;) {
      have = new Set(verdictAt.values());
      let missing = 0;
      for (const id of want) if (!have.has(id)) missing++;
      if (missing === 0 || Date.now() > drainDeadline) break;
      for (const [slot, inst] of instances.entries()) {
        if (!alive(inst) && !inst.killed) {
          log(`${inst.name} exited by itself (code ${inst.child.exitCode}); restarting it. Last log lines:\n${inst.tail.slice(-5).join("\n")}`);
          launch(slot);
        }
      }
      await sleep(250);
    }
    await sleep(1_500); // late duplicates
    have = new Set(verdictAt.values());
    const lost = [...want].filter((id) => !have.has(id));
    const verdicts = [...verdictAt.values()].filter((id) => want.has(id)).length;
    const duplicates = verdicts - (want.size - lost.length);
    const seconds = (Date.now() - started) / 1000;
    console.log(`chaos result (seed ${o.seed}): ${o.instances} instances, ${kills} SIGKILLs + 1 broker restart in ${seconds.toFixed(0)} s`);
    console.log(
      `  produced ${want.size} alerts, ${verdicts} verdicts, lost ${lost.length}, duplicates ${duplicates} (${((duplicates / Math.max(1, want.size)) * 100).toFixed(1)} % of alerts)`,
    );
    console.log(`  Gemini fake: ${fake.requests.length} requests, ${fake.countStatus(429)} × 429`);
    if (lost.length > 0) console.log(`  LOST (first 10): ${lost.slice(0, 10).join(", ")}`);
    return lost.length === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(2);
    },
  );
}
