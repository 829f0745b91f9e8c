import type { RunStats } from "./events.js";

/** End-of-run figures, printed as a table and optionally written as JSON. */
export function runSummary(stats: RunStats, wallSeconds: number): Record<string, unknown> {
  return {
    alerts: stats.received,
    verdicts: stats.verdicts,
    verdicts_by_classification: stats.byClassification,
    verdicts_by_source: stats.bySource,
    degraded: stats.degraded,
    dlq: stats.dlq,
    dlq_by_reason: stats.dlqByReason,
    batches: stats.batches,
    wall_seconds: Number(wallSeconds.toFixed(3)),
    alerts_per_second: wallSeconds > 0 ? Number((stats.received / wallSeconds).toFixed(1)) : null,
  };
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
