// The verdict memory shared through Redis by two triage instances on the real broker: instance A learns from its
// model's answers; instance B, on another input topic and consumer group but the same Redis and key prefix, answers
// most of a fresh stream of the same traffic from what A learnt — asking its own model far less — and its memory
// answers agree with what the model would have said and carry their provenance.
import { createClient } from "@keyv/redis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Enrichment } from "../../src/core/enrichment.js";
import type { Enricher } from "../../src/core/ports/index.js";
import type { Verdict } from "../../src/core/verdict.js";
import { startService, type Service } from "../../src/main.js";
import { openCaches } from "../../src/resources/cache.js";
import { createLogger } from "../../src/telemetry/logger.js";
import { createMetrics } from "../../src/telemetry/metrics.js";
import { createVerdictCache } from "../../src/transforms/classify/cache/index.js";
import { createClassifier } from "../../src/transforms/classify/index.js";
import { unmark } from "../../src/transforms/classify/prompt.js";
import { FakeGemini, type GeminiDecision, type PromptAlert } from "../fakes/gemini.js";
import { mulberry32 } from "../fakes/http-fake.js";
import { collect, createTopics, produce, redisUrl, testConfig, unique, type Collected } from "./support.js";

const logger = createLogger("warn");
const REDIS_URL = redisUrl();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const prefixes: string[] = [];
afterAll(async () => {
  const client = createClient({ url: REDIS_URL });
  await client.connect();
  for (const prefix of prefixes)
    for await (const keys of client.scanIterator({ MATCH: `*${prefix}*`, COUNT: 500 })) if (keys.length > 0) await client.del(keys);
  await client.quit();
});

/** Ten attackers: their AbuseIPDB scores decide with the failed-login count. */
const ATTACKERS = Array.from({ length: 10 }, (_, i) => ({ ip: `203.0.${113 + i}.10`, abuse: [5, 10, 20, 30, 40, 50, 60, 80, 85, 95][i]! }));
const intel = (ip: string, abuse: number): Enrichment => ({
  ip,
  ip_role: "source",
  abuseipdb: {
    status: "ok",
    cached: false,
    data: { abuse_confidence_score: abuse, country: "NL", usage_type: null, isp: null, total_reports: 3, is_tor: false, last_reported_at: null },
  },
  virustotal: {
    status: "ok",
    cached: false,
    data: { malicious: 0, suspicious: 0, harmless: 70, undetected: 10, reputation: 0, as_owner: null, country: null },
  },
});
const enricher: Enricher = {
  enrich: async (alerts) => alerts.map((alert) => ({ alert, enrichment: intel(alert.source_ip!, ATTACKERS.find((a) => a.ip === alert.source_ip)!.abuse) })),
};

/** The hidden truth the fake model answers by: reputation, then the count. */
function truth(a: PromptAlert): GeminiDecision {
  const ti = a.ti as { abuseipdb?: { abuse_confidence_score?: number } } | undefined;
  const abuse = Number(ti?.abuseipdb?.abuse_confidence_score ?? 0);
  const failed = Number((a.fields as Record<string, unknown> | undefined)?.failed_logins ?? 0);
  const classification = abuse >= 75 ? "true_positive" : failed >= 20 ? "needs_review" : "false_positive";
  return {
    classification,
    severity: classification === "true_positive" ? "high" : classification === "needs_review" ? "medium" : "low",
    confidence: 80,
    reasoning: `${unmark(String(a.alert_name))}: abuse ${abuse}, ${failed} failures`,
    recommended_actions: [],
    mitre_techniques: [],
  };
}
const truthOf = (v: Verdict) =>
  truth({
    alert_id: v.alert_id,
    ti: { abuseipdb: { abuse_confidence_score: v.enrichment!.abuseipdb.status === "ok" ? v.enrichment!.abuseipdb.data.abuse_confidence_score : 0 } },
    fields: v.alert.fields,
    alert_name: v.alert.alert_name,
  });

function stream(tag: string, n: number, seed: number): string[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = ATTACKERS[Math.floor(r() * r() * ATTACKERS.length)]!; // skewed: a few attackers dominate
    const failed = 1 + Math.floor(r() * 40);
    return JSON.stringify({
      alert_id: `${tag}-${i}`,
      alert_name: "SSH brute force",
      severity: "medium",
      source_ip: a.ip,
      destination_ip: `10.0.${Math.floor(r() * 9)}.${1 + Math.floor(r() * 250)}`,
      user: `user${Math.floor(r() * 1000)}`,
      host: `ws-${Math.floor(r() * 5000)}`,
      timestamp: new Date().toISOString(),
      description: `failed SSH logins, tag ${Math.floor(r() * 1e6)}`,
      failed_logins: failed,
      session_id: `s${Math.floor(r() * 1e9)}`,
    });
  });
}

interface Instance {
  service: Service;
  fake: FakeGemini;
  names: { input: string; output: string };
}

async function instance(prefix: string): Promise<Instance> {
  const fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity, decide: truth });
  cleanups.push(() => fake.stop());
  const config = testConfig({
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: "0",
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    TRIAGE_DAILY_BUDGET_USD: "0",
    BATCH_MAX_SIZE: "50",
    BATCH_MAX_DELAY_MS: "50",
    CACHE_URL: REDIS_URL,
    AI_CACHE_KEY_PREFIX: prefix,
    MEMORY: "on",
    MEMORY_SYNC_INTERVAL_MS: "0",
    MEMORY_ASK_MAX_DELAY_MS: "50",
  });
  await createTopics(config.names, 2);
  const metrics = createMetrics({ defaultMetrics: false });
  const caches = await openCaches(REDIS_URL);
  const cache = createVerdictCache({ config, caches, metrics, logger });
  const service = await startService(config, logger, { classifier: cache.wrap(createClassifier({ config, metrics, logger })), enricher, metrics, http: false });
  cleanups.push(async () => {
    await service.stop("test end");
    await caches.close();
  });
  return { service, fake, names: config.names };
}

const parse = (m: Collected) => JSON.parse(m.value) as Verdict;
const asked = (f: FakeGemini) => f.alertsPerRequest.reduce((a, b) => a + b, 0);

describe("verdict memory shared through Redis (real broker)", () => {
  it("instance B answers from what instance A learnt, with provenance, agreeing with the model", async () => {
    const prefix = `${unique("mem")}:`;
    prefixes.push(prefix);
    const a = await instance(prefix);
    const outA = await collect(a.names.output);
    cleanups.push(() => outA.stop());
    await produce(a.names.input, stream("A", 400, 1));
    const fromA = (await outA.until(400, 90_000)).map(parse);
    const askedA = asked(a.fake);
    // How much A reuses within its own stream depends on how its 400 alerts arrive (all at once: most are asked).
    expect(askedA).toBeGreaterThan(0);

    const b = await instance(prefix);
    const outB = await collect(b.names.output);
    cleanups.push(() => outB.stop());
    await produce(b.names.input, stream("B", 400, 2));
    const fromB = (await outB.until(400, 90_000)).map(parse);
    const askedB = asked(b.fake);
    const memoryB = fromB.filter((v) => v.source === "memory");
    console.log(
      `MEMORY-REDIS: A asked its model ${askedA} of 400 (answered ${fromA.filter((v) => v.source === "memory").length} from memory), B asked ${askedB} of 400; B answered ${memoryB.length} from the shared memory`,
    );

    expect(askedB).toBeLessThan(askedA / 2);
    expect(memoryB.length).toBeGreaterThan(300);
    const agreeing = memoryB.filter((v) => {
      const t = truthOf(v);
      return t.classification === v.classification && t.severity === v.severity;
    });
    expect(agreeing.length / memoryB.length).toBeGreaterThanOrEqual(0.99);
    for (const v of memoryB) {
      expect(v.schema_version).toBe("1.2");
      expect(v.memory).toMatchObject({ rule: "native:ssh brute force", conditions: expect.any(Array), support: expect.any(Number) });
      expect(v.memory!.support).toBeGreaterThanOrEqual(2);
    }
    // The memory lives in Redis under the shared prefix (one record per rule).
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    let records = 0;
    for await (const keys of client.scanIterator({ MATCH: `*${prefix}mem:*`, COUNT: 500 })) records += keys.length;
    await client.quit();
    expect(records).toBe(1);
  });
});
