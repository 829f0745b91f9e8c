import type { RunStats } from "./events.js";
import type { Metrics } from "./metrics.js";

type Labelled = { value: number; labels: Record<string, string | number>; metricName?: string };

async function values(metric: { get(): unknown }): Promise<Labelled[]> {
  return ((await metric.get()) as { values: Labelled[] }).values;
}

const sumWhere = (vs: Labelled[], pred: (v: Labelled) => boolean = () => true) => vs.filter(pred).reduce((a, v) => a + v.value, 0);
const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/**
 * End-of-run figures the prototype planned but never had: alerts, verdicts by classification and source,
 * DLQ by reason, model calls, alerts per call, tokens and USD, cache hit rate, limiter waits and 429s,
 * wall time, alerts/s. Read from the run's stats and its metrics registry.
 */
export async function runSummary(stats: RunStats, metrics: Metrics, wallSeconds: number): Promise<Record<string, unknown>> {
  const llm = await values(metrics.llmRequests);
  const perRequest = await values(metrics.llmAlertsPerRequest);
  const tokens = await values(metrics.llmTokens);
  const cost = await values(metrics.llmCostUsd);
  const cache = await values(metrics.cacheRequests);
  const waits = await values(metrics.limiterWait);
  const ti = await values(metrics.tiRequests);
  const modelCalls = sumWhere(llm);
  const alertsInCalls = sumWhere(perRequest, (v) => v.metricName?.endsWith("_sum") ?? false);
  const callsObserved = sumWhere(perRequest, (v) => v.metricName?.endsWith("_count") ?? false);
  const byKind: Record<string, number> = {};
  for (const t of tokens) byKind[String(t.labels.kind)] = (byKind[String(t.labels.kind)] ?? 0) + t.value;
  const cacheHits = sumWhere(cache, (v) => v.labels.result === "hit");
  const cacheLookups = sumWhere(cache, (v) => v.labels.result === "hit" || v.labels.result === "miss");
  const tiByProvider: Record<string, number> = {};
  for (const t of ti) tiByProvider[String(t.labels.provider)] = (tiByProvider[String(t.labels.provider)] ?? 0) + t.value;
  return {
    alerts: stats.received,
    verdicts: stats.verdicts,
    verdicts_by_classification: stats.byClassification,
    verdicts_by_source: stats.bySource,
    degraded: stats.degraded,
    dlq: stats.dlq,
    dlq_by_reason: stats.dlqByReason,
    model_calls: modelCalls,
    model_calls_rate_limited_429: sumWhere(llm, (v) => v.labels.outcome === "rate_limited"),
    alerts_per_model_call: callsObserved > 0 ? round(alertsInCalls / callsObserved, 2) : null,
    tokens: byKind,
    cost_usd: round(sumWhere(cost), 6),
    cache_hit_rate: cacheLookups > 0 ? round(cacheHits / cacheLookups) : null,
    ti_requests: tiByProvider,
    limiter_waits: waitCount(waits),
    limiter_wait_seconds: round(sumWhere(waits, (v) => v.metricName?.endsWith("_sum") ?? false)),
    ...(await tierFigures(metrics, llm, cost)),
    wall_seconds: round(wallSeconds),
    alerts_per_second: wallSeconds > 0 ? round(stats.received / wallSeconds, 1) : null,
  };
}

/** With MODEL_TIERS: alerts decided, requests, USD per tier and escalations by reason (absent with one tier). */
async function tierFigures(metrics: Metrics, llm: Labelled[], cost: Labelled[]): Promise<Record<string, Record<string, number>>> {
  const decided = await values(metrics.tierDecisions);
  if (decided.length === 0) return {};
  const byTier = (vs: Labelled[], digits?: number) => {
    const out: Record<string, number> = {};
    for (const v of vs) if (v.labels.tier !== undefined) out[String(v.labels.tier)] = (out[String(v.labels.tier)] ?? 0) + v.value;
    return digits === undefined ? out : Object.fromEntries(Object.entries(out).map(([k, n]) => [k, round(n, digits)]));
  };
  const escalations: Record<string, number> = {};
  for (const v of await values(metrics.tierEscalations)) escalations[String(v.labels.reason)] = v.value;
  // Every model tier that decided alerts is listed, at 0 when it cost nothing (a local model).
  const tiers = Object.keys(byTier(decided)).filter((t) => t !== "none");
  const withZeros = (m: Record<string, number>) => ({ ...Object.fromEntries(tiers.map((t) => [t, 0])), ...m });
  return { tier_alerts: byTier(decided), tier_model_calls: withZeros(byTier(llm)), tier_cost_usd: withZeros(byTier(cost, 6)), tier_escalations: escalations };
}

/** Requests that waited at all for a limiter (observations above the lowest bucket). */
function waitCount(waits: Labelled[]): number {
  const counts = waits.filter((v) => v.metricName?.endsWith("_count"));
  const fastest = waits.filter((v) => v.metricName?.endsWith("_bucket") && Number(v.labels.le) === 0.005);
  return Math.max(0, sumWhere(counts) - sumWhere(fastest));
}

/** Human-readable table of a summary (nested objects flattened as key.sub). */
export function formatSummary(summary: Record<string, unknown>): string {
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(summary)) {
    if (v !== null && typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) rows.push([k, "0"]);
      for (const [sub, n] of entries) rows.push([`${k}.${sub}`, String(n)]);
    } else rows.push([k, String(v)]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  return ["── triage summary ──", ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`)].join("\n");
}
