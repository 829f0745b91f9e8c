import { describe, expect, it } from "vitest";
import type { RecordIntake, SourceRecord } from "../../../src/core/ports/index.js";
import { LabelledSource, stripLabel, takeDottedField, type ObservedRecord } from "../../../src/sources/labelled.js";
import { decodeRecord } from "../../../src/transforms/normalize/decode.js";
import { ArraySource } from "../../support/memory.js";

describe("takeDottedField", () => {
  it("removes the field nested, flat and mixed, every occurrence, and returns the flattest", () => {
    const rec: Record<string, unknown> = {
      "kibana.alert.workflow_reason": "flat",
      kibana: { alert: { workflow_reason: "nested", rule: "r" }, "alert.workflow_reason": "mixed" },
    };
    expect(takeDottedField(rec, ["kibana", "alert", "workflow_reason"])).toEqual({ found: true, value: "flat" });
    expect(rec).toEqual({ kibana: { alert: { rule: "r" } } });
  });

  it("leaves a record without the field as it is", () => {
    const rec = { a: { b: 1 }, list: [{ disposition: "x" }] };
    expect(takeDottedField(rec, ["disposition"])).toEqual({ found: false, value: undefined });
    expect(rec).toEqual({ a: { b: 1 }, list: [{ disposition: "x" }] });
  });
});

describe("stripLabel", () => {
  it("re-serializes only a record that carried the label", () => {
    const without = Buffer.from('{"alert_name":"x",  "n": 1}');
    expect(stripLabel(without, ["IncidentGrade"]).value).toBe(without);
    const withLabel = stripLabel(Buffer.from('{"alert_name":"x","IncidentGrade":"TruePositive"}'), ["IncidentGrade"]);
    expect(withLabel.label).toBe("TruePositive");
    expect(withLabel.value!.toString()).toBe('{"alert_name":"x"}');
  });

  it("the record without its label decodes as the original would: 1e309 stays 1e309, not null (with --labels the model saw other values)", () => {
    const limits = { maxRecordBytes: 4096, maxJsonDepth: 16 };
    const original = '{"alert_id":"x","bytes":1e309,"neg":-1e400,"disposition":"FalsePositive"}';
    const { value, label } = stripLabel(Buffer.from(original), ["disposition"]);
    expect(label).toBe("FalsePositive");
    const without = decodeRecord(Buffer.from('{"alert_id":"x","bytes":1e309,"neg":-1e400}'), limits);
    expect(decodeRecord(value, limits)).toEqual(without);
  });

  it("passes on what is not a JSON object untouched (it will be dead-lettered)", () => {
    for (const raw of ["{not json", "[1,2]", '"s"']) expect(stripLabel(Buffer.from(raw), ["a"]).value!.toString()).toBe(raw);
    const badUtf8 = Buffer.from([0x7b, 0xff, 0x7d]);
    expect(stripLabel(badUtf8, ["a"]).value).toBe(badUtf8);
    expect(stripLabel(null, ["a"]).value).toBeNull();
  });
});

describe("LabelledSource", () => {
  it("hands the pipeline records without the label and reports each outcome with its own label and position", async () => {
    const inner = new ArraySource(['{"alert_name":"a","review":{"grade":"TruePositive","by":"x"}}', '{"alert_name":"b"}']);
    const observed: ObservedRecord[] = [];
    const src = new LabelledSource(inner, { labelPath: ["review", "grade"], onOutcome: (o) => observed.push(o), now: () => 5000 });
    const pushed: SourceRecord[] = [];
    const intake: RecordIntake = { push: (r) => pushed.push(r), hasCapacity: () => true, whenCapacity: async () => {} };
    await src.start(intake);
    await src.exhausted;
    expect(pushed.map((r) => r.value!.toString())).toEqual(['{"alert_name":"a","review":{"by":"x"}}', '{"alert_name":"b"}']);
    // Acknowledged out of order: each outcome keeps its own label.
    pushed[1]!.ack({ deadLetter: { value: null, code: "c", message: "m", origin: {}, failedAtMs: 0 } });
    pushed[0]!.ack({ deadLetter: { value: null, code: "c", message: "m", origin: {}, failedAtMs: 0 } });
    expect(observed.map((o) => [o.position, o.label])).toEqual([
      [1, undefined],
      [0, "TruePositive"],
    ]);
    expect(inner.acked.sort()).toEqual([0, 1]);
  });
});
