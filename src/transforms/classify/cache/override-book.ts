/**
 * Where overrides and the per-alert verdict record live (namespace `overrides`): an override is stored under the
 * exact and pattern keys of the alert it names (never under its bare id, which an attacker can reuse); lookups read
 * both for a whole batch in one call. The verdict record (last verdict per alert id, bounded) tells which alerts the
 * service triaged, and lets a later override be re-published as an updated verdict and bound to the alert's keys.
 */
import type { Alert } from "../../../core/alert.js";
import { sha256Hex } from "../../../core/canonical.js";
import type { Enrichment } from "../../../core/enrichment.js";
import type { Decision } from "../../../core/verdict.js";
import type { Cache } from "../../../core/ports/index.js";
import type { OverrideMatch, StoredOverride } from "./overrides.js";
import { CacheTier, readMany, writeMany, type CacheWrite } from "./tier.js";

/**
 * Alert ids are up to 512 characters; long ones are hashed to keep keys short. An id that itself starts with `h:` is
 * hashed too: written as it is, "h:<sha256 of a long id>" (an attacker's choice) would be that long id's key.
 */
export function alertIdKey(alertId: string): string {
  return alertId.length <= 200 && !alertId.startsWith("h:") ? alertId : `h:${sha256Hex(alertId)}`;
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

  /**
   * The strongest override per target: exact key, then pattern key. One batched read. Never by bare alert id: ids are
   * attacker-chosen, so a record reusing an overridden alert's id with other content must be triaged (and guarded) as
   * itself; the overridden alert itself, re-delivered, matches by its exact key.
   */
  async lookup(targets: readonly OverrideTarget[]): Promise<(FoundOverride | undefined)[]> {
    const keys: string[] = [];
    for (const t of targets) keys.push(this.keyFor(t.exact), t.pattern === null ? "" : this.keyFor(t.pattern));
    const wanted = keys.filter((k) => k !== "");
    const values = await readMany<StoredOverride>(this.o.cache, wanted);
    const byKey = new Map<string, StoredOverride | undefined>(wanted.map((k, i) => [k, values[i]]));
    return targets.map((_, i) => {
      const [exact, pattern] = [keys[2 * i]!, keys[2 * i + 1]!];
      const byExact = byKey.get(exact);
      if (byExact) return { record: byExact, match: "exact" as const };
      const byPattern = pattern === "" ? undefined : byKey.get(pattern);
      return byPattern ? { record: byPattern, match: "pattern" as const } : undefined;
    });
  }

  /**
   * Store an override under its alert id and the given keys until OVERRIDE_TTL_SECONDS after its `at` (stamped by the
   * server that received it), and never longer than that from now: an `at` in the future cannot extend it.
   * Returns false (nothing stored) when it has already expired or `at` is not a time.
   */
  async store(record: StoredOverride, keys: { exact: string; pattern?: string }): Promise<boolean> {
    const ttlMs = overrideTtlMs(record.at, this.o.ttlMs, this.o.now());
    if (ttlMs === null) return false;
    const writes: CacheWrite[] = [];
    if (keys.exact) writes.push({ key: this.keyFor(keys.exact), value: record, ttlMs });
    if (keys.pattern) writes.push({ key: this.keyFor(keys.pattern), value: record, ttlMs });
    await writeMany(this.o.cache, writes);
    return true;
  }

  private keyFor(cacheKey: string): string {
    return `${this.o.keyPrefix}o:${cacheKey}`;
  }
}

/** How long an override stamped `at` still lives at `nowMs` (bounded by ttlMs from now); null once expired or invalid. */
export function overrideTtlMs(at: string, ttlMs: number, nowMs: number): number | null {
  const startMs = Math.min(Date.parse(at), nowMs);
  const left = startMs + ttlMs - nowMs;
  return left > 0 ? left : null;
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
  /**
   * The id was seen with other content too (another exact key) while this record lived: an override naming the id
   * cannot tell which content the analyst meant, so it is refused (`ambiguous_alert`). Sticky until the record expires.
   */
  ambiguous?: true;
}

/**
 * The verdict record: the last verdict per alert id, marked `ambiguous` once the id comes with a second content.
 * Without the mark, a record reusing an id (ids are attacker-chosen) would silently re-point an analyst's override of
 * that id at its own content — e.g. at the attack it means to run later. Writes are serialised in this process so
 * two batches cannot both miss each other; across instances sharing Redis the read-then-write is not atomic (limit).
 */
export class VerdictLogTier extends CacheTier<LoggedVerdict> {
  private writing: Promise<unknown> = Promise.resolve();

  override write(entries: readonly { key: string; value: LoggedVerdict }[]): Promise<void> {
    const run = this.writing.catch(() => undefined).then(() => this.writeMarked(entries));
    this.writing = run;
    return run;
  }

  private async writeMarked(entries: readonly { key: string; value: LoggedVerdict }[]): Promise<void> {
    if (entries.length === 0) return;
    const keys = [...new Set(entries.map((e) => e.key))];
    const before = await this.read(keys);
    const last = new Map<string, LoggedVerdict>();
    keys.forEach((k, i) => {
      if (before[i]) last.set(k, before[i]!);
    });
    const merged = new Map<string, LoggedVerdict>();
    for (const e of entries) {
      const prior = merged.get(e.key) ?? last.get(e.key);
      const ambiguous = prior !== undefined && (prior.ambiguous === true || prior.exact !== e.value.exact);
      merged.set(e.key, ambiguous ? { ...e.value, ambiguous: true } : e.value);
    }
    await super.write([...merged].map(([key, value]) => ({ key, value })));
  }
}

/** Key of an alert's verdict record (namespace `overrides`). */
export function verdictLogKey(alertId: string): string {
  return `v:${alertIdKey(alertId)}`;
}
