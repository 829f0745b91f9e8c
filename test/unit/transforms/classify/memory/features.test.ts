import { describe, expect, it } from "vitest";
import { KeyDeriver } from "../../../../../src/core/cache-keys.js";
import { keyOptionsFrom } from "../../../../../src/transforms/classify/cache/index.js";
import { alertFeatures, STRONG_INTEL } from "../../../../../src/transforms/classify/memory/features.js";
import { cacheConfig, intel, item } from "../cache/support.js";

const keys = new KeyDeriver(keyOptionsFrom(cacheConfig()));
const guard = { abuseScoreMin: 90, vtMaliciousMin: 5 };

describe("alertFeatures", () => {
  it("says whether the source's intel is strong by the guard's thresholds (ti.strong), from either provider", () => {
    const of = (abuse: number, vt: number) => alertFeatures(item({ source_ip: "45.155.205.233" }, intel(abuse, vt)), keys, guard).values[STRONG_INTEL];
    expect(of(89, 4)).toBe("no");
    expect(of(90, 0)).toBe("yes");
    expect(of(10, 5)).toBe("yes");
    // The operator's thresholds, not fixed ones.
    expect(alertFeatures(item({}, intel(89, 0)), keys, { abuseScoreMin: 80, vtMaliciousMin: 5 }).values[STRONG_INTEL]).toBe("yes");
    // No enrichment, or no guard thresholds: no such feature.
    expect(alertFeatures(item({}), keys, guard).values[STRONG_INTEL]).toBeUndefined();
    expect(alertFeatures(item({}, intel(95, 9)), keys).values[STRONG_INTEL]).toBeUndefined();
  });
});
