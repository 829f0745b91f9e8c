// Threat-intel enrichment through the real pipeline (file in → verdicts out) against the loopback AbuseIPDB and
// VirusTotal fakes, with the real SQLite cache: quota respected, one request per IP, provider outages contained,
// and the cache surviving a restart. Anything that cannot start throws: these tests never skip.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import type { Config } from "../../src/config/schema.js";
import { verdictSchema, type Verdict } from "../../src/core/verdict.js";
import { startService } from "../../src/main.js";
import { openCaches } from "../../src/resources/cache.js";
import type { Caches } from "../../src/core/ports/index.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { createMetrics, type Metrics } from "../../src/telemetry/metrics.js";
import { createEnricher } from "../../src/transforms/enrich/index.js";
import { FakeAbuseIpDb } from "../fakes/abuseipdb.js";
import { sampleIps } from "../fakes/ip-intel.js";
import { FakeVirusTotal } from "../fakes/virustotal.js";

const logger = createLogger("warn");
/** Rate window scaled down from 60 s; with TI_TIMEOUT_MS 500 VirusTotal's 4/window passes 40 IPs in ~10 s. */
const WINDOW_MS = 500;
const ABUSE_RPM = 20;
const VT_RPM = 4;

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), "triage-ti-"));
  dirs.push(dir);
  return dir;
}

async function startFakes(opts: { vtRpm?: number } = {}) {
  const abuse = await FakeAbuseIpDb.start({ rpm: ABUSE_RPM, windowMs: WINDOW_MS, daily: 1000 });
  cleanup.push(() => abuse.stop());
  const vt = await FakeVirusTotal.start({ rpm: opts.vtRpm ?? VT_RPM, windowMs: WINDOW_MS, daily: 500 });
  cleanup.push(() => vt.stop());
  return { abuse, vt };
}

function tiConfig(dir: string, fakes: { abuse: FakeAbuseIpDb; vt: FakeVirusTotal }, extra: Record<string, string> = {}): Config {
  return loadConfig({
    CACHE_URL: `sqlite://${join(dir, "ti.sqlite")}`,
    LOG_LEVEL: "warn",
    ABUSEIPDB_API_KEY: fakes.abuse.apiKey,
    ABUSEIPDB_BASE_URL: fakes.abuse.url,
    ABUSEIPDB_RPM: String(ABUSE_RPM),
    ABUSEIPDB_RPD: "1000",
    VIRUSTOTAL_API_KEY: fakes.vt.apiKey,
    VIRUSTOTAL_BASE_URL: fakes.vt.url,
    VIRUSTOTAL_RPM: String(VT_RPM),
    VIRUSTOTAL_RPD: "500",
    TI_RATE_WINDOW_MS: String(WINDOW_MS),
    TI_MAX_WAIT_MS: "20000",
    TI_TIMEOUT_MS: "500",
    ...extra,
  });
}

/** Alerts cycling over `ips` as source (destination internal), as NDJSON lines. */
function alertLines(n: number, ips: readonly string[], prefix: string): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(
      JSON.stringify({
        alert_id: `${prefix}-${i}`,
        alert_name: "Port scan detected",
        severity: ["high", "medium", "low"][i % 3],
        source_ip: ips[i % ips.length],
        destination_ip: `10.0.${i % 250}.5`,
        user: "svc",
        host: "fw-1",
        timestamp: "2025-11-23T08:00:00Z",
      }),
    );
  }
  return `${lines.join("\n")}\n`;
}

interface RunResult {
  verdicts: Verdict[];
  metrics: Metrics;
  caches: Caches;
  dead: string;
}

/** One service run over `input` with a fresh enricher on the config's cache; the cache stays open (like after a kill) unless closed by the caller. */
async function runService(dir: string, config: Config, input: string, name: string): Promise<RunResult> {
  const inputPath = join(dir, `${name}.ndjson`);
  const output = join(dir, `${name}.verdicts.ndjson`);
  const deadLetters = join(dir, `${name}.dlq.ndjson`);
  writeFileSync(inputPath, input);
  const caches = await openCaches(config.CACHE_URL);
  const metrics = createMetrics({ defaultMetrics: false });
  const enricher = createEnricher({ config, caches, metrics, logger });
  if (!enricher) throw new Error("createEnricher returned null although both keys are set");
  const service = await startService(config, logger, { input: inputPath, output, deadLetters, http: false, enricher, metrics });
  await service.finished;
  if (!(await service.stop(`${name} done`))) throw new Error(`${name}: service did not drain`);
  const verdicts = readFileSync(output, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => verdictSchema.parse(JSON.parse(l)));
  return { verdicts, metrics, caches, dead: readFileSync(deadLetters, "utf8") };
}

async function counter(metrics: Metrics, name: "cacheRequests" | "tiRequests"): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics[name].get()).values) out[Object.values(v.labels).join("/")] = v.value;
  return out;
}

describe("threat-intel enrichment in the pipeline", () => {
  it("500 alerts over 40 public IPs → ≤ 40 requests per provider, no limit violated, TI on every verdict", async () => {
    const dir = tmp();
    const fakes = await startFakes();
    const ips = [...sampleIps("malicious", 10), ...sampleIps("suspicious", 10), ...sampleIps("clean", 20)];
    const malicious = new Set(ips.slice(0, 10));
    const started = Date.now();
    const run = await runService(dir, tiConfig(dir, fakes), alertLines(500, ips, "burst"), "burst");
    cleanup.push(() => run.caches.close());
    const seconds = (Date.now() - started) / 1000;

    expect(run.dead).toBe("");
    expect(run.verdicts).toHaveLength(500);
    expect(new Set(run.verdicts.map((v) => v.alert_id)).size).toBe(500);
    for (const v of run.verdicts) {
      expect(v.enrichment).not.toBeNull();
      expect(v.enrichment!.ip_role).toBe("source");
      expect(v.enrichment!.abuseipdb.status).toBe("ok");
      expect(v.enrichment!.virustotal.status).toBe("ok");
    }
    // TI changes decisions: a port scan from a known-malicious address is confirmed, others stay for review.
    for (const v of run.verdicts) expect(v.classification).toBe(malicious.has(v.enrichment!.ip!) ? "true_positive" : "needs_review");

    expect(fakes.abuse.totalRequests).toBeLessThanOrEqual(40);
    expect(fakes.vt.totalRequests).toBeLessThanOrEqual(40);
    expect(fakes.abuse.okKeyCounts.size).toBe(40);
    expect(fakes.vt.okKeyCounts.size).toBe(40);
    expect(fakes.abuse.violations).toBe(0);
    expect(fakes.vt.violations).toBe(0);

    const cache = await counter(run.metrics, "cacheRequests");
    const hits = cache["ti/hit"] ?? 0;
    const misses = cache["ti/miss"] ?? 0;
    const lookups = run.verdicts.length * 2;
    console.log(
      `[ti burst] 500 alerts / 40 IPs in ${seconds.toFixed(1)} s: AbuseIPDB requests=${fakes.abuse.totalRequests} VirusTotal requests=${fakes.vt.totalRequests} ` +
        `violations=${fakes.abuse.violations + fakes.vt.violations}; ti cache lookups hit=${hits} miss=${misses} (hit rate ${((100 * hits) / (hits + misses)).toFixed(1)}%); ` +
        `provider lookups avoided by cache+single-flight+batch dedupe: ${(100 * (1 - (fakes.abuse.totalRequests + fakes.vt.totalRequests) / lookups)).toFixed(1)}% of ${lookups}; ` +
        `tiRequests=${JSON.stringify(await counter(run.metrics, "tiRequests"))}`,
    );
  });

  it("AbuseIPDB down → every verdict still published, AbuseIPDB marked error, VirusTotal data present", async () => {
    const dir = tmp();
    const fakes = await startFakes();
    fakes.abuse.setDown(true);
    const ips = sampleIps("clean", 12, 40);
    const run = await runService(
      dir,
      tiConfig(dir, fakes, { TI_BREAKER_FAILURES: "3", TI_BREAKER_COOLDOWN_MS: "600000", TI_MAX_RETRIES: "1" }),
      alertLines(120, ips, "down"),
      "down",
    );
    cleanup.push(() => run.caches.close());

    expect(run.verdicts).toHaveLength(120);
    const codes = new Set<string>();
    for (const v of run.verdicts) {
      const e = v.enrichment!;
      expect(e.abuseipdb.status).toBe("error");
      if (e.abuseipdb.status === "error") codes.add(e.abuseipdb.code);
      expect(e.virustotal.status).toBe("ok");
    }
    expect([...codes].every((c) => c === "abuseipdb_server_error" || c === "abuseipdb_unavailable")).toBe(true);
    expect(codes.has("abuseipdb_unavailable")).toBe(true); // the breaker opened
    // A dead provider is not hammered: the breaker cut calls off after a few failed attempts.
    expect(fakes.abuse.totalRequests).toBeLessThan(ips.length * 2);
    expect(fakes.vt.totalRequests).toBe(12);
    expect(fakes.vt.violations).toBe(0);
    console.log(
      `[ti down] AbuseIPDB down: its requests=${fakes.abuse.totalRequests} (12 IPs, breaker after 3), codes=${[...codes].join(",")}; VirusTotal requests=${fakes.vt.totalRequests}`,
    );
  });

  it("kill and restart on the same SQLite cache → cached IPs are not fetched again", async () => {
    const dir = tmp();
    const ips = sampleIps("suspicious", 16, 20);
    const first = await startFakes();
    const run1 = await runService(dir, tiConfig(dir, first), alertLines(160, ips, "run1"), "run1");
    expect(run1.verdicts).toHaveLength(160);
    expect(first.abuse.okKeyCounts.size).toBe(16);
    expect(first.vt.okKeyCounts.size).toBe(16);
    // The first run's cache handle is left open, as if the process had been killed; a new "process" opens the file.
    const fresh = sampleIps("clean", 4, 80);
    const second = await startFakes();
    const run2 = await runService(dir, tiConfig(dir, second), alertLines(100, [...ips, ...fresh], "run2"), "run2");
    cleanup.push(
      () => run1.caches.close(),
      () => run2.caches.close(),
    );

    expect(run2.verdicts).toHaveLength(100);
    expect([...second.abuse.keyCounts.keys()].sort()).toEqual([...fresh].sort());
    expect([...second.vt.keyCounts.keys()].sort()).toEqual([...fresh].sort());
    for (const v of run2.verdicts) {
      const cached = ips.includes(v.enrichment!.ip!);
      expect(v.enrichment!.abuseipdb).toMatchObject({ status: "ok", cached });
      expect(v.enrichment!.virustotal).toMatchObject({ status: "ok", cached });
    }
    const cache = await counter(run2.metrics, "cacheRequests");
    console.log(
      `[ti restart] run 1 requests: AbuseIPDB=${first.abuse.totalRequests} VT=${first.vt.totalRequests}; run 2 (16 cached + 4 new IPs) requests: AbuseIPDB=${second.abuse.totalRequests} VT=${second.vt.totalRequests}; run 2 cache hit=${cache["ti/hit"] ?? 0} miss=${cache["ti/miss"] ?? 0}`,
    );
  });
});
