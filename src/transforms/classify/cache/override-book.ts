/**
 * Where overrides and the per-alert verdict record live (namespace `overrides`): an override is stored under the
 * alert id and, once the alert is known, under its exact and pattern keys; lookups read all three for a whole
 * batch in one call. The verdict record (last verdict per alert id, bounded) lets a later override be re-published
 * as an updated verdict and bound to the alert's keys.
 */
import type { Alert } from "../../../core/alert.js";
import { sha256Hex } from "../../../core/canonical.js";
import type { Enrichment } from "../../../core/enrichment.js";
import type { Decision } from "../../../core/verdict.js";
import type { Cache } from "../../../resources/cache.js";
import type { OverrideMatch, StoredOverride } from "./overrides.js";
import { readMany, writeMany, type CacheWrite } from "./tier.js";

/** Alert ids are up to 512 characters; long ones are hashed to keep keys short. */
export function alertIdKey(alertId: string): string {
  return alertId.length <= 200 ? alertId : `h:${sha256Hex(alertId)}`;
}

export interface OverrideTarget {
  alertId: string;
  exact: string;
  /** null when pattern matching is off. */
  pattern: string | null;
}

export interface FoundOverride {
  record: StoredOverride;
  match: OverrideMatch;
}

export class OverrideBook {
  constructor(private readonly o: { cache: Cache; keyPrefix: string; ttlMs: number; now: () => number }) {}

  /** The strongest override per target: alert id, then exact key, then pattern key. One batched read. */
  async lookup(targets: readonly OverrideTarget[]): Promise<(FoundOverride | undefined)[]> {
    const keys: string[] = [];
    for (const t of targets) keys.push(this.idKey(t.alertId), this.keyFor(t.exact), t.pattern === null ? "" : this.keyFor(t.pattern));
    const wanted = keys.filter((k) => k !== "");
    const values = await readMany<StoredOverride>(this.o.cache, wanted);
    const byKey = new Map<string, StoredOverride | undefined>(wanted.map((k, i) => [k, values[i]]));
    return targets.map((_, i) => {
      const [id, exact, pattern] = [keys[3 * i]!, keys[3 * i + 1]!, keys[3 * i + 2]!];
      const byId = byKey.get(id);
      if (byId) return { record: byId, match: "alert_id" as const };
      const byExact = byKey.get(exact);
      if (byExact) return { record: byExact, match: "exact" as const };
      const byPattern = pattern === "" ? undefined : byKey.get(pattern);
      return byPattern ? { record: byPattern, match: "pattern" as const } : undefined;
    });
  }

  /** The override stored under an alert id, if any. */
  async byId(alertId: string): Promise<StoredOverride | undefined> {
    return (await readMany<StoredOverride>(this.o.cache, [this.idKey(alertId)]))[0];
  }

  /**
   * Store an override under its alert id and the given keys, with the TTL counted from the analyst's time.
   * Returns false (nothing stored) when it has already expired.
   */
  async store(record: StoredOverride, keys: { exact?: string; pattern?: string } = {}): Promise<boolean> {
    const ttlMs = Date.parse(record.at) + this.o.ttlMs - this.o.now();
    if (!(ttlMs > 0)) return false;
    const writes: CacheWrite[] = [{ key: this.idKey(record.alert_id), value: record, ttlMs }];
    if (keys.exact) writes.push({ key: this.keyFor(keys.exact), value: record, ttlMs });
    if (keys.pattern) writes.push({ key: this.keyFor(keys.pattern), value: record, ttlMs });
    await writeMany(this.o.cache, writes);
    return true;
  }

  private idKey(alertId: string): string {
    return `${this.o.keyPrefix}o:id:${alertIdKey(alertId)}`;
  }

  private keyFor(cacheKey: string): string {
    return `${this.o.keyPrefix}o:${cacheKey}`;
  }
}

/** The last verdict of one alert id, as the verdict cache records it. */
export interface LoggedVerdict {
  v: 1;
  alert: Alert;
  enrichment: Enrichment | null;
  decision: Decision;
  exact: string;
  pattern: string;
  /** When the classifier saw the alert (received_at of a re-published verdict). */
  seen_at: string;
  /** The analyst decision this verdict came from, if any (re-reading the topic must not publish it again). */
  override?: Pick<StoredOverride, "classification" | "analyst" | "reason">;
}

/** Key of an alert's verdict record (namespace `overrides`). */
export function verdictLogKey(alertId: string): string {
  return `v:${alertIdKey(alertId)}`;
}
