/**
 * The report's charts: Vega-Lite specs compiled and rendered to SVG strings in Node (vega's headless view, no
 * browser, no network: every spec carries its data inline). Chart text that comes from alerts (rule names) is
 * already bounded and link-free (collector.ts); vega escapes text in the SVG it writes, and renderChart refuses
 * any output that still looks active.
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import type { ReplayReport } from "./model.js";

export interface Chart {
  id: string;
  title: string;
  svg: string;
}

const WIDTH = 500;
const HEIGHT = 200;
const config = {
  // No aria-label/description attributes: they would carry alert text (rule names) into attribute values.
  aria: false,
  background: "#ffffff",
  font: "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif",
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, gridColor: "#eceff3" },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: "bottom", labelLimit: 320 },
};
const CLASS_COLORS = { domain: ["true_positive", "false_positive", "needs_review"], range: ["#c0392b", "#2e86c1", "#d4a017"] };
const SOURCE_COLORS = {
  domain: ["llm", "memory", "cache:exact", "cache:pattern", "rules", "override"],
  range: ["#6c5ce7", "#00a884", "#55a3d9", "#9ecae1", "#b0b4ba", "#e67e22"],
};

/** An SVG whose tags hold no script, event handler, external reference or foreignObject (text content aside). */
export function isInertSvg(svg: string): boolean {
  const tags = svg.replace(/>[^<]*</g, "><");
  return !/<script|<foreignObject|<iframe|\son[a-z]+\s*=|javascript:|(?:xlink:)?href\s*=\s*["'](?!#)/i.test(tags);
}

/** Compile a Vega-Lite spec and render it to an SVG string. */
export async function renderChart(spec: TopLevelSpec): Promise<string> {
  const compiled = vl.compile({ config, ...spec } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error });
  try {
    const svg = await view.toSVG();
    if (!isInertSvg(svg)) throw new Error("chart SVG contains active content");
    return svg;
  } finally {
    view.finalize();
  }
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? null : x);

/** The specs of every chart the report has data for. */
export function chartSpecs(report: ReplayReport): { id: string; title: string; spec: TopLevelSpec }[] {
  const out: { id: string; title: string; spec: TopLevelSpec }[] = [];
  if (report.confusion_matrix) {
    const cm = report.confusion_matrix;
    const values = cm.rows.flatMap((truth, i) => cm.columns.map((verdict, j) => ({ analyst: truth, verdict, count: cm.counts[i]![j]! })));
    out.push({
      id: "confusion",
      title: "Confusion matrix (analyst × verdict)",
      spec: {
        width: 300,
        height: 200,
        data: { values },
        encoding: {
          x: { field: "verdict", type: "nominal", sort: cm.columns, title: "verdict", axis: { labelAngle: 0 } },
          y: { field: "analyst", type: "nominal", sort: cm.rows, title: "analyst" },
        },
        layer: [
          { mark: { type: "rect", stroke: "#fff" }, encoding: { color: { field: "count", type: "quantitative", scale: { scheme: "blues" }, legend: null } } },
          {
            mark: { type: "text", fontSize: 13, fontWeight: "bold" },
            encoding: {
              text: { field: "count", type: "quantitative" },
              color: {
                condition: { test: "datum.count > 0 && datum.count >= 0.6 * " + Math.max(1, ...values.map((v) => v.count)), value: "#fff" },
                value: "#222",
              },
            },
          },
        ],
      } as TopLevelSpec,
    });
  }
  if (report.classes) {
    const values = report.classes
      .flatMap((c) => [
        { class: c.class, measure: "recall", value: pct(c.recall) },
        { class: c.class, measure: "precision", value: pct(c.precision) },
      ])
      .filter((v) => v.value !== null);
    if (values.length > 0) {
      out.push({
        id: "classes",
        title: "Recall and precision per class (true-positive recall first)",
        spec: {
          width: WIDTH,
          height: HEIGHT,
          data: { values },
          mark: "bar",
          encoding: {
            x: { field: "class", type: "nominal", sort: report.classes.map((c) => c.class), axis: { labelAngle: 0 }, title: null },
            xOffset: { field: "measure", sort: ["recall", "precision"] },
            y: { field: "value", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: ".0%" }, title: null },
            color: { field: "measure", type: "nominal", sort: ["recall", "precision"], scale: { range: ["#c0392b", "#7f8c8d"] }, title: null },
          },
        } as TopLevelSpec,
      });
    }
  }
  if (report.agreement) {
    const bySource = report.agreement.by_source.filter((s) => s.agreement !== null);
    if (bySource.length > 0) {
      out.push({
        id: "agreement-by-source",
        title: "Agreement with analysts by verdict source",
        spec: {
          width: WIDTH,
          height: HEIGHT,
          data: { values: bySource },
          mark: "bar",
          encoding: {
            x: { field: "source", type: "nominal", sort: bySource.map((s) => s.source), axis: { labelAngle: 0 }, title: null },
            y: { field: "agreement", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: ".0%" }, title: "agreement" },
            color: { field: "source", type: "nominal", scale: SOURCE_COLORS, legend: null },
          },
        } as TopLevelSpec,
      });
    }
    const rules = report.agreement.by_rule_worst
      .filter((r) => r.agreement !== null)
      .map((r) => ({ ...r, label: r.rule.length > 42 ? `${r.rule.slice(0, 41)}…` : r.rule }));
    if (rules.length > 0) {
      out.push({
        id: "worst-rules",
        title: "The 10 rules with the lowest agreement",
        spec: {
          width: 330,
          height: Math.max(60, rules.length * 20),
          data: { values: rules },
          mark: "bar",
          encoding: {
            y: { field: "label", type: "nominal", sort: null, title: null, axis: { labelLimit: 260 } },
            x: { field: "agreement", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: ".0%" }, title: "agreement" },
            color: { value: "#c0392b" },
          },
        } as TopLevelSpec,
      });
    }
  }
  const windows = report.stream.windows.flatMap((w) => Object.entries(w.by_source).map(([source, count]) => ({ window: w.start, source, count })));
  if (windows.length > 0) {
    out.push({
      id: "stream-sources",
      title: `Who answered, per ${report.stream.window_records.toLocaleString("en-US")} alerts along the stream`,
      spec: {
        width: WIDTH,
        height: HEIGHT,
        data: { values: windows },
        mark: "bar",
        encoding: {
          x: { field: "window", type: "ordinal", title: "alerts from", axis: { labelAngle: 0, labelOverlap: true } },
          y: { field: "count", type: "quantitative", stack: "zero", title: "alerts" },
          color: { field: "source", type: "nominal", scale: SOURCE_COLORS, title: null },
        },
      } as TopLevelSpec,
    });
  }
  const over: { at: number; series: string; value: number }[] = [];
  for (const w of report.stream.windows) {
    if (w.agreement !== undefined && w.agreement !== null) over.push({ at: w.start + w.records, series: "all verdicts vs analysts", value: w.agreement });
    if (w.memory_agreement !== undefined && w.memory_agreement !== null)
      over.push({ at: w.start + w.records, series: "memory vs analysts", value: w.memory_agreement });
  }
  for (const s of report.stream.memory_estimate)
    if (s.agreement_estimate !== null) over.push({ at: s.after_records, series: "memory spot checks (estimate)", value: s.agreement_estimate });
  if (over.length > 0) {
    out.push({
      id: "agreement-over-time",
      title: "Agreement along the stream",
      spec: {
        width: WIDTH,
        height: HEIGHT,
        data: { values: over },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "at", type: "quantitative", title: "alerts processed", scale: { zero: true } },
          y: { field: "value", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: ".0%" }, title: null },
          color: { field: "series", type: "nominal", title: null, scale: { range: ["#34495e", "#00a884", "#e67e22"] } },
        },
      } as TopLevelSpec,
    });
  }
  const l = report.latency_seconds;
  const lat = (["p50", "p90", "p95", "p99", "max"] as const).filter((k) => l[k] !== null).map((k) => ({ percentile: k, seconds: l[k] as number }));
  if (lat.length > 0) {
    out.push({
      id: "latency",
      title: "Latency, receipt to verdict written (seconds)",
      spec: {
        width: WIDTH,
        height: HEIGHT,
        data: { values: lat },
        mark: "bar",
        encoding: {
          x: { field: "percentile", type: "nominal", sort: null, axis: { labelAngle: 0 }, title: null },
          y: { field: "seconds", type: "quantitative", title: "seconds" },
          color: { value: "#6c5ce7" },
        },
      } as TopLevelSpec,
    });
  }
  const byClass = Object.entries(report.records.by_classification).map(([classification, count]) => ({ classification, count }));
  if (byClass.length > 0) {
    out.push({
      id: "verdicts",
      title: "Verdicts by classification",
      spec: {
        width: WIDTH,
        height: 120,
        data: { values: byClass },
        mark: "bar",
        encoding: {
          y: { field: "classification", type: "nominal", title: null, sort: CLASS_COLORS.domain },
          x: { field: "count", type: "quantitative", title: "verdicts" },
          color: { field: "classification", type: "nominal", scale: CLASS_COLORS, legend: null },
        },
      } as TopLevelSpec,
    });
  }
  return out;
}

/** Render every chart of the report. */
export async function renderCharts(report: ReplayReport): Promise<Chart[]> {
  const charts: Chart[] = [];
  for (const c of chartSpecs(report)) charts.push({ id: c.id, title: c.title, svg: await renderChart(c.spec) });
  return charts;
}
