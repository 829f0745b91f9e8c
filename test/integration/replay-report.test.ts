// Issue #18: replay against analysts' past decisions. The label never reaches the model, and the report's figures
// match an independent count made here from the verdict file and the generated labels.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeGemini } from "../fakes/gemini.js";
import { cliEnv, fileSha256, runCli, type CliRun } from "../support/cli.js";
import { LABEL_FIELD, LABEL_VALUES, labelledStream, type LabelledRecord } from "../support/labelled-stream.js";

const ALERTS = 2400;
const WINDOW = 1000;

let fake: FakeGemini;
let dir: string;
let input: string;
let stream: LabelledRecord[];
let labelled: CliRun;
let report: any;
let verdicts: any[];
let env: NodeJS.ProcessEnv;

// Our own reading of GUIDE's grades, written here independently of src/report/labels.ts.
const TRUTH: Record<string, string> = { TruePositive: "true_positive", BenignPositive: "benign_positive", FalsePositive: "false_positive" };
const agreesHere = (truth: string, cls: string) => (truth === "benign_positive" ? cls !== "true_positive" : truth === cls);

beforeAll(async () => {
  fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity });
  dir = mkdtempSync(join(tmpdir(), "replay-report-"));
  input = join(dir, "history.ndjson");
  stream = labelledStream({ alerts: ALERTS, seed: 7 });
  writeFileSync(input, `${stream.map((s) => s.line).join("\n")}\n`);
  env = cliEnv({
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: "0",
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    TRIAGE_DAILY_BUDGET_USD: "0",
    BATCH_MAX_DELAY_MS: "20",
  });
  const sha = fileSha256(input);
  labelled = await runCli(
    [
      "replay",
      input,
      "--labels",
      LABEL_FIELD,
      "--out",
      join(dir, "verdicts.ndjson"),
      "--dlq",
      join(dir, "dlq.ndjson"),
      "--report",
      join(dir, "report.json"),
      "--report-html",
      join(dir, "report.html"),
    ],
    { env, timeoutMs: 170_000 },
  );
  expect(labelled.code, labelled.stderr.slice(-3000)).toBe(0);
  expect(fileSha256(input)).toBe(sha);
  report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
  verdicts = readFileSync(join(dir, "verdicts.ndjson"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}, 180_000);

afterAll(async () => {
  await fake?.stop();
});

describe("the label never reaches the model, the keys or the memory", () => {
  it("no model request body contains the label field or any label value", () => {
    expect(fake.requests.length).toBeGreaterThan(0);
    const labelledInPrompt = fake.requests.reduce((n, r) => n + r.alerts.length, 0);
    expect(labelledInPrompt).toBeGreaterThan(0);
    for (const rec of fake.requests) {
      expect(rec.body, "every request body was recorded").toBeDefined();
      const body = JSON.stringify(rec.body);
      // Booleans, so a failure names the leak without printing whole prompts.
      for (const needle of ["IncidentGrade", ...LABEL_VALUES, "Duplicate"]) expect(body.includes(needle), `request ${rec.seq} contains ${needle}`).toBe(false);
    }
  });

  it("the published verdicts (alert copy, fields, raw) do not carry it either", () => {
    const text = readFileSync(join(dir, "verdicts.ndjson"), "utf8");
    expect(text).not.toContain("IncidentGrade");
    for (const v of LABEL_VALUES) expect(text).not.toContain(v);
    // …while the rest of the reviewed object is still there: only the label was taken out.
    expect(text).toContain("reviewer");
  });

  it("a control: the same bodies DO contain other alert content, so the scan can see what it looks for", () => {
    const all = fake.requests.map((r) => JSON.stringify(r.body)).join("\n");
    // (The prompt datamarks spaces in alert text, so look for words without spaces.)
    expect(all.includes("ports_scanned")).toBe(true);
    expect(all.includes("reviewer")).toBe(true);
  });
});

describe("the JSON report matches an independent count", () => {
  const independent = () => {
    const byId = new Map(stream.filter((s) => s.alertId !== null).map((s, i) => [s.alertId!, { ...s, position: -1, index: i }]));
    // Position in the stream = index among the non-blank lines, invalid lines included.
    stream.forEach((s, i) => {
      if (s.alertId !== null) byId.get(s.alertId)!.position = i;
    });
    const confusion: Record<string, Record<string, number>> = {};
    const bySource: Record<string, { verdicts: number; scored: number; agreed: number }> = {};
    const windows: Record<number, Record<string, number>> = {};
    let scored = 0,
      agreed = 0,
      missing = 0,
      ignored = 0;
    const disagreementConfidences: number[] = [];
    for (const v of verdicts) {
      const rec = byId.get(v.alert_id)!;
      expect(rec, `verdict for an alert we generated: ${v.alert_id}`).toBeDefined();
      const w = Math.floor(rec.position / WINDOW);
      windows[w] ??= {};
      windows[w]![v.source] = (windows[w]![v.source] ?? 0) + 1;
      bySource[v.source] ??= { verdicts: 0, scored: 0, agreed: 0 };
      bySource[v.source]!.verdicts++;
      if (rec.label === undefined) {
        missing++;
        continue;
      }
      if (rec.label === "Duplicate") {
        ignored++;
        continue;
      }
      const truth = TRUTH[rec.label]!;
      confusion[truth] ??= {};
      confusion[truth]![v.classification] = (confusion[truth]![v.classification] ?? 0) + 1;
      scored++;
      bySource[v.source]!.scored++;
      if (agreesHere(truth, v.classification)) {
        agreed++;
        bySource[v.source]!.agreed++;
      } else disagreementConfidences.push(v.confidence);
    }
    return { confusion, bySource, windows, scored, agreed, missing, ignored, disagreementConfidences };
  };

  it("records, verdicts and dead letters", () => {
    expect(report.records.total).toBe(stream.length);
    expect(report.records.verdicts).toBe(verdicts.length);
    expect(verdicts.length).toBe(stream.filter((s) => s.alertId !== null).length);
    expect(report.records.dead_letters).toBe(stream.filter((s) => s.alertId === null).length);
    // runSummary's fields stay at the top level.
    expect(report.alerts).toBe(stream.length);
    expect(report.verdicts).toBe(verdicts.length);
  });

  it("confusion matrix, label bookkeeping, per-class recall (true positive first) and precision", () => {
    const c = independent();
    expect(report.labels.field).toBe(LABEL_FIELD);
    expect(report.labels.scored).toBe(c.scored);
    expect(report.labels.missing).toBe(c.missing);
    expect(report.labels.ignored).toBe(c.ignored);
    expect(report.labels.unmapped).toBe(0);
    const cm = report.confusion_matrix;
    cm.rows.forEach((truth: string, i: number) => {
      cm.columns.forEach((cls: string, j: number) => {
        expect(cm.counts[i][j], `${truth}/${cls}`).toBe(c.confusion[truth]?.[cls] ?? 0);
      });
    });
    expect(report.classes[0].class).toBe("true_positive");
    const cell = (t: string, k: string) => c.confusion[t]?.[k] ?? 0;
    const row = (t: string) => Object.values(c.confusion[t] ?? {}).reduce((a, b) => a + b, 0);
    const tpRecall = cell("true_positive", "true_positive") / row("true_positive");
    expect(report.classes[0].recall).toBeCloseTo(tpRecall, 4);
    const predictedTp = ["true_positive", "benign_positive", "false_positive", "needs_review"].reduce((n, t) => n + cell(t, "true_positive"), 0);
    expect(report.classes[0].precision).toBeCloseTo(cell("true_positive", "true_positive") / predictedTp, 4);
    const fp = report.classes.find((x: any) => x.class === "false_positive");
    const predictedFp = ["true_positive", "benign_positive", "false_positive", "needs_review"].reduce((n, t) => n + cell(t, "false_positive"), 0);
    expect(fp.recall).toBeCloseTo(cell("false_positive", "false_positive") / row("false_positive"), 4);
    expect(fp.precision).toBeCloseTo((cell("false_positive", "false_positive") + cell("benign_positive", "false_positive")) / predictedFp, 4);
    expect(report.agreement.missed_attacks).toBe(cell("true_positive", "false_positive"));
    expect(report.agreement.overall).toBeCloseTo(c.agreed / c.scored, 4);
  });

  it("agreement by verdict source, the stream windows and the memory figures", () => {
    const c = independent();
    for (const s of report.agreement.by_source) {
      expect(s.verdicts, s.source).toBe(c.bySource[s.source]!.verdicts);
      expect(s.scored, s.source).toBe(c.bySource[s.source]!.scored);
      expect(s.agreed, s.source).toBe(c.bySource[s.source]!.agreed);
    }
    expect(report.agreement.by_source.map((s: any) => s.source).sort()).toEqual(Object.keys(c.bySource).sort());
    expect(report.stream.windows).toHaveLength(Math.ceil(stream.length / WINDOW));
    report.stream.windows.forEach((w: any, i: number) => {
      expect(w.by_source, `window ${i}`).toEqual(c.windows[i] ?? {});
    });
    const llm = c.bySource.llm?.verdicts ?? 0;
    expect(llm).toBeGreaterThan(0);
    expect(report.stream.windows.reduce((n: number, w: any) => n + w.asked, 0)).toBe(llm);
    expect(report.memory.answered).toBe(c.bySource.memory?.verdicts ?? 0);
    expect(report.memory).toHaveProperty("spot_checks");
    expect(report.memory).toHaveProperty("agreement_estimate");
  });

  it("model calls match what the fake answered; cost and latency are reported", () => {
    const ok = fake.requests.filter((r) => r.status === 200).length;
    expect(report.model.calls).toBeGreaterThanOrEqual(ok);
    expect(report.model.calls_per_1000_alerts).toBeCloseTo((report.model.calls / stream.length) * 1000, 3);
    expect(report.model.cost_usd).toBeGreaterThan(0);
    expect(report.latency_seconds.samples).toBe(stream.length);
    expect(report.latency_seconds.p50).toBeLessThanOrEqual(report.latency_seconds.p99);
  });

  it("the 20 disagreements are the highest-confidence ones, most confident first", () => {
    const c = independent();
    const expected = c.disagreementConfidences.sort((a, b) => b - a).slice(0, 20);
    expect(report.disagreements.map((d: any) => d.confidence)).toEqual(expected);
    for (const d of report.disagreements) {
      expect(agreesHere(d.truth, d.classification)).toBe(false);
      expect(d.excerpt.length).toBeGreaterThan(0);
      expect(d.reasoning.length).toBeGreaterThan(0);
    }
  });
});

describe("without --labels", () => {
  it("the same report leaves the agreement parts out", async () => {
    const out = join(dir, "nolabels.json");
    const html = join(dir, "nolabels.html");
    const before = fake.requests.length;
    const run = await runCli(["replay", input, "--out", join(dir, "v2.ndjson"), "--dlq", join(dir, "d2.ndjson"), "--report", out, "--report-html", html], {
      env,
      timeoutMs: 120_000,
    });
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    // The control for the leak test above: without --labels the field is ordinary alert content and reaches the
    // model.
    const asked = fake.requests
      .slice(before)
      .map((r) => JSON.stringify(r.body))
      .join("\n");
    expect(fake.requests.length).toBeGreaterThan(before);
    expect(asked.includes("IncidentGrade")).toBe(true);
    const r = JSON.parse(readFileSync(out, "utf8"));
    for (const k of ["labels", "confusion_matrix", "classes", "agreement", "disagreements"]) expect(r, k).not.toHaveProperty(k);
    expect(r.records.total).toBe(stream.length);
    expect(r.stream.windows[0]).not.toHaveProperty("agreement");
    const page = readFileSync(html, "utf8");
    expect(page).not.toContain("Confusion matrix");
    expect(page).toContain("agreement parts are left out");
  }, 130_000);
});
