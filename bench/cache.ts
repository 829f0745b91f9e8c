// npm run bench:cache — the verdict cache in front of the Gemini classifier (loopback fake: no latency, no quota),
// in process, on a 10,000-alert Zipf-like stream (repeating attacker IPs, each with its habits; counts, users and
// hosts vary). Three runs on the same stream: no cache (the uncached reference answers), exact keys only, exact +
// pattern keys. Prints hit rate, model requests and alerts asked, and how often cache hits agree with the uncached
// answer for the same alert. Env: BENCH_COUNT (10000), BENCH_ATTACKERS (1000), BENCH_ZIPF_S (1.1), BENCH_SEED (42),
// BENCH_CACHE_URL (memory://; e.g. sqlite:///tmp/bench-cache.sqlite or redis://127.0.0.1:6379), and any AI_* option.
import { parseAiCacheOptions } from "../src/config/ai-cache.js";
import { loadConfig } from "../src/config/load.js";
import type { Classifier, EnrichedAlert } from "../src/core/ports/index.js";
import type { Decision } from "../src/core/verdict.js";
import { openCaches } from "../src/resources/cache.js";
import { createLogger } from "../src/telemetry/logger.js";
import { createMetrics } from "../src/telemetry/metrics.js";
import { createVerdictCache } from "../src/transforms/classify/cache/index.js";
import { createClassifier } from "../src/transforms/classify/index.js";
import { FakeGemini } from "../test/fakes/gemini.js";
import { attackStream } from "../test/unit/transforms/classify/cache/support.js";

const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const ATTACKERS = Number(process.env.BENCH_ATTACKERS ?? 1000);
const ZIPF_S = Number(process.env.BENCH_ZIPF_S ?? 1.1);
const SEED = Number(process.env.BENCH_SEED ?? 42);
const CACHE_URL = process.env.BENCH_CACHE_URL ?? "memory://";
const BATCH = 50; // BATCH_MAX_SIZE
const CONCURRENCY = 8; // PIPELINE_CONCURRENCY: batches in flight, so single-flight matters as in the service

type Mode = "uncached" | "exact only" | "exact + pattern";

/** AI_* options from the environment (e.g. AI_PATTERN_COUNT_BUCKETS) apply to the cached runs. */
const aiEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("AI_"))) as Record<string, string>;

interface Run {
  mode: Mode;
  decisions: Map<string, Decision>;
  requests: number;
  alertsAsked: number;
  seconds: number;
}

const logger = createLogger("error");

async function run(mode: Mode, stream: readonly EnrichedAlert[]): Promise<Run> {
  const fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity });
  const config = loadConfig({
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: "0",
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    LOG_LEVEL: "error",
    CACHE_URL: "memory://",
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const inner = createClassifier({ config, metrics, logger });
  const caches = await openCaches(CACHE_URL);
  let classifier: Classifier = inner;
  if (mode !== "uncached") {
    const ai = parseAiCacheOptions({
      ...aiEnv,
      AI_PATTERN_CACHE: mode === "exact only" ? "off" : "on",
      AI_CACHE_KEY_PREFIX: `bench-${process.pid}-${Date.now().toString(36)}-${mode === "exact only" ? "x" : "p"}:`,
    });
    // The pattern cache as it was: the verdict memory (MEMORY=on by default) replaces it; bench:memory measures that.
    classifier = createVerdictCache({ config: { ...config, ...ai, MEMORY: "off" }, caches, metrics, logger }).wrap(inner);
  }
  const decisions = new Map<string, Decision>();
  const batches: EnrichedAlert[][] = [];
  for (let i = 0; i < stream.length; i += BATCH) batches.push(stream.slice(i, i + BATCH));
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batches.length) {
        const batch = batches[next++]!;
        const ds = await classifier.classify(batch);
        batch.forEach((item, j) => {
          decisions.set(item.alert.alert_id, ds[j]!);
        });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const result = { mode, decisions, requests: fake.requests.length, alertsAsked: fake.alertsPerRequest.reduce((a, b) => a + b, 0), seconds };
  await caches.close();
  await fake.stop();
  return result;
}

const pct = (n: number, of: number) => (of === 0 ? "n/a" : `${((100 * n) / of).toFixed(2)}%`);

async function main(): Promise<void> {
  const stream = attackStream({ count: COUNT, attackers: ATTACKERS, seed: SEED, zipfS: ZIPF_S, idPrefix: "B" });
  console.log(
    `verdict-cache benchmark: ${COUNT} alerts, ${ATTACKERS} attacker IPs (Zipf s=${ZIPF_S}, ${new Set(stream.map((e) => e.alert.source_ip)).size} seen), cache ${CACHE_URL}, batches of ${BATCH}, ${CONCURRENCY} in flight`,
  );
  // The most any cache could hit on this stream: every key's first alert must be asked.
  const deriver = createVerdictCache({
    config: { ...loadConfig({ LOG_LEVEL: "error" }), ...parseAiCacheOptions(aiEnv) },
    caches: await openCaches("memory://"),
    metrics: createMetrics({ defaultMetrics: false }),
    logger,
  }).keys;
  const distinctExact = new Set(stream.map((e) => deriver.exact(e))).size;
  const distinctPattern = new Set(stream.map((e) => deriver.pattern(e))).size;
  console.log(
    `distinct exact keys ${distinctExact} (ceiling ${pct(COUNT - distinctExact, COUNT)} hits), distinct pattern keys ${distinctPattern} (ceiling ${pct(COUNT - distinctPattern, COUNT)} hits)`,
  );
  const uncached = await run("uncached", stream);
  const rows: string[][] = [
    ["mode", "hits", "hit rate", "exact", "pattern", "model requests", "alerts asked", "pattern hits agreeing", "all hits agreeing", "alerts/s"],
  ];
  rows.push(["uncached", "0", "0%", "0", "0", String(uncached.requests), String(uncached.alertsAsked), "-", "-", String(Math.round(COUNT / uncached.seconds))]);
  const summary: Record<string, unknown> = {};
  for (const mode of ["exact only", "exact + pattern"] as const) {
    const r = await run(mode, stream);
    let exact = 0;
    let pattern = 0;
    let patternAgree = 0;
    let allAgree = 0;
    const disagreements: string[] = [];
    for (const [id, d] of r.decisions) {
      if (d.source !== "cache:exact" && d.source !== "cache:pattern") continue;
      const ref = uncached.decisions.get(id)!;
      const same = ref.classification === d.classification && ref.severity === d.severity;
      if (d.source === "cache:exact") exact++;
      else {
        pattern++;
        if (same) patternAgree++;
      }
      if (same) allAgree++;
      else if (disagreements.length < 5)
        disagreements.push(`${id}: cached ${d.classification}/${d.severity} vs uncached ${ref.classification}/${ref.severity}`);
    }
    const hits = exact + pattern;
    rows.push([
      mode,
      String(hits),
      pct(hits, COUNT),
      String(exact),
      String(pattern),
      String(r.requests),
      String(r.alertsAsked),
      `${patternAgree}/${pattern} (${pct(patternAgree, pattern)})`,
      `${allAgree}/${hits} (${pct(allAgree, hits)})`,
      String(Math.round(COUNT / r.seconds)),
    ]);
    summary[mode] = { hitRate: hits / COUNT, modelRequests: r.requests, alertsAsked: r.alertsAsked, agreement: hits === 0 ? 1 : allAgree / hits };
    if (disagreements.length > 0) console.log(`  ${mode}: disagreements, e.g.\n    ${disagreements.join("\n    ")}`);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  const best = summary["exact + pattern"] as { hitRate: number; agreement: number };
  console.log(
    `goal (≥ 70 % hits with ≥ 99 % agreement): ${best.hitRate >= 0.7 && best.agreement >= 0.99 ? "met" : "NOT met"} — ${pct(best.hitRate, 1)} hits, ${pct(best.agreement, 1)} agreement`,
  );
  console.log(
    JSON.stringify({
      count: COUNT,
      attackers: ATTACKERS,
      zipfS: ZIPF_S,
      cacheUrl: CACHE_URL,
      uncached: { modelRequests: uncached.requests, alertsAsked: uncached.alertsAsked },
      ...summary,
    }),
  );
}

await main();
