/**
 * Analysts' past decisions ("labels") and how verdicts are scored against them. The label is the answer: it is
 * taken out of each record before normalization (sources/labelled.ts), so it never reaches the model, the cache
 * keys or the memory; only this module and the report see it.
 */
import { existsSync, readFileSync } from "node:fs";
import { invalid, ok, type Result } from "../core/result.js";
import type { Classification } from "../core/verdict.js";

/**
 * What an analyst decided, in our vocabulary. `benign_positive` (benign true positive: the detection was right,
 * the activity was real but expected — a pen test, an admin's job) is neither a false positive nor an attack to act on.
 */
export const TRUTHS = ["true_positive", "benign_positive", "false_positive", "needs_review"] as const;
export type Truth = (typeof TRUTHS)[number];

/** A label value mapped to a truth, or `ignore` (duplicate, other…: present but not scored). */
export type LabelMeaning = Truth | "ignore";

/**
 * How a verdict scores against an analyst's decision. A benign positive agrees with false_positive and with
 * needs_review (no attack to act on; closing or reviewing it are both right) and disagrees with true_positive
 * (it raises an attack that is not one). The other truths agree only with the same classification.
 */
export function agrees(truth: Truth, classification: Classification): boolean {
  if (truth === "benign_positive") return classification !== "true_positive";
  return truth === classification;
}

/** Lower-case letters and digits only: "TruePositive", "true_positive" and "True Positive" are one key. */
export const labelKey = (value: string): string => value.toLowerCase().replace(/[^a-z0-9]/g, "");

const entries = (meaning: LabelMeaning, ...values: string[]): [string, LabelMeaning][] => values.map((v) => [labelKey(v), meaning]);

/**
 * Close reasons of the common tools: Microsoft Sentinel / Defender XDR `Classification` and GUIDE `IncidentGrade`
 * (TruePositive, BenignPositive, FalsePositive, Undetermined; Defender's InformationalExpectedActivity),
 * Sentinel's ClassificationReason (SuspiciousActivity, SuspiciousButExpected, IncorrectAlertLogic, InaccurateData),
 * Elastic `kibana.alert.workflow_reason` (false_positive, duplicate, other… as snake_case words), Splunk ES
 * dispositions ("True Positive - Suspicious Activity", disposition:1 … disposition:6), Chronicle SOAR reasons
 * (MALICIOUS, NOT_MALICIOUS, MAINTENANCE, INCONCLUSIVE) and plain words.
 */
export const DEFAULT_LABEL_MAP: ReadonlyMap<string, LabelMeaning> = new Map([
  ...entries(
    "true_positive",
    "true_positive",
    "TruePositive",
    "tp",
    "malicious",
    "confirmed",
    "SuspiciousActivity",
    "True Positive - Suspicious Activity",
    "disposition:1",
    "attack",
    "incident",
  ),
  ...entries(
    "benign_positive",
    "benign_positive",
    "BenignPositive",
    "benign true positive",
    "btp",
    "bp",
    "benign",
    "SuspiciousButExpected",
    "InformationalExpectedActivity",
    "Benign Positive - Suspicious But Expected",
    "disposition:2",
    "expected",
    "maintenance",
    "authorized",
    "triggered by test",
  ),
  ...entries(
    "false_positive",
    "false_positive",
    "FalsePositive",
    "fp",
    "not_malicious",
    "IncorrectAlertLogic",
    "InaccurateData",
    "False Positive - Incorrect Analytic Logic",
    "False Positive - Inaccurate Data",
    "disposition:3",
    "disposition:4",
  ),
  ...entries("needs_review", "needs_review", "undetermined", "inconclusive", "indeterminate", "disposition:6", "further investigation required"),
  ...entries("ignore", "duplicate", "other", "unknown", "disposition:0", "disposition:5", "unassigned", "none"),
]);

const MEANINGS = new Set<string>([...TRUTHS, "ignore"]);

/**
 * Parse `--labels-map`: a JSON file `{"vendor value": "true_positive", …}` or inline `Value=meaning,Value=meaning`.
 * Meanings: true_positive, benign_positive, false_positive, needs_review, ignore. Entries win over the defaults.
 */
export function parseLabelsMap(arg: string): Result<Map<string, LabelMeaning>> {
  let pairs: [string, unknown][];
  if (existsSync(arg)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(arg, "utf8"));
    } catch (err) {
      return invalid("bad_labels_map", `--labels-map ${arg}: not a JSON object (${(err as Error).message.slice(0, 120)})`);
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      return invalid("bad_labels_map", `--labels-map ${arg}: expected a JSON object of "value": "meaning"`);
    pairs = Object.entries(parsed);
  } else {
    pairs = arg
      .split(",")
      .filter((p) => p.trim() !== "")
      .map((p) => {
        const eq = p.lastIndexOf("=");
        return eq < 0 ? [p, undefined] : [p.slice(0, eq), p.slice(eq + 1).trim()];
      });
    if (pairs.length === 0) return invalid("bad_labels_map", "--labels-map: empty; expected FILE.json or Value=meaning[,Value=meaning]");
  }
  const map = new Map<string, LabelMeaning>();
  for (const [value, meaning] of pairs) {
    if (typeof meaning !== "string" || !MEANINGS.has(meaning)) {
      return invalid("bad_labels_map", `--labels-map: "${value}" maps to ${JSON.stringify(meaning)}; expected one of ${[...MEANINGS].join(", ")}`);
    }
    if (labelKey(value) === "") return invalid("bad_labels_map", `--labels-map: "${value}" has no letters or digits`);
    map.set(labelKey(value), meaning as LabelMeaning);
  }
  return ok(map);
}

/** What one record's label says: a truth, present but ignored/unmapped, or absent. */
export type LabelReading = { kind: "truth"; truth: Truth } | { kind: "ignored" } | { kind: "unmapped"; value: string } | { kind: "missing" };

/** Read a label value with the user's map first, then the defaults. */
export function readLabel(value: unknown, userMap: ReadonlyMap<string, LabelMeaning> = new Map()): LabelReading {
  if (value === undefined || value === null || value === "") return { kind: "missing" };
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
    return { kind: "unmapped", value: JSON.stringify(value).slice(0, 80) };
  const text = String(value);
  const meaning = userMap.get(labelKey(text)) ?? DEFAULT_LABEL_MAP.get(labelKey(text));
  if (meaning === undefined) return { kind: "unmapped", value: text.slice(0, 80) };
  return meaning === "ignore" ? { kind: "ignored" } : { kind: "truth", truth: meaning };
}
