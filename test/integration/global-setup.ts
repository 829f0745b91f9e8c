// Starts the real Kafka broker (scripts/kafka.sh) for integration tests unless KAFKA_BROKERS points at one.
// If it cannot start, setup throws: integration tests fail loudly, they never skip.
import { execFileSync, spawnSync } from "node:child_process";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

const script = new URL("../../scripts/kafka.sh", import.meta.url).pathname;
let startedHere = false;

export default function setup(project: TestProject) {
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    // A broker already running (a developer's, or another run's) is used as it is and left running.
    const running = spawnSync("bash", [script, "status"], { stdio: "ignore" }).status === 0;
    try {
      const out = execFileSync("bash", [script, "start"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 300_000 });
      brokers = out.trim().split("\n").pop();
      startedHere = !running;
    } catch (err) {
      throw new Error(
        `Integration tests need a real Kafka broker and scripts/kafka.sh could not start one (Java 17 + Maven reaching Maven Central required): ${(err as Error).message}`,
      );
    }
    if (!brokers) throw new Error("scripts/kafka.sh start printed no bootstrap address");
  }
  project.provide("kafkaBrokers", brokers);
  return () => {
    if (startedHere && !process.env.KEEP_KAFKA) execFileSync("bash", [script, "reset"], { stdio: "inherit", timeout: 60_000 });
  };
}
