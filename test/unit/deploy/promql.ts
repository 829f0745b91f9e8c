import { createMetrics } from "../../../src/telemetry/metrics.js";

/** Names a PromQL expression refers to: series names and label names (matchers, by/without/on/ignoring). */
export interface PromqlRefs {
  metrics: string[];
  labels: string[];
}

const KEYWORDS = new Set(["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "inf", "nan"]);

/**
 * Series and label names used by an expression (enough PromQL to check dashboards and rules, not a parser):
 * strings, `[range]`s and Grafana `$variables` are ignored; identifiers followed by `(` are functions.
 */
export function promqlRefs(expr: string): PromqlRefs {
  const labels = new Set<string>();
  let rest = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""');
  rest = rest.replace(/\{([^}]*)\}/g, (_, inner: string) => {
    for (const m of inner.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)/g)) labels.add(m[1]!);
    return " ";
  });
  rest = rest.replace(/\[[^\]]*\]/g, " ");
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, _kw, list: string) => {
    for (const name of list
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean))
      labels.add(name);
    return " ";
  });
  const metrics = new Set<string>();
  for (const m of rest.matchAll(/(?<![\w:$.])([A-Za-z_:][A-Za-z0-9_:]*)(?![A-Za-z0-9_:]|\s*\()/g)) {
    if (!KEYWORDS.has(m[1]!)) metrics.add(m[1]!);
  }
  return { metrics: [...metrics], labels: [...labels] };
}

/** Label names Prometheus itself attaches to every scraped series. */
export const TARGET_LABELS = ["job", "instance"] as const;

/**
 * Every series name the service exports (histograms as _bucket/_sum/_count, counters as registered,
 * Node defaults included) with its label names, plus `up` which Prometheus adds per target.
 */
export async function exportedSeries(): Promise<Map<string, Set<string>>> {
  const { registry } = createMetrics({ defaultMetrics: true });
  const series = new Map<string, Set<string>>([["up", new Set()]]);
  const labelNamesOf = (name: string) => new Set<string>((registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? []);
  for (const metric of await registry.getMetricsAsJSON()) {
    const names = labelNamesOf(metric.name);
    const type = String(metric.type);
    if (type === "histogram") {
      series.set(`${metric.name}_bucket`, new Set([...names, "le"]));
      series.set(`${metric.name}_sum`, names);
      series.set(`${metric.name}_count`, names);
    } else if (type === "summary") {
      series.set(metric.name, new Set([...names, "quantile"]));
      series.set(`${metric.name}_sum`, names);
      series.set(`${metric.name}_count`, names);
    } else {
      series.set(metric.name, names);
    }
  }
  return series;
}

/** Problems with one expression: unknown series, labels no named series carries, or no series at all. */
export function exprProblems(expr: string, series: Map<string, Set<string>>): string[] {
  const refs = promqlRefs(expr);
  const problems: string[] = [];
  if (refs.metrics.length === 0) problems.push("names no metric");
  const known = new Set<string>(TARGET_LABELS);
  for (const name of refs.metrics) {
    const labels = series.get(name);
    if (!labels) problems.push(`unknown metric ${name}`);
    else for (const l of labels) known.add(l);
  }
  for (const label of refs.labels) if (!known.has(label)) problems.push(`label ${label} is on none of ${refs.metrics.join(", ")}`);
  return problems;
}
