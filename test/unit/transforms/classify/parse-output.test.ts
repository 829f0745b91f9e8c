import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { bindAnswers, parseAnswerText } from "../../../../src/transforms/classify/parse-output.js";

const item = (id: string, classification = "true_positive", extra: Record<string, unknown> = {}) => ({
  alert_id: id,
  reasoning: `AbuseIPDB 97 for ${id}.`,
  classification,
  severity: "high",
  confidence: 88,
  recommended_actions: ["Block the IP"],
  mitre_techniques: ["T1110"],
  ...extra,
});

describe("parseAnswerText", () => {
  it("accepts a JSON array, an object wrapping one, and a code fence", () => {
    const arr = JSON.stringify([item("a"), item("b", "false_positive")]);
    expect(parseAnswerText(arr).items.map((i) => i.alert_id)).toEqual(["a", "b"]);
    expect(parseAnswerText(JSON.stringify({ verdicts: [item("a")] })).items).toHaveLength(1);
    expect(parseAnswerText("```json\n" + arr + "\n```").items).toHaveLength(2);
    expect(parseAnswerText(arr).repaired).toBe(false);
  });

  it("repairs a truncated array by keeping only its complete items", () => {
    const full = JSON.stringify([item("a"), item("b"), item("c")]);
    const cut = full.slice(0, full.indexOf('"alert_id":"c"') + 20);
    const parsed = parseAnswerText(cut);
    expect(parsed.repaired).toBe(true);
    expect(parsed.items.map((i) => i.alert_id)).toEqual(["a", "b"]);
  });

  it("never invents items from any prefix of a valid answer (property)", () => {
    const full = JSON.stringify([
      item("a", "true_positive", { reasoning: 'has "quotes", {braces} and [brackets]' }),
      item("b", "needs_review"),
      item("c", "false_positive"),
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: full.length }), (n) => {
        const ids = parseAnswerText(full.slice(0, n)).items.map((i) => i.alert_id);
        expect(["a", "b", "c"].slice(0, ids.length)).toEqual(ids);
      }),
    );
  });

  it("rejects items with an unknown label or out-of-range confidence, and tidies the rest", () => {
    const parsed = parseAnswerText(
      JSON.stringify([
        item("a", "benign"),
        item("b", "true_positive", { confidence: 140 }),
        item("c", "Needs Review", { confidence: 72.6, severity: "HIGH", mitre_techniques: ["t1059.001", "not-an-id", "T1059.001"] }),
        item("d", "true_positive", { confidence: null }),
      ]),
    );
    expect(parsed.invalid).toBe(3);
    expect(parsed.items).toEqual([
      expect.objectContaining({ alert_id: "c", classification: "needs_review", severity: "high", confidence: 73, mitre_techniques: ["T1059.001"] }),
    ]);
  });

  it("yields nothing (not 'No data') for garbage", () => {
    expect(parseAnswerText("No data").items).toEqual([]);
    expect(parseAnswerText("").items).toEqual([]);
  });
});

describe("bindAnswers", () => {
  const parse = (items: unknown[]) => parseAnswerText(JSON.stringify(items)).items;

  it("ignores invented ids and reports missing ones", () => {
    const bound = bindAnswers(["a", "b", "c"], parse([item("a"), item("zzz"), item("c")]));
    expect([...bound.byId.keys()]).toEqual(["a", "c"]);
    expect(bound.missing).toEqual(["b"]);
    expect(bound.invented).toEqual(["zzz"]);
  });

  it("keeps the first of agreeing duplicates and turns conflicting ones into needs_review", () => {
    const agree = bindAnswers(["a"], parse([item("a"), item("a", "true_positive", { confidence: 10 })]));
    expect(agree.byId.get("a")).toMatchObject({ classification: "true_positive", confidence: 88 });
    expect(agree.duplicates).toEqual(["a"]);
    const conflict = bindAnswers(["a"], parse([item("a", "false_positive"), item("a", "true_positive")]));
    expect(conflict.byId.get("a")).toMatchObject({ classification: "needs_review" });
    expect(conflict.byId.get("a")!.confidence).toBeLessThanOrEqual(50);
  });
});
