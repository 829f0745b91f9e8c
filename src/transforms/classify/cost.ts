import type { ModelPrices } from "../../config/gemini.js";
import type { TokenUsage } from "../../core/ports/index.js";

/**
 * USD of one request: uncached prompt tokens at the input price, cached prompt tokens (part of promptTokens) at the
 * cached-input price, answer + thinking tokens at the output price.
 */
export function costUsd(usage: TokenUsage, prices: ModelPrices): number {
  const cached = Math.min(Math.max(usage.cachedTokens ?? 0, 0), usage.promptTokens);
  return (
    ((usage.promptTokens - cached) * prices.inputPerMTok +
      cached * (prices.cachedInputPerMTok ?? prices.inputPerMTok) +
      (usage.outputTokens + usage.thoughtsTokens) * prices.outputPerMTok) /
    1_000_000
  );
}

/** USD a request may cost before it is sent (for the budget reservation): nothing assumed cached. */
export function estimateCostUsd(promptTokens: number, maxOutputTokens: number, prices: ModelPrices): number {
  return costUsd({ promptTokens, cachedTokens: 0, outputTokens: maxOutputTokens, thoughtsTokens: 0 }, prices);
}
