// Issue #18: the HTML report in a real browser (Debian's headless Chromium through playwright-core): no console
// errors, every chart drawn, the page's numbers equal the JSON's, alert text cannot inject script, and a 1280×800
// screenshot is kept under test-results/. Without Chromium this test fails; it never skips.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeGemini } from "../fakes/gemini.js";
import { cliEnv, repoRoot, runCli } from "../support/cli.js";
import { LABEL_FIELD, labelledStream } from "../support/labelled-stream.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const RESULTS = join(repoRoot, "test-results");

// Alert text an attacker wrote: markup, handlers, script and links in every field the report shows.
const HOSTILE_NAME = `</td></svg><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> Ransomware`;
const hostile = Array.from({ length: 24 }, (_, i) =>
  JSON.stringify({
    alert_id: `hostile-${i}`,
    alert_name: HOSTILE_NAME,
    severity: "critical",
    host: `h${i}"><iframe src="https://evil.example/">`,
    description: `see https://evil.example/payload?id=${i} and <a href="javascript:alert(1)">click</a>`,
    threat_intel: { abuse_confidence_score: 99, malicious: 30 },
    review: { IncidentGrade: "FalsePositive" },
  }),
);

let fake: FakeGemini;
let context: BrowserContext;
let page: Page;
let report: any;
const consoleErrors: string[] = [];
const offPageRequests: string[] = [];

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `Chromium is required at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`).toBe(true);
  fake = await FakeGemini.start({ rpm: Infinity, tpm: Infinity, rpd: Infinity });
  const dir = mkdtempSync(join(tmpdir(), "report-browser-"));
  const input = join(dir, "history.ndjson");
  writeFileSync(input, `${[...hostile, ...labelledStream({ alerts: 1500, seed: 11 }).map((s) => s.line)].join("\n")}\n`);
  const env = cliEnv({
    GEMINI_API_KEY: fake.apiKey,
    GEMINI_BASE_URL: fake.url,
    GEMINI_RPM: "0",
    GEMINI_TPM: "0",
    GEMINI_RPD: "0",
    TRIAGE_DAILY_BUDGET_USD: "0",
    BATCH_MAX_DELAY_MS: "20",
  });
  const html = join(dir, "report.html");
  const json = join(dir, "report.json");
  const run = await runCli(
    ["replay", input, "--labels", LABEL_FIELD, "--out", join(dir, "v.ndjson"), "--dlq", join(dir, "d.ndjson"), "--report", json, "--report-html", html],
    { env, timeoutMs: 150_000 },
  );
  expect(run.code, run.stderr.slice(-3000)).toBe(0);
  report = JSON.parse(readFileSync(json, "utf8"));

  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "chromium-profile-")), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 800 },
  });
  page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("request", (r) => !r.url().startsWith("file:") && !r.url().startsWith("data:") && offPageRequests.push(r.url()));
  await page.goto(pathToFileURL(html).href, { waitUntil: "load" });
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, "replay-report.png") });
  await page.screenshot({ path: join(RESULTS, "replay-report-full.png"), fullPage: true });
}, 200_000);

afterAll(async () => {
  await context?.close();
  await fake?.stop();
});

/** The value at a dotted path of the JSON report ("classes.0.recall", "verdict_sources.cache:exact"). */
function at(obj: any, path: string): unknown {
  return path.split(".").reduce((o, k) => (o === undefined || o === null ? undefined : o[k]), obj);
}

/** How the page should print a number, written here independently of src/report/html.ts. */
function expectedText(value: number | null, format: string): string {
  if (value === null) return "—";
  if (format === "count") return value.toLocaleString("en-US");
  if (format === "percent") return `${(value * 100).toFixed(1)}%`;
  if (format === "usd") return `$${value.toFixed(4)}`;
  if (format === "seconds") return `${value.toFixed(3)} s`;
  return value.toFixed(2);
}

describe("the HTML report in headless Chromium", () => {
  it("loads with no console errors and no request leaving the file", () => {
    expect(consoleErrors).toEqual([]);
    expect(offPageRequests).toEqual([]);
  });

  it("draws every chart as SVG with marks", async () => {
    const charts = await page.$$eval("figure.chart", (figs) =>
      figs.map((f) => ({
        id: f.getAttribute("data-chart"),
        svgs: f.querySelectorAll("svg").length,
        marks: f.querySelectorAll("svg g[class*='mark-'] path, svg g[class*='mark-'] line, svg .mark-text text").length,
      })),
    );
    expect(charts.map((c) => c.id).sort()).toEqual([
      "agreement-by-source",
      "agreement-over-time",
      "classes",
      "confusion",
      "latency",
      "stream-sources",
      "verdicts",
      "worst-rules",
    ]);
    for (const c of charts) {
      expect(c.svgs, c.id!).toBe(1);
      expect(c.marks, `${c.id} has marks`).toBeGreaterThan(0);
    }
    const box = await page.$eval("figure.chart svg", (s) => s.getBoundingClientRect().width);
    expect(box).toBeGreaterThan(100);
  });

  it("every number in the page equals the JSON's", async () => {
    const cells = await page.$$eval("[data-metric]", (els) =>
      els.map((e) => ({
        path: e.getAttribute("data-metric")!,
        value: e.getAttribute("data-value")!,
        format: e.getAttribute("data-format")!,
        text: e.textContent!.trim(),
      })),
    );
    expect(cells.length).toBeGreaterThan(60);
    for (const c of cells) {
      const json = at(report, c.path);
      expect(json === null || typeof json === "number", `${c.path} is a number in the JSON`).toBe(true);
      expect(c.value, c.path).toBe(json === null ? "null" : String(json));
      expect(c.text, c.path).toBe(expectedText(json as number | null, c.format));
    }
    // The headline figures are among them.
    const paths = new Set(cells.map((c) => c.path));
    for (const p of [
      "classes.0.recall",
      "agreement.missed_attacks",
      "agreement.overall",
      "model.calls_per_1000_alerts",
      "model.cost_usd_per_1000_alerts",
      "latency_seconds.p95",
      "memory.answered",
      "confusion_matrix.counts.0.1",
    ])
      expect(paths, p).toContain(p);
  });

  it("shows hostile alert text as text: no script ran, no element or handler came from an alert", async () => {
    const body = await page.textContent("body");
    expect(body).toContain("<script>window.__pwned=1</script>"); // it is on the page, as text
    expect(await page.evaluate("typeof window.__pwned")).toBe("undefined");
    expect(await page.$$eval("script, iframe, img, a, object, embed, foreignObject", (els) => els.length)).toBe(0);
    const handlers = await page.$$eval("*", (els) =>
      els.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name) || /javascript:/i.test(a.value)).map((a) => `${e.tagName} ${a.name}`)),
    );
    expect(handlers).toEqual([]);
    expect(body).not.toMatch(/https?:\/\/evil/); // excerpts are link-free (defanged)
  });

  it("keeps a 1280×800 screenshot under test-results/", () => {
    const png = readFileSync(join(RESULTS, "replay-report.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBe(800);
  });
});
