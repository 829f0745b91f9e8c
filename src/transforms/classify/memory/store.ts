/**
 * Where the memory lives: one record per rule (its labelled examples and the latest model answer per label) in a
 * Keyv namespace — SQLite by default, Redis when CACHE_URL=redis:// so instances learn together — with a bounded
 * per-process copy of recently used rules and their trees. Records are merged, never overwritten: a write reads
 * the stored record and writes the union of examples (dedup by id), so two instances learning the same rule at
 * once keep both sets unless their read-merge-write cycles interleave exactly (then the later one's examples win
 * and the other's are learnt again from later answers). Examples expire after the TTL; each rule keeps at most
 * maxExamples (analyst overrides first, then the newest model answers). Another model, prompt or feature version
 * is another key space: a fresh memory.
 */
import { z } from "zod";
import { sha256Hex } from "../../../core/canonical.js";
import { decisionSchema, type Decision } from "../../../core/verdict.js";
import type { Cache } from "../../../core/ports/index.js";
import { readMany, writeMany } from "../cache/tier.js";
import { RuleTree, type Example, type Family, type TreePolicy } from "./tree.js";

/** The names a stored answer mentions (swapped for the current alert's on reuse). */
export interface AnswerNames {
  alert_id: string;
  source_ip: string | null;
  destination_ip: string | null;
  user: string | null;
  host: string | null;
}

/** The latest model answer for one label of a rule: what a leaf with that label answers. */
export interface StoredAnswer {
  decision: Decision;
  names: AnswerNames;
  stored_at: number;
}

/** One rule's memory as stored. */
export interface RuleRecord {
  v: 1;
  rule: string;
  examples: Example[];
  answers: Record<string, StoredAnswer>;
}

/** A stored record is input from a shared store (another instance, another version, or tampering): parsed per part. */
const exampleSchema = z.object({
  id: z.string().max(200),
  label: z.string().max(200),
  values: z.record(z.string(), z.union([z.number(), z.string()])),
  source: z.string().max(200).nullable(),
  at: z.number(),
  by: z.enum(["model", "override"]),
});
const nullableText = z.string().nullable();
const answerSchema = z.object({
  decision: decisionSchema,
  names: z.object({ alert_id: z.string(), source_ip: nullableText, destination_ip: nullableText, user: nullableText, host: nullableText }),
  stored_at: z.number(),
});

/**
 * The usable part of a stored record for `rule`, or an empty record: invalid examples and answers are dropped one
 * by one, a record that is not one (wrong version or rule, not an object) is empty — one malformed record never
 * blocks learning, for its rule or for the others read with it.
 */
export function parseRecord(rule: string, raw: unknown): { record: RuleRecord; dropped: number } {
  const r = z
    .object({ v: z.literal(1), rule: z.literal(rule) })
    .loose()
    .safeParse(raw);
  if (!r.success) return { record: empty(rule), dropped: raw === undefined || raw === null ? 0 : 1 };
  const data = r.data as Record<string, unknown>;
  let dropped = 0;
  const examples: Example[] = [];
  for (const e of Array.isArray(data.examples) ? data.examples : []) {
    const p = exampleSchema.safeParse(e);
    if (p.success) examples.push(p.data);
    else dropped++;
  }
  if (!Array.isArray(data.examples)) dropped++;
  const answers: Record<string, StoredAnswer> = {};
  const rawAnswers = data.answers !== null && typeof data.answers === "object" && !Array.isArray(data.answers) ? (data.answers as Record<string, unknown>) : {};
  if (rawAnswers !== data.answers) dropped++;
  for (const [label, a] of Object.entries(rawAnswers)) {
    const p = answerSchema.safeParse(a);
    if (p.success) answers[label] = p.data as StoredAnswer;
    else dropped++;
  }
  return { record: { v: 1, rule, examples, answers }, dropped };
}

export interface RuleState {
  record: RuleRecord;
  tree: RuleTree;
  syncedAt: number;
  /** JSON size of the record (what MEMORY_MAX_BYTES bounds). */
  bytes: number;
}

export interface MemoryStoreOptions {
  cache: Cache;
  /** AI_CACHE_KEY_PREFIX + memory version (model, prompt, features, options). */
  keyPrefix: string;
  ttlMs: number;
  maxExamplesPerRule: number;
  maxRules: number;
  /** MEMORY_MAX_BYTES (default unbounded): JSON bytes of the records held here; LRU rules are evicted past it (counts alone do not bound bytes). */
  maxBytes?: number;
  policy: TreePolicy;
  now: () => number;
}

export class MemoryStore {
  /** Map order is recency order (first = least recently used). */
  private readonly rules = new Map<string, RuleState>();
  private bytes = 0;

  constructor(private readonly o: MemoryStoreOptions) {}

  /** Make sure these rules are here and synced within maxAgeMs (one batched read for the rest). */
  async sync(rules: readonly string[], maxAgeMs: number): Promise<void> {
    const now = this.o.now();
    const stale = [...new Set(rules)].filter((r) => {
      const s = this.rules.get(r);
      return !s || now - s.syncedAt >= maxAgeMs;
    });
    if (stale.length === 0) return;
    const stored = await readMany<unknown>(
      this.o.cache,
      stale.map((r) => this.keyOf(r)),
    );
    stale.forEach((rule, i) => {
      const local = this.rules.get(rule)?.record ?? empty(rule);
      this.put(rule, this.merge(local, parseRecord(rule, stored[i]).record), now);
    });
  }

  /** The rules held in this process and their trees (diagnostics). */
  *trees(): Iterable<[string, RuleTree]> {
    for (const [rule, s] of this.rules) yield [rule, s.tree];
  }

  /** The rule's state (tree), or undefined when not loaded; marks it recently used. */
  get(rule: string): RuleState | undefined {
    const s = this.rules.get(rule);
    if (s) {
      this.rules.delete(rule);
      this.rules.set(rule, s);
    }
    return s;
  }

  /** Add examples and answers, rebuild the touched trees, and write the merged records; resolves once stored. */
  async learn(updates: ReadonlyMap<string, { examples: Example[]; answers: Record<string, StoredAnswer> }>): Promise<void> {
    if (updates.size === 0) return;
    const rules = [...updates.keys()];
    const now = this.o.now();
    for (const [rule, u] of updates) {
      const local = this.rules.get(rule)?.record ?? empty(rule);
      this.put(rule, this.merge(local, { v: 1, rule, examples: u.examples, answers: u.answers }), this.rules.get(rule)?.syncedAt ?? 0);
    }
    const stored = await readMany<unknown>(
      this.o.cache,
      rules.map((r) => this.keyOf(r)),
    );
    const writes = rules.map((rule, i) => {
      const merged = this.merge(this.rules.get(rule)!.record, parseRecord(rule, stored[i]).record);
      this.put(rule, merged, now);
      return { key: this.keyOf(rule), value: merged, ttlMs: this.o.ttlMs };
    });
    await writeMany(this.o.cache, writes);
  }

  /** Rules, examples and leaves held by this process (the memory-size gauges). */
  size(): { rules: number; examples: number; leaves: number } {
    let examples = 0;
    let leaves = 0;
    for (const s of this.rules.values()) {
      examples += s.record.examples.length;
      leaves += s.tree.leaves;
    }
    return { rules: this.rules.size, examples, leaves };
  }

  /**
   * What the other rules of the rule's format held here have learnt: in how many of them each feature decides with
   * a split that paid for itself. The prior of a new tree's feature choice (RuleTree): what decides elsewhere in a
   * stream is what most likely decides here, a noise field that decides nowhere must pay more to be split on.
   */
  private family(rule: string): Family {
    const format = rule.slice(0, rule.indexOf(":") + 1);
    const proven = new Map<string, number>();
    let rules = 0;
    for (const [r, st] of this.rules) {
      if (r === rule || !r.startsWith(format)) continue;
      // A sibling that learnt nothing yet (an empty record, one example, a flood of invented names) says nothing.
      const fs = [...st.tree.provenFeatures()];
      if (fs.length === 0) continue;
      rules++;
      for (const f of fs) proven.set(f, (proven.get(f) ?? 0) + 1);
    }
    return { rules, proven };
  }

  /** Serialized size of the records held here (bytes of JSON; benchmarks and tools, not the hot path). */
  approxBytes(): number {
    return this.bytes;
  }

  private put(rule: string, record: RuleRecord, syncedAt: number): void {
    const old = this.rules.get(rule);
    const same = old !== undefined && old.record === record;
    const tree = same ? old.tree : new RuleTree(record.examples, this.o.policy, this.family(rule));
    const bytes = same ? old.bytes : JSON.stringify(record).length;
    if (old) this.bytes -= old.bytes;
    this.rules.delete(rule);
    this.rules.set(rule, { record, tree, syncedAt, bytes });
    this.bytes += bytes;
    // LRU by count and by size; the rule just put stays (one rule is bounded by maxExamplesPerRule).
    while (this.rules.size > 1 && (this.rules.size > this.o.maxRules || this.bytes > (this.o.maxBytes ?? Number.POSITIVE_INFINITY))) {
      const lru = this.rules.keys().next().value as string;
      this.bytes -= this.rules.get(lru)!.bytes;
      this.rules.delete(lru);
    }
  }

  /** Union of two records' examples (dedup by id, fresh only, bounded) and their newest answer per label. */
  private merge(a: RuleRecord, b: RuleRecord): RuleRecord {
    const oldest = this.o.now() - this.o.ttlMs;
    const byId = new Map<string, Example>();
    for (const e of [...a.examples, ...b.examples]) if (e.at > oldest && !byId.has(e.id)) byId.set(e.id, e);
    const all = [...byId.values()];
    const max = this.o.maxExamplesPerRule;
    const overrides = all
      .filter((e) => e.by === "override")
      .sort((x, y) => y.at - x.at)
      .slice(0, Math.ceil(max / 4));
    const models = all
      .filter((e) => e.by === "model")
      .sort((x, y) => y.at - x.at)
      .slice(0, max - overrides.length);
    // Stable order (by time, then id) so every instance builds the same tree from the same examples.
    const examples = [...overrides, ...models].sort((x, y) => x.at - y.at || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    const answers: Record<string, StoredAnswer> = {};
    for (const src of [a.answers, b.answers]) {
      for (const [label, ans] of Object.entries(src)) {
        if (ans.stored_at > oldest && (!answers[label] || answers[label]!.stored_at < ans.stored_at)) answers[label] = ans;
      }
    }
    if (sameRecord(a, examples, answers)) return a;
    return { v: 1, rule: a.rule, examples, answers };
  }

  private keyOf(rule: string): string {
    return `${this.o.keyPrefix}${sha256Hex(rule).slice(0, 32)}`;
  }
}

function empty(rule: string): RuleRecord {
  return { v: 1, rule, examples: [], answers: {} };
}

function sameRecord(a: RuleRecord, examples: readonly Example[], answers: Record<string, StoredAnswer>): boolean {
  if (a.examples.length !== examples.length || a.examples.some((e, i) => e.id !== examples[i]!.id)) return false;
  const labels = Object.keys(answers);
  return labels.length === Object.keys(a.answers).length && labels.every((l) => a.answers[l]?.stored_at === answers[l]!.stored_at);
}
