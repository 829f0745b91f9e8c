import type { ModelPrices } from "../../config/gemini.js";
import type { TokenUsage } from "./model-port.js";

/** USD of one request: prompt tokens at the input price, answer + thinking tokens at the output price. */
export function costUsd(usage: TokenUsage, prices: ModelPrices): number {
  return (usage.promptTokens * prices.inputPerMTok + (usage.outputTokens + usage.thoughtsTokens) * prices.outputPerMTok) / 1_000_000;
}

/** USD a request may cost before it is sent (for the budget reservation). */
export function estimateCostUsd(promptTokens: number, maxOutputTokens: number, prices: ModelPrices): number {
  return costUsd({ promptTokens, outputTokens: maxOutputTokens, thoughtsTokens: 0 }, prices);
}
