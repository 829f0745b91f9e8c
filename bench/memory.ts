// npm run bench:memory — the verdict memory against the old pattern cache, on three generators with different hidden
// truths (bench/generators: A login-pressure = reputation + count thresholds, B identity-asset = user class × host
// role + a process-count threshold, C off-hours-access, below), each over 3 seeds of 10,000 alerts (Zipf over 300 source IPs, 12 kinds, noise
// in every other field). Every run goes through the real verdict cache (CachingClassifier) and the Gemini
// classifier (LlmClassifier, @google/genai adapter) to the loopback fake Gemini, whose `decide` is the generator's
// hidden truth: the "uncached answers" are that truth after the classify guard. Pipeline shape as in the service:
// batches of 50, 8 in flight, 25 alerts per model request.
// Prints per run: alerts asked and requests per 1,000, agreement with the uncached answers (all verdicts, and the
// memory's own answers), the memory's agreement_estimate and spot checks, memory size; then growth 1k → 10k → 100k.
// Env: BENCH_SEEDS (1,2,3), BENCH_COUNT (10000), BENCH_GROWTH (1: run the growth table), BENCH_CACHE_URL (memory://),
// BENCH_GENERATORS (A,B,C; C off-hours-access = hour-of-day thresholds × host role + a file-count threshold, written
// as a check against tuning to A and B), BENCH_MODES (pattern,memory), BENCH_DIAG (1: asks by reason and the most
// frequent wrong memory answers per run, how often the model refuted each check that held an answer back, wrong
// answers by support and by tenth of the stream, alerts not answered from memory by position),
// and any MEMORY_* option.
import { loadConfig } from "../src/config/load.js";
import type { Config } from "../src/config/schema.js";
import type { Classifier, EnrichedAlert } from "../src/core/ports/index.js";
import type { Decision } from "../src/core/verdict.js";
import { openCaches } from "../src/resources/cache.js";
import { createLogger } from "../src/telemetry/logger.js";
import { createMetrics } from "../src/telemetry/metrics.js";
import { createVerdictCache } from "../src/transforms/classify/cache/index.js";
import { applyGuard } from "../src/transforms/classify/guard.js";
import { createClassifier } from "../src/transforms/classify/index.js";
import { createVerdictMemory, type MemoryClassifier } from "../src/transforms/classify/memory/index.js";
import { PROMPT_VERSION, promptLine, renderAlert } from "../src/transforms/classify/prompt.js";
import { FakeGemini, type PromptAlert } from "../test/fakes/gemini.js";
import { mulberry32 } from "../test/fakes/http-fake.js";
import type { Generator } from "./generators/common.js";
import { identityAsset } from "./generators/identity-asset.js";
import { loginPressure } from "./generators/login-pressure.js";
import { offHoursAccess } from "./generators/off-hours-access.js";

const SEEDS = (process.env.BENCH_SEEDS ?? "1,2,3").split(",").map(Number);
const COUNT = Number(process.env.BENCH_COUNT ?? 10_000);
const GROWTH = (process.env.BENCH_GROWTH ?? "1") === "1";
const CACHE_URL = process.env.BENCH_CACHE_URL ?? "memory://";
const GENERATORS = [loginPressure, identityAsset, offHoursAccess].filter((g) => (process.env.BENCH_GENERATORS ?? "A,B,C").split(",").includes(g.name[0]!));
const DIAG = process.env.BENCH_DIAG === "1";
const BATCH = 50;
const CONCURRENCY = 8;
const memoryEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("MEMORY_"))) as Record<string, string>;
const logger = createLogger("error");

type Mode = "pattern" | "memory";

interface RunResult {
  mode: Mode;
  count: number;
  askedPer1k: number;
  requestsPer1k: number;
  /** All verdicts vs the uncached answers. */
  agreement: number;
  /** Reused answers (pattern hits / memory answers) vs the uncached answers. */
  reusedAgreement: number | null;
  reused: number;
  /** Reused answers that dismissed (false_positive) an alert the uncached answer did not: the costly error. */
  wrongDismissals: number;
  estimate: number | null;
  spotChecks: { agree: number; disagree: number };
  size: { rules: number; examples: number; leaves: number; bytes: number } | null;
  seconds: number;
}

function benchConfig(fake: FakeGemini): Config {
  return loadConfig({
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: "0",
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    TRIAGE_DAILY_BUDGET_USD: "0",
    GEMINI_MAX_ALERTS_PER_REQUEST: "25",
    LOG_LEVEL: "error",
    CACHE_URL: "memory://",
    ...memoryEnv,
  });
}

/** What the model answers for the alert without any cache: the hidden truth on its prompt line, then the guard. */
function uncachedAnswers(
  gen: Generator,
  stream: readonly EnrichedAlert[],
  config: Config,
  view: (item: EnrichedAlert) => ReturnType<typeof renderAlert>,
): Map<string, string> {
  const guard = { abuseScoreMin: config.GUARD_ABUSE_SCORE_MIN, vtMaliciousMin: config.GUARD_VT_MALICIOUS_MIN };
  const out = new Map<string, string>();
  for (const item of stream) {
    const seen = JSON.parse(promptLine("a1", view(item))) as PromptAlert;
    const d = gen.decide(seen);
    const decision: Decision = {
      ...d,
      source: "llm",
      model: config.GEMINI_MODEL,
      prompt_version: PROMPT_VERSION,
      degraded: false,
      fallback_reason: null,
      learnable: true,
    };
    const g = applyGuard(item, decision, guard);
    out.set(item.alert.alert_id, `${g.classification}|${g.severity}`);
  }
  return out;
}

async function run(gen: Generator, mode: Mode, stream: readonly EnrichedAlert[], seed: number): Promise<RunResult> {
  const fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity, decide: (a) => gen.decide(a) });
  const config = benchConfig(fake);
  const metrics = createMetrics({ defaultMetrics: false });
  const caches = await openCaches(CACHE_URL);
  const prefix = `bench-mem-${process.pid}-${Date.now().toString(36)}-${mode}:`;
  // The memory is composed here as createVerdictCache's wrap() does with MEMORY=on (exact cache and overrides in
  // front of the memory), so the bench can read the memory's own agreement and size.
  const cache = createVerdictCache({
    config: { ...config, MEMORY: "off", AI_PATTERN_CACHE: mode === "pattern" ? "on" : "off", AI_CACHE_KEY_PREFIX: prefix },
    caches,
    metrics,
    logger,
  });
  const inner = createClassifier({ config, metrics, logger });
  let memory: MemoryClassifier | null = null;
  let classifier: Classifier;
  if (mode === "memory") {
    const built = createVerdictMemory({
      config: { ...config, AI_CACHE_KEY_PREFIX: prefix },
      caches,
      keys: cache.keys,
      guard: { abuseScoreMin: config.GUARD_ABUSE_SCORE_MIN, vtMaliciousMin: config.GUARD_VT_MALICIOUS_MIN },
      version: { model: config.GEMINI_MODEL, promptVersion: PROMPT_VERSION },
      metrics,
      logger,
      random: mulberry32(seed * 31 + 5),
    });
    memory = built.wrap(inner);
    classifier = cache.wrap(memory);
  } else classifier = cache.wrap(inner);
  const reference = uncachedAnswers(gen, stream, config, (item) => renderAlert(cache.keys.viewer.view(item), config.GEMINI_MAX_ALERT_CHARS));

  const batches: EnrichedAlert[][] = [];
  for (let i = 0; i < stream.length; i += BATCH) batches.push(stream.slice(i, i + BATCH));
  const decisions = new Map<string, Decision>();
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
  if (memory) await memory.drain(); // the spot checks still queued are part of the cost
  const seconds = (performance.now() - started) / 1000;

  let agree = 0;
  let reused = 0;
  let reusedAgree = 0;
  let wrongDismissals = 0;
  for (const [id, d] of decisions) {
    const same = `${d.classification}|${d.severity}` === reference.get(id);
    if (same) agree++;
    const isReused = mode === "memory" ? d.source === "memory" : d.source === "cache:pattern";
    if (isReused) {
      reused++;
      if (same) reusedAgree++;
      else if (d.classification === "false_positive") wrongDismissals++;
    }
  }
  const asked = fake.alertsPerRequest.reduce((a, b) => a + b, 0);
  const spot = memory?.agreement ?? { ratio: null, agree: 0, disagree: 0 };
  if (DIAG && memory) {
    const asked = (await metrics.memoryAsked.get()).values.map((v) => `${String(v.labels.reason)}=${v.value}`).join(" ");
    const wrong = new Map<string, number>();
    for (const [id, d] of decisions)
      if (d.source === "memory" && `${d.classification}|${d.severity}` !== reference.get(id))
        wrong.set(
          `${d.memory?.rule} [${d.memory?.conditions.join(", ")}] said ${d.classification} truth ${reference.get(id)}`,
          (wrong.get(`${d.memory?.rule} [${d.memory?.conditions.join(", ")}] said ${d.classification} truth ${reference.get(id)}`) ?? 0) + 1,
        );
    console.log(`  asked by reason: ${asked}`);
    const by = [...memory.askedBy()].sort((a, b) => b[1] - a[1]).slice(0, 60);
    console.log(`  asked by reason:feature: ${by.map(([k, n]) => `${k}=${n}`).join(" ")}`);
    const pairs = [...memory.askedBy()].filter(([k]) => k.startsWith("unseen_combination")).sort((a, b) => b[1] - a[1]);
    console.log(`  unseen combinations: ${pairs.map(([k, n]) => `${k.slice(19)}=${n}`).join(", ")}`);
    const checks = [...memory.checksRefuted()].sort((a, b) => b[1][0] - a[1][0]).slice(0, 40);
    console.log(`  held-back answers refuted by the model (check=refuted/asked): ${checks.map(([k, [n, r]]) => `${k}=${r}/${n}`).join(" ")}`);
    if (process.env.BENCH_TREES === "1") console.log(memory.describe());
    const bySupport = new Map<number, [number, number]>();
    for (const [id, d] of decisions) {
      if (d.source !== "memory" || !d.memory) continue;
      const k = Math.min(d.memory.support, 20);
      const t = bySupport.get(k) ?? [0, 0];
      t[0]++;
      if (`${d.classification}|${d.severity}` !== reference.get(id)) t[1]++;
      bySupport.set(k, t);
    }
    console.log(
      `  memory answers by support (answers/wrong): ${[...bySupport]
        .sort((a, b) => a[0] - b[0])
        .map(([k, [a, w]]) => `${k}:${a}/${w}`)
        .join(" ")}`,
    );
    // Wrong memory answers by the alert's position in the stream (tenths): learning errors are early, drift is late.
    const tenth = Math.max(1, Math.ceil(stream.length / 10));
    const byPos = Array.from({ length: 10 }, () => [0, 0] as [number, number]);
    stream.forEach((item, i) => {
      const d = decisions.get(item.alert.alert_id);
      if (d?.source !== "memory") return;
      const t = byPos[Math.min(9, Math.floor(i / tenth))]!;
      t[0]++;
      if (`${d.classification}|${d.severity}` !== reference.get(item.alert.alert_id)) t[1]++;
    });
    console.log(`  memory answers by tenth of the stream (answers/wrong): ${byPos.map(([a, w]) => `${a}/${w}`).join(" ")}`);
    // Alerts not answered from memory by position: the first thousand by hundreds, then the rest by thousands.
    const notMemory = (from: number, to: number) => stream.slice(from, to).filter((item) => decisions.get(item.alert.alert_id)?.source !== "memory").length;
    const early = Array.from({ length: 10 }, (_, k) => notMemory(100 * k, 100 * (k + 1)));
    const late = Array.from({ length: Math.ceil(stream.length / 1000) - 1 }, (_, k) => notMemory(1000 * (k + 1), 1000 * (k + 2)));
    console.log(`  not from memory, first 1,000 by hundreds: ${early.join(" ")}; then by thousands: ${late.join(" ")}`);
    for (const [k, n] of [...wrong].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  wrong x${n}: ${k}`);
    // The costly error, one line each (at most 12): a memory dismissal of an alert the model would not dismiss.
    let shown = 0;
    for (const item of stream) {
      const d = decisions.get(item.alert.alert_id);
      if (shown >= 12 || d?.source !== "memory" || d.classification !== "false_positive" || reference.get(item.alert.alert_id)?.startsWith("false_positive"))
        continue;
      shown++;
      console.log(
        `  wrong dismissal: ${item.alert.alert_id} ${d.memory?.rule} [${d.memory?.conditions.join(", ")}] support ${d.memory?.support}, truth ${reference.get(item.alert.alert_id)}, fields ${JSON.stringify(item.alert.fields)}`,
      );
    }
  }
  const result: RunResult = {
    mode,
    count: stream.length,
    askedPer1k: (1000 * asked) / stream.length,
    requestsPer1k: (1000 * fake.requests.length) / stream.length,
    agreement: agree / stream.length,
    reusedAgreement: reused === 0 ? null : reusedAgree / reused,
    reused,
    wrongDismissals,
    estimate: spot.ratio,
    spotChecks: { agree: spot.agree, disagree: spot.disagree },
    size: memory ? memory.size() : null,
    seconds,
  };
  await caches.close();
  await fake.stop();
  return result;
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(2)}%`);
const f1 = (x: number) => x.toFixed(1);

function row(gen: Generator, seed: number, r: RunResult): string[] {
  return [
    gen.name,
    String(seed),
    r.mode,
    String(r.count),
    f1(r.askedPer1k),
    f1(r.requestsPer1k),
    pct(r.agreement),
    `${pct(r.reusedAgreement)} of ${r.reused}`,
    String(r.wrongDismissals),
    pct(r.estimate),
    `${r.spotChecks.agree}/${r.spotChecks.agree + r.spotChecks.disagree}`,
    r.size ? `${r.size.rules} rules, ${r.size.leaves} leaves, ${r.size.examples} ex, ${(r.size.bytes / 1024).toFixed(0)} KiB` : "-",
    f1(r.seconds),
  ];
}

function print(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
}

const HEADER = [
  "generator",
  "seed",
  "mode",
  "alerts",
  "asked/1k",
  "requests/1k",
  "agreement (all)",
  "reused agreeing",
  "wrong dismissals",
  "estimate",
  "spot checks agreeing",
  "memory size",
  "s",
];

function meetsTargets(r: RunResult): string[] {
  const missed: string[] = [];
  if (r.askedPer1k > 100) missed.push(`asked ${f1(r.askedPer1k)}/1k > 100`);
  if (r.requestsPer1k > 5) missed.push(`requests ${f1(r.requestsPer1k)}/1k > 5`);
  if (r.agreement < 0.99) missed.push(`agreement ${pct(r.agreement)} < 99%`);
  if (r.reusedAgreement !== null && r.reusedAgreement < 0.99) missed.push(`memory-answer agreement ${pct(r.reusedAgreement)} < 99%`);
  if (r.estimate === null) missed.push("no agreement estimate (no spot checks)");
  else if (r.reusedAgreement !== null && Math.abs(r.estimate - r.reusedAgreement) > 0.02)
    missed.push(`estimate ${pct(r.estimate)} vs measured ${pct(r.reusedAgreement)} differ by > 2 points`);
  return missed;
}

async function main(): Promise<void> {
  console.log(
    `verdict-memory benchmark: ${COUNT} alerts per run, seeds ${SEEDS.join(",")}, batches of ${BATCH}, ${CONCURRENCY} in flight, 25 alerts per request, store ${CACHE_URL}`,
  );
  const rows: string[][] = [HEADER];
  const verdicts: string[] = [];
  const summary: Record<string, unknown>[] = [];
  for (const gen of GENERATORS) {
    console.log(`${gen.name}: ${gen.truthSummary}`);
    for (const seed of SEEDS) {
      const stream = gen.generate(COUNT, seed);
      for (const mode of (process.env.BENCH_MODES ?? "pattern,memory").split(",") as Mode[]) {
        const r = await run(gen, mode, stream, seed);
        rows.push(row(gen, seed, r));
        summary.push({ generator: gen.name, seed, ...r });
        if (mode === "memory") {
          const missed = meetsTargets(r);
          verdicts.push(`${gen.name} seed ${seed}: ${missed.length === 0 ? "targets met" : `MISSED: ${missed.join("; ")}`}`);
        }
      }
    }
  }
  print(rows);
  for (const v of verdicts) console.log(v);
  if (GROWTH) {
    console.log("growth (seed 1; 100k: memory only):");
    const g: string[][] = [HEADER];
    for (const gen of GENERATORS) {
      for (const n of [1_000, 10_000, 100_000]) {
        const stream = gen.generate(n, 1);
        for (const mode of n === 100_000 ? (["memory"] as const) : (["pattern", "memory"] as const)) g.push(row(gen, 1, await run(gen, mode, stream, 1)));
      }
    }
    print(g);
  }
  console.log(
    JSON.stringify(
      summary.map((s) => ({
        generator: s.generator,
        seed: s.seed,
        mode: s.mode,
        askedPer1k: s.askedPer1k,
        requestsPer1k: s.requestsPer1k,
        agreement: s.agreement,
        reusedAgreement: s.reusedAgreement,
        wrongDismissals: s.wrongDismissals,
        estimate: s.estimate,
        spotChecks: s.spotChecks,
        size: s.size,
      })),
    ),
  );
}

await main();
