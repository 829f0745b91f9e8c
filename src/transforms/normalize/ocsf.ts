import { normalizeSeverity, type Severity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asNumber, asText, compactFields, firstText, hasFlatFormatMarker, isObject, readFirst, readPath, textList, timestampInto } from "./fields.js";
import type { AlertFormat } from "./format.js";

/** OCSF classes triaged as alerts: Security Finding (1.0, deprecated since 1.1) and Detection Finding. */
const FINDING_CLASSES: Record<number, string> = { 2001: "Security Finding", 2004: "Detection Finding" };

/**
 * OCSF severity_id → our scale: 6 Fatal and 5 Critical → critical, 4 High → high, 3 Medium → medium,
 * 2 Low → low, 1 Informational → info. 0 Unknown and 99 Other defer to the source's own `severity` text
 * (which 99 requires), and without a recognisable one the alert gets our default, medium.
 */
export function severityFromOcsf(severityId: number): Severity | undefined {
  switch (severityId) {
    case 6:
    case 5:
      return "critical";
    case 4:
      return "high";
    case 3:
      return "medium";
    case 2:
      return "low";
    case 1:
      return "info";
    default:
      return undefined;
  }
}

/** MITRE ids from OCSF attack objects (tactic/technique/sub_technique, and 1.0's tactics[]). */
function mitreIds(attacks: unknown): { tactics: string[]; techniques: string[] } {
  const tactics: unknown[] = [];
  const techniques: unknown[] = [];
  for (const attack of Array.isArray(attacks) ? attacks.slice(0, 32) : []) {
    if (!isObject(attack)) continue;
    tactics.push(readPath(attack, "tactic.uid"));
    for (const t of Array.isArray(attack.tactics) ? attack.tactics.slice(0, 16) : []) if (isObject(t)) tactics.push(t.uid);
    techniques.push(readPath(attack, "technique.uid"), readPath(attack, "sub_technique.uid"));
  }
  return { tactics: textList(tactics), techniques: textList(techniques) };
}

/** First evidence artifact (Detection Finding `evidences[]`) holding `path`, for findings that put endpoints there. */
function fromEvidence(r: Record<string, unknown>, path: string): unknown {
  if (!Array.isArray(r.evidences)) return undefined;
  for (const evidence of r.evidences.slice(0, 16)) {
    if (!isObject(evidence)) continue;
    const value = readPath(evidence, path);
    if (value !== undefined && value !== null) return value;
  }
  return undefined;
}

/**
 * OCSF events (any record with a numeric class_uid and OCSF's required metadata/category/type ids).
 * Detection Finding 2004 and Security Finding 2001 become alerts (finding_info.*, or 1.0's finding.*);
 * other classes (authentication, network activity, vulnerability findings...) are rejected as not_an_alert.
 */
export const ocsfFormat: AlertFormat = {
  name: "ocsf",
  detect: (r) =>
    !hasFlatFormatMarker(r) &&
    typeof r.class_uid === "number" &&
    (isObject(r.metadata) || Object.hasOwn(r, "category_uid") || Object.hasOwn(r, "type_uid") || Object.hasOwn(r, "severity_id")),
  normalize(r) {
    const classUid = r.class_uid as number;
    const className = FINDING_CLASSES[classUid];
    if (!className) {
      const label = asText(r.class_name, 64);
      return invalid("not_an_alert", `OCSF class_uid ${classUid}${label ? ` (${label})` : ""} is not a finding; only Detection Finding (2004) and Security Finding (2001) are triaged`);
    }
    const name = firstText(readFirst(r, ["finding_info.title", "finding.title"]));
    if (!name) return invalid("missing_field", "finding_info.title is missing or not text");

    const severityIdValue = r.severity_id;
    const severityId = asNumber(severityIdValue);
    let severity = severityId === undefined ? undefined : severityFromOcsf(severityId);
    // Our word table reads "unknown" as info; for OCSF it means "not known", which gets the default instead.
    const severityText = asText(r.severity, 64);
    if (!severity && severityText && !/^(unknown|other)$/i.test(severityText)) severity = normalizeSeverity(severityText);
    const knownId = severityId === 0 || severityId === 99 || severity !== undefined;
    if (!severity && severityIdValue !== undefined && severityIdValue !== null && !knownId) {
      return invalid("invalid_field", `severity_id ${JSON.stringify(severityIdValue).slice(0, 40)} is not an OCSF severity (0–6 or 99)`);
    }

    const mitre = mitreIds(readFirst(r, ["finding_info.attacks", "attacks"]));
    const fields = compactFields({
      class_uid: classUid,
      class_name: asText(r.class_name, 64) ?? className,
      activity: asText(r.activity_name, 64) ?? asNumber(r.activity_id),
      status: asText(r.status, 64),
      severity_id: severityId,
      source_severity: severityText,
      confidence: asNumber(r.confidence_score) ?? asText(r.confidence, 64),
      risk_score: asNumber(r.risk_score),
      risk_level: asText(r.risk_level, 64),
      finding_types: textList(readFirst(r, ["finding_info.types", "finding.types"]), 16),
      analytic: firstText(readPath(r, "finding_info.analytic.name"), 256),
      analytic_uid: firstText(readPath(r, "finding_info.analytic.uid"), 256),
      product: firstText(readPath(r, "metadata.product.name"), 256),
      vendor: firstText(readPath(r, "metadata.product.vendor_name"), 256),
      ocsf_version: firstText(readPath(r, "metadata.version"), 32),
      mitre_tactic_ids: mitre.tactics,
      mitre_technique_ids: mitre.techniques,
      source_port: asNumber(readPath(r, "src_endpoint.port")),
      destination_port: asNumber(readPath(r, "dst_endpoint.port")),
    });
    const timestamp = timestampInto(readFirst(r, ["time", "time_dt", "finding_info.created_time"]), fields);

    return ok({
      alert_id: firstText(readFirst(r, ["finding_info.uid", "finding.uid", "metadata.uid"]), 512),
      alert_name: name,
      severity: severity ?? "medium",
      source_ip: firstText(readPath(r, "src_endpoint.ip") ?? fromEvidence(r, "src_endpoint.ip"), 128),
      destination_ip: firstText(readPath(r, "dst_endpoint.ip") ?? fromEvidence(r, "dst_endpoint.ip"), 128),
      user: firstText(readFirst(r, ["actor.user.name", "user.name"]) ?? fromEvidence(r, "actor.user.name"), 1024),
      host: firstText(readFirst(r, ["device.hostname", "device.name"]), 1024),
      timestamp,
      description: firstText(readFirst(r, ["finding_info.desc", "finding.desc", "message"]), 65536),
      fields,
      raw: r,
    });
  },
};
