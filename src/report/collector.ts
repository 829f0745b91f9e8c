/**
 * Accumulates what the replay report needs, one observed record at a time, in bounded memory: counts per
 * truth × classification, per verdict source, per rule (bounded number of rules), per 1,000-alert window,
 * a latency sample (exact up to its capacity, a uniform reservoir beyond), and the highest-confidence
 * disagreements (a fixed number).
 */
import type { Verdict, Classification } from "../core/verdict.js";
import { CLASSIFICATIONS } from "../core/verdict.js";
import type { ObservedRecord } from "../sources/labelled.js";
import { agrees, readLabel, TRUTHS, type LabelMeaning, type Truth } from "./labels.js";

export interface CollectorOptions {
  /** Labels are read only when a label field was given. */
  labelled: boolean;
  labelsMap?: ReadonlyMap<string, LabelMeaning>;
  /** Alerts per stream window. Default 1000. */
  windowAlerts?: number;
  /** Disagreements kept. Default 20. */
  maxDisagreements?: number;
  /** Distinct rules counted one by one; the rest are counted together as "(other rules)". Default 5000. */
  maxRules?: number;
  /** Latency samples kept. Default 200,000. */
  maxLatencySamples?: number;
  /** Distinct unmapped label values listed. Default 50. */
  maxUnmappedValues?: number;
}

/** Agreement counts of one group (a source, a rule, a window). */
export interface Tally {
  verdicts: number;
  scored: number;
  agreed: number;
}

export interface StreamWindow {
  /** Position of the window's first record. */
  start: number;
  records: number;
  deadLetters: number;
  bySource: Record<string, number>;
  scored: number;
  agreed: number;
  memoryScored: number;
  memoryAgreed: number;
}

/** One disagreement worth reading: the alert (excerpt), what the analyst said and what the verdict said. */
export interface Disagreement {
  position: number;
  alert_id: string;
  rule: string;
  severity: string;
  analyst_label: string;
  truth: Truth;
  classification: Classification;
  confidence: number;
  source: string;
  excerpt: string;
  reasoning: string;
}

export const OTHER_RULES = "(other rules)";
const OTHER_VALUES = "(other values)";
const RULE_CHARS = 120;
const EXCERPT_CHARS = 400;
const REASONING_CHARS = 600;

const emptyTally = (): Tally => ({ verdicts: 0, scored: 0, agreed: 0 });

/** Control and bidirectional characters out, URLs defanged ("hxxps[:]//"), bounded: an excerpt nobody can click. */
export function linkFree(text: string, max: number): string {
  // Bidirectional controls (U+061C, U+200E/F, U+202A–E, U+2066–9) too: they reorder what the analyst reads.
  const clean = text
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point (they are stripped).
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ")
    .replace(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, " ")
    .replace(/\b([a-z][a-z0-9+.-]{1,15}):\/\//gi, (_, scheme: string) => `${scheme.replace(/t/g, "x").replace(/T/g, "X")}[:]//`);
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A short, link-free excerpt of the alert the verdict is about. */
export function alertExcerpt(v: Verdict): string {
  const a = v.alert;
  const parts = [a.alert_name, `severity ${a.severity}`];
  if (a.source_ip || a.destination_ip) parts.push(`${a.source_ip ?? "?"} → ${a.destination_ip ?? "?"}`);
  if (a.user) parts.push(`user ${a.user}`);
  if (a.host) parts.push(`host ${a.host}`);
  if (a.description) parts.push(a.description);
  return linkFree(parts.join(" | "), EXCERPT_CHARS);
}

export class ReplayCollector {
  records = 0;
  verdicts = 0;
  deadLetters = 0;
  readonly dlqByReason: Record<string, number> = {};
  readonly byClassification: Record<string, number> = {};
  /** Label bookkeeping. */
  readonly labels = { scored: 0, missing: 0, ignored: 0, unmapped: 0, unmappedValues: Object.create(null) as Record<string, number> };
  /** truth → classification → count. */
  readonly confusion: Record<Truth, Record<Classification, number>>;
  readonly bySource = new Map<string, Tally>();
  readonly byRule = new Map<string, Tally>();
  readonly windows: StreamWindow[] = [];
  readonly disagreements: Disagreement[] = [];
  /** Receipt → acknowledgement, seconds (a uniform sample once there are more than maxLatencySamples). */
  readonly latencies: number[] = [];
  latencyCount = 0;
  readonly windowAlerts: number;
  private readonly opts: Required<Omit<CollectorOptions, "labelsMap">> & { labelsMap: ReadonlyMap<string, LabelMeaning> };
  private rng = 0x9e3779b9;

  constructor(opts: CollectorOptions) {
    this.opts = { windowAlerts: 1000, maxDisagreements: 20, maxRules: 5000, maxLatencySamples: 200_000, maxUnmappedValues: 50, labelsMap: new Map(), ...opts };
    this.windowAlerts = this.opts.windowAlerts;
    this.confusion = Object.fromEntries(TRUTHS.map((t) => [t, Object.fromEntries(CLASSIFICATIONS.map((c) => [c, 0]))])) as Record<
      Truth,
      Record<Classification, number>
    >;
  }

  get labelled(): boolean {
    return this.opts.labelled;
  }

  observe(o: ObservedRecord): void {
    this.records++;
    const w = this.window(o.position);
    w.records++;
    this.sampleLatency((o.ackedAtMs - o.receivedAtMs) / 1000);
    if ("deadLetter" in o.outcome) {
      this.deadLetters++;
      w.deadLetters++;
      const code = o.outcome.deadLetter.code;
      this.dlqByReason[code] = (this.dlqByReason[code] ?? 0) + 1;
      return;
    }
    const v = o.outcome.verdict;
    this.verdicts++;
    this.byClassification[v.classification] = (this.byClassification[v.classification] ?? 0) + 1;
    w.bySource[v.source] = (w.bySource[v.source] ?? 0) + 1;
    const source = this.tally(this.bySource, v.source);
    const rule = this.tally(this.byRule, this.ruleKey(v.alert.alert_name));
    source.verdicts++;
    rule.verdicts++;
    if (!this.opts.labelled) return;
    const reading = readLabel(o.label, this.opts.labelsMap);
    if (reading.kind === "missing") return void this.labels.missing++;
    if (reading.kind === "ignored") return void this.labels.ignored++;
    if (reading.kind === "unmapped") {
      this.labels.unmapped++;
      const values = this.labels.unmappedValues;
      const value = linkFree(reading.value, 80);
      const key = Object.hasOwn(values, value) || Object.keys(values).length < this.opts.maxUnmappedValues ? value : OTHER_VALUES;
      values[key] = (values[key] ?? 0) + 1;
      return;
    }
    const truth = reading.truth;
    const agreed = agrees(truth, v.classification);
    this.labels.scored++;
    this.confusion[truth][v.classification]++;
    for (const t of [source, rule]) {
      t.scored++;
      if (agreed) t.agreed++;
    }
    w.scored++;
    if (agreed) w.agreed++;
    if ((v.source as string) === "memory") {
      w.memoryScored++;
      if (agreed) w.memoryAgreed++;
    }
    if (!agreed) this.keepDisagreement(o, v, truth);
  }

  private window(position: number): StreamWindow {
    const i = Math.floor(position / this.windowAlerts);
    while (this.windows.length <= i) {
      this.windows.push({
        start: this.windows.length * this.windowAlerts,
        records: 0,
        deadLetters: 0,
        bySource: {},
        scored: 0,
        agreed: 0,
        memoryScored: 0,
        memoryAgreed: 0,
      });
    }
    return this.windows[i]!;
  }

  private tally(map: Map<string, Tally>, key: string): Tally {
    let t = map.get(key);
    if (!t) {
      t = emptyTally();
      map.set(key, t);
    }
    return t;
  }

  /** Rule names are alert content: bounded in length and in number. */
  private ruleKey(name: string): string {
    const key = linkFree(name, RULE_CHARS);
    return this.byRule.has(key) || this.byRule.size < this.opts.maxRules ? key : OTHER_RULES;
  }

  private sampleLatency(seconds: number): void {
    this.latencyCount++;
    if (this.latencies.length < this.opts.maxLatencySamples) return void this.latencies.push(seconds);
    // Reservoir sampling (Algorithm R) with a fixed-seed xorshift: the same run gives the same report.
    this.rng ^= this.rng << 13;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5;
    const j = (this.rng >>> 0) % this.latencyCount;
    if (j < this.latencies.length) this.latencies[j] = seconds;
  }

  /** Highest confidence first; at equal confidence a dismissed attack first, then stream order. */
  private keepDisagreement(o: ObservedRecord, v: Verdict, truth: Truth): void {
    const d: Disagreement = {
      position: o.position,
      alert_id: linkFree(v.alert_id, 200),
      rule: linkFree(v.alert.alert_name, RULE_CHARS),
      severity: v.alert.severity,
      analyst_label: linkFree(String(o.label), 80),
      truth,
      classification: v.classification,
      confidence: v.confidence,
      source: v.source,
      excerpt: alertExcerpt(v),
      reasoning: linkFree(v.reasoning, REASONING_CHARS),
    };
    const list = this.disagreements;
    const before = (a: Disagreement, b: Disagreement) =>
      a.confidence !== b.confidence ? a.confidence > b.confidence : dismissed(a) !== dismissed(b) ? dismissed(a) : a.position < b.position;
    if (list.length >= this.opts.maxDisagreements && !before(d, list[list.length - 1]!)) return;
    let i = list.length;
    while (i > 0 && before(d, list[i - 1]!)) i--;
    list.splice(i, 0, d);
    if (list.length > this.opts.maxDisagreements) list.pop();
  }
}

const dismissed = (d: Disagreement) => d.truth === "true_positive" && d.classification === "false_positive";
