import type { EnrichedAlert, Classifier } from "../../core/ports/index.js";
import type { Classification, Decision } from "../../core/verdict.js";
import type { Severity } from "../../core/severity.js";
import { geminiOptions } from "../../config/gemini.js";
import { asTriageError } from "../../core/errors.js";
import { applyGuard, strongThreatIntel, type GuardOptions } from "./guard.js";

/** Version stamped on rules verdicts (prompt_version field), bumped when a rule changes. */
export const RULES_VERSION = "rules-1";

interface Rule {
  id: string;
  /** Matches alert name/description text (lower-cased). */
  pattern: RegExp;
  classification: Classification;
  /** Confidence when the alert's own severity is high/critical vs lower. */
  confidence: number;
  actions: string[];
  mitre: string[];
  why: string;
}

// Ordered: first match wins. Kept small and explainable; the model handles nuance.
const RULES: readonly Rule[] = [
  {
    id: "ransomware",
    pattern: /ransomware|crypto-?locker|mass file encryption|shadow cop(y|ies) delet/,
    classification: "true_positive",
    confidence: 90,
    actions: ["Isolate the host", "Preserve memory and disk images", "Start incident response"],
    mitre: ["T1486"],
    why: "Ransomware behaviour is rarely benign",
  },
  {
    id: "credential-dumping",
    pattern: /credential dump|lsass|mimikatz|ntds\.dit|dcsync/,
    classification: "true_positive",
    confidence: 85,
    actions: ["Isolate the host", "Reset credentials used on the host"],
    mitre: ["T1003"],
    why: "Credential dumping tools or access patterns were detected",
  },
  {
    id: "c2",
    pattern: /command and control|c2 beacon|beacon(ing)?|cobalt ?strike|\bc2\b/,
    classification: "true_positive",
    confidence: 80,
    actions: ["Block the remote address", "Isolate the host"],
    mitre: ["T1071"],
    why: "Command-and-control traffic indicates a compromised host",
  },
  {
    id: "exfiltration",
    pattern: /exfiltrat|data transfer to (an )?(unusual|external)|large upload/,
    classification: "true_positive",
    confidence: 75,
    actions: ["Block the destination", "Review transferred data"],
    mitre: ["T1041"],
    why: "Unusual outbound data transfer matches exfiltration",
  },
  {
    id: "malware",
    pattern: /malware|trojan|virus|worm|backdoor|webshell|web shell/,
    classification: "true_positive",
    confidence: 75,
    actions: ["Quarantine the file", "Scan the host"],
    mitre: ["T1204"],
    why: "A malware detection fired",
  },
  {
    id: "brute-force-success",
    pattern: /successful login after (brute force|repeated failures)/,
    classification: "true_positive",
    confidence: 85,
    actions: ["Disable the account", "Reset the password", "Review the session"],
    mitre: ["T1110"],
    why: "A successful login followed repeated failures from the same source",
  },
  {
    id: "privilege-escalation",
    pattern: /privilege escalation|added to (domain )?admin|sudoers/,
    classification: "needs_review",
    confidence: 60,
    actions: ["Confirm the change with the account owner"],
    mitre: ["T1078"],
    why: "Privilege changes need confirmation by the owner",
  },
  {
    id: "impossible-travel",
    pattern: /impossible travel|anomalous (login )?location/,
    classification: "needs_review",
    confidence: 55,
    actions: ["Contact the user", "Check for VPN use"],
    mitre: ["T1078"],
    why: "Geographically impossible logins may be VPN use or account takeover",
  },
  {
    id: "phishing",
    pattern: /phish|malicious (link|attachment)|suspicious email/,
    classification: "needs_review",
    confidence: 60,
    actions: ["Check who clicked", "Purge the message from mailboxes"],
    mitre: ["T1566"],
    why: "Phishing reports need confirmation of delivery and clicks",
  },
  {
    id: "brute-force",
    pattern: /brute force|password spray|repeated failed logins/,
    classification: "needs_review",
    confidence: 60,
    actions: ["Check for a later successful login", "Consider blocking the source"],
    mitre: ["T1110"],
    why: "Repeated failed logins without a success",
  },
  {
    id: "port-scan",
    pattern: /port scan|network scan|nmap|reconnaissance/,
    classification: "needs_review",
    confidence: 50,
    actions: ["Check whether the scanner is an approved tool"],
    mitre: ["T1046"],
    why: "Scans are common; approved scanners are benign",
  },
  {
    id: "benign-noise",
    pattern: /^(failed login|successful login)$|test alert|scheduled task (created|ran)|heartbeat|health ?check/,
    classification: "false_positive",
    confidence: 70,
    actions: ["Close as benign"],
    mitre: [],
    why: "Routine activity with no sign of attack",
  },
];

const HIGH: ReadonlySet<Severity> = new Set(["critical", "high"]);

/**
 * The guard at the GUARD_* defaults the config schema declares (one source): for callers without the operator's
 * options at hand. Callers that have them (the classifiers built from config) pass them in.
 */
export const DEFAULT_GUARD: Readonly<GuardOptions> = Object.freeze({
  abuseScoreMin: geminiOptions.GUARD_ABUSE_SCORE_MIN.schema.parse(undefined),
  vtMaliciousMin: geminiOptions.GUARD_VT_MALICIOUS_MIN.schema.parse(undefined),
});

// Decisions without TI depend only on name, severity and description: memoised (bounded) for the hot path.
const memo = new Map<string, Decision>();
const MEMO_MAX = 10_000;

/**
 * Deterministic offline decision for one alert: name rules, then threat intel (strong by the guard's thresholds,
 * GUARD_ABUSE_SCORE_MIN / GUARD_VT_MALICIOUS_MIN), then severity.
 */
export function decideByRules(item: EnrichedAlert, guard: GuardOptions = DEFAULT_GUARD): Decision {
  if (item.enrichment !== null) return decide(item, guard);
  const { alert } = item;
  const key = `${alert.severity}\u0000${alert.alert_name}\u0000${alert.description ?? ""}`;
  const hit = memo.get(key);
  if (hit) return { ...hit, recommended_actions: [...hit.recommended_actions], mitre_techniques: [...hit.mitre_techniques] };
  const decision = decide(item, guard); // no TI: the guard thresholds play no part, so the memo holds for any
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(key, decision);
  return { ...decision, recommended_actions: [...decision.recommended_actions], mitre_techniques: [...decision.mitre_techniques] };
}

function decide(item: EnrichedAlert, guard: GuardOptions): Decision {
  const { alert } = item;
  const text = `${alert.alert_name} ${alert.description ?? ""}`.toLowerCase();
  const name = alert.alert_name.toLowerCase();
  const rule = RULES.find((r) => r.pattern.test(name)) ?? RULES.find((r) => r.id !== "benign-noise" && r.pattern.test(text));
  const ti = strongThreatIntel(item.enrichment, guard);
  const base = {
    severity: alert.severity,
    source: "rules" as const,
    model: null,
    prompt_version: RULES_VERSION,
    degraded: false,
    fallback_reason: null,
    learnable: false,
  };

  if (ti && rule?.classification !== "true_positive") {
    return {
      ...base,
      classification: "true_positive",
      confidence: 80,
      reasoning: `${ti}. Alert "${alert.alert_name}" involves a known-malicious address.`,
      recommended_actions: ["Block the IP", ...(rule?.actions ?? [])],
      mitre_techniques: rule?.mitre ?? [],
    };
  }
  if (rule) {
    const confidence = HIGH.has(alert.severity) ? rule.confidence : Math.max(40, rule.confidence - 15);
    const classification = rule.classification === "true_positive" && !HIGH.has(alert.severity) && !ti ? "needs_review" : rule.classification;
    const sev = classification === "true_positive" && rule.id === "brute-force-success" ? "critical" : alert.severity;
    const tiNote = ti ? ` ${ti}.` : "";
    const sevNote = classification !== rule.classification ? ` Severity ${alert.severity} is too low to confirm without an analyst.` : "";
    return {
      ...base,
      severity: sev,
      classification,
      confidence,
      reasoning: `Rule ${rule.id}: ${rule.why}.${tiNote}${sevNote}`,
      recommended_actions: rule.actions,
      mitre_techniques: rule.mitre,
    };
  }
  if (alert.severity === "info") {
    return {
      ...base,
      classification: "false_positive",
      confidence: 55,
      reasoning: `No rule matched "${alert.alert_name}" and its severity is info.`,
      recommended_actions: ["Close as benign"],
      mitre_techniques: [],
    };
  }
  return {
    ...base,
    classification: "needs_review",
    confidence: 40,
    reasoning: `No rule matched "${alert.alert_name}" (severity ${alert.severity}); an analyst should look.`,
    recommended_actions: ["Triage manually"],
    mitre_techniques: [],
  };
}

/** The offline classifier: default without a Gemini key, and the fallback when the model can't answer. */
export const rulesClassifier: Classifier = {
  name: "rules",
  classify: async (items) => items.map((item) => decideByRules(item)),
};

/** The rules verdict for an alert the model could not decide: flagged degraded, with the reason (the one fallback). */
export function degradedByRules(item: EnrichedAlert, reason: string, guard: GuardOptions = DEFAULT_GUARD): Decision {
  return { ...decideByRules(item, guard), degraded: true, fallback_reason: reason };
}

/**
 * Ask an inner classifier and never throw: an alert it returns no decision for, or a whole batch it fails on, gets the
 * rules verdict flagged degraded, passed through the guard (the one fallback the cache and the memory share).
 */
export async function classifyOrDegrade(inner: Classifier, batch: readonly EnrichedAlert[], guard: GuardOptions): Promise<Decision[]> {
  if (batch.length === 0) return [];
  let decisions: Decision[] = [];
  let reason = `${inner.name} returned no decision`;
  try {
    decisions = await inner.classify(batch);
  } catch (err) {
    reason = `${inner.name} failed: ${asTriageError(err, "classify").message}`;
  }
  return batch.map((item, j) => decisions[j] ?? applyGuard(item, degradedByRules(item, reason, guard), guard));
}
