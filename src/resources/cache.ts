import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Keyv from "keyv";
import KeyvRedis from "@keyv/redis";
import { TriageError } from "../core/errors.js";
import { redactUrls } from "../core/redact.js";
import { DEFAULT_REDIS_CONNECT_TIMEOUT_MS, connectRedisClient, type RedisClient, type RedisConnectOptions } from "./redis-connect.js";
import { SqliteDatabase } from "./sqlite-store.js";
import type { Cache, CacheName, Caches } from "../core/ports/cache.js";

/**
 * Open one Keyv per namespace on CACHE_URL: sqlite://path, redis://host:port, or memory://. An unreachable
 * Redis fails within `connectTimeoutMs` (error names CACHE_URL without its password) instead of hanging start-up.
 */
export async function openCaches(url: string, opts: Partial<RedisConnectOptions> = {}): Promise<Caches> {
  const scheme = url.split(":")[0];
  const instances = new Map<CacheName, Keyv>();
  let sqlite: SqliteDatabase | undefined;
  let redis: RedisClient | undefined;
  if (scheme === "redis" || scheme === "rediss") {
    // One bounded connection shared by the four namespaces (was one unbounded connection each).
    redis = await connectRedisClient(url, { connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_REDIS_CONNECT_TIMEOUT_MS });
  } else if (scheme === "sqlite") {
    const path = url.replace(/^sqlite:\/\//, "");
    if (path !== ":memory:") mkdirSync(dirname(resolve(path)), { recursive: true });
    // One connection for the four namespaces (node:sqlite is synchronous: no lock contention inside the process);
    // WAL, synchronous=NORMAL and the busy retries are set up in SqliteDatabase.open. A bad path fails here.
    sqlite = await SqliteDatabase.open({ path, table: "triage_cache" });
  } else if (scheme !== "redis" && scheme !== "rediss" && scheme !== "memory") {
    throw new TriageError({
      code: "cache_url_invalid",
      stage: "config",
      retriable: false,
      message: `CACHE_URL ${JSON.stringify(redactUrls(url))}: scheme must be sqlite://, redis:// or memory://`,
    });
  }
  const make = (name: CacheName): Keyv => {
    const store = sqlite ? sqlite.store() : redis ? new KeyvRedis(redis) : undefined;
    const keyv = new Keyv(store === undefined ? { namespace: name } : { store, namespace: name });
    keyv.on("error", () => {}); // surfaced on the failing call instead
    return keyv;
  };
  for (const name of ["ti", "ai-exact", "ai-pattern", "overrides"] as const) {
    const keyv = make(name);
    instances.set(name, keyv);
    if (!redis) await keyv.get("__triage_probe__"); // a bad SQLite path fails here (Redis answered PING above)
  }
  const wrap = (keyv: Keyv): Cache => ({
    get: async <T>(key: string) => (await keyv.get(key)) as T | undefined,
    set: async (key, value, ttlMs) => {
      const ok = await keyv.set(key, value, ttlMs);
      if (ok === false)
        throw new TriageError({ code: "cache_write_failed", stage: "enrich", retriable: true, message: `cache write failed for ${key.slice(0, 80)}` });
    },
    delete: async (key) => {
      await keyv.delete(key);
    },
    getMany: async <T>(keys: string[]) => (keys.length === 0 ? [] : ((await keyv.getMany(keys)) as (T | undefined)[])),
    setMany: async (entries) => {
      if (entries.length === 0) return;
      // Stores differ: ours (SQLite) answers one boolean per entry, the Redis store nothing at all.
      const ok: unknown = await keyv.setMany(entries.map((e) => ({ key: e.key, value: e.value, ttl: e.ttlMs })));
      if (ok === false || (Array.isArray(ok) && ok.some((x) => x === false)))
        throw new TriageError({ code: "cache_write_failed", stage: "classify", retriable: true, message: `cache write failed for ${entries.length} entries` });
    },
    deleteMany: async (keys) => {
      if (keys.length > 0) await keyv.deleteMany(keys);
    },
  });
  return {
    backend: scheme === "rediss" ? "redis" : scheme!,
    get: (name) => wrap(instances.get(name)!),
    async close() {
      if (redis) await redis.close().catch(() => {});
      else for (const keyv of instances.values()) await keyv.disconnect().catch(() => {});
      sqlite?.close();
    },
  };
}
