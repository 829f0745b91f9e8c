import { describe, expect, it } from "vitest";
import { type ConfigError, loadConfig } from "../../../src/config/load.js";
import { modelConfigured, modelTiers } from "../../../src/config/model.js";
import { createLogger } from "../../../src/telemetry/logger.js";
import { createMetrics } from "../../../src/telemetry/metrics.js";
import { createClassifier, modelVersionForCache } from "../../../src/transforms/classify/index.js";
import { PseudonymizingClassifier } from "../../../src/transforms/classify/pseudonymize.js";
import { TieredClassifier } from "../../../src/transforms/classify/tiers.js";

const logger = createLogger("silent");
const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
};

describe("model config", () => {
  it("defaults: Gemini, one tier, no pseudonymisation; no key = rules only", () => {
    const c = loadConfig({});
    expect(modelTiers(c)).toEqual(["gemini"]);
    expect(modelConfigured(c)).toBe(false);
    expect(c.PSEUDONYMIZE).toBe("false");
  });

  it("cross-field rules are reported by option name", () => {
    expect(problems({ MODEL_PROVIDER: "openai" })).toEqual([expect.stringMatching(/^OPENAI_MODEL: required/)]);
    expect(problems({ MODEL_TIERS: "openai,openai", OPENAI_MODEL: "m" })).toEqual([expect.stringMatching(/^MODEL_TIERS: the two tiers/)]);
    expect(problems({ MODEL_TIERS: "openai,gemini", OPENAI_MODEL: "m" })).toEqual([expect.stringMatching(/^GEMINI_API_KEY: required/)]);
    expect(problems({ MODEL_TIERS: "local,gemini" })[0]).toMatch(/^MODEL_TIERS/);
    expect(problems({ PSEUDONYMIZE: "true" })).toEqual([expect.stringMatching(/^PSEUDONYMIZE_SECRET: PSEUDONYMIZE=true requires a secret of at least 32/)]);
  });

  it("builds the chain the provider/tier options describe", () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const one = createClassifier({ config: loadConfig({ MODEL_PROVIDER: "openai", OPENAI_MODEL: "llama3.1:8b" }), metrics, logger });
    expect(one.name).toBe("openai");
    const tiersConfig = loadConfig({ MODEL_TIERS: "openai,gemini", OPENAI_MODEL: "llama3.1:8b", GEMINI_API_KEY: "k" });
    const two = createClassifier({ config: tiersConfig, metrics, logger });
    expect(two).toBeInstanceOf(TieredClassifier);
    expect(two.name).toBe("openai+gemini");
    const masked = createClassifier({
      config: loadConfig({ MODEL_TIERS: "openai,gemini", OPENAI_MODEL: "m", GEMINI_API_KEY: "k", PSEUDONYMIZE: "true", PSEUDONYMIZE_SECRET: "x".repeat(40) }),
      metrics,
      logger,
    });
    expect(masked).toBeInstanceOf(PseudonymizingClassifier);
    // The cache's staleness check: the one tier's model; off with two tiers (either model's answers are current).
    expect(modelVersionForCache(loadConfig({ MODEL_PROVIDER: "openai", OPENAI_MODEL: "llama3.1:8b" }))?.model).toBe("llama3.1:8b");
    expect(modelVersionForCache(tiersConfig)).toBeNull();
  });
});
