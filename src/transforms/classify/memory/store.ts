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
import { sha256Hex } from "../../../core/canonical.js";
import type { Decision } from "../../../core/verdict.js";
import type { Cache } from "../../../resources/cache.js";
import { readMany, writeMany } from "../cache/tier.js";
import { RuleTree, type Example, type TreePolicy } from "./tree.js";

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

export interface RuleState {
  record: RuleRecord;
  tree: RuleTree;
  syncedAt: number;
}

export interface MemoryStoreOptions {
  cache: Cache;
  /** AI_CACHE_KEY_PREFIX + memory version (model, prompt, features, options). */
  keyPrefix: string;
  ttlMs: number;
  maxExamplesPerRule: number;
  maxRules: number;
  policy: TreePolicy;
  now: () => number;
}

export class MemoryStore {
  /** Map order is recency order (first = least recently used). */
  private readonly rules = new Map<string, RuleState>();

  constructor(private readonly o: MemoryStoreOptions) {}

  /** Make sure these rules are here and synced within maxAgeMs (one batched read for the rest). */
  async sync(rules: readonly string[], maxAgeMs: number): Promise<void> {
    const now = this.o.now();
    const stale = [...new Set(rules)].filter((r) => {
      const s = this.rules.get(r);
      return !s || now - s.syncedAt >= maxAgeMs;
    });
    if (stale.length === 0) return;
    const stored = await readMany<RuleRecord>(this.o.cache, stale.map((r) => this.keyOf(r)));
    stale.forEach((rule, i) => {
      const local = this.rules.get(rule)?.record ?? empty(rule);
      const remote = stored[i];
      this.put(rule, remote?.v === 1 && remote.rule === rule ? this.merge(local, remote) : this.merge(local, empty(rule)), now);
    });
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
    const stored = await readMany<RuleRecord>(this.o.cache, rules.map((r) => this.keyOf(r)));
    const writes = rules.map((rule, i) => {
      const remote = stored[i];
      const merged = remote?.v === 1 && remote.rule === rule ? this.merge(this.rules.get(rule)!.record, remote) : this.rules.get(rule)!.record;
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

  /** Serialized size of the records held here (bytes of JSON; benchmarks and tools, not the hot path). */
  approxBytes(): number {
    let n = 0;
    for (const s of this.rules.values()) n += JSON.stringify(s.record).length;
    return n;
  }

  private put(rule: string, record: RuleRecord, syncedAt: number): void {
    const old = this.rules.get(rule);
    const tree = old && old.record === record ? old.tree : new RuleTree(record.examples, this.o.policy);
    this.rules.delete(rule);
    this.rules.set(rule, { record, tree, syncedAt });
    while (this.rules.size > this.o.maxRules) this.rules.delete(this.rules.keys().next().value as string);
  }

  /** Union of two records' examples (dedup by id, fresh only, bounded) and their newest answer per label. */
  private merge(a: RuleRecord, b: RuleRecord): RuleRecord {
    const oldest = this.o.now() - this.o.ttlMs;
    const byId = new Map<string, Example>();
    for (const e of [...a.examples, ...b.examples]) if (e.at > oldest && !byId.has(e.id)) byId.set(e.id, e);
    const all = [...byId.values()];
    const max = this.o.maxExamplesPerRule;
    const overrides = all.filter((e) => e.by === "override").sort((x, y) => y.at - x.at).slice(0, Math.ceil(max / 4));
    const models = all.filter((e) => e.by === "model").sort((x, y) => y.at - x.at).slice(0, max - overrides.length);
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
