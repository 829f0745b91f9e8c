/**
 * One cache namespace as the verdict cache uses it: a per-process LRU in front of the shared store (Keyv: SQLite or
 * Redis), batched reads and writes, and an approximate size bound — entries this process wrote and then evicted
 * from its LRU are deleted from the store, so the store holds at most about maxEntries of them per process (plus
 * what other processes wrote); the TTL bounds age. Evictions and the entry gauge go to the cache metrics.
 */
import type { Cache } from "../../../core/ports/index.js";
import type { CacheEvents } from "../../../telemetry/component-events.js";

/** One write of a batch. */
export interface CacheWrite {
  key: string;
  value: unknown;
  ttlMs?: number;
}

/**
 * Batch operations a cache may offer besides the port's get/set/delete (Keyv has getMany/setMany/deleteMany:
 * one SQL query or one Redis round trip per batch). Used when present, one call per key otherwise.
 */
interface BatchCache extends Cache {
  getMany?<T>(keys: string[]): Promise<(T | undefined)[]>;
  setMany?(entries: CacheWrite[]): Promise<void>;
  deleteMany?(keys: string[]): Promise<void>;
}

/** Read many keys, batched when the cache can. */
export async function readMany<T>(cache: Cache, keys: readonly string[]): Promise<(T | undefined)[]> {
  if (keys.length === 0) return [];
  const c = cache as BatchCache;
  if (c.getMany) return c.getMany<T>([...keys]);
  return Promise.all(keys.map((k) => cache.get<T>(k)));
}

/** Write many entries, batched when the cache can; resolves once all are written. */
export async function writeMany(cache: Cache, entries: readonly CacheWrite[]): Promise<void> {
  if (entries.length === 0) return;
  const c = cache as BatchCache;
  if (c.setMany) return c.setMany([...entries]);
  await Promise.all(entries.map((e) => cache.set(e.key, e.value, e.ttlMs)));
}

/** Delete many keys, batched when the cache can. */
export async function deleteMany(cache: Cache, keys: readonly string[]): Promise<void> {
  if (keys.length === 0) return;
  const c = cache as BatchCache;
  if (c.deleteMany) return c.deleteMany([...keys]);
  await Promise.all(keys.map((k) => cache.delete(k)));
}

interface Slot<V> {
  value: V | undefined;
  expiresAt: number;
  /** Written by this process: evicting it deletes it from the store. */
  owned: boolean;
}

export interface TierOptions<V> {
  /** Metric label (cache="..."). */
  name: string;
  cache: Cache;
  keyPrefix: string;
  ttlMs: number;
  maxEntries: number;
  /** Keep values in memory (hot answers) or only keys (large records read rarely). */
  keepValues: boolean;
  /** When a value read from the store was written (its store TTL runs from then); unknown = now. */
  writtenAt?: (value: V) => number;
  /** Where evictions and the entry gauge go (triage_cache_evictions_total, triage_cache_entries). */
  events: CacheEvents;
  now: () => number;
}

export class CacheTier<V> {
  /** Map order is recency order: first = least recently used. */
  private readonly lru = new Map<string, Slot<V>>();
  private owned = 0;
  private pendingDeletes: string[] = [];

  constructor(private readonly o: TierOptions<V>) {}

  /** Values for keys (undefined = absent or expired): memory first, then one batched store read. */
  async read(keys: readonly string[]): Promise<(V | undefined)[]> {
    const now = this.o.now();
    const out: (V | undefined)[] = new Array(keys.length);
    const missing: number[] = [];
    keys.forEach((key, i) => {
      const slot = this.o.keepValues ? this.touch(key, now) : undefined;
      if (slot?.value !== undefined) out[i] = slot.value;
      else missing.push(i);
    });
    if (missing.length > 0) {
      const stored = await readMany<V>(
        this.o.cache,
        missing.map((i) => this.o.keyPrefix + keys[i]!),
      );
      missing.forEach((i, j) => {
        const value = stored[j];
        out[i] = value;
        // Remembered without ownership (another process may have written it), expiring with the store's copy.
        if (value !== undefined && this.o.keepValues) this.remember(keys[i]!, value, (this.o.writtenAt?.(value) ?? now) + this.o.ttlMs, false);
      });
    }
    return out;
  }

  /** Store entries (batched) and drop what the size bound evicted; resolves once the store has them. */
  async write(entries: readonly { key: string; value: V }[]): Promise<void> {
    if (entries.length === 0) return;
    const now = this.o.now();
    const expiresAt = now + this.o.ttlMs;
    for (const e of entries) this.remember(e.key, e.value, expiresAt, true);
    // A key evicted earlier and written again since must not be deleted after this write.
    const deletes = this.pendingDeletes.filter((k) => !this.lru.has(k));
    this.pendingDeletes = [];
    await Promise.all([
      writeMany(
        this.o.cache,
        entries.map((e) => ({ key: this.o.keyPrefix + e.key, value: e.value, ttlMs: this.o.ttlMs })),
      ),
      deleteMany(
        this.o.cache,
        deletes.map((k) => this.o.keyPrefix + k),
      ),
    ]);
    this.o.events.entries(this.o.name, this.owned);
  }

  /** Entries this process wrote that are still held (the triage_cache_entries gauge). */
  get size(): number {
    return this.owned;
  }

  private touch(key: string, now: number): Slot<V> | undefined {
    const slot = this.lru.get(key);
    if (!slot) return undefined;
    this.lru.delete(key);
    if (slot.expiresAt <= now) {
      this.drop(slot, false);
      return undefined;
    }
    this.lru.set(key, slot);
    return slot;
  }

  private remember(key: string, value: V, expiresAt: number, owned: boolean): void {
    const old = this.lru.get(key);
    if (old) {
      this.lru.delete(key);
      if (old.owned) this.owned--;
      owned ||= old.owned;
    }
    this.lru.set(key, { value: this.o.keepValues ? value : undefined, expiresAt, owned });
    if (owned) this.owned++;
    while (this.lru.size > this.o.maxEntries) {
      const [oldestKey, oldest] = this.lru.entries().next().value as [string, Slot<V>];
      this.lru.delete(oldestKey);
      if (oldest.owned) this.pendingDeletes.push(oldestKey);
      this.drop(oldest, true);
    }
  }

  private drop(slot: Slot<V>, forSize: boolean): void {
    if (!slot.owned) return;
    this.owned--;
    // Expired entries are gone from the store by its TTL; size evictions are deleted with the next write.
    this.o.events.evicted(this.o.name, forSize ? "size" : "expired");
    if (!forSize) this.o.events.entries(this.o.name, this.owned);
  }
}
