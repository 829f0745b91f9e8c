import { beforeAll, describe, expect, it } from "vitest";
import { exportedSeries, exprProblems, promqlRefs, TARGET_LABELS } from "./promql.js";
import { optionDefault, readRepoFile, readYaml } from "./support.js";

// promtool checks syntax and runs the rule unit tests (scripts/check-deploy.sh); this checks what it cannot
// know: that the rules watch metrics the service really exports, and where their runbooks are.

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const RULES_PATH = "deploy/prometheus/rules/triage.rules.yaml";
const rulesFile = readYaml(RULES_PATH) as { groups: { name: string; rules: Rule[] }[] };
const rules = rulesFile.groups.flatMap((g) => g.rules);
const runbook = readRepoFile("deploy/RUNBOOK.md");

let series: Map<string, Set<string>>;
beforeAll(async () => {
  series = await exportedSeries();
});

describe("Prometheus alerting rules", () => {
  it("are alerts with a duration, a severity, a summary, a description and a runbook", () => {
    expect(rulesFile.groups.length).toBeGreaterThan(0);
    for (const r of rules) {
      expect(r.alert, r.expr).toMatch(/^Triage[A-Z][A-Za-z]+$/);
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(["critical", "warning", "info"], r.alert).toContain(r.labels?.severity);
      for (const key of ["summary", "description", "runbook"]) expect(r.annotations?.[key], `${r.alert}.${key}`).toBeTruthy();
    }
    expect(new Set(rules.map((r) => r.alert)).size).toBe(rules.length);
  });

  it("watch only metrics and labels the service exports (or up)", () => {
    const problems = rules.flatMap((r) => exprProblems(r.expr, series).map((p) => `${r.alert}: ${p}`));
    expect(problems).toEqual([]);
  });

  it("template only labels their expression can carry", () => {
    const problems: string[] = [];
    for (const r of rules) {
      const labels = new Set<string>(TARGET_LABELS);
      for (const name of promqlRefs(r.expr).metrics) for (const l of series.get(name) ?? []) labels.add(l);
      for (const text of Object.values(r.annotations ?? {})) {
        for (const m of text.matchAll(/\$labels\.(\w+)/g)) if (!labels.has(m[1]!)) problems.push(`${r.alert}: $labels.${m[1]}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("link each alert to its own section of deploy/RUNBOOK.md", () => {
    for (const r of rules) {
      expect(r.annotations?.runbook).toBe(`deploy/RUNBOOK.md#${r.alert!.toLowerCase()}`);
      expect(runbook, r.alert).toMatch(new RegExp(`^## ${r.alert}$`, "m"));
    }
  });

  it("alert on each failure the service can report", () => {
    const watching = (metric: string, matcher = "") =>
      rules.filter((r) => promqlRefs(r.expr).metrics.includes(metric) && r.expr.includes(matcher)).map((r) => r.alert);
    expect(watching("up")).not.toEqual([]);
    expect(watching("triage_ready")).not.toEqual([]);
    expect(watching("triage_consumer_lag", "deriv(")).not.toEqual([]);
    expect(watching("triage_dlq_records_total")).not.toEqual([]);
    expect(watching("triage_llm_cost_usd_total")).not.toEqual([]);
    expect(watching("triage_llm_requests_total", 'outcome="rate_limited"')).not.toEqual([]);
    expect(watching("triage_circuit_breaker_state")).not.toEqual([]);
    expect(watching("triage_alert_latency_seconds_bucket", "histogram_quantile(0.95")).not.toEqual([]);
  });

  it("warns about the model budget at 80 % of the default TRIAGE_DAILY_BUDGET_USD", () => {
    const rule = rules.find((r) => r.alert === "TriageModelBudgetNearlySpent")!;
    const threshold = Number(/>\s*([\d.]+)\s*$/.exec(rule.expr.trim())?.[1]);
    expect(threshold).toBeCloseTo(0.8 * Number(optionDefault("TRIAGE_DAILY_BUDGET_USD")));
  });
});

describe("prometheus.yml", () => {
  const config = readYaml("deploy/prometheus/prometheus.yml");
  const compose = readYaml("deploy/compose.yaml");

  it("loads the rules file and not the rule unit tests", () => {
    const globs = (config.rule_files as string[]).map((g) => new RegExp(`^${g.replace(/\./g, "\\.").replace(/\*/g, "[^/]*")}$`));
    const matches = (path: string) => globs.some((g) => g.test(path));
    expect(matches(RULES_PATH.replace("deploy/prometheus/", ""))).toBe(true);
    expect(matches("tests/triage.rules.test.yaml")).toBe(false);
    expect(compose.services.prometheus.volumes).toContain("./prometheus/rules:/etc/prometheus/rules:ro");
    expect(compose.services.prometheus.volumes).toContain("./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro");
  });

  it("scrapes /metrics of the compose service as job triage, on HTTP_PORT", () => {
    const job = (config.scrape_configs as { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[]).find(
      (j) => j.job_name === "triage",
    );
    expect(job?.metrics_path ?? "/metrics").toBe("/metrics");
    const port = compose.services.triage.environment.HTTP_PORT;
    expect(port).toBe(optionDefault("HTTP_PORT"));
    expect(job?.static_configs.flatMap((s) => s.targets)).toEqual([`triage:${port}`]);
    expect(readRepoFile("src/ops/http.ts")).toContain('app.get("/metrics"');
  });
});
