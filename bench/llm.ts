// npx tsx bench/llm.ts (npm run bench:llm) — the Gemini classifier in the real pipeline (file in → file out, one
// instance, in-process) against the loopback fake Gemini:
//   A. RPM-bound (free-tier-like, window scaled down): the prototype's one alert per call vs ours, same alerts;
//      prints calls, wall time, alerts/s (scaled and at a real 60 s window) and the ratio.
//   B. Sustained alerts/s on never-seen alerts with the fake enforcing paid Flash-Lite-like limits
//      (4,000 RPM, 4M TPM, 200 ms per request; window scaled down with RPM/TPM scaled alike, same per-second rates).
// Env: BENCH_A_ALERTS (1500), BENCH_A_PROTO_ALERTS (150), BENCH_A_WINDOW_MS (2000), BENCH_B_ALERTS (40000),
//      BENCH_B_WINDOW_MS (10000; 60000 = unscaled).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load.js";
import { startService } from "../src/main.js";
import { createLogger } from "../src/telemetry/logger.js";
import { createMetrics } from "../src/telemetry/metrics.js";
import { createClassifier } from "../src/transforms/classify/index.js";
import { FakeGemini, type FakeGeminiOptions } from "../test/fakes/gemini.js";

const env = (name: string, def: number) => Number(process.env[name] ?? def);
const logger = createLogger("error");
const SEVERITIES = ["critical", "high", "medium", "low", "info"];
const NAMES = [
  "Brute force login attempts",
  "Impossible travel",
  "Port scan detected",
  "Phishing email reported",
  "Suspicious PowerShell",
  "Scheduled task ran",
  "DNS tunnelling suspected",
  "Malware detected: Emotet loader",
];

/** Distinct alerts (never seen before by any cache: ids and content are new per run). */
function alerts(n: number, tag: string): string[] {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      alert_id: `${tag}-${i}`,
      alert_name: NAMES[i % NAMES.length],
      severity: i % 50 === 0 ? "critical" : SEVERITIES[1 + (i % 4)],
      source_ip: `198.51.${(i >> 8) & 255}.${i & 255}`,
      destination_ip: "10.0.4.21",
      user: `user${i % 97}`,
      host: `ws-${i % 31}`,
      timestamp: new Date(Date.UTC(2026, 10, 23, 8, 0, i % 60)).toISOString(),
      description: `Event ${i} (${tag}): ${i % 7} failed logins then a session on ws-${i % 31}`,
      failed_logins: i % 13,
    }),
  );
}

interface Result {
  alerts: number;
  calls: number;
  wallSeconds: number;
  alertsPerSecond: number;
  meanAlertsPerCall: number;
  http429: number;
  violations: number;
  llmVerdicts: number;
  /** Fake-counted prompt tokens per alert (system instruction amortised). */
  promptTokensPerAlert: number;
  /** Alerts/s after the first rate window (the initial burst excluded); null when the run was shorter. */
  steadyAlertsPerSecond: number | null;
}

/** One pipeline run over `lines` against a fresh fake. */
async function run(lines: string[], fakeOpts: FakeGeminiOptions, configEnv: Record<string, string>, steadyAfterMs = Infinity): Promise<Result> {
  const fake = await FakeGemini.start(fakeOpts);
  const dir = mkdtempSync(join(tmpdir(), "bench-llm-"));
  try {
    const input = join(dir, "in.ndjson");
    const output = join(dir, "out.ndjson");
    writeFileSync(input, `${lines.join("\n")}\n`);
    const config = loadConfig({
      GEMINI_API_KEY: fake.apiKey,
      GEMINI_BASE_URL: fake.url,
      CACHE_URL: "memory://",
      LOG_LEVEL: "error",
      GEMINI_RPD: "0",
      TRIAGE_DAILY_BUDGET_USD: "0",
      ...configEnv,
    });
    const metrics = createMetrics({ defaultMetrics: false });
    const ackedAt = new Float64Array(lines.length);
    let acked = 0;
    const onAck = () => {
      ackedAt[acked++] = performance.now();
    };
    const started = performance.now();
    const service = await startService(config, logger, {
      input,
      output,
      deadLetters: join(dir, "dlq.ndjson"),
      http: false,
      metrics,
      onAck,
      classifier: createClassifier({ config, metrics, logger }),
    });
    await service.finished;
    const wallSeconds = (performance.now() - started) / 1000;
    const afterBurst = ackedAt.findIndex((t) => t - started > steadyAfterMs);
    const steadySeconds = wallSeconds - steadyAfterMs / 1000;
    const steadyAlertsPerSecond = afterBurst >= 0 && steadySeconds > 1 ? (lines.length - afterBurst) / steadySeconds : null;
    await service.stop("bench done");
    const verdicts = readFileSync(output, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { source: string });
    if (verdicts.length !== lines.length) throw new Error(`expected ${lines.length} verdicts, got ${verdicts.length}`);
    const sizes = fake.alertsPerRequest;
    return {
      alerts: lines.length,
      calls: fake.totalRequests,
      wallSeconds,
      alertsPerSecond: lines.length / wallSeconds,
      meanAlertsPerCall: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length),
      http429: fake.countStatus(429),
      violations: fake.violations,
      llmVerdicts: verdicts.filter((v) => v.source === "llm").length,
      promptTokensPerAlert: fake.promptTokensTotal / lines.length,
      steadyAlertsPerSecond,
    };
  } finally {
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (r: Result) =>
  `${String(r.alerts).padStart(6)} alerts  ${String(r.calls).padStart(5)} calls (${r.meanAlertsPerCall.toFixed(1)} alerts/call)  ${r.wallSeconds.toFixed(2).padStart(7)} s  ${r.alertsPerSecond.toFixed(1).padStart(8)} alerts/s  429s ${r.http429}  llm verdicts ${r.llmVerdicts}`;

// ── A. RPM-bound: prototype (1 alert per call) vs ours ─────────────────────────────────────────────────────────
const rpm = 15;
const windowA = env("BENCH_A_WINDOW_MS", 2000);
const aAlerts = alerts(env("BENCH_A_ALERTS", 1500), `a${Date.now()}`);
const protoAlerts = aAlerts.slice(0, env("BENCH_A_PROTO_ALERTS", 150));
const fakeA: FakeGeminiOptions = { rpm, tpm: 250_000, rpd: Infinity, windowMs: windowA, latencyMs: 50 };
const common = { GEMINI_RPM: String(rpm), GEMINI_TPM: "250000", GEMINI_RATE_WINDOW_MS: String(windowA), BATCH_MAX_SIZE: "100" };
console.log(`A. RPM-bound: fake and config at ${rpm} requests per ${windowA} ms window (= ${rpm} RPM scaled ${60_000 / windowA}x faster), 50 ms latency`);
const proto = await run(protoAlerts, fakeA, {
  ...common,
  GEMINI_MAX_ALERTS_PER_REQUEST: "1",
  GEMINI_CRITICAL_ALERTS_PER_REQUEST: "1",
  GEMINI_CONCURRENCY: "1",
});
console.log(`  prototype, 1 alert/call (first ${protoAlerts.length} of the same alerts; its rate does not depend on count): ${fmt(proto)}`);
const ours = await run(aAlerts, fakeA, common);
console.log(`  ours, multi-alert calls:                                                      ${fmt(ours)}`);
const realScale = windowA / 60_000;
console.log(
  `  ratio ours/prototype: ${(ours.alertsPerSecond / proto.alertsPerSecond).toFixed(1)}x alerts/s; at a real 60 s window: prototype ${(proto.alertsPerSecond * realScale).toFixed(2)} alerts/s, ours ${(ours.alertsPerSecond * realScale).toFixed(2)} alerts/s`,
);

// ── B. Sustained, paid Flash-Lite-like limits ───────────────────────────────────────────────────────────────────
const windowB = env("BENCH_B_WINDOW_MS", 10_000);
const scale = windowB / 60_000;
const rpmB = Math.round(4000 * scale);
const tpmB = Math.round(4_000_000 * scale);
const bAlerts = alerts(env("BENCH_B_ALERTS", 40_000), `b${Date.now()}`);
console.log(`B. Sustained on never-seen alerts: 4,000 RPM / 4M TPM (as ${rpmB} requests and ${tpmB} tokens per ${windowB} ms), 200 ms per request`);
const paid = await run(
  bAlerts,
  { rpm: rpmB, tpm: tpmB, rpd: Infinity, windowMs: windowB, latencyMs: 200, tier: "paid" },
  {
    GEMINI_RPM: String(rpmB),
    GEMINI_TPM: String(tpmB),
    GEMINI_RATE_WINDOW_MS: String(windowB),
    GEMINI_CONCURRENCY: "64",
    BATCH_MAX_SIZE: "200",
    PIPELINE_CONCURRENCY: "16",
  },
  windowB,
);
console.log(`  ours: ${fmt(paid)}`);
const tpmCeiling = 4_000_000 / 60 / paid.promptTokensPerAlert;
console.log(
  `  measured after the first window: ${paid.steadyAlertsPerSecond?.toFixed(1) ?? "n/a (run shorter than a window)"} alerts/s; ` +
    `${paid.promptTokensPerAlert.toFixed(0)} prompt tokens/alert (fake counts chars/4) → long-run TPM ceiling ${tpmCeiling.toFixed(0)} alerts/s (target ≥ 100 on one instance)`,
);
console.log(`  quota violations seen by the fake: A ${proto.violations + ours.violations}, B ${paid.violations}`);
