// The error-code catalogue: ERRORS.md is generated from it and current, and every code literal the source emits
// (TriageError, Invalid results, HTTP API errors, DLQ codes) is in it, so a new code cannot go undocumented.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeCode, ERROR_CODES, renderErrorsMarkdown } from "../../../src/core/error-codes.js";

const root = new URL("../../../", import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** Codes that are not ours: zod's issue code, Node's fs error code. */
const FOREIGN = new Set(["custom", "EISDIR"]);

describe("error-code catalogue", () => {
  it("ERRORS.md is what `npm run docs:errors` generates (regenerate and compare)", () => {
    expect(readFileSync(join(root, "ERRORS.md"), "utf8")).toBe(renderErrorsMarkdown());
  });

  it("lists every code literal the source emits", () => {
    const found = new Set<string>();
    for (const file of sources(join(root, "src"))) {
      const text = readFileSync(file, "utf8");
      for (const re of [/\bcode: "([a-z_0-9A-Z]+)"/g, /\binvalid\("([a-z_0-9]+)"/g, /\berror\(reply, \d+, "([a-z_0-9]+)"/g, /\bfail\("([a-z_0-9]+)"/g]) {
        for (const m of text.matchAll(re)) found.add(m[1]!);
      }
    }
    expect(found.size).toBeGreaterThan(20); // the scan itself works
    const missing = [...found].filter((code) => !FOREIGN.has(code) && describeCode(code) === undefined && describeCode(`abuseipdb_${code}`) === undefined);
    expect(missing).toEqual([]);
  });

  it("resolves the codes built from a name to their family", () => {
    expect(describeCode("gemini_daily_budget")?.key).toBe("{upstream}_daily_budget");
    expect(describeCode("virustotal_limiter_timeout")).toMatchObject({ key: "{upstream}_limiter_timeout", retriable: true });
    expect(describeCode("openai_rate_limited")?.key).toBe("{model}_rate_limited");
    expect(describeCode("abuseipdb_daily_quota_exceeded")).toMatchObject({ stage: "enrich", retriable: false });
    expect(describeCode("kafka_connection")?.key).toBe("kafka_{kafkajs_error}");
    expect(describeCode("llm_budget_spent")).toMatchObject({ stage: "classify", retriable: false });
    expect(describeCode("no_such_code")).toBeUndefined();
  });

  it("describes every entry in one human sentence", () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(info.description, code).toMatch(/^[A-Z0-9(`].{10,}\.$/);
    }
  });
});
