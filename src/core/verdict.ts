import { z } from "zod";
import { alertSchema } from "./alert.js";
import { enrichmentSchema } from "./enrichment.js";
import { SEVERITIES } from "./severity.js";

/** Bumped on any breaking change of the verdict message. */
export const VERDICT_SCHEMA_VERSION = "1.2";

export const CLASSIFICATIONS = ["true_positive", "false_positive", "needs_review"] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export const VERDICT_SOURCES = ["llm", "cache:exact", "cache:pattern", "rules", "override", "memory"] as const;
export type VerdictSource = (typeof VERDICT_SOURCES)[number];

const isoUtc = z.iso.datetime({ offset: false });

/** What a classifier decides for one alert (before the pipeline stamps times and the alert on it). */
export const decisionSchema = z.object({
  classification: z.enum(CLASSIFICATIONS),
  severity: z.enum(SEVERITIES),
  confidence: z.number().int().min(0).max(100),
  reasoning: z.string().min(1).max(4000),
  source: z.enum(VERDICT_SOURCES),
  recommended_actions: z.array(z.string()).default([]),
  mitre_techniques: z.array(z.string()).default([]),
  model: z.string().nullable().default(null).describe("Model id for llm verdicts (and cached llm verdicts)"),
  prompt_version: z.string().nullable().default(null).describe("Prompt/policy version, or the rules version for rules verdicts"),
  degraded: z.boolean().default(false).describe("True when a fallback produced this verdict (model unavailable, budget spent, bad answer)"),
  fallback_reason: z.string().nullable().default(null),
  tier: z
    .string()
    .nullable()
    .optional()
    .describe("Model tier that decided it (`first` or `escalation`) when MODEL_TIERS is set; absent or null with one tier, for rules and overrides"),
  memory: z
    .object({
      rule: z.string().describe("The rule the memory learnt this answer under: input format and normalized alert name"),
      conditions: z.array(z.string()).describe('What the reused answer was conditioned on, e.g. "ti.abuse.score >= 75", "fields.failed_logins in 10..30"'),
      support: z.number().int().min(0).describe("Agreeing model answers behind the reused answer"),
      agreement: z.number().min(0).max(1).nullable().describe("Running agreement of the memory's spot checks with the model (null before the first)"),
    })
    .nullish()
    .describe("Provenance of a verdict answered from the verdict memory (source memory); absent or null otherwise"),
  guard: z
    .object({
      reason: z
        .enum(["threat_intel", "instructions"])
        .describe("The source's strong threat intel, or instruction-like text in the alert (instructions when both)"),
      severity: z.enum(SEVERITIES).describe("The severity of the false_positive it refused"),
    })
    .nullish()
    .describe("Set when the classify guard refused the model's (or a reused) false_positive and raised it to needs_review; absent or null otherwise"),
  learnable: z
    .boolean()
    .default(false)
    .describe(
      "True only for a model answer that caches and the verdict memory may reuse or learn from: not degraded, and neither this alert nor any other " +
        "alert of the same model request looked like instructions (a false_positive the guard raised for threat intel alone stays learnable: " +
        "the memory learns it as the model's false_positive and re-applies the guard on every reuse)",
    ),
});
export type Decision = z.infer<typeof decisionSchema>;

/** The verdict message published per alert (key = alert_id). */
export const verdictSchema = decisionSchema.extend({
  schema_version: z.literal(VERDICT_SCHEMA_VERSION),
  alert_id: z.string().min(1),
  enrichment: enrichmentSchema.nullable(),
  alert: alertSchema,
  received_at: isoUtc,
  classified_at: isoUtc,
});
export type Verdict = z.infer<typeof verdictSchema>;
