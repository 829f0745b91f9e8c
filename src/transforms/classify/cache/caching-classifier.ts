/**
 * The verdict cache as a Classifier decorator. Per alert of a batch:
 *   analyst override (alert id → exact key → pattern key; the record's own human_override only with
 *     TRUST_INLINE_OVERRIDES=true, and then for that record alone)
 *   → exact cache → pattern cache (policy: on/off, not for critical alerts, minimum confidence)
 *   → single-flight: an alert whose exact or pattern key is already being asked about waits for that answer
 *   → the remaining alerts go to the inner classifier in ONE call (the model still gets many alerts per request)
 *   → learnable model answers (source llm, not degraded, no alert of their request looked like instructions) are
 *     stored under both keys (derived from the model view: what the model saw), and every verdict under its alert id;
 *     all writes are awaited before classify returns, so they are durable before the pipeline acks the offset.
 * A reused answer keeps its model/prompt_version, is marked cache:exact / cache:pattern, names the current alert's
 * user/host/IPs instead of the original's, and passes the classify guard again for the alert at hand.
 */
import { replaceWholeWords, type CacheKeys, type KeyDeriver } from "../../../core/cache-keys.js";
import { asTriageError } from "../../../core/errors.js";
import type { Classifier, EnrichedAlert, SharedFlight } from "../../../core/ports/index.js";
import type { Classification, Decision } from "../../../core/verdict.js";
import type { Logger } from "../../../telemetry/logger.js";
import type { CacheEvents } from "../../../telemetry/component-events.js";
import { applyGuard, findInjection, type GuardOptions } from "../guard.js";
import { classifyOrDegrade } from "../rules.js";
import { verdictLogKey, type LoggedVerdict, type OverrideBook } from "./override-book.js";
import { inlineOverride, overrideDecision, type FeedbackPublisher, type StoredOverride } from "./overrides.js";
import type { CacheTier } from "./tier.js";

/** The alert names a reused answer mentions, so they can be swapped for the current alert's. */
export interface AnswerEntities {
  alert_id: string;
  source_ip: string | null;
  destination_ip: string | null;
  user: string | null;
  host: string | null;
}

/** A model answer as stored under an exact or pattern key. */
export interface CachedAnswer {
  v: 1;
  decision: Decision;
  entities: AnswerEntities;
  stored_at: string;
}

export interface CachePolicy {
  /** AI_PATTERN_CACHE. */
  pattern: boolean;
  /** AI_PATTERN_MIN_CONFIDENCE. */
  patternMinConfidence: number;
  /** AI_PATTERN_FOR_CRITICAL. */
  patternForCritical: boolean;
  /** TRUST_INLINE_OVERRIDES: a record's own human_override label decides that record (never others). Default false. */
  trustInlineOverrides?: boolean;
}

/** Everything the decorator shares with the override path (built once by createVerdictCache). */
export interface VerdictCacheParts {
  keys: KeyDeriver;
  exact: CacheTier<CachedAnswer>;
  pattern: CacheTier<CachedAnswer>;
  overrides: OverrideBook;
  /** null when AI_VERDICT_LOG_TTL_SECONDS = 0. */
  verdictLog: CacheTier<LoggedVerdict> | null;
  policy: CachePolicy;
  guard: GuardOptions;
  /** Answers of another model or prompt version are stale (asked again); null = no check. */
  currentVersion: { model: string; promptVersion: string } | null;
  publishFeedback: FeedbackPublisher | null;
  /** Cross-instance single-flight by exact key (Redis); null = per process only. */
  sharedFlight: SharedFlight<CachedAnswer> | null;
  /** Cache lookups and inline analyst labels (typed telemetry events). */
  events: CacheEvents;
  logger: Logger;
  now: () => number;
}

type Served = "override" | "exact" | "pattern" | "model";
type Lookup = "hit" | "miss" | "stale" | "policy";

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export class CachingClassifier implements Classifier {
  readonly name: string;
  /** Exact or pattern key → the answer being asked for it right now (null when it turns out unusable). */
  private readonly inflight = new Map<string, Promise<CachedAnswer | null>>();
  private readonly log: Logger;
  private lastWarnAt = 0;

  constructor(
    private readonly inner: Classifier,
    private readonly p: VerdictCacheParts,
  ) {
    this.name = inner.name;
    this.log = p.logger.child({ component: "verdict-cache" });
  }

  async classify(items: readonly EnrichedAlert[]): Promise<Decision[]> {
    const n = items.length;
    if (n === 0) return [];
    const { policy, events } = this.p;
    const seenAt = new Date(this.p.now()).toISOString();
    const keys = items.map((item) => this.p.keys.keys(item));
    const patternAllowed = items.map((item) => policy.pattern && (policy.patternForCritical || item.alert.severity !== "critical"));
    const out: (Decision | undefined)[] = new Array(n);
    const served: Served[] = new Array(n).fill("model");
    const exactLookup: (Lookup | undefined)[] = new Array(n);
    const patternLookup: (Lookup | undefined)[] = new Array(n);
    const overrideOf: (StoredOverride | undefined)[] = new Array(n);
    const toBind: { i: number; record: StoredOverride; previous: Classification | null }[] = [];

    // 1. Analyst overrides win over everything. One bound to a pattern key reaches only alerts the pattern policy
    // allows (with AI_PATTERN_FOR_CRITICAL=false, never another critical alert).
    const found = await this.guarded(
      "overrides",
      () =>
        this.p.overrides.lookup(
          items.map((item, i) => ({ alertId: item.alert.alert_id, exact: keys[i]!.exact, pattern: patternAllowed[i] ? keys[i]!.pattern : null })),
        ),
      () => new Array(n).fill(undefined),
    );
    // A feed is not an analyst: the record's own label counts only when the operator says the feed is trusted.
    const inline = items.map((item) => (policy.trustInlineOverrides === true ? inlineOverride(item.alert, seenAt) : null));
    let overrideHits = 0;
    found.forEach((f, i) => {
      if (!f) return;
      overrideHits++;
      const item = items[i]!;
      const d = overrideDecision(f.record, item.alert, f.match);
      // Applied to another alert through its keys, the usual guard holds: never an automatic false_positive for injected text.
      out[i] = f.match === "alert_id" ? d : applyGuard(item, d, this.p.guard);
      served[i] = "override";
      overrideOf[i] = f.record;
      if (f.match === "alert_id" && !f.record.resolved) toBind.push({ i, record: f.record, previous: null });
    });
    events.lookups("overrides", "hit", overrideHits);
    events.lookups("overrides", "miss", n - overrideHits);

    // 2. Exact, then 3. pattern cache.
    const reused: ({ answer: CachedAnswer; kind: "exact" | "pattern" } | undefined)[] = new Array(n);
    const exactIdx = indices(n).filter((i) => out[i] === undefined);
    const exactAnswers = await this.guarded(
      "ai-exact",
      () => this.p.exact.read(exactIdx.map((i) => keys[i]!.exact)),
      () => [],
    );
    exactIdx.forEach((i, j) => {
      const a = exactAnswers[j];
      exactLookup[i] = a === undefined ? "miss" : this.isStale(a) ? "stale" : "hit";
      if (exactLookup[i] === "hit") reused[i] = { answer: a!, kind: "exact" };
    });
    const patternIdx = exactIdx.filter((i) => reused[i] === undefined && policy.pattern);
    for (const i of patternIdx) if (!patternAllowed[i]) patternLookup[i] = "policy";
    const patternRead = patternIdx.filter((i) => patternAllowed[i]);
    const patternAnswers = await this.guarded(
      "ai-pattern",
      () => this.p.pattern.read(patternRead.map((i) => keys[i]!.pattern)),
      () => [],
    );
    patternRead.forEach((i, j) => {
      const a = patternAnswers[j];
      patternLookup[i] = a === undefined ? "miss" : this.isStale(a) ? "stale" : a.decision.confidence < policy.patternMinConfidence ? "policy" : "hit";
      if (patternLookup[i] === "hit") reused[i] = { answer: a!, kind: "pattern" };
    });

    // The record's own analyst label (prototype human_override, trusted feeds only) decides this record and nothing
    // else: never bound to its keys, never stored as an override; agreement is against what the cache had.
    for (let i = 0; i < n; i++) {
      const io = inline[i];
      if (!io || out[i] !== undefined) continue;
      const record: StoredOverride = {
        v: 1,
        alert_id: io.alert_id,
        classification: io.classification,
        severity: null,
        analyst: io.analyst,
        reason: io.reason,
        at: io.at,
        resolved: false,
      };
      const before = reused[i]?.answer.decision.classification ?? null;
      events.analystOverride(before === null ? "unknown" : before === record.classification ? "agree" : "disagree", io.alert_id);
      out[i] = overrideDecision(record, items[i]!.alert, "alert_id");
      served[i] = "override";
    }
    for (let i = 0; i < n; i++) {
      const r = reused[i];
      if (!r || out[i] !== undefined) continue;
      out[i] = this.reuse(r.answer, items[i]!, r.kind);
      served[i] = r.kind;
    }

    // 4. Single-flight, then one inner call for everything still undecided.
    const { decided, claims } = await this.askWithSingleFlight(items, keys, patternAllowed, out, served);

    // 5. Durable writes, batched per namespace, before the pipeline may ack these offsets. The in-flight answers
    // stay visible until then, so alerts arriving meanwhile join them instead of missing the store and asking again.
    try {
      await this.store(items, keys, out as Decision[], served, overrideOf, decided, toBind, seenAt);
    } finally {
      for (const c of claims) if (this.inflight.get(c.key) === c.promise) this.inflight.delete(c.key);
    }

    for (let i = 0; i < n; i++) {
      if (exactLookup[i] !== undefined) events.lookups("ai-exact", served[i] === "exact" ? "hit" : exactLookup[i] === "hit" ? "miss" : exactLookup[i]!);
      if (patternLookup[i] !== undefined)
        events.lookups("ai-pattern", served[i] === "pattern" ? "hit" : patternLookup[i] === "hit" ? "miss" : patternLookup[i]!);
    }
    return out as Decision[];
  }

  /**
   * Alerts whose exact key (or, policy permitting, pattern key) is being asked about already wait for that answer;
   * the rest (leaders) go to the inner classifier in one call. Followers whose leader's answer is unusable
   * (degraded, below the confidence bound) are asked in one more call. Fills `out`; returns who the model decided.
   */
  private async askWithSingleFlight(
    items: readonly EnrichedAlert[],
    keys: readonly CacheKeys[],
    patternAllowed: readonly boolean[],
    out: (Decision | undefined)[],
    served: Served[],
  ): Promise<{ decided: Set<number>; claims: { key: string; promise: Promise<CachedAnswer | null> }[] }> {
    const leaders: number[] = [];
    const mine: { key: string; d: Deferred<CachedAnswer | null>; leader: number; kind: "exact" | "pattern" }[] = [];
    const waits: { i: number; kind: "exact" | "pattern"; answer: Promise<CachedAnswer | null> }[] = [];
    for (let i = 0; i < items.length; i++) {
      if (out[i] !== undefined) continue;
      const k = keys[i]!;
      const byExact = this.inflight.get(k.exact);
      const byPattern = patternAllowed[i] ? this.inflight.get(k.pattern) : undefined;
      if (byExact) waits.push({ i, kind: "exact", answer: byExact });
      else if (byPattern) waits.push({ i, kind: "pattern", answer: byPattern });
      else {
        leaders.push(i);
        const claim = (key: string, kind: "exact" | "pattern") => {
          const d = deferred<CachedAnswer | null>();
          this.inflight.set(key, d.promise);
          mine.push({ key, d, leader: i, kind });
        };
        claim(k.exact, "exact");
        if (this.p.policy.pattern && !this.inflight.has(k.pattern)) claim(k.pattern, "pattern");
      }
    }

    const decided = new Set<number>();
    const leaderRun = (async () => {
      try {
        await this.askLeaders(leaders, items, keys, out, served, decided);
      } finally {
        // Always settle, so followers in other batches never wait forever.
        for (const m of mine) {
          const d = out[m.leader];
          const usable = d !== undefined && (m.kind === "exact" ? this.exactCacheable(d) : this.patternCacheable(d, items[m.leader]!));
          m.d.resolve(usable ? this.answerOf(d, items[m.leader]!) : null);
          // An unusable answer frees the key at once: the next alert with it should be asked.
          if (!usable && this.inflight.get(m.key) === m.d.promise) this.inflight.delete(m.key);
        }
      }
    })();

    const again: number[] = [];
    const [, ...answers] = await Promise.all([leaderRun, ...waits.map((w) => w.answer)]);
    waits.forEach((w, j) => {
      const a = answers[j] ?? null;
      if (a !== null && (w.kind === "exact" || a.decision.confidence >= this.p.policy.patternMinConfidence)) {
        out[w.i] = this.reuse(a, items[w.i]!, w.kind);
        served[w.i] = w.kind;
      } else again.push(w.i);
    });
    // Still through the shared flight: another instance may be asking about the same exact key right now.
    if (again.length > 0) await this.askLeaders(again, items, keys, out, served, decided);
    return { decided, claims: mine.map((m) => ({ key: m.key, promise: m.d.promise })) };
  }

  /**
   * The leaders' model call. With a shared flight (Redis), an exact key another instance is asking about right now
   * is not asked again here: its answer is shared (served as cache:exact).
   */
  private async askLeaders(
    leaders: number[],
    items: readonly EnrichedAlert[],
    keys: readonly CacheKeys[],
    out: (Decision | undefined)[],
    served: Served[],
    decided: Set<number>,
  ): Promise<void> {
    const askHere = async (idx: number[]) => {
      const decisions = await this.ask(idx.map((i) => items[i]!));
      idx.forEach((i, j) => {
        out[i] = decisions[j]!;
        decided.add(i);
      });
    };
    const shared = this.p.sharedFlight;
    if (!shared || leaders.length === 0) return askHere(leaders);
    const byKey = new Map<string, number[]>();
    for (const i of leaders) byKey.set(keys[i]!.exact, [...(byKey.get(keys[i]!.exact) ?? []), i]);
    let answers: Map<string, CachedAnswer>;
    try {
      answers = await shared.doMany(
        [...byKey.keys()],
        async (won) => {
          // One alert per key is asked; its twins in this batch reuse the answer below.
          await askHere(won.map((k) => byKey.get(k)![0]!));
          const m = new Map<string, CachedAnswer>();
          for (const k of won) {
            const i = byKey.get(k)![0]!;
            const d = out[i];
            if (d !== undefined && this.exactCacheable(d)) m.set(k, this.answerOf(d, items[i]!));
          }
          return m;
        },
        {
          lookup: async (ks) => {
            const found = await this.p.exact.read(ks);
            const m = new Map<string, CachedAnswer>();
            ks.forEach((k, j) => {
              const a = found[j];
              if (a !== undefined && !this.isStale(a)) m.set(k, a);
            });
            return m;
          },
        },
      );
    } catch (err) {
      this.log.warn({ err: asTriageError(err, "classify").message }, "shared single-flight failed; asking here");
      answers = new Map();
    }
    const rest: number[] = [];
    for (const [k, idx] of byKey) {
      for (const i of idx) {
        if (decided.has(i)) continue;
        const a = answers.get(k);
        if (a) {
          out[i] = this.reuse(a, items[i]!, "exact");
          served[i] = "exact";
        } else rest.push(i);
      }
    }
    if (rest.length > 0) await askHere(rest);
  }

  /** One inner call; never throws: what it cannot decide gets the rules verdict, flagged degraded (as the pipeline would). */
  private async ask(batch: EnrichedAlert[]): Promise<Decision[]> {
    return classifyOrDegrade(this.inner, batch, this.p.guard);
  }

  private async store(
    items: readonly EnrichedAlert[],
    keys: readonly CacheKeys[],
    decisions: readonly Decision[],
    served: readonly Served[],
    overrideOf: readonly (StoredOverride | undefined)[],
    modelDecided: ReadonlySet<number>,
    toBind: readonly { i: number; record: StoredOverride; previous: Classification | null }[],
    seenAt: string,
  ): Promise<void> {
    const exactWrites = new Map<string, CachedAnswer>();
    const patternWrites = new Map<string, CachedAnswer>();
    for (const i of modelDecided) {
      const d = decisions[i]!;
      if (!this.exactCacheable(d)) continue;
      const answer = this.answerOf(d, items[i]!);
      exactWrites.set(keys[i]!.exact, answer);
      if (this.p.policy.pattern && this.patternCacheable(d, items[i]!)) patternWrites.set(keys[i]!.pattern, answer);
    }
    const tasks: Promise<void>[] = [
      this.guarded(
        "ai-exact",
        () => this.p.exact.write([...exactWrites].map(([key, value]) => ({ key, value }))),
        () => undefined,
      ),
      this.guarded(
        "ai-pattern",
        () => this.p.pattern.write([...patternWrites].map(([key, value]) => ({ key, value }))),
        () => undefined,
      ),
    ];
    const log = this.p.verdictLog;
    if (log) {
      const records = items.map((item, i) => {
        const o = overrideOf[i];
        const value: LoggedVerdict = {
          v: 1,
          alert: item.alert,
          enrichment: item.enrichment,
          decision: decisions[i]!,
          exact: keys[i]!.exact,
          pattern: keys[i]!.pattern,
          seen_at: seenAt,
        };
        if (served[i] === "override" && o) value.override = { classification: o.classification, analyst: o.analyst, reason: o.reason };
        return { key: verdictLogKey(item.alert.alert_id), value };
      });
      tasks.push(
        this.guarded(
          "verdict-log",
          () => log.write(records),
          () => undefined,
        ),
      );
    }
    for (const b of toBind) tasks.push(this.bind(b.record, keys[b.i]!, b.previous));
    await Promise.all(tasks);
  }

  /** An override known by alert id meets its alert: store it under the alert's keys and tell the other instances. */
  private async bind(record: StoredOverride, k: CacheKeys, previous: Classification | null): Promise<void> {
    await this.guarded(
      "overrides",
      async () => {
        const stored = await this.p.overrides.store({ ...record, resolved: true }, { exact: k.exact, pattern: k.pattern });
        if (stored && this.p.publishFeedback) {
          await this.p.publishFeedback([
            {
              kind: "resolved",
              alert_id: record.alert_id,
              classification: record.classification,
              analyst: record.analyst,
              reason: record.reason,
              at: record.at,
              exact: k.exact,
              pattern: k.pattern,
              previous,
              ...(record.severity ? { severity: record.severity } : {}),
            },
          ]);
        }
      },
      () => undefined,
    );
  }

  /** A stored answer for the alert at hand: current names, source marked, guard re-applied. */
  private reuse(answer: CachedAnswer, item: EnrichedAlert, kind: "exact" | "pattern"): Decision {
    const swap = retarget(answer.entities, entitiesOf(item));
    let reasoning = swap(answer.decision.reasoning);
    if (kind === "pattern") {
      const note =
        ` [cache:pattern] Reused from alert ${answer.entities.alert_id.slice(0, 200)}, which had the same risk pattern; figures quoted are ` + `that alert's.`;
      reasoning = `${reasoning.slice(0, 4000 - note.length)}${note}`;
    }
    const d: Decision = {
      ...answer.decision,
      reasoning,
      recommended_actions: answer.decision.recommended_actions.map(swap),
      mitre_techniques: [...answer.decision.mitre_techniques],
      source: kind === "exact" ? "cache:exact" : "cache:pattern",
    };
    // Instruction-like text in the alert at hand (the model never saw it, e.g. in a volatile field): not learnable.
    const injected = findInjection(item.alert, item.enrichment);
    return applyGuard(item, injected === null ? d : { ...d, learnable: false }, this.p.guard, injected);
  }

  private answerOf(d: Decision, item: EnrichedAlert): CachedAnswer {
    return { v: 1, decision: d, entities: entitiesOf(item), stored_at: new Date(this.p.now()).toISOString() };
  }

  /**
   * Only the model's own learnable answers are reused: never a degraded or rules verdict, nor an answer from a
   * request in which an alert looked like instructions (Decision.learnable).
   */
  private exactCacheable(d: Decision): boolean {
    return d.source === "llm" && !d.degraded && d.learnable;
  }

  /** For other alerts too only when the answer cannot have been shaped by instruction-like text in this one. */
  private patternCacheable(d: Decision, item: EnrichedAlert): boolean {
    return this.exactCacheable(d) && findInjection(item.alert, item.enrichment) === null;
  }

  private isStale(a: CachedAnswer): boolean {
    const v = this.p.currentVersion;
    return a.v !== 1 || (v !== null && (a.decision.model !== v.model || a.decision.prompt_version !== v.promptVersion));
  }

  /** Cache trouble never fails a batch: reads count as misses, writes are skipped, with a warning (at most every 10 s). */
  private async guarded<T>(cache: string, fn: () => Promise<T>, fallback: () => T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const now = this.p.now();
      if (now - this.lastWarnAt > 10_000) {
        this.lastWarnAt = now;
        this.log.warn({ cache, err: (err as Error).message }, "verdict cache unavailable; continuing without it");
      }
      return fallback();
    }
  }
}

function indices(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function entitiesOf(item: EnrichedAlert): AnswerEntities {
  const a = item.alert;
  return { alert_id: a.alert_id, source_ip: a.source_ip, destination_ip: a.destination_ip, user: a.user, host: a.host };
}

/** Replace the original alert's names (whole words, any case) by the current alert's, in one pass. */
export function retarget(from: AnswerEntities, to: AnswerEntities): (text: string) => string {
  const pairs = new Map<string, string>();
  for (const k of ["alert_id", "source_ip", "destination_ip", "host", "user"] as const) {
    const f = from[k]?.toLowerCase();
    const t = to[k];
    if (f && t && f.length >= 2 && f !== t.toLowerCase() && !pairs.has(f)) pairs.set(f, t);
  }
  if (pairs.size === 0) return (text) => text;
  const ordered = [...pairs].sort((a, b) => b[0].length - a[0].length);
  return (text) => replaceWholeWords(text, ordered, true);
}
