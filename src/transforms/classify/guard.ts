/**
 * Deterministic checks after the model (pure): whatever the model says, an alert whose own text tries to instruct
 * the triager, or whose IP has strong threat intel, is never closed as an automatic false_positive.
 */
import type { Alert } from "../../core/alert.js";
import type { Enrichment } from "../../core/enrichment.js";
import type { EnrichedAlert } from "../../core/ports.js";
import { SEVERITIES } from "../../core/severity.js";
import type { Decision } from "../../core/verdict.js";

export interface GuardOptions {
  /** AbuseIPDB confidence at or above which false_positive is refused. */
  abuseScoreMin: number;
  /** VirusTotal malicious engine count at or above which false_positive is refused. */
  vtMaliciousMin: number;
}

/**
 * Instruction-like content, matched on normalised text (lower case, NFKD without combining marks, no zero-width
 * characters, `_`/`-`/whitespace runs as one space). Deliberately broad: a false alarm only costs an analyst a look.
 */
const INJECTION_PATTERNS: readonly RegExp[] = [
  /(ignore|disregard|forget|override|bypass)( (all|any|the|your|these|those|my|of|previous|prior|above|earlier|preceding|system|original|existing|safety))* (instructions?|prompts?|rules|directions|guidelines|directives|policy|policies|context)/,
  /disregard( all| any)?( the)? (previous|prior|above|earlier|system)/,
  /(classify|mark|label|flag|treat|report|tag|categori[sz]e|consider|close|resolve)( (this|it|the|these|that|all|them|alerts?|events?|activity|ticket|incident|as))* (benign|harmless|safe|false positive|not malicious|non malicious|legitimate|clean|expected|resolved|low risk)/,
  /false ?positive/,
  /(you are|you're|you will be) now|act as (a|an|the)|pretend (to be|you are)|role ?play|from now on,? you|new instructions|updated instructions|system prompt|system message|developer (mode|message)|jailbreak|do anything now/,
  /<\/?(system|assistant|developer|user|instructions?)>|\[\/?(system|inst)\]|<\|im_(start|end)\|>|###\s*(system|instruction)/,
  /(do not|don't|never) (alert|escalate|flag|report|notify|raise|investigate)/,
];

const ZERO_WIDTH = /[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]/g;

/** Fold text so spacing, case, width, accent and separator tricks do not hide a phrase. */
export function normaliseForGuard(text: string): string {
  return text.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "").replace(ZERO_WIDTH, "").replace(/[\s_-]+/g, " ");
}

/** Every string (keys too) an attacker can influence in an alert. */
function alertStrings(alert: Alert): string[] {
  const out: string[] = [alert.alert_id, alert.alert_name, alert.description ?? "", alert.user ?? "", alert.host ?? ""];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 8 || out.length > 2000) return;
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        walk(x, depth + 1);
      }
    }
  };
  walk(alert.fields, 0);
  return out;
}

/** The first instruction-like fragment in the alert's text, or null. */
export function findInjection(alert: Alert): string | null {
  for (const s of alertStrings(alert)) {
    const text = normaliseForGuard(s);
    for (const re of INJECTION_PATTERNS) {
      const m = re.exec(text);
      if (m) return m[0];
    }
  }
  return null;
}

/** Why the threat intel is too strong to close the alert as benign, or null. */
export function strongThreatIntel(enrichment: Enrichment | null, opts: GuardOptions): string | null {
  if (!enrichment) return null;
  const reasons: string[] = [];
  const abuse = enrichment.abuseipdb;
  if (abuse.status === "ok" && abuse.data.abuse_confidence_score >= opts.abuseScoreMin) reasons.push(`AbuseIPDB confidence ${abuse.data.abuse_confidence_score}`);
  const vt = enrichment.virustotal;
  if (vt.status === "ok" && vt.data.malicious >= opts.vtMaliciousMin) reasons.push(`${vt.data.malicious} VirusTotal engines flag it`);
  return reasons.length > 0 ? `${enrichment.ip ?? "the IP"} has strong threat intel (${reasons.join(", ")})` : null;
}

/** Raise an automatic false_positive to needs_review when the alert text is instruction-like or the TI is strong. */
export function applyGuard(item: EnrichedAlert, decision: Decision, opts: GuardOptions): Decision {
  if (decision.classification !== "false_positive") return decision;
  const reasons: string[] = [];
  const injected = findInjection(item.alert);
  if (injected !== null) reasons.push(`the alert text contains instruction-like content ("${injected.slice(0, 60)}"), which may be a prompt-injection attempt`);
  const ti = strongThreatIntel(item.enrichment, opts);
  if (ti !== null) reasons.push(ti);
  if (reasons.length === 0) return decision;
  const severity = SEVERITIES.indexOf(decision.severity) <= SEVERITIES.indexOf(item.alert.severity) ? decision.severity : item.alert.severity;
  const note = ` [guard] Automatic false_positive refused: ${reasons.join("; ")}.`;
  return {
    ...decision,
    classification: "needs_review",
    severity,
    confidence: Math.min(decision.confidence, 50),
    reasoning: `${decision.reasoning.slice(0, 4000 - note.length)}${note}`,
    recommended_actions: [...decision.recommended_actions.filter((a) => !/close|benign/i.test(a)), "Review manually before closing"],
  };
}
