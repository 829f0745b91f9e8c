import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { agrees, parseLabelsMap, readLabel } from "../../../src/report/labels.js";

const truth = (v: unknown, map?: Map<string, never>) => {
  const r = readLabel(v, map);
  return r.kind === "truth" ? r.truth : r.kind;
};

describe("label vocabulary", () => {
  it("reads the common vendors' close reasons by default", () => {
    // GUIDE IncidentGrade / Sentinel & Defender Classification
    expect(truth("TruePositive")).toBe("true_positive");
    expect(truth("BenignPositive")).toBe("benign_positive");
    expect(truth("FalsePositive")).toBe("false_positive");
    expect(truth("Undetermined")).toBe("needs_review");
    expect(truth("InformationalExpectedActivity")).toBe("benign_positive");
    // Sentinel ClassificationReason
    expect(truth("SuspiciousButExpected")).toBe("benign_positive");
    expect(truth("IncorrectAlertLogic")).toBe("false_positive");
    // Elastic workflow_reason (snake_case), Splunk ES dispositions, plain words in any case
    expect(truth("false_positive")).toBe("false_positive");
    expect(truth("duplicate")).toBe("ignored");
    expect(truth("disposition:2")).toBe("benign_positive");
    expect(truth("True Positive - Suspicious Activity")).toBe("true_positive");
    expect(truth("MALICIOUS")).toBe("true_positive");
  });

  it("says what it cannot read instead of guessing", () => {
    expect(readLabel("escalated to legal")).toEqual({ kind: "unmapped", value: "escalated to legal" });
    expect(readLabel(undefined)).toEqual({ kind: "missing" });
    expect(readLabel("")).toEqual({ kind: "missing" });
    expect(readLabel({ a: 1 }).kind).toBe("unmapped");
  });

  it("--labels-map inline and as a file; entries win over the defaults", () => {
    const inline = parseLabelsMap("escalated=true_positive, closed-fp=false_positive,TruePositive=ignore");
    expect(inline.ok).toBe(true);
    if (!inline.ok) return;
    expect(readLabel("Escalated", inline.value)).toEqual({ kind: "truth", truth: "true_positive" });
    expect(readLabel("closed_fp", inline.value)).toEqual({ kind: "truth", truth: "false_positive" });
    expect(readLabel("TruePositive", inline.value)).toEqual({ kind: "ignored" });
    const file = join(mkdtempSync(join(tmpdir(), "lm-")), "map.json");
    writeFileSync(file, JSON.stringify({ "1": "true_positive", "2": "benign_positive", "3": "false_positive" }));
    const fromFile = parseLabelsMap(file);
    expect(fromFile.ok && readLabel(2, fromFile.value)).toEqual({ kind: "truth", truth: "benign_positive" });
  });

  it("refuses a map with an unknown meaning, naming it", () => {
    const bad = parseLabelsMap("closed=benign");
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/"closed".*benign.*true_positive/);
    expect(parseLabelsMap("").ok).toBe(false);
  });
});

describe("scoring", () => {
  it("a benign positive agrees with false_positive and needs_review, not with true_positive", () => {
    expect(agrees("benign_positive", "false_positive")).toBe(true);
    expect(agrees("benign_positive", "needs_review")).toBe(true);
    expect(agrees("benign_positive", "true_positive")).toBe(false);
  });

  it("the other truths agree only with the same classification", () => {
    expect(agrees("true_positive", "true_positive")).toBe(true);
    expect(agrees("true_positive", "needs_review")).toBe(false);
    expect(agrees("true_positive", "false_positive")).toBe(false);
    expect(agrees("false_positive", "needs_review")).toBe(false);
  });
});
