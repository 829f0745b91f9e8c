/**
 * The replay report as data (what `--report` writes and the HTML shows). Every figure is computed here once;
 * the HTML only formats these numbers. Without labels the agreement parts are left out.
 */
import { CLASSIFICATIONS, type Classification } from "../core/verdict.js";
import { OTHER_RULES, type Disagreement, type ReplayCollector, type Tally } from "./collector.js";
import { TRUTHS, type Truth } from "./labels.js";
import type { MemoryFigures } from "./memory-metrics.js";

export const REPORT_VERSION = "1";

/** Sources in the order the report lists them; others (future sources) follow by name. */
export const SOURCE_ORDER = ["llm", "memory", "cache:exact", "cache:pattern", "rules", "override"];
/** Sources that answer without asking the model. */
const WITHOUT_MODEL = new Set(["memory", "cache:exact", "cache:pattern", "override"]);

export interface ClassFigures {
  class: Classification | "benign_positive";
  /** Alerts the analysts gave this class. */
  support: number;
  /** Verdicts of this class among scored alerts. */
  predicted: number;
  /** Share of `predicted` that agreed with the analyst (null when nothing was predicted). */
  precision: number | null;
  /** Share of `support` the verdict got right (for benign_positive: not raised as true_positive). */
  recall: number | null;
}

export interface GroupAgreement {
  verdicts: number;
  scored: number;
  agreed: number;
  agreement: number | null;
}

export interface WindowFigures {
  start: number;
  records: number;
  dead_letters: number;
  by_source: Record<string, number>;
  /** Alerts sent to the model. */
  asked: number;
  /** Alerts answered by the memory, a cache or an override. */
  answered_without_model: number;
  agreement?: number | null;
  memory_agreement?: number | null;
}

/** A sample of the memory's spot-check estimate, taken after this many acknowledged records. */
export interface MemorySample {
  after_records: number;
  spot_checks: number;
  agreement_estimate: number | null;
}

export interface ReplayReport {
  report_version: string;
  generated_at: string;
  input: string;
  records: { total: number; verdicts: number; dead_letters: number; dead_letters_by_reason: Record<string, number>; by_classification: Record<string, number> };
  labels?: {
    field: string;
    scored: number;
    missing: number;
    ignored: number;
    unmapped: number;
    unmapped_values: Record<string, number>;
    by_truth: Record<Truth, number>;
    benign_positive_scoring: string;
  };
  confusion_matrix?: { rows: Truth[]; columns: Classification[]; counts: number[][] };
  classes?: ClassFigures[];
  agreement?: {
    overall: number | null;
    missed_attacks: number;
    by_source: (GroupAgreement & { source: string })[];
    by_rule_worst: (GroupAgreement & { rule: string })[];
  };
  disagreements?: Disagreement[];
  model: { calls: number; calls_per_1000_alerts: number | null; cost_usd: number; cost_usd_per_1000_alerts: number | null; tokens: Record<string, number> };
  latency_seconds: { samples: number; observed: number; p50: number | null; p90: number | null; p95: number | null; p99: number | null; max: number | null };
  memory: MemoryFigures;
  stream: { window_records: number; windows: WindowFigures[]; memory_estimate: MemorySample[] };
  verdict_sources: Record<string, number>;
}

/** The report as written: the run summary's fields (runSummary, unchanged, at the top level) plus the report's. */
export type ReplayReportFile = ReplayReport & Record<string, unknown>;

export const BENIGN_POSITIVE_SCORING =
  "A benign positive (real but expected activity) is neither a false positive nor an attack to act on: a false_positive or needs_review verdict agrees " +
  "with it, a true_positive verdict does not.";

const ratio = (n: number, d: number): number | null => (d > 0 ? round(n / d) : null);
const round = (x: number, digits = 4): number => Number(x.toFixed(digits));
const per1000 = (n: number, alerts: number): number | null => (alerts > 0 ? round((n / alerts) * 1000, 4) : null);
const group = (t: Tally): GroupAgreement => ({ verdicts: t.verdicts, scored: t.scored, agreed: t.agreed, agreement: ratio(t.agreed, t.scored) });

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!, 4);
}

export function sourceRank(source: string): number {
  const i = SOURCE_ORDER.indexOf(source);
  return i === -1 ? SOURCE_ORDER.length : i;
}

export interface ReportInputs {
  collector: ReplayCollector;
  summary: Record<string, unknown>;
  memory: MemoryFigures;
  memorySamples: MemorySample[];
  labelField: string | null;
  input: string;
  generatedAt: Date;
}

/** Build the report from what the run collected. */
export function buildReport(r: ReportInputs): ReplayReportFile {
  const c = r.collector;
  const labelled = r.labelField !== null && c.labelled;
  const num = (k: string): number => (typeof r.summary[k] === "number" ? (r.summary[k] as number) : 0);
  const sorted = [...c.latencies].sort((a, b) => a - b);
  const sources = [...c.bySource.keys()].sort((a, b) => sourceRank(a) - sourceRank(b) || a.localeCompare(b));
  const report: ReplayReport = {
    report_version: REPORT_VERSION,
    generated_at: r.generatedAt.toISOString(),
    input: r.input,
    records: {
      total: c.records,
      verdicts: c.verdicts,
      dead_letters: c.deadLetters,
      dead_letters_by_reason: { ...c.dlqByReason },
      by_classification: { ...c.byClassification },
    },
    model: {
      calls: num("model_calls"),
      calls_per_1000_alerts: per1000(num("model_calls"), c.records),
      cost_usd: num("cost_usd"),
      cost_usd_per_1000_alerts: per1000(num("cost_usd"), c.records),
      tokens: (r.summary.tokens as Record<string, number> | undefined) ?? {},
    },
    latency_seconds: {
      samples: sorted.length,
      observed: c.latencyCount,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      max: sorted.length ? round(sorted[sorted.length - 1]!) : null,
    },
    memory: r.memory,
    stream: {
      window_records: c.windowAlerts,
      windows: c.windows.map((w) => {
        const asked = w.bySource.llm ?? 0;
        const without = Object.entries(w.bySource)
          .filter(([s]) => WITHOUT_MODEL.has(s))
          .reduce((n, [, k]) => n + k, 0);
        const fig: WindowFigures = {
          start: w.start,
          records: w.records,
          dead_letters: w.deadLetters,
          by_source: { ...w.bySource },
          asked,
          answered_without_model: without,
        };
        if (labelled) {
          fig.agreement = ratio(w.agreed, w.scored);
          fig.memory_agreement = ratio(w.memoryAgreed, w.memoryScored);
        }
        return fig;
      }),
      memory_estimate: r.memorySamples,
    },
    verdict_sources: Object.fromEntries(sources.map((s) => [s, c.bySource.get(s)!.verdicts])),
  };
  if (labelled) addAgreement(report, r);
  return { ...r.summary, ...report };
}

/** The parts that need labels: confusion matrix, per-class figures, agreement, disagreements. */
function addAgreement(report: ReplayReport, r: ReportInputs): void {
  const c = r.collector;
  const sources = Object.keys(report.verdict_sources);

  const m = c.confusion;
  const byTruth = Object.fromEntries(TRUTHS.map((t) => [t, CLASSIFICATIONS.reduce((n, k) => n + m[t][k], 0)])) as Record<Truth, number>;
  report.labels = {
    field: r.labelField!,
    scored: c.labels.scored,
    missing: c.labels.missing,
    ignored: c.labels.ignored,
    unmapped: c.labels.unmapped,
    unmapped_values: { ...c.labels.unmappedValues },
    by_truth: byTruth,
    benign_positive_scoring: BENIGN_POSITIVE_SCORING,
  };
  report.confusion_matrix = { rows: [...TRUTHS], columns: [...CLASSIFICATIONS], counts: TRUTHS.map((t) => CLASSIFICATIONS.map((k) => m[t][k])) };
  const classFigures = (k: Classification): ClassFigures => {
    const predicted = TRUTHS.reduce((n, t) => n + m[t][k], 0);
    // A benign positive agrees with false_positive and needs_review verdicts (labels.ts, agrees()).
    const agreedPredicted = m[k as Truth][k] + (k === "true_positive" ? 0 : m.benign_positive[k]);
    return {
      class: k,
      support: byTruth[k as Truth],
      predicted,
      precision: ratio(agreedPredicted, predicted),
      recall: ratio(m[k as Truth][k], byTruth[k as Truth]),
    };
  };
  report.classes = [
    classFigures("true_positive"), // first: a missed attack is the costly error
    classFigures("false_positive"),
    classFigures("needs_review"),
    {
      class: "benign_positive",
      support: byTruth.benign_positive,
      predicted: 0,
      precision: null,
      recall: ratio(byTruth.benign_positive - m.benign_positive.true_positive, byTruth.benign_positive),
    },
  ];
  const agreed = [...c.bySource.values()].reduce((n, t) => n + t.agreed, 0);
  const rules = [...c.byRule.entries()].filter(([rule, t]) => t.scored > 0 && rule !== OTHER_RULES);
  rules.sort(([a, x], [b, y]) => x.agreed / x.scored - y.agreed / y.scored || y.scored - x.scored || a.localeCompare(b));
  report.agreement = {
    overall: ratio(agreed, c.labels.scored),
    missed_attacks: m.true_positive.false_positive,
    by_source: sources.map((s) => ({ source: s, ...group(c.bySource.get(s)!) })),
    by_rule_worst: rules.slice(0, 10).map(([rule, t]) => ({ rule, ...group(t) })),
  };
  report.disagreements = c.disagreements.map((d) => ({ ...d }));
}
