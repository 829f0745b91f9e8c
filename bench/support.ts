// Shared bench helpers: a broker (started with scripts/kafka.sh when KAFKA_BROKERS is unset) and RSS sampling.
import { execFileSync } from "node:child_process";

/** Bootstrap address of the local broker, starting it if needed. */
export function ensureBroker(): string {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  const out = execFileSync("bash", [new URL("../scripts/kafka.sh", import.meta.url).pathname, "start"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return out.trim().split("\n").pop()!;
}

/** Samples resident memory every 20 ms; stop() returns the peak in MB. */
export function sampleRss(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return {
    stop() {
      clearInterval(t);
      return Math.round((Math.max(peak, process.memoryUsage.rss()) / 1048576) * 10) / 10;
    },
  };
}
