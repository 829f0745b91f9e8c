import { z } from "zod";
import { SEVERITIES } from "../../core/severity.js";
import { CLASSIFICATIONS } from "../../core/verdict.js";

/**
 * JSON Schema of the answer, sent as Gemini's `responseJsonSchema` (only keywords Google lists as supported: type,
 * description, enum, items, properties, required, minimum/maximum, additionalProperties, plus its propertyOrdering).
 * alert_id comes first so a truncated answer still binds every complete item; reasoning precedes the label so the
 * model states the evidence before deciding. The model's output is still validated by answerItemSchema below.
 */
export const ANSWER_RESPONSE_SCHEMA: Record<string, unknown> = {
  type: "array",
  items: {
    type: "object",
    properties: {
      alert_id: { type: "string" },
      reasoning: { type: "string", description: "1-3 short sentences citing the alert fields and threat intel used" },
      classification: { type: "string", enum: [...CLASSIFICATIONS] },
      severity: { type: "string", enum: [...SEVERITIES] },
      confidence: { type: "integer", minimum: 0, maximum: 100 },
      recommended_actions: { type: "array", items: { type: "string" } },
      mitre_techniques: { type: "array", items: { type: "string" } },
    },
    required: ["alert_id", "reasoning", "classification", "severity", "confidence", "recommended_actions", "mitre_techniques"],
    additionalProperties: false,
    propertyOrdering: ["alert_id", "reasoning", "classification", "severity", "confidence", "recommended_actions", "mitre_techniques"],
  },
};

const word = (v: unknown) =>
  typeof v === "string"
    ? v
        .trim()
        .toLowerCase()
        .replace(/[\s-]+/g, "_")
    : v;
const numeric = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v);
const listOrEmpty = (v: unknown) => (v === null ? undefined : v);
const MITRE_ID = /^T\d{4}(\.\d{3})?$/;

/** One item of the model's answer, validated; lenient only where the meaning cannot change (case, rounding, caps). */
export const answerItemSchema = z.object({
  alert_id: z.union([z.string().min(1), z.number()]).transform(String),
  classification: z.preprocess(word, z.enum(CLASSIFICATIONS)),
  severity: z.preprocess(word, z.enum(SEVERITIES)),
  confidence: z.preprocess(numeric, z.number().min(0).max(100)).transform(Math.round),
  reasoning: z
    .string()
    .trim()
    .min(1)
    .transform((s) => s.slice(0, 2000)),
  recommended_actions: z.preprocess(listOrEmpty, z.array(z.string()).default([])).transform((a) =>
    a
      .map((s) => s.trim().slice(0, 300))
      .filter(Boolean)
      .slice(0, 8),
  ),
  mitre_techniques: z
    .preprocess(listOrEmpty, z.array(z.string()).default([]))
    .transform((a) => [...new Set(a.map((s) => s.trim().toUpperCase()).filter((s) => MITRE_ID.test(s)))].slice(0, 10)),
});

export type AnswerItem = z.infer<typeof answerItemSchema>;
