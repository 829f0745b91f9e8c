// The model down for a while (the loopback fake answering 503 to everything), on the real broker: no alert is lost
// in either LLM_OUTAGE_MODE. `wait`: alerts wait, the read-ahead window fills and pauses Kafka (lag grows, bounded),
// and once the model is back every verdict is the model's. `degrade`: the outage-time alerts get rules verdicts
// flagged degraded, and model verdicts resume when it returns.
import { afterEach, describe, expect, it } from "vitest";
import { parseResilienceOptions } from "../../src/config/resilience.js";
import type { Verdict } from "../../src/core/verdict.js";
import { startService, type Service } from "../../src/main.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { createMetrics } from "../../src/telemetry/metrics.js";
import { createClassifier } from "../../src/transforms/classify/index.js";
import { FakeGemini } from "../fakes/gemini.js";
import { collect, committedVsEnd, createTopics, produce, testConfig } from "./support.js";

const logger = createLogger("error");
const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const NAMES = ["Brute force login attempts", "Impossible travel", "Port scan detected", "Phishing email reported", "Suspicious PowerShell"];
const SEVERITIES = ["high", "medium", "low", "info"];
const alerts = (wave: string, n: number) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      alert_id: `${wave}-${i}`,
      alert_name: NAMES[i % NAMES.length],
      severity: SEVERITIES[i % SEVERITIES.length],
      source_ip: `198.18.${(i >> 8) & 255}.${i & 255}`,
      user: `user${i % 41}`,
      host: `ws-${i % 23}`,
    }),
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** A service on fresh topics with the Gemini classifier pointed at a fresh fake, in the given outage mode. */
async function setUp(mode: "wait" | "degrade") {
  const fake = await FakeGemini.start({ rpm: 60, tpm: Infinity, rpd: Infinity, windowMs: 1000 });
  cleanups.push(() => fake.stop());
  const env = {
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: "60",
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    GEMINI_RATE_WINDOW_MS: "1000",
    // Shorter than the outage: in wait mode it must not matter.
    GEMINI_RETRY_DEADLINE_MS: "1000",
    GEMINI_TIMEOUT_MS: "5000",
    MAX_INFLIGHT_ALERTS: "200",
    BATCH_MAX_SIZE: "50",
    BATCH_MAX_DELAY_MS: "50",
    LLM_OUTAGE_MODE: mode,
    LLM_OUTAGE_PROBE_MAX_DELAY_MS: "500",
  };
  // Until the resilience options are part of the schema, merge them in the way the schema will parse them.
  const config = { ...testConfig(env), ...parseResilienceOptions(env) };
  await createTopics(config.names, 3);
  const shutdown = new AbortController();
  const metrics = createMetrics({ defaultMetrics: false });
  const classifier = createClassifier({ config, metrics, logger, signal: shutdown.signal });
  const out = await collect(config.names.output);
  cleanups.push(() => out.stop());
  const service = await startService(config, logger, { classifier, metrics, http: false });
  let stopped = false;
  const stop = async (): Promise<boolean> => {
    if (stopped) return true;
    stopped = true;
    const drained = await service.stop("test end");
    shutdown.abort();
    return drained;
  };
  cleanups.push(stop);
  const verdicts = () => out.messages.map((m) => JSON.parse(m.value) as Verdict);
  const ids = (prefix: string) => new Set(out.messages.map((m) => m.key).filter((k) => k?.startsWith(`${prefix}-`)));
  return { fake, config, service: service as Service, verdicts, ids, stop, out };
}

describe("LLM outage (Gemini answering 503 for a while)", () => {
  it("LLM_OUTAGE_MODE=wait: alerts wait (Kafka paused, lag bounded by the window), nothing lost, every verdict from the model once it is back", async () => {
    const { fake, config, service, verdicts, ids, stop, out } = await setUp("wait");
    await produce(config.names.input, alerts("before", 300));
    await until("the verdicts before the outage", () => ids("before").size === 300, 60_000);

    fake.setDown(true);
    const t0 = Date.now();
    const requestsBefore = fake.totalRequests;
    await produce(config.names.input, alerts("during", 2000));
    // Held for 5 s — five times GEMINI_RETRY_DEADLINE_MS: no verdict comes out, the window stays full, lag grows.
    await sleep(5_000);
    expect(ids("during").size).toBe(0);
    expect(service.pipeline.inFlight).toBeLessThanOrEqual(200);
    expect(service.pipeline.inFlight).toBeGreaterThan(0);
    const lag = await committedVsEnd(config.names.group, config.names.input);
    expect(lag.end - lag.committed).toBeGreaterThanOrEqual(2000 - 200);
    // One probe at a time while down: a handful of requests, not one per waiting batch and retry.
    const probes = fake.totalRequests - requestsBefore;
    const outageSeconds = (Date.now() - t0) / 1000;
    expect(probes).toBeGreaterThan(0);
    expect(probes).toBeLessThanOrEqual(Math.ceil(outageSeconds * 8) + 8);

    fake.setDown(false);
    const back = Date.now();
    await until("every alert's verdict after the model came back", () => ids("during").size === 2000, 60_000);
    console.log(
      `wait mode: outage ${outageSeconds.toFixed(1)} s, ${probes} requests during it (probes), lag ${lag.end - lag.committed} at its height, drained ${((Date.now() - back) / 1000).toFixed(1)} s after recovery`,
    );
    await sleep(1_000); // a duplicate would show up here
    expect(await stop()).toBe(true);
    const all = verdicts();
    expect(all).toHaveLength(2300);
    expect(new Set(all.map((v) => v.alert_id)).size).toBe(2300);
    expect(all.every((v) => v.source === "llm" && v.degraded === false)).toBe(true);
    expect(fake.violations).toBe(0);
    const { committed, end } = await committedVsEnd(config.names.group, config.names.input);
    expect(committed).toBe(end);
    expect(out.messages.length).toBe(2300);
  });

  it("LLM_OUTAGE_MODE=degrade: outage-time alerts get rules verdicts flagged degraded, model verdicts resume after it, nothing lost", async () => {
    const { fake, config, verdicts, ids, stop } = await setUp("degrade");
    await produce(config.names.input, alerts("before", 300));
    await until("the verdicts before the outage", () => ids("before").size === 300, 60_000);

    fake.setDown(true);
    await produce(config.names.input, alerts("during", 500));
    await until("the outage-time verdicts (after GEMINI_RETRY_DEADLINE_MS)", () => ids("during").size === 500, 60_000);
    fake.setDown(false);
    await produce(config.names.input, alerts("after", 300));
    await until("the verdicts after the outage", () => ids("after").size === 300, 60_000);
    await sleep(1_000);
    expect(await stop()).toBe(true);

    const all = verdicts();
    expect(all).toHaveLength(1100);
    expect(new Set(all.map((v) => v.alert_id)).size).toBe(1100);
    const wave = (p: string) => all.filter((v) => v.alert_id.startsWith(`${p}-`));
    expect(wave("before").every((v) => v.source === "llm" && !v.degraded)).toBe(true);
    for (const v of wave("during")) {
      expect(v).toMatchObject({ source: "rules", degraded: true });
      expect(v.fallback_reason).toMatch(/Gemini unavailable/);
    }
    expect(wave("after").every((v) => v.source === "llm" && !v.degraded)).toBe(true);
    expect(fake.violations).toBe(0);
  });
});
