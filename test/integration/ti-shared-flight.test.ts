// Threat intel across instances: two enrichers (as two instances would build them) looking up the same IP at
// the same time make one provider request through the Redis single-flight lock.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { loadConfig } from "../../src/config/load.js";
import { openCaches } from "../../src/resources/cache.js";
import { DistributedSingleFlight } from "../../src/resources/redis-lock.js";
import { connectRedis } from "../../src/resources/redis.js";
import { createMetrics } from "../../src/telemetry/metrics.js";
import { createEnricher } from "../../src/transforms/enrich/index.js";
import type { SharedFlightFactory } from "../../src/core/ports/index.js";
import { FakeAbuseIpDb } from "../fakes/abuseipdb.js";
import { sampleIps } from "../fakes/ip-intel.js";
import type { Alert } from "../../src/core/alert.js";
import { redisUrl } from "./support.js";

let redis: Awaited<ReturnType<typeof connectRedis>>;
let fake: FakeAbuseIpDb;
const prefix = `test:sf:ti:${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  redis = await connectRedis(redisUrl());
  fake = await FakeAbuseIpDb.start({ latencyMs: 300 });
});
afterAll(async () => {
  await fake.stop();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(keys);
  await redis.quit();
});

async function instance() {
  const shared: SharedFlightFactory = <T>() =>
    new DistributedSingleFlight<T>({ client: redis, prefix, lockTtlMs: 5000, waitMaxMs: 10_000, pollMs: 20, redisTimeoutMs: 1000 });
  const config = loadConfig({ ABUSEIPDB_API_KEY: fake.apiKey, ABUSEIPDB_BASE_URL: fake.url, CACHE_URL: "memory://", LOG_LEVEL: "silent" });
  const caches = await openCaches("memory://"); // separate caches: only the lock is shared
  const enricher = createEnricher({
    config,
    caches,
    metrics: createMetrics({ defaultMetrics: false }),
    logger: pino({ level: "silent" }),
    sharedFlight: shared,
  });
  if (!enricher) throw new Error("enricher not built");
  return { enricher, caches };
}

const alertFor = (ip: string, id: string): Alert => ({
  alert_id: id,
  alert_name: "Port scan detected",
  severity: "low",
  source_ip: ip,
  destination_ip: null,
  user: null,
  host: null,
  timestamp: null,
  description: null,
  format: "native",
  fields: {},
});

describe("threat-intel single-flight across instances (Redis)", () => {
  it("two instances looking up the same IPs at once make one request per IP", async () => {
    const [a, b] = await Promise.all([instance(), instance()]);
    const ips = sampleIps("malicious", 5);
    const before = fake.totalRequests;
    const [ra, rb] = await Promise.all([
      a.enricher.enrich(ips.map((ip, i) => alertFor(ip, `a${i}`))),
      b.enricher.enrich(ips.map((ip, i) => alertFor(ip, `b${i}`))),
    ]);
    expect(fake.totalRequests - before).toBe(ips.length);
    for (const r of [...ra, ...rb]) expect(r.enrichment?.abuseipdb.status).toBe("ok");
    await a.caches.close();
    await b.caches.close();
  });
});
