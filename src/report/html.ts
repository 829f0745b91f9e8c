/**
 * The replay report as one self-contained HTML file: no script, no network (a Content-Security-Policy that allows
 * neither), charts inline as SVG. Every number is printed from the JSON report and tagged with
 * `data-metric` (its path in the JSON), `data-value` and `data-format`, so a test can check the page against the
 * JSON. Alert text is attacker-controlled: everything that is not our own markup goes through escapeHtml.
 */
import type { Chart } from "./charts.js";
import { BENIGN_POSITIVE_SCORING, type ReplayReport } from "./model.js";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text (or attribute value) safe to place in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export type MetricFormat = "count" | "percent" | "usd" | "seconds" | "number";

/** How a number is printed: counts grouped, ratios as percent with one decimal, USD to 4 decimals, seconds to 3. */
export function formatMetric(value: number | null, format: MetricFormat): string {
  if (value === null) return "—";
  switch (format) {
    case "count":
      return value.toLocaleString("en-US");
    case "percent":
      return `${(value * 100).toFixed(1)}%`;
    case "usd":
      return `$${value.toFixed(4)}`;
    case "seconds":
      return `${value.toFixed(3)} s`;
    case "number":
      return value.toFixed(2);
  }
}

/** A number from the report, tagged with its JSON path. */
function metric(path: string, value: number | null | undefined, format: MetricFormat): string {
  const v = value ?? null;
  return (
    `<span class="num" data-metric="${escapeHtml(path)}" data-value="${v === null ? "null" : String(v)}" ` +
    `data-format="${format}">${escapeHtml(formatMetric(v, format))}</span>`
  );
}

const text = (s: string) => escapeHtml(s);
const CLASS_LABEL: Record<string, string> = {
  true_positive: "true positive",
  false_positive: "false positive",
  needs_review: "needs review",
  benign_positive: "benign positive",
};
const label = (k: string) => text(CLASS_LABEL[k] ?? k);

function tile(title: string, body: string, note = "", tone = ""): string {
  return (
    `<div class="tile ${tone}"><div class="tile-title">${text(title)}</div><div ` +
    `class="tile-value">${body}</div>${note ? `<div class="tile-note">${text(note)}</div>` : ""}</div>`
  );
}

function chart(charts: Chart[], id: string): string {
  const c = charts.find((x) => x.id === id);
  // The SVG is vega's output over bounded, link-free data, checked inert by renderChart.
  return c ? `<figure class="chart" data-chart="${id}"><figcaption>${text(c.title)}</figcaption>${c.svg}</figure>` : "";
}

function table(head: string[], rows: string[][], cls = ""): string {
  return (
    `<table class="${cls}"><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>` +
    `${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`
  );
}

const STYLE =
  `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2933;background:#f4f6f8}
header{background:#1f2933;color:#fff;padding:18px 32px}header h1{margin:0;font-size:20px;font-weight:600}header p{margin:4px 0 0;color:#cbd2d9;font-size:13px}
main{max-width:1240px;margin:0 auto;padding:20px 20px 40px}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:10px;margin-bottom:20px}
.tile{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08);border-top:3px solid #6c5ce7}
.tile.alert{border-top-color:#c0392b}.tile.ok{border-top-color:#00a884}
.tile-title{font-size:11px;min-height:2.6em;color:#616e7c;text-transform:uppercase;letter-spacing:.04em}` +
  `.tile-value{font-size:24px;font-weight:600;margin-top:2px}.tile-note{font-size:12px;color:#7b8794}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
section{background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 2px rgba(0,0,0,.08);min-width:0}
section.wide{grid-column:1/-1}section h2{font-size:15px;margin:0 0 10px}
figure.chart{margin:0 0 10px;overflow-x:auto}figure.chart figcaption{font-size:12px;color:#616e7c;margin-bottom:4px}figure.chart svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{font-weight:600;color:#52606d;background:#f8f9fb}td .num{font-variant-numeric:tabular-nums}
.confusion td:not(:first-child),.confusion th:not(:first-child){text-align:right}
.diag{background:#e6f6f1}.miss{background:#fdecea;font-weight:600}
.excerpt{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;white-space:pre-wrap;word-break:break-word;color:#323f4b}
.reason{font-size:12px;color:#52606d;word-break:break-word}.muted{color:#7b8794;font-size:12px}
.badge{display:inline-block;padding:1px 6px;border-radius:10px;font-size:11px;background:#e4e7eb}
.badge.true_positive{background:#fdecea;color:#a93226}.badge.false_positive{background:#e3f0fa;color:#1f618d}` +
  `.badge.needs_review{background:#fcf3d9;color:#8a6d0b}` +
  `.badge.benign_positive{background:#e6f6f1;color:#117a65}
`;

/** Render the report (and its charts) as one HTML document. */
export function renderHtml(report: ReplayReport, charts: Chart[]): string {
  const r = report;
  const tiles: string[] = [];
  const tp = r.classes?.find((c) => c.class === "true_positive");
  if (r.classes && tp) {
    const i = r.classes.indexOf(tp);
    tiles.push(tile("True-positive recall", metric(`classes.${i}.recall`, tp.recall, "percent"), "confirmed attacks called true_positive", "alert"));
    tiles.push(
      tile("Attacks dismissed", metric("agreement.missed_attacks", r.agreement?.missed_attacks, "count"), "confirmed attacks called false_positive", "alert"),
    );
    tiles.push(tile("Agreement", metric("agreement.overall", r.agreement?.overall, "percent"), "of scored alerts", "ok"));
  }
  tiles.push(tile("Alerts", metric("records.total", r.records.total, "count"), `${r.records.dead_letters.toLocaleString("en-US")} dead-lettered`));
  tiles.push(
    tile(
      "Model calls / 1,000 alerts",
      metric("model.calls_per_1000_alerts", r.model.calls_per_1000_alerts, "number"),
      `${r.model.calls.toLocaleString("en-US")} calls`,
    ),
  );
  tiles.push(tile("Cost / 1,000 alerts", metric("model.cost_usd_per_1000_alerts", r.model.cost_usd_per_1000_alerts, "usd"), "estimated, USD"));
  tiles.push(tile("Latency p95", metric("latency_seconds.p95", r.latency_seconds.p95, "seconds"), "receipt to verdict"));
  tiles.push(tile("Answered by memory", metric("memory.answered", r.memory.answered, "count"), "without asking the model"));

  const sections: string[] = [];
  if (r.confusion_matrix && r.labels) {
    const cm = r.confusion_matrix;
    const rows = cm.rows.map((truth, i) => [
      `<span class="badge ${truth}">${label(truth)}</span>`,
      ...cm.columns.map((col, j) => {
        const cls = truth === "true_positive" && col === "false_positive" ? "miss" : truth === col ? "diag" : "";
        return `<span class="${cls}">${metric(`confusion_matrix.counts.${i}.${j}`, cm.counts[i]![j]!, "count")}</span>`;
      }),
      metric(`labels.by_truth.${truth}`, r.labels!.by_truth[truth], "count"),
    ]);
    const unmapped = Object.entries(r.labels.unmapped_values);
    sections.push(
      `<section><h2>Confusion matrix</h2>${chart(charts, "confusion")}
${table(["analyst ↓ / verdict →", ...cm.columns.map(label), "total"], rows, "confusion")}
<p class="muted">Label field <code>${text(r.labels.field)}</code>: ${metric("labels.scored", r.labels.scored, "count")} scored, ` +
        `${metric("labels.missing", r.labels.missing, "count")} without a label, ` +
        `${metric("labels.ignored", r.labels.ignored, "count")} ignored (duplicate, other…), ` +
        `${metric("labels.unmapped", r.labels.unmapped, "count")} with a value we could not map${
          unmapped.length
            ? ` (${unmapped
                .slice(0, 8)
                .map(([v, n]) => `${text(v)}: ${n}`)
                .join(", ")}; map them with --labels-map)`
            : ""
        }.</p>
<p class="muted">${text(BENIGN_POSITIVE_SCORING)}</p></section>`,
    );
  }
  if (r.classes) {
    const rows = r.classes.map((c, i) => [
      `<span class="badge ${c.class}">${label(c.class)}</span>`,
      metric(`classes.${i}.recall`, c.recall, "percent"),
      metric(`classes.${i}.precision`, c.precision, "percent"),
      metric(`classes.${i}.support`, c.support, "count"),
      c.class === "benign_positive" ? "—" : metric(`classes.${i}.predicted`, c.predicted, "count"),
    ]);
    sections.push(
      `<section><h2>Recall and precision per class</h2>${chart(charts, "classes")}` +
        `${table(["class", "recall", "precision", "analyst", "verdicts"], rows)}
<p class="muted">True-positive recall comes first: a missed attack is the costly error. ` +
        `Benign-positive recall is the share not raised as an attack.</p></section>`,
    );
  }
  if (r.agreement) {
    const a = r.agreement;
    const rows = a.by_source.map((s, i) => [
      `<span class="badge">${text(s.source)}</span>`,
      metric(`agreement.by_source.${i}.agreement`, s.agreement, "percent"),
      metric(`agreement.by_source.${i}.scored`, s.scored, "count"),
      metric(`agreement.by_source.${i}.verdicts`, s.verdicts, "count"),
    ]);
    sections.push(
      `<section><h2>Agreement by verdict ` +
        `source</h2>${chart(charts, "agreement-by-source")}${table(["source", "agreement", "scored", "verdicts"], rows)}</section>`,
    );
    const ruleRows = a.by_rule_worst.map((x, i) => [
      text(x.rule),
      metric(`agreement.by_rule_worst.${i}.agreement`, x.agreement, "percent"),
      metric(`agreement.by_rule_worst.${i}.scored`, x.scored, "count"),
    ]);
    sections.push(
      `<section><h2>Rules with the lowest agreement</h2>${chart(charts, "worst-rules")}${table(["rule", "agreement", "scored"], ruleRows)}</section>`,
    );
  }
  const l = r.latency_seconds;
  const latRows = (["p50", "p90", "p95", "p99", "max"] as const).map((k) => [k, metric(`latency_seconds.${k}`, l[k], "seconds")]);
  const m = r.model;
  sections.push(`<section><h2>Model calls, cost and latency</h2>${chart(charts, "latency")}
${table(
  ["figure", "value"],
  [
    ["model calls", metric("model.calls", m.calls, "count")],
    ["model calls per 1,000 alerts", metric("model.calls_per_1000_alerts", m.calls_per_1000_alerts, "number")],
    ["cost (USD)", metric("model.cost_usd", m.cost_usd, "usd")],
    ["cost per 1,000 alerts (USD)", metric("model.cost_usd_per_1000_alerts", m.cost_usd_per_1000_alerts, "usd")],
    ...latRows.map(([k, v]) => [`latency ${k}`, v!]),
  ],
)}<p class="muted">Latency: receipt of a record to its verdict written, over ${metric("latency_seconds.samples", l.samples, "count")} samples.</p></section>`);
  sections.push(`<section><h2>Verdict memory along the stream</h2>${chart(charts, "stream-sources")}${chart(charts, "agreement-over-time")}
${table(
  ["figure", "value"],
  [
    ["answered by the memory", metric("memory.answered", r.memory.answered, "count")],
    ["spot checks (also asked of the model)", metric("memory.spot_checks", r.memory.spot_checks, "count")],
    ["spot-check agreement estimate", metric("memory.agreement_estimate", r.memory.agreement_estimate, "percent")],
  ],
)}</section>`);
  sections.push(
    `<section><h2>Verdicts</h2>${chart(charts, "verdicts")}${table(
      ["source", "verdicts"],
      Object.entries(r.verdict_sources).map(([s, n]) => [`<span class="badge">${text(s)}</span>`, metric(`verdict_sources.${s}`, n, "count")]),
    )}</section>`,
  );
  if (r.disagreements) {
    const rows = r.disagreements.map((d, i) => [
      metric(`disagreements.${i}.confidence`, d.confidence, "count"),
      `<span class="badge ${d.truth}">${label(d.truth)}</span><div class="muted">“${text(d.analyst_label)}”</div>`,
      `<span class="badge ${d.classification}">${label(d.classification)}</span><div class="muted">${text(d.source)}</div>`,
      `<div class="excerpt">${text(d.excerpt)}</div>`,
      `<div class="reason">${text(d.reasoning)}</div>`,
    ]);
    const disagreementsBody = rows.length
      ? table(["conf.", "analyst", "verdict", "alert (excerpt)", "reasoning"], rows, "disagreements")
      : `<p class="muted">None: every scored verdict agreed with the analysts.</p>`;
    sections.push(`<section class="wide"><h2>The ${r.disagreements.length} disagreements with the highest confidence</h2>${disagreementsBody}</section>`);
  }
  const nolabels = r.labels
    ? ""
    : `<p class="muted">Replayed without <code>--labels</code>: the agreement parts are left out. Add <code>--labels FIELD</code> (the field holding ` +
      `your analysts' decisions) to compare.</p>`;
  return (
    `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Triage replay report</title><style>${STYLE}</style></head>
<body><header><h1>Triage replay report</h1><p>${text(r.input)} · generated ${text(r.generated_at)} · ` +
    `${metric("records.verdicts", r.records.verdicts, "count")} verdicts${r.labels ? ` · compared with <code>${text(r.labels.field)}</code>` : ""}</p></header>
<main>${nolabels}<div class="tiles">${tiles.join("")}</div><div class="grid">${sections.join("\n")}</div></main></body></html>
`
  );
}
