import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { verdictSchema } from "../../../src/core/verdict.js";
import { verdictJsonSchema } from "../../../src/core/verdict-json-schema.js";
import { toVerdict } from "../../../src/pipeline.js";
import { decideByRules } from "../../../src/transforms/classify/rules.js";
import type { Alert } from "../../../src/core/alert.js";

const alert: Alert = {
  alert_id: "A1",
  alert_name: "Ransomware behaviour: mass file encryption",
  severity: "critical",
  source_ip: "10.0.0.1",
  destination_ip: null,
  user: "bob",
  host: "ws-1",
  timestamp: "2025-11-23T10:00:00.000Z",
  description: null,
  format: "native",
  fields: {},
};

describe("verdict schema", () => {
  it("accepts a pipeline verdict and stamps version, times and the alert", () => {
    const v = toVerdict({ alert, enrichment: null }, decideByRules({ alert, enrichment: null }), Date.UTC(2025, 10, 23, 10, 0, 1), "2025-11-23T10:00:02.000Z");
    const parsed = verdictSchema.parse(v);
    expect(parsed).toMatchObject({
      schema_version: "1.2",
      alert_id: "A1",
      classification: "true_positive",
      source: "rules",
      received_at: "2025-11-23T10:00:01.000Z",
    });
    expect(Number.isInteger(parsed.confidence)).toBe(true);
  });

  it("rejects out-of-range confidence and unknown classification", () => {
    const v = toVerdict({ alert, enrichment: null }, decideByRules({ alert, enrichment: null }), 0, "2025-11-23T10:00:02.000Z");
    expect(verdictSchema.safeParse({ ...v, confidence: 101 }).success).toBe(false);
    expect(verdictSchema.safeParse({ ...v, classification: "benign" }).success).toBe(false);
    expect(verdictSchema.safeParse({ ...v, classified_at: "yesterday" }).success).toBe(false);
  });

  it("config/verdict.schema.json is up to date with the zod schema (npm run schema)", () => {
    const onDisk = JSON.parse(readFileSync(new URL("../../../config/verdict.schema.json", import.meta.url), "utf8"));
    expect(onDisk).toEqual(verdictJsonSchema());
  });
});
