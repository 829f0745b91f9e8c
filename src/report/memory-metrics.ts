/**
 * The verdict memory's own figures, read by metric name from the run's registry so the report works whether or
 * not the memory is part of the build: `triage_memory_answered_total`, `triage_memory_spot_checks_total{outcome}`
 * and `triage_memory_agreement_ratio`.
 */
import type { Registry } from "prom-client";

export interface MemoryFigures {
  /** Alerts the memory answered (from its counter, else counted from verdict sources). */
  answered: number;
  /** Memory answers also asked of the model. */
  spot_checks: number;
  spot_check_disagreements: number;
  /** Share of spot checks in which the model agreed (0–1); null without spot checks. */
  agreement_estimate: number | null;
  /** Where `answered` came from. */
  from: "metrics" | "verdict_sources";
}

type Values = { value: number; labels: Record<string, string | number> }[];

async function read(registry: Registry, name: string): Promise<Values | null> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return null;
  return ((await metric.get()) as { values: Values }).values;
}

/** Read the memory's metrics; `answeredFromSources` is used when the memory registered none. */
export async function readMemoryFigures(registry: Registry, answeredFromSources: number): Promise<MemoryFigures> {
  const answered = await read(registry, "triage_memory_answered_total");
  const checks = (await read(registry, "triage_memory_spot_checks_total")) ?? [];
  const ratio = await read(registry, "triage_memory_agreement_ratio");
  const agree = checks.filter((v) => v.labels.outcome === "agree").reduce((n, v) => n + v.value, 0);
  const disagree = checks.filter((v) => v.labels.outcome === "disagree").reduce((n, v) => n + v.value, 0);
  const spot = agree + disagree;
  const gauge = ratio?.[0]?.value;
  return {
    answered: answered ? answered.reduce((n, v) => n + v.value, 0) : answeredFromSources,
    spot_checks: spot,
    spot_check_disagreements: disagree,
    agreement_estimate: spot === 0 ? null : gauge !== undefined && Number.isFinite(gauge) ? gauge : agree / spot,
    from: answered ? "metrics" : "verdict_sources",
  };
}
