import { beforeAll, describe, expect, it } from "vitest";
import { exportedSeries, exprProblems, promqlRefs, TARGET_LABELS } from "./promql.js";
import { readRepoFile, readYaml } from "./support.js";

interface Target {
  expr?: string;
  refId?: string;
  legendFormat?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  gridPos: { h: number; w: number; x: number; y: number };
  panels?: Panel[];
}

const DASHBOARD_PATH = "deploy/grafana/dashboards/triage.json";
const dashboard = JSON.parse(readRepoFile(DASHBOARD_PATH)) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { type: string; name: string; query: unknown }[] };
};
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = panels.filter((p) => p.type !== "row");
const targets = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));
const DATASOURCE = { type: "prometheus", uid: "${DS_PROMETHEUS}" };

let series: Map<string, Set<string>>;
beforeAll(async () => {
  series = await exportedSeries();
});

describe("Grafana dashboard", () => {
  it("is a provisionable dashboard with a Prometheus datasource variable", () => {
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.title).not.toBe("");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ds = dashboard.templating.list.find((v) => v.name === "DS_PROMETHEUS");
    expect(ds).toMatchObject({ type: "datasource", query: "prometheus" });
  });

  it("gives every panel a title, the Prometheus datasource and at least one query", () => {
    expect(queryPanels.length).toBeGreaterThan(20);
    for (const p of queryPanels) {
      expect(p.title, `panel ${p.id}`).toBeTruthy();
      expect(p.datasource, p.title).toEqual(DATASOURCE);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect(t.datasource, p.title).toEqual(DATASOURCE);
        expect(t.expr, p.title).toBeTruthy();
      }
      expect(new Set(p.targets?.map((t) => t.refId)).size, `${p.title}: refIds unique`).toBe(p.targets?.length);
    }
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
  });

  it("lays panels out on the 24-column grid without overlaps", () => {
    const cells = new Map<string, string>();
    for (const p of panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          const key = `${i},${j}`;
          expect(cells.get(key), `${p.title} overlaps ${cells.get(key)}`).toBeUndefined();
          cells.set(key, p.title ?? String(p.id));
        }
      }
    }
  });

  it("queries only metrics and labels the service exports", () => {
    const problems = targets.flatMap(({ panel, target }) => exprProblems(target.expr!, series).map((p) => `${panel.title} ${target.refId}: ${p}`));
    expect(problems).toEqual([]);
  });

  it("names in legends only labels the queried metrics carry", () => {
    const problems: string[] = [];
    for (const { panel, target } of targets) {
      const labels = new Set<string>(TARGET_LABELS);
      for (const name of promqlRefs(target.expr!).metrics) for (const l of series.get(name) ?? []) labels.add(l);
      for (const m of (target.legendFormat ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)) if (!labels.has(m[1]!)) problems.push(`${panel.title}: {{${m[1]}}}`);
    }
    expect(problems).toEqual([]);
  });

  it("shows every triage_* metric on some panel, and the process health metrics", () => {
    const used = new Set(targets.flatMap(({ target }) => promqlRefs(target.expr!).metrics));
    const families = new Set([...series.keys()].filter((n) => n.startsWith("triage_")).map((n) => n.replace(/_(bucket|sum|count)$/, "")));
    const missing = [...families].filter((f) => ![f, `${f}_bucket`, `${f}_sum`, `${f}_count`].some((n) => used.has(n) && series.has(n)));
    expect(missing).toEqual([]);
    for (const name of ["process_resident_memory_bytes", "process_cpu_seconds_total", "nodejs_eventloop_lag_p99_seconds"]) expect(used).toContain(name);
  });

  it("fills its job and instance variables from an exported metric", () => {
    for (const v of dashboard.templating.list.filter((v) => v.type === "query")) {
      const query = (v.query as { query: string }).query;
      const m = /^label_values\((\w+)(\{[^}]*\})?,\s*(\w+)\)$/.exec(query);
      expect(m, query).not.toBeNull();
      expect(series.has(m![1]!), query).toBe(true);
      expect(TARGET_LABELS as readonly string[]).toContain(m![3]);
    }
  });
});

describe("Grafana provisioning", () => {
  const compose = readYaml("deploy/compose.yaml");
  const grafanaVolumes = compose.services.grafana.volumes as string[];
  const mountOf = (source: string) => grafanaVolumes.map((v) => v.split(":")).find(([s]) => s === source)?.[1];

  it("provides a default Prometheus datasource at the compose service's address", () => {
    const { datasources } = readYaml("deploy/grafana/provisioning/datasources/prometheus.yaml");
    expect(datasources).toHaveLength(1);
    expect(datasources[0]).toMatchObject({ type: "prometheus", uid: "prometheus", isDefault: true, url: "http://prometheus:9090" });
    expect(compose.services.prometheus.ports).toContain("9090:9090");
    expect(mountOf("./grafana/provisioning")).toBe("/etc/grafana/provisioning");
  });

  it("loads dashboards from the directory compose mounts the dashboard into", () => {
    const { providers } = readYaml("deploy/grafana/provisioning/dashboards/triage.yaml");
    expect(providers).toHaveLength(1);
    expect(providers[0]).toMatchObject({ type: "file" });
    expect(mountOf("./grafana/dashboards")).toBe(providers[0].options.path);
  });
});
