// Many instances, one consumer group: three `triage run` child processes on a 6-partition topic share one Gemini
// quota through Redis (CACHE_URL=redis://…) against the loopback fake Gemini, which enforces the RPM itself.
// 10,000 distinct alerts → one verdict each, zero 429s in total; an instance SIGKILLed mid-run → still nothing lost
// (duplicates only after the kill, from re-delivered uncommitted records).
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { connectRedis } from "../../src/resources/redis.js";
import type { Verdict } from "../../src/core/verdict.js";
import { FakeGemini } from "../fakes/gemini.js";
import { alive, spawnInstance, stopInstance, type Instance } from "../../scripts/chaos.js";
import { brokers, collect, createTopics, produce, redisUrl as testRedisUrl, testConfig, type Collected } from "./support.js";

const INSTANCES = 3;
const PARTITIONS = 6;
const ALERTS = 10_000;
// One RPM limit for the whole group, time scaled down: 40 requests per 2 s window (1,200/min). 10,000 alerts at
// 25 per request are 400 requests, ≥ 10 full windows: the limit binds for the whole run.
const RPM = 40;
const WINDOW_MS = 2_000;

const redisBase = testRedisUrl();
let redisUrl = "";
let redis: Awaited<ReturnType<typeof connectRedis>>;

// The service's Redis keys have no prefix option (triage:quota:<name>, Keyv namespaces), so each run gets its own
// Redis database: the first of 15..1 holding no triage keys. Its triage keys are deleted afterwards.
beforeAll(async () => {
  for (let db = 15; db >= 1 && !redisUrl; db--) {
    const client = await connectRedis(`${redisBase}/${db}`);
    if ((await client.keys("triage:*")).length === 0 && (await client.keys("ti:*")).length === 0) {
      redisUrl = `${redisBase}/${db}`;
      redis = client;
    } else await client.quit();
  }
  if (!redisUrl) throw new Error(`no free Redis database on ${redisBase} (every one of 1..15 holds triage keys)`);
});
afterAll(async () => {
  if (!redis) return;
  const keys = [...(await redis.keys("triage:*")), ...(await redis.keys("ti:*")), ...(await redis.keys("ai-*")), ...(await redis.keys("overrides:*"))];
  if (keys.length) await redis.del(keys);
  await redis.quit();
});

const instances: Instance[] = [];
const cleanups: (() => Promise<unknown> | undefined)[] = [];
afterEach(async () => {
  await Promise.all(instances.splice(0).map((i) => stopInstance(i)));
  while (cleanups.length) await cleanups.pop()!();
});

/** Throws (with the instance's last log lines) if an instance we did not kill has exited. */
function checkAlive(): void {
  for (const i of instances) {
    if (!i.killed && !alive(i)) {
      throw new Error(`instance ${i.name} exited unexpectedly (code ${i.child.exitCode}, signal ${i.child.signalCode}):\n${i.tail.join("\n")}`);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    checkAlive();
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

const NAMES = [
  "Brute force login attempts",
  "Impossible travel",
  "Port scan detected",
  "Phishing email reported",
  "Suspicious PowerShell",
  "DNS tunnelling suspected",
];
const SEVERITIES = ["high", "medium", "low", "info"];
/**
 * Distinct alerts (id, source IP and user differ), no critical ones so every request carries 25. `run` salts the
 * content per test: the tests share one Redis, whose AI cache would otherwise answer the next test's alerts.
 */
const alert = (i: number, run: string) =>
  JSON.stringify({
    alert_id: `scale-${i}`,
    alert_name: NAMES[i % NAMES.length],
    severity: SEVERITIES[i % SEVERITIES.length],
    source_ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    user: `user${i}-${run}`,
    host: `ws-${i % 101}`,
  });

/** Fake Gemini, fresh topics, three instances joined with two partitions each, a collector on the output. */
async function setUpGroup() {
  await redis.flushDb(); // this file's own database (chosen empty in beforeAll): each test starts with cold caches
  const fake = await FakeGemini.start({ rpm: RPM, windowMs: WINDOW_MS, tpm: Infinity, rpd: Infinity });
  cleanups.push(() => fake.stop());
  const config = testConfig();
  await createTopics(config.names, PARTITIONS);
  const out = await collect(config.names.output);
  cleanups.push(() => out.stop());
  const env = {
    KAFKA_BROKERS: brokers(),
    TRIAGE_INPUT_TOPIC: config.names.input,
    TRIAGE_OUTPUT_TOPIC: config.names.output,
    TRIAGE_DLQ_TOPIC: config.names.dlq,
    KAFKA_GROUP_ID: config.names.group,
    KAFKA_SESSION_TIMEOUT_MS: "8000",
    KAFKA_COMMIT_INTERVAL_MS: "200",
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
    CACHE_URL: redisUrl,
    MAX_INFLIGHT_ALERTS: "1000",
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: String(RPM),
    GEMINI_RATE_WINDOW_MS: String(WINDOW_MS),
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    GEMINI_MAX_ALERTS_PER_REQUEST: "25",
    // This file measures shared quotas with every alert asked; the verdict memory (on by default) would answer some.
    MEMORY: "off",
  };
  for (let i = 0; i < INSTANCES; i++) instances.push(spawnInstance(`triage-${i}`, env));
  // Produce only once the group is settled (each member owns 2 of the 6 partitions): a join while records are in
  // flight would re-deliver them, and this test wants duplicates only from the kill.
  await until(
    "three members sharing six partitions",
    () => {
      const owned = instances.map((i) => i.assigned.length);
      return owned.every((n) => n === PARTITIONS / INSTANCES) && new Set(instances.flatMap((i) => i.assigned)).size === PARTITIONS;
    },
    90_000,
  );
  return { fake, config, out };
}

const keysOf = (messages: Collected[]) => messages.map((m) => m.key!);
/** Alerts the model was shown more than once, by content (prompt ids are request-local: a1 … aN in every request). */
function askedTwice(fake: FakeGemini): string[] {
  const seen = new Map<string, number>();
  for (const r of fake.requests)
    for (const { alert_id: _id, ...content } of r.alerts) seen.set(JSON.stringify(content), (seen.get(JSON.stringify(content)) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
}
const distinct = (messages: Collected[]) => new Set(keysOf(messages)).size;

describe(`${INSTANCES} instances in one group, ${PARTITIONS} partitions, one shared Gemini quota (Redis)`, () => {
  it(`${ALERTS.toLocaleString("en")} alerts → exactly one verdict each, all from the model, zero 429s in total`, async () => {
    const { fake, config, out } = await setUpGroup();
    const started = Date.now();
    await produce(
      config.names.input,
      Array.from({ length: ALERTS }, (_, i) => alert(i, config.names.input)),
      1000,
    );
    await until(`${ALERTS} verdicts`, () => distinct(out.messages) >= ALERTS, 150_000);
    const seconds = (Date.now() - started) / 1000;
    await sleep(1_500); // a duplicate would show up here
    expect(out.messages).toHaveLength(ALERTS);
    expect(distinct(out.messages)).toBe(ALERTS);
    const verdicts = out.messages.map((m) => JSON.parse(m.value) as Verdict);
    expect(verdicts.every((v) => v.source === "llm" && !v.degraded)).toBe(true);
    expect(fake.violations).toBe(0);
    expect(fake.countStatus(429)).toBe(0);
    expect(askedTwice(fake)).toEqual([]); // the model saw each alert once
    // The limit bound the run: the group's requests need at least (requests / RPM − 1) full windows.
    const requests = fake.requests.length;
    expect(requests).toBeGreaterThanOrEqual(ALERTS / 25);
    expect(seconds).toBeGreaterThanOrEqual((requests / RPM - 1) * (WINDOW_MS / 1000));
    // Every instance did its share.
    const perPartition = new Map<number, number>();
    for (const m of out.messages) perPartition.set(m.partition, (perPartition.get(m.partition) ?? 0) + 1);
    console.log(
      `scale: ${ALERTS} alerts, ${INSTANCES} instances, ${requests} Gemini requests (${(ALERTS / requests).toFixed(1)} alerts/request) in ${seconds.toFixed(1)} s at RPM ${RPM}/${WINDOW_MS} ms; 429s: ${fake.countStatus(429)}, violations: ${fake.violations}`,
    );
  });

  it("one instance SIGKILLed mid-run → every alert still gets a verdict, duplicates only after the kill, zero 429s", async () => {
    const { fake, config, out } = await setUpGroup();
    const started = Date.now();
    await produce(
      config.names.input,
      Array.from({ length: ALERTS }, (_, i) => alert(i, config.names.input)),
      1000,
    );
    await until("a third of the verdicts", () => out.messages.length >= ALERTS / 3, 150_000);
    const victim = instances[1]!;
    victim.killed = true;
    victim.child.kill("SIGKILL");
    await victim.exit;
    const atKill = out.messages.length;
    await until(`all ${ALERTS} alert ids`, () => distinct(out.messages) >= ALERTS, 150_000);
    const seconds = (Date.now() - started) / 1000;
    await sleep(1_500);
    // Before the kill: no alert twice (any second verdict of an alert comes after the kill).
    const seen = new Set<string>();
    for (const key of keysOf(out.messages.slice(0, atKill))) {
      expect(seen.has(key), `duplicate verdict for ${key} before the kill`).toBe(false);
      seen.add(key);
    }
    const ids = new Set(keysOf(out.messages));
    for (let i = 0; i < ALERTS; i++) expect(ids.has(`scale-${i}`)).toBe(true);
    expect(fake.violations).toBe(0);
    expect(fake.countStatus(429)).toBe(0);
    const verdicts = out.messages.map((m) => JSON.parse(m.value) as Verdict);
    // Before the kill every verdict came from the model; re-delivered alerts mostly hit the shared exact cache.
    expect(verdicts.slice(0, atKill).every((v) => v.source === "llm" && !v.degraded)).toBe(true);
    expect(verdicts.every((v) => (v.source === "llm" || v.source === "cache:exact") && !v.degraded)).toBe(true);
    // Only the killed instance's unacknowledged records (its read-ahead window, MAX_INFLIGHT_ALERTS=1000) may be
    // asked again; everything answered before the kill comes from the shared cache.
    expect(askedTwice(fake).length).toBeLessThanOrEqual(1000);
    const duplicates = out.messages.length - ALERTS;
    console.log(
      `scale+SIGKILL: killed ${victim.name} at ${atKill} verdicts; ${out.messages.length} verdicts for ${ALERTS} alerts (${duplicates} duplicates, ${((duplicates / ALERTS) * 100).toFixed(1)} %) in ${seconds.toFixed(1)} s; ${fake.requests.length} requests; 429s: ${fake.countStatus(429)}`,
    );
  });

  it("the same alerts on three instances at once → the model is asked once per cache key (shared single-flight + cache)", async () => {
    const { fake, config, out } = await setUpGroup();
    const CONTENTS = 600;
    const COPIES = 5;
    // Same content, different alert ids (ids are volatile: same exact key), spread over all partitions.
    const records: string[] = [];
    for (let c = 0; c < COPIES; c++)
      for (let i = 0; i < CONTENTS; i++) records.push(JSON.stringify({ ...JSON.parse(alert(i, config.names.input)), alert_id: `copy-${c}-${i}` }));
    await produce(config.names.input, records, 500);
    await until(`${records.length} verdicts`, () => distinct(out.messages) >= records.length, 120_000);
    const verdicts = out.messages.map((m) => JSON.parse(m.value) as Verdict);
    const asked = fake.requests.reduce((n, r) => n + r.alerts.length, 0);
    const bySource: Record<string, number> = {};
    for (const v of verdicts) bySource[v.source] = (bySource[v.source] ?? 0) + 1;
    console.log(
      `scale shared single-flight: ${records.length} records (${CONTENTS} contents × ${COPIES}) on ${INSTANCES} instances → model asked about ${asked} alerts in ${fake.requests.length} requests; sources ${JSON.stringify(bySource)}`,
    );
    expect(distinct(out.messages)).toBe(records.length);
    expect(asked).toBeLessThanOrEqual(CONTENTS);
    expect(verdicts.every((v) => !v.degraded)).toBe(true);
    expect(fake.violations).toBe(0);
  });
});
