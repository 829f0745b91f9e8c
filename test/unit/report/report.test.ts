// The report model and its HTML: figures from hand-made observations, bounds, and escaping of alert text.
import { describe, expect, it } from "vitest";
import type { Verdict } from "../../../src/core/verdict.js";
import type { ObservedRecord } from "../../../src/sources/labelled.js";
import { isInertSvg, renderCharts } from "../../../src/report/charts.js";
import { linkFree, ReplayCollector } from "../../../src/report/collector.js";
import { escapeHtml, renderHtml } from "../../../src/report/html.js";
import { buildReport } from "../../../src/report/model.js";

const MEMORY = { answered: 0, spot_checks: 0, spot_check_disagreements: 0, agreement_estimate: null, from: "verdict_sources" as const };

function verdict(over: Partial<Verdict> & { name?: string } = {}): Verdict {
  const { name, ...rest } = over;
  return {
    schema_version: "1.0",
    alert_id: "a",
    classification: "true_positive",
    severity: "high",
    confidence: 80,
    reasoning: "r",
    source: "llm",
    recommended_actions: [],
    mitre_techniques: [],
    model: null,
    prompt_version: null,
    degraded: false,
    fallback_reason: null,
    learnable: true,
    enrichment: null,
    received_at: "2026-01-01T00:00:00.000Z",
    classified_at: "2026-01-01T00:00:00.000Z",
    alert: {
      alert_id: "a",
      alert_name: name ?? "rule",
      severity: "high",
      source_ip: null,
      destination_ip: null,
      user: null,
      host: null,
      timestamp: null,
      description: null,
      format: "native",
      fields: {},
    },
    ...rest,
  } as Verdict;
}

let pos = 0;
const obs = (v: Verdict, label: unknown, latencyMs = 100): ObservedRecord => ({
  position: pos++,
  origin: {},
  outcome: { verdict: v },
  label,
  receivedAtMs: 0,
  ackedAtMs: latencyMs,
});

function build(observations: ObservedRecord[], labelled = true, windowAlerts = 1000) {
  const c = new ReplayCollector({ labelled, windowAlerts });
  for (const o of observations) c.observe(o);
  return buildReport({
    collector: c,
    summary: { alerts: observations.length, model_calls: 2, cost_usd: 0.01 },
    memory: MEMORY,
    memorySamples: [],
    labelField: labelled ? "grade" : null,
    input: "in.ndjson",
    generatedAt: new Date(0),
  });
}

describe("report figures", () => {
  it("confusion matrix, true-positive recall first, benign positives scored as documented", () => {
    pos = 0;
    const r = build([
      obs(verdict({ classification: "true_positive" }), "TruePositive"),
      obs(verdict({ classification: "false_positive", confidence: 90 }), "TruePositive"), // a dismissed attack
      obs(verdict({ classification: "false_positive" }), "BenignPositive"), // agrees
      obs(verdict({ classification: "true_positive", confidence: 70 }), "BenignPositive"), // disagrees
      obs(verdict({ classification: "false_positive", source: "cache:exact" }), "FalsePositive"),
      obs(verdict({ classification: "needs_review" }), "FalsePositive"),
      obs(verdict({}), undefined),
      obs(verdict({}), "Duplicate"),
    ]);
    expect(r.confusion_matrix!.counts).toEqual([
      [1, 1, 0],
      [1, 1, 0],
      [0, 1, 1],
      [0, 0, 0],
    ]);
    expect(r.classes![0]).toMatchObject({ class: "true_positive", support: 2, predicted: 2, recall: 0.5, precision: 0.5 });
    expect(r.classes!.find((c) => c.class === "false_positive")).toMatchObject({ predicted: 3, recall: 0.5, precision: 0.6667 }); // the dismissed attack is a wrong false_positive
    expect(r.agreement!.missed_attacks).toBe(1);
    expect(r.agreement!.overall).toBe(0.5);
    expect(r.labels).toMatchObject({ scored: 6, missing: 1, ignored: 1 });
    expect(r.agreement!.by_source.map((s) => s.source)).toEqual(["llm", "cache:exact"]);
    expect(r.disagreements!.map((d) => d.confidence)).toEqual([90, 80, 70]);
    expect(r.model.calls_per_1000_alerts).toBe(250);
  });

  it("keeps only the 20 most confident disagreements, and a bounded number of rules", () => {
    pos = 0;
    const many = Array.from({ length: 60 }, (_, i) => obs(verdict({ classification: "false_positive", confidence: i, name: `rule ${i}` }), "TruePositive"));
    const c = new ReplayCollector({ labelled: true, maxRules: 10 });
    for (const o of many) c.observe(o);
    expect(c.disagreements.map((d) => d.confidence)).toEqual(Array.from({ length: 20 }, (_, i) => 59 - i));
    expect(c.byRule.size).toBe(11); // 10 named + "(other rules)"
  });

  it("keeps a bounded latency sample: exact below its capacity, a reservoir beyond", () => {
    pos = 0;
    const c = new ReplayCollector({ labelled: false, maxLatencySamples: 10 });
    for (let i = 0; i < 100; i++) c.observe(obs(verdict({}), undefined, i * 1000));
    expect(c.latencies).toHaveLength(10);
    expect(c.latencyCount).toBe(100);
    expect(c.latencies.every((s) => s >= 0 && s < 100)).toBe(true);
  });

  it("windows along the stream: asked vs answered without the model", () => {
    pos = 0;
    const r = build(
      [
        obs(verdict({ source: "llm" }), "TruePositive"),
        obs(verdict({ source: "cache:pattern" }), "TruePositive"),
        obs(verdict({ source: "llm" }), "TruePositive"),
      ],
      true,
      2,
    );
    expect(r.stream.windows.map((w) => [w.asked, w.answered_without_model])).toEqual([
      [1, 1],
      [1, 0],
    ]);
  });

  it("without labels the agreement parts are left out", () => {
    pos = 0;
    const r = build([obs(verdict({}), "TruePositive")], false);
    for (const k of ["labels", "confusion_matrix", "classes", "agreement", "disagreements"]) expect(r).not.toHaveProperty(k);
    expect(r.stream.windows[0]).not.toHaveProperty("agreement");
  });
});

describe("alert text in the report is inert", () => {
  const HOSTILE = `</td></svg><script>alert(1)</script><img src=x onerror=alert(2)>"' https://evil.example/x`;

  it("escapeHtml and linkFree", () => {
    expect(escapeHtml(`<a href="x">'&`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
    expect(linkFree("go to https://evil.example/a and ftp://x\u0000y", 200)).toBe("go to hxxps[:]//evil.example/a and fxp[:]//x y");
    // Bidirectional controls would make an excerpt read differently from what it says ("Trojan Source").
    expect(linkFree("benign \u202egnp.exe\u202c and \u2066x\u2069 \u200fy", 200)).toBe("benign  gnp.exe  and  x   y");
  });

  it("the whole page carries no markup from alerts, charts included", async () => {
    pos = 0;
    const r = build([
      obs(verdict({ classification: "false_positive", name: HOSTILE, reasoning: HOSTILE, alert_id: HOSTILE }), HOSTILE),
      obs(verdict({ classification: "false_positive", name: HOSTILE }), "TruePositive"),
    ]);
    const charts = await renderCharts(r);
    expect(charts.length).toBeGreaterThan(3);
    const html = renderHtml(r, charts);
    const tags = html.replace(/>[^<]*</g, "><"); // markup only, text content aside
    expect(tags).not.toMatch(/<script|<img|<iframe|<a[\s>]|\son[a-z]+=/i);
    expect(html).not.toContain("https://evil");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain(`content="default-src 'none'`);
    // default-src does not cover form targets or <base>: an injected form or base would otherwise still work.
    expect(html).toMatch(/Content-Security-Policy" content="[^"]*form-action 'none'[^"]*"/);
    expect(html).toMatch(/Content-Security-Policy" content="[^"]*base-uri 'none'[^"]*"/);
  });

  it("a chart SVG with active content is refused", () => {
    expect(isInertSvg('<svg><text>a onload=x</text><path d="M0"/></svg>')).toBe(true);
    expect(isInertSvg('<svg><g onload="x"></g></svg>')).toBe(false);
    expect(isInertSvg("<svg><script>x</script></svg>")).toBe(false);
    expect(isInertSvg('<svg><a href="https://x">y</a></svg>')).toBe(false);
  });
});
