import { describe, expect, it } from "vitest";
import { resolveModelPrices } from "../../../../src/config/gemini.js";
import { BudgetGovernor, pacificDay } from "../../../../src/transforms/classify/budget.js";
import { costUsd, estimateCostUsd } from "../../../../src/transforms/classify/cost.js";

const prices = { inputPerMTok: 0.3, outputPerMTok: 2.5 };

describe("cost", () => {
  it("bills prompt tokens at the input price and answer + thinking tokens at the output price", () => {
    expect(costUsd({ promptTokens: 1_000_000, outputTokens: 0, thoughtsTokens: 0 }, prices)).toBeCloseTo(0.3);
    expect(costUsd({ promptTokens: 4000, outputTokens: 2000, thoughtsTokens: 500 }, prices)).toBeCloseTo(0.0012 + 0.00625);
    expect(estimateCostUsd(1000, 1000, prices)).toBeCloseTo(0.0028);
  });

  it("bills cached prompt tokens (part of promptTokens) at the cached-input price", () => {
    const withCache = { ...prices, cachedInputPerMTok: 0.03 };
    expect(costUsd({ promptTokens: 1_000_000, cachedTokens: 800_000, outputTokens: 0, thoughtsTokens: 0 }, withCache)).toBeCloseTo(0.06 + 0.024);
    // more cached than prompt (a bad server figure) cannot make the request cheaper than all-cached
    expect(costUsd({ promptTokens: 1000, cachedTokens: 5000, outputTokens: 0, thoughtsTokens: 0 }, withCache)).toBeCloseTo(0.00003);
    // no cached price known: cached tokens cost the full input price
    expect(costUsd({ promptTokens: 1_000_000, cachedTokens: 800_000, outputTokens: 0, thoughtsTokens: 0 }, prices)).toBeCloseTo(0.3);
  });

  it("takes explicit prices over the built-in table, and knows the default model", () => {
    expect(resolveModelPrices({ GEMINI_MODEL: "gemini-3.5-flash-lite" })).toEqual({ inputPerMTok: 0.3, cachedInputPerMTok: 0.03, outputPerMTok: 2.5 });
    // an explicit input price without a cached one bills cached tokens at that price, never below it
    expect(resolveModelPrices({ GEMINI_MODEL: "gemini-3.5-flash-lite", GEMINI_PRICE_INPUT_PER_MTOK: 1 })).toEqual({
      inputPerMTok: 1,
      cachedInputPerMTok: 1,
      outputPerMTok: 2.5,
    });
    expect(resolveModelPrices({ GEMINI_MODEL: "gemini-3.5-flash-lite", GEMINI_PRICE_CACHED_INPUT_PER_MTOK: 0.05 })?.cachedInputPerMTok).toBe(0.05);
    expect(resolveModelPrices({ GEMINI_MODEL: "gemini-9-ultra" })).toBeNull();
  });
});

describe("BudgetGovernor", () => {
  it("refuses reservations that would overshoot the day's budget, counting in-flight estimates", () => {
    const g = new BudgetGovernor({ dailyBudgetUsd: 1, dayKey: () => "d1" });
    const a = g.tryReserve(0.6)!;
    expect(a).not.toBeNull();
    expect(g.tryReserve(0.6)).toBeNull(); // 0.6 in flight + 0.6 > 1
    g.settle(a, 0.2);
    expect(g.spentUsd).toBeCloseTo(0.2);
    expect(g.tryReserve(0.6)).not.toBeNull();
  });

  it("reports spent until the day changes, then starts clean", () => {
    let day = "d1";
    const g = new BudgetGovernor({ dailyBudgetUsd: 0.5, dayKey: () => day });
    g.settle(g.tryReserve(0.1)!, 0.5);
    expect(g.exhaustedReason()).toMatch(/TRIAGE_DAILY_BUDGET_USD=0.5/);
    expect(g.tryReserve(0.01)).toBeNull();
    day = "d2";
    expect(g.exhaustedReason()).toBeNull();
    expect(g.tryReserve(0.01)).not.toBeNull();
  });

  it("remembers a spent request quota (RPD) for the rest of the day", () => {
    let day = "d1";
    const g = new BudgetGovernor({ dailyBudgetUsd: 0, dayKey: () => day });
    expect(g.tryReserve(100)).not.toBeNull(); // 0 = no spend limit
    g.markRequestsSpent("GEMINI_RPD reached");
    expect(g.exhaustedReason()).toBe("GEMINI_RPD reached");
    expect(g.tryReserve(0)).toBeNull();
    day = "d2";
    expect(g.exhaustedReason()).toBeNull();
  });

  it("ends days at midnight Pacific, like Google's RPD reset", () => {
    // 07:59 UTC is still the previous day in Los Angeles (PST, UTC-8) in November.
    expect(pacificDay(Date.parse("2026-11-23T07:59:00Z"))).toBe("2026-11-22");
    expect(pacificDay(Date.parse("2026-11-23T08:00:00Z"))).toBe("2026-11-23");
  });
});
