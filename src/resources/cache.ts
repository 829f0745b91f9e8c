import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Keyv from "keyv";
import KeyvSqlite from "@keyv/sqlite";
import KeyvRedis from "@keyv/redis";
import { TriageError } from "../core/errors.js";

/** Cache namespaces: threat intel, AI verdicts by exact and pattern key, analyst overrides. */
export type CacheName = "ti" | "ai-exact" | "ai-pattern" | "overrides";

/** The small cache port stages use; Keyv (SQLite or Redis) implements it. */
export interface Cache {
  get<T>(key: string): Promise<T | undefined>;
  /** Store with a TTL in ms (undefined = no expiry). Resolves once durably written. */
  set(key: string, value: unknown, ttlMs?: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Batched forms: one SQL query / Redis round trip per call where the store allows. */
  getMany?<T>(keys: string[]): Promise<(T | undefined)[]>;
  setMany?(entries: { key: string; value: unknown; ttlMs?: number }[]): Promise<void>;
  deleteMany?(keys: string[]): Promise<void>;
}

export interface Caches {
  get(name: CacheName): Cache;
  /** Which backend (sqlite | redis | memory), for logs. */
  readonly backend: string;
  close(): Promise<void>;
}

/** Run a statement, retrying briefly while another connection or process holds the SQLite file lock. */
async function retryBusy(run: () => Promise<unknown>, attempts = 20): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await run();
      return;
    } catch (err) {
      if (i >= attempts || !/SQLITE_BUSY|database is locked/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 50 * i));
    }
  }
}

/** Open one Keyv per namespace on CACHE_URL: sqlite://path, redis://host:port, or memory://. */
export async function openCaches(url: string): Promise<Caches> {
  const scheme = url.split(":")[0];
  const instances = new Map<CacheName, Keyv>();
  const pragmas: ((first: boolean) => Promise<void>)[] = [];
  const make = (name: CacheName): Keyv => {
    let store: ConstructorParameters<typeof Keyv>[0];
    if (scheme === "sqlite") {
      const path = url.replace(/^sqlite:\/\//, "");
      if (path !== ":memory:") mkdirSync(dirname(resolve(path)), { recursive: true });
      const sqlite = new KeyvSqlite({ uri: `sqlite://${path}`, table: "triage_cache", busyTimeout: 10_000 });
      // WAL: readers never wait for the writer and a commit appends instead of rewriting a journal with an fsync;
      // without it every cache write costs ~1 ms and the four connections (one per namespace) queue on the file
      // lock. synchronous=NORMAL keeps WAL durable across process crashes (not power loss), enough for a cache.
      const query = (sql: string) => (sqlite as unknown as { query(sql: string): Promise<unknown> }).query(sql);
      // journal_mode is stored in the file (set once, by the first connection); synchronous is per connection.
      pragmas.push(async (first) => {
        if (first) await retryBusy(() => query("PRAGMA journal_mode=WAL"));
        await retryBusy(() => query("PRAGMA synchronous=NORMAL"));
      });
      store = sqlite;
    } else if (scheme === "redis" || scheme === "rediss") {
      store = new KeyvRedis(url);
    } else if (scheme === "memory") {
      store = undefined;
    } else {
      throw new TriageError({ code: "cache_url_invalid", stage: "config", retriable: false, message: `CACHE_URL ${JSON.stringify(url)}: scheme must be sqlite://, redis:// or memory://` });
    }
    const keyv = new Keyv(store === undefined ? { namespace: name } : { store, namespace: name });
    keyv.on("error", () => {}); // surfaced on the failing call instead
    return keyv;
  };
  // Opened one after another: four connections creating the table and switching the journal at once would
  // collide on the file lock (SQLITE_BUSY) before busy timeouts apply.
  for (const name of ["ti", "ai-exact", "ai-pattern", "overrides"] as const) {
    const keyv = make(name);
    instances.set(name, keyv);
    await keyv.get("__triage_probe__"); // connects, creates the table; a bad path or unreachable Redis fails here
    const pragma = pragmas.pop();
    if (pragma) await pragma(instances.size === 1);
  }
  const wrap = (keyv: Keyv): Cache => ({
    get: async <T>(key: string) => (await keyv.get(key)) as T | undefined,
    set: async (key, value, ttlMs) => {
      const ok = await keyv.set(key, value, ttlMs);
      if (ok === false) throw new TriageError({ code: "cache_write_failed", stage: "enrich", retriable: true, message: `cache write failed for ${key.slice(0, 80)}` });
    },
    delete: async (key) => {
      await keyv.delete(key);
    },
    getMany: async <T>(keys: string[]) => (keys.length === 0 ? [] : ((await keyv.getMany(keys)) as (T | undefined)[])),
    setMany: async (entries) => {
      if (entries.length === 0) return;
      // Stores differ: SQLite answers one boolean per entry, the Redis store nothing at all.
      const ok: unknown = await keyv.setMany(entries.map((e) => ({ key: e.key, value: e.value, ttl: e.ttlMs })));
      if (ok === false || (Array.isArray(ok) && ok.some((x) => x === false))) throw new TriageError({ code: "cache_write_failed", stage: "classify", retriable: true, message: `cache write failed for ${entries.length} entries` });
    },
    deleteMany: async (keys) => {
      if (keys.length > 0) await keyv.deleteMany(keys);
    },
  });
  return {
    backend: scheme === "rediss" ? "redis" : scheme!,
    get: (name) => wrap(instances.get(name)!),
    async close() {
      for (const keyv of instances.values()) await keyv.disconnect().catch(() => {});
    },
  };
}
