/**
 * Redis wiring shared by every instance when CACHE_URL is redis://: one client per process for the quota stores
 * (one Gemini project, one TI key across instances), the spend ledger (TRIAGE_DAILY_BUDGET_USD counts the whole
 * deployment) and the cross-instance single-flights. The caches open their own Keyv client (resources/cache.ts).
 */
import type { Config } from "../config/schema.js";
import type { QuotaStoreFactory } from "../core/ports/quota.js";
import type { SharedFlight, SharedFlightFactory } from "../core/ports/flight.js";
import type { Closer } from "../ops/shutdown.js";
import { DEFAULT_REDIS_CONNECT_TIMEOUT_MS, connectRedisClient, type RedisConnectOptions } from "./redis-connect.js";
import { DistributedSingleFlight } from "./redis-lock.js";
import { RedisQuotaStore } from "./redis-quota-store.js";
import { RedisSpendLedger } from "./spend-ledger.js";

/**
 * Connect a Redis client for quota stores (one per process, shared by all limiters); fails within
 * `connectTimeoutMs` with an error naming CACHE_URL (password hidden) when Redis is unreachable.
 */
export async function connectRedis(url: string, opts: Partial<RedisConnectOptions> = {}) {
  return connectRedisClient(url, { connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_REDIS_CONNECT_TIMEOUT_MS });
}

/** What the service builds on a shared Redis. */
export interface SharedRedis {
  quotaStores: QuotaStoreFactory;
  spendLedger: RedisSpendLedger;
  /** One model request per exact key across instances: a short Redis lock per key, followers share the answer. */
  modelFlight<T>(): SharedFlight<T>;
  /** One threat-intel request per provider and IP across instances, as for the model. */
  tiFlight: SharedFlightFactory;
  /** In close order: flush the spend ledger, then quit the client. */
  closers: Closer[];
}

export async function openSharedRedis(config: Config): Promise<SharedRedis> {
  const redis = await connectRedis(config.CACHE_URL, { connectTimeoutMs: config.CACHE_CONNECT_TIMEOUT_MS });
  // TRIAGE_DAILY_BUDGET_USD counts the whole deployment's spend.
  const spendLedger = new RedisSpendLedger(redis, "triage:spend:gemini");
  const lock = {
    client: redis,
    lockTtlMs: config.SINGLE_FLIGHT_LOCK_TTL_MS,
    pollMs: config.SINGLE_FLIGHT_POLL_MS,
    redisTimeoutMs: config.SINGLE_FLIGHT_REDIS_TIMEOUT_MS,
  };
  return {
    quotaStores: (name, limits, dayKey) => new RedisQuotaStore(redis, `triage:quota:${name}`, limits, dayKey),
    spendLedger,
    modelFlight: <T>() =>
      new DistributedSingleFlight<T>({
        ...lock,
        prefix: `triage:sf:ai${config.AI_CACHE_KEY_PREFIX ? `:${config.AI_CACHE_KEY_PREFIX}` : ""}`,
        waitMaxMs: config.SINGLE_FLIGHT_WAIT_MAX_MS,
      }),
    // Keys are `${provider}:${ip}` under one prefix, so one flight per provider shares the key space of a single one.
    tiFlight: <T>(_provider: string) =>
      new DistributedSingleFlight<T>({
        ...lock,
        prefix: "triage:sf:ti",
        waitMaxMs: Math.min(config.SINGLE_FLIGHT_WAIT_MAX_MS, config.TI_MAX_WAIT_MS + config.TI_TIMEOUT_MS),
      }),
    closers: [
      {
        name: "spend-ledger",
        close: async () => {
          spendLedger.stop();
          await spendLedger.sync();
        },
      },
      { name: "redis", close: async () => void (await redis.quit()) },
    ],
  };
}
