import { describe, expect, it } from "vitest";
import { firstAsks, noveltyOf } from "../../../../../src/transforms/classify/memory/novelty.js";

describe("novelty (what a held-back alert is new in)", () => {
  it("keys by the check and the categorical values it looked at; numbers are one key, measured", () => {
    const a = noveltyOf("unseen_combination", ["asset", "fields.hour"], { asset: "kiosk", "fields.hour": 3 });
    const b = noveltyOf("unseen_combination", ["asset", "fields.hour"], { asset: "kiosk", "fields.hour": 22 });
    const c = noveltyOf("unseen_combination", ["asset", "fields.hour"], { asset: "server", "fields.hour": 3 });
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
    expect(a.measure).toBe("fields.hour");
    expect(noveltyOf("out_of_range", ["fields.hour"], { "fields.hour": 3 }).key).not.toBe(noveltyOf("unseen_value", ["fields.hour"], { "fields.hour": 3 }).key);
    expect(noveltyOf("unseen_value", ["asset"], { asset: "kiosk" }).measure).toBeNull();
  });

  it("asks first the lowest and the highest of the measure, or one alert without a measure", () => {
    const group = [5, 40, 2, 17, 40].map((n, i) => ({ i, values: { n } }));
    expect(firstAsks(group, "n", (x) => x.values).map((x) => x.i)).toEqual([2, 1]);
    expect(firstAsks([{ values: { n: 3 } }, { values: { n: 3 } }], "n", (x) => x.values)).toHaveLength(1);
    expect(firstAsks(group, null, (x) => x.values).map((x) => x.i)).toEqual([0]);
    expect(firstAsks([], "n", (x: { values: { n: number } }) => x.values)).toEqual([]);
  });
});
