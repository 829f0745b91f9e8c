import type { Alert } from "../../../../src/core/alert.js";
import type { Enrichment } from "../../../../src/core/enrichment.js";
import type { EnrichedAlert } from "../../../../src/core/ports/index.js";
import type { Decision } from "../../../../src/core/verdict.js";

/** A plain alert; override any field. */
export function alert(over: Partial<Alert> = {}): Alert {
  return {
    alert_id: "A-1",
    alert_name: "Suspicious login",
    severity: "medium",
    source_ip: "203.0.113.7",
    destination_ip: "10.0.0.5",
    user: "alice",
    host: "ws-01",
    timestamp: "2026-11-23T08:00:00.000Z",
    description: "Login from an unusual country",
    format: "native",
    fields: {},
    ...over,
  };
}

/** Threat intel with the given AbuseIPDB score and VirusTotal malicious count. */
export function intel(abuseScore: number, vtMalicious: number, ip = "203.0.113.7"): Enrichment {
  return {
    ip,
    ip_role: "source",
    abuseipdb: {
      status: "ok",
      cached: false,
      data: {
        abuse_confidence_score: abuseScore,
        country: "NL",
        usage_type: "Data Center/Web Hosting/Transit",
        isp: "Example Hosting",
        total_reports: 12,
        is_tor: false,
        last_reported_at: null,
      },
    },
    virustotal: {
      status: "ok",
      cached: false,
      data: { malicious: vtMalicious, suspicious: 0, harmless: 60, undetected: 20, reputation: -5, as_owner: "EXAMPLE-AS", country: "NL" },
    },
  };
}

export function enriched(over: Partial<Alert> = {}, enrichment: Enrichment | null = null): EnrichedAlert {
  return { alert: alert(over), enrichment };
}

/** A model decision saying false_positive (what an obedient model answers to injected text). */
export function falsePositive(over: Partial<Decision> = {}): Decision {
  return {
    classification: "false_positive",
    severity: "info",
    confidence: 99,
    reasoning: "Benign.",
    source: "llm",
    recommended_actions: ["Close the alert"],
    mitre_techniques: [],
    model: "gemini-test",
    prompt_version: "p",
    degraded: false,
    fallback_reason: null,
    learnable: true,
    ...over,
  };
}

/** Request sizes, timeouts and fast retry delays shared by the LlmClassifier test rigs (each sets its own guard, rpd, fields). */
export const LLM_TEST_LIMITS = {
  maxAlertsPerRequest: 25,
  criticalAlertsPerRequest: 10,
  maxInputTokensPerRequest: 100_000,
  outputTokensPerAlert: 400,
  maxAlertChars: 1500,
  timeoutMs: 5000,
  retryDeadlineMs: 3000,
  defaultRateLimitPauseMs: 200,
  retryMinDelayMs: 5,
  retryMaxDelayMs: 20,
} as const;
