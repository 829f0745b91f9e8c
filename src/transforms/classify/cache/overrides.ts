/**
 * Analyst overrides (the prototype's human_override): their wire formats on TRIAGE_FEEDBACK_TOPIC and
 * POST /v1/feedback, and the decisions they produce (pure).
 *
 * An override names an alert id. The instance that knows that alert (its verdict record) turns it into a
 * "resolved" record carrying the alert's exact and pattern keys, stores it under those keys and publishes it to
 * the feedback topic, so instances that never saw the alert (each with its own SQLite) apply it to matching
 * alerts too.
 */
import { z } from "zod";
import type { Alert } from "../../../core/alert.js";
import { SEVERITIES, type Severity } from "../../../core/severity.js";
import { CLASSIFICATIONS, type Classification, type Decision } from "../../../core/verdict.js";

const CLASSIFICATION_ALIASES: Readonly<Record<string, Classification>> = { tp: "true_positive", fp: "false_positive", nr: "needs_review" };

/** Our classification words, the prototype's upper-case ones (TRUE_POSITIVE...), tp/fp/nr; undefined otherwise. */
export function parseClassification(value: unknown): Classification | undefined {
  if (typeof value !== "string") return undefined;
  const t = value
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
  if ((CLASSIFICATIONS as readonly string[]).includes(t)) return t as Classification;
  return CLASSIFICATION_ALIASES[t];
}

const classification = z.string().transform((v, ctx) => {
  const c = parseClassification(v);
  if (c === undefined) {
    ctx.addIssue({ code: "custom", message: `must be one of ${CLASSIFICATIONS.join(", ")} (or TRUE_POSITIVE/FALSE_POSITIVE/NEEDS_REVIEW)` });
    return z.NEVER;
  }
  return c;
});

/** What an analyst sends: {alert_id, classification, analyst, reason}; severity and time are optional. */
export const analystOverrideSchema = z.object({
  alert_id: z.string().trim().min(1).max(512),
  classification,
  analyst: z.string().trim().min(1).max(256),
  reason: z.string().trim().min(1).max(2000),
  severity: z.enum(SEVERITIES).optional().describe("Severity to publish; default: the previous verdict's"),
  at: z.iso.datetime({ offset: true }).optional().describe("When the analyst decided; the override's TTL counts from it"),
});
export type AnalystOverride = z.infer<typeof analystOverrideSchema>;

/** An override bound to the keys of the alert it names (published by the instance that knew the alert). */
export const resolvedOverrideSchema = analystOverrideSchema.extend({
  kind: z.literal("resolved"),
  at: z.iso.datetime({ offset: true }),
  exact: z.string().min(1).max(128),
  pattern: z.string().min(1).max(128),
  previous: z.enum(CLASSIFICATIONS).nullable(),
});
export type ResolvedOverride = z.infer<typeof resolvedOverrideSchema>;

/** Any record of the feedback topic. */
export type FeedbackRecord = AnalystOverride | ResolvedOverride;

/** Validate one feedback-topic record: resolved records carry `kind: "resolved"`, everything else is an analyst override. */
export function parseFeedbackRecord(value: unknown): { ok: true; record: FeedbackRecord } | { ok: false; message: string } {
  const isResolved = value !== null && typeof value === "object" && (value as { kind?: unknown }).kind === "resolved";
  const r = (isResolved ? resolvedOverrideSchema : analystOverrideSchema).safeParse(value);
  if (r.success) return { ok: true, record: r.data };
  return { ok: false, message: r.error.issues.map((i) => `${i.path.join(".") || "(record)"}: ${i.message}`).join("; ") };
}

/** Publishes records to TRIAGE_FEEDBACK_TOPIC (resolves once the broker has them). */
export type FeedbackPublisher = (records: readonly FeedbackRecord[]) => Promise<void>;

export function isResolved(r: FeedbackRecord): r is ResolvedOverride {
  return (r as ResolvedOverride).kind === "resolved";
}

/** How an override is kept in the `overrides` namespace. */
export interface StoredOverride {
  v: 1;
  alert_id: string;
  classification: Classification;
  severity: Severity | null;
  analyst: string;
  reason: string;
  at: string;
  /** True once it is also stored under the alert's exact and pattern keys. */
  resolved: boolean;
}

/** Which key of an alert an override matched. */
export type OverrideMatch = "alert_id" | "exact" | "pattern";

const DEFAULT_ACTIONS: Readonly<Record<Classification, string[]>> = {
  true_positive: ["Handle as a confirmed incident (analyst decision)"],
  false_positive: ["Close as false positive (analyst decision)"],
  needs_review: ["Escalate to a tier-2 analyst for manual review"],
};

/** Same analyst decision (for idempotence: re-reading the topic must not re-publish). */
export function sameDecision(
  a: Pick<StoredOverride, "classification" | "analyst" | "reason">,
  b: Pick<StoredOverride, "classification" | "analyst" | "reason">,
): boolean {
  return a.classification === b.classification && a.analyst === b.analyst && a.reason === b.reason;
}

export function toStored(o: AnalystOverride & { at: string }, resolved: boolean): StoredOverride {
  return {
    v: 1,
    alert_id: o.alert_id,
    classification: o.classification,
    severity: o.severity ?? null,
    analyst: o.analyst,
    reason: o.reason,
    at: o.at,
    resolved,
  };
}

/**
 * The decision an override yields for an alert. `previous` (the verdict it replaces, when known) lends severity,
 * MITRE techniques and — when the analyst agrees — the recommended actions.
 */
export function overrideDecision(
  o: StoredOverride,
  alert: Pick<Alert, "alert_id" | "severity">,
  match: OverrideMatch,
  previous: Decision | null = null,
): Decision {
  const scope =
    match === "alert_id"
      ? "this alert"
      : match === "exact"
        ? `alert ${o.alert_id}, which had the same content`
        : `alert ${o.alert_id}, which had the same risk pattern (rule, source, threat-intel band, counts, identity class)`;
  const reasoning = `Analyst override: ${o.analyst} classified ${scope} as ${o.classification}: ${o.reason}`.slice(0, 4000);
  return {
    classification: o.classification,
    severity: o.severity ?? previous?.severity ?? alert.severity,
    confidence: 100,
    reasoning,
    source: "override",
    learnable: false,
    recommended_actions:
      previous && previous.classification === o.classification && previous.recommended_actions.length > 0
        ? previous.recommended_actions
        : DEFAULT_ACTIONS[o.classification],
    mitre_techniques: previous?.mitre_techniques ?? [],
    model: null,
    prompt_version: null,
    degraded: false,
    fallback_reason: null,
  };
}

/**
 * The prototype's inline analyst label: `fields.human_override` ("TRUE_POSITIVE", "FALSE_POSITIVE", ...) on a
 * record, by analyst `fields.analyst` when given. Unknown labels are ignored. Whoever writes the record writes the
 * label, so it is honoured only with TRUST_INLINE_OVERRIDES=true, and then for that record alone (CachingClassifier):
 * never bound to keys or stored, so it cannot reach another alert. The label is never shown to the model either.
 */
export function inlineOverride(alert: Alert, at: string): (AnalystOverride & { at: string }) | null {
  const label = parseClassification(alert.fields.human_override);
  if (label === undefined) return null;
  const analyst =
    typeof alert.fields.analyst === "string" && alert.fields.analyst.trim() !== "" ? alert.fields.analyst.trim().slice(0, 256) : "prototype human_override";
  return { alert_id: alert.alert_id, classification: label, analyst, reason: "human_override label on the alert record", at };
}
