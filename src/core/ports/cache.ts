/** Cache namespaces: threat intel, AI verdicts by exact and pattern key, analyst overrides. */
export type CacheName = "ti" | "ai-exact" | "ai-pattern" | "overrides";

/** The small cache port stages use; Keyv (on our node:sqlite store, or Redis) implements it. */
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
