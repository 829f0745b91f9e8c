// The API's share of the model's daily requests follows the model in use: Gemini, an OpenAI-compatible server, or both tiers.
import { describe, expect, it } from "vitest";
import { memoryQuotaStores } from "../../../src/resources/limiter.js";
import { apiModelShare } from "../../../src/sources/api-share.js";

const base = {
  GEMINI_API_KEY: undefined as string | undefined,
  GEMINI_RPD: 1000,
  HTTP_API_MODEL_SHARE: 0.2,
  MODEL_PROVIDER: "gemini" as const,
  MODEL_TIERS: "",
  OPENAI_RPD: 0,
};

describe("apiModelShare", () => {
  it("takes share × GEMINI_RPD with Gemini, and nothing to protect without a key or with GEMINI_RPD=0", () => {
    expect(apiModelShare({ ...base, GEMINI_API_KEY: "k" }, memoryQuotaStores)?.alertsPerDay).toBe(200);
    expect(apiModelShare(base, memoryQuotaStores)).toBeNull();
    expect(apiModelShare({ ...base, GEMINI_API_KEY: "k", GEMINI_RPD: 0 }, memoryQuotaStores)).toBeNull();
  });

  it("bounds the API on an OpenAI-compatible model's OPENAI_RPD too (before: unlimited, the API could spend it all)", () => {
    const share = apiModelShare({ ...base, MODEL_PROVIDER: "openai", OPENAI_RPD: 500 }, memoryQuotaStores);
    expect(share?.alertsPerDay).toBe(100);
    // A GEMINI_RPD that no tier uses does not count.
    expect(apiModelShare({ ...base, GEMINI_API_KEY: "k", MODEL_PROVIDER: "openai", OPENAI_RPD: 0 }, memoryQuotaStores)).toBeNull();
  });

  it("with two tiers, the smaller daily budget of the two bounds the API", () => {
    expect(apiModelShare({ ...base, GEMINI_API_KEY: "k", MODEL_TIERS: "openai,gemini", OPENAI_RPD: 5000 }, memoryQuotaStores)?.alertsPerDay).toBe(200);
    expect(apiModelShare({ ...base, GEMINI_API_KEY: "k", MODEL_TIERS: "gemini,openai", OPENAI_RPD: 100 }, memoryQuotaStores)?.alertsPerDay).toBe(20);
  });
});
