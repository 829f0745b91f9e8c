import { normalizeSeverity, type Severity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asNumber, asText, compactFields, firstText, hasFlatFormatMarker, hasKeyPrefix, isObject, readFirst, readPath, textList, timestampInto } from "./fields.js";
import type { AlertFormat } from "./format.js";

/**
 * Elastic risk score (0–100) → our scale, banded at the midpoints between the defaults Kibana assigns per
 * rule severity (low 21, medium 47, high 73, critical 99): ≥86 critical, ≥60 high, ≥34 medium, >0 low, 0 info.
 */
export function severityFromElasticRiskScore(score: number): Severity | undefined {
  if (!Number.isFinite(score) || score < 0 || score > 100) return undefined;
  if (score >= 86) return "critical";
  if (score >= 60) return "high";
  if (score >= 34) return "medium";
  if (score > 0) return "low";
  return "info";
}

/** A search hit ({_index, _id, _source}) is read through its _source; anything else is the document itself. */
function documentOf(r: Record<string, unknown>): { doc: Record<string, unknown>; hitId: unknown } {
  if (isObject(r._source) && (Object.hasOwn(r, "_id") || Object.hasOwn(r, "_index"))) return { doc: r._source, hitId: r._id };
  return { doc: r, hitId: undefined };
}

/** Kibana alerts-as-data (kibana.alert.*, nested or flattened) or a legacy .siem-signals document (signal.rule). */
function isSecurityAlert(doc: Record<string, unknown>): boolean {
  return (
    hasKeyPrefix(doc, "kibana.alert.") ||
    isObject(readPath(doc, "kibana.alert")) ||
    (isObject(doc.kibana) && hasKeyPrefix(doc.kibana, "alert.")) ||
    isObject(readPath(doc, "signal.rule"))
  );
}

/**
 * A plain ECS document (ecs.version, or @timestamp with event.kind). Documents that also carry another
 * format's discriminator (Wazuh rule.level, Suricata event_type, OCSF class_uid) are that format shipped
 * through Beats with its JSON at the root, so they are left to it.
 */
function isPlainEcs(doc: Record<string, unknown>): boolean {
  const ecs = readPath(doc, "ecs.version") !== undefined || (Object.hasOwn(doc, "@timestamp") && typeof readPath(doc, "event.kind") === "string");
  if (!ecs) return false;
  const wazuhRule = isObject(doc.rule) && Object.hasOwn(doc.rule, "level");
  return !wazuhRule && !Object.hasOwn(doc, "event_type") && !Object.hasOwn(doc, "class_uid");
}

/** MITRE ids from Kibana's rule threat array ([{tactic:{id}, technique:[{id, subtechnique:[{id}]}]}]) and ECS threat.*. */
function mitreIds(doc: Record<string, unknown>): { tactics: string[]; techniques: string[] } {
  const tactics: unknown[] = [];
  const techniques: unknown[] = [];
  const threat = readFirst(doc, ["kibana.alert.rule.threat", "signal.rule.threat", "kibana.alert.rule.parameters.threat"]);
  for (const entry of Array.isArray(threat) ? threat.slice(0, 32) : []) {
    if (!isObject(entry)) continue;
    if (isObject(entry.tactic)) tactics.push(entry.tactic.id);
    for (const tech of Array.isArray(entry.technique) ? entry.technique.slice(0, 32) : []) {
      if (!isObject(tech)) continue;
      techniques.push(tech.id);
      for (const sub of Array.isArray(tech.subtechnique) ? tech.subtechnique.slice(0, 32) : []) if (isObject(sub)) techniques.push(sub.id);
    }
  }
  tactics.push(readPath(doc, "threat.tactic.id"));
  techniques.push(readPath(doc, "threat.technique.id"), readPath(doc, "threat.technique.subtechnique.id"));
  return { tactics: textList(tactics), techniques: textList(techniques) };
}

/**
 * Elastic Security detection alerts (Kibana alerts-as-data, legacy signals) and plain ECS documents, nested or
 * with flattened dotted keys, bare or as a search hit. Severity: kibana.alert.severity is already one of
 * low/medium/high/critical (taken as is); without it the risk score is banded (see severityFromElasticRiskScore);
 * with neither, medium.
 */
export const elasticFormat: AlertFormat = {
  name: "elastic",
  detect(r) {
    if (hasFlatFormatMarker(r)) return false;
    const { doc } = documentOf(r);
    return isSecurityAlert(doc) || isPlainEcs(doc);
  },
  normalize(r) {
    const { doc, hitId } = documentOf(r);
    const name = firstText(readFirst(doc, ["kibana.alert.rule.name", "signal.rule.name", "rule.name"]));
    if (!name) return invalid("missing_field", "kibana.alert.rule.name (rule.name for a plain ECS document) is missing or not text");

    const severityValue = readFirst(doc, ["kibana.alert.severity", "signal.rule.severity"]);
    const riskScore = asNumber(readFirst(doc, ["kibana.alert.risk_score", "signal.rule.risk_score"]));
    let severity = normalizeSeverity(typeof severityValue === "string" ? severityValue : undefined);
    if (!severity && riskScore !== undefined) severity = severityFromElasticRiskScore(riskScore);
    if (!severity && severityValue !== undefined) {
      return invalid("invalid_field", `kibana.alert.severity ${JSON.stringify(severityValue).slice(0, 40)} is not low/medium/high/critical and no usable risk score was given`);
    }

    const mitre = mitreIds(doc);
    const fields = compactFields({
      rule_id: firstText(readFirst(doc, ["kibana.alert.rule.rule_id", "signal.rule.rule_id", "rule.id"]), 256),
      rule_uuid: firstText(readFirst(doc, ["kibana.alert.rule.uuid", "signal.rule.id", "rule.uuid"]), 256),
      rule_type: firstText(readFirst(doc, ["kibana.alert.rule.type", "signal.rule.type"]), 64),
      risk_score: riskScore,
      workflow_status: firstText(readFirst(doc, ["kibana.alert.workflow_status", "signal.status"]), 64),
      building_block_type: firstText(readPath(doc, "kibana.alert.building_block_type"), 64),
      original_time: firstText(readFirst(doc, ["kibana.alert.original_time", "signal.original_time"]), 64),
      event_kind: firstText(readPath(doc, "event.kind"), 64),
      event_category: textList(readPath(doc, "event.category"), 8),
      event_action: firstText(readFirst(doc, ["kibana.alert.original_event.action", "event.action"]), 256),
      event_module: firstText(readFirst(doc, ["kibana.alert.original_event.module", "event.module"]), 64),
      source_port: asNumber(readPath(doc, "source.port")),
      destination_port: asNumber(readPath(doc, "destination.port")),
      process_name: firstText(readPath(doc, "process.name"), 256),
      file_sha256: firstText(readPath(doc, "file.hash.sha256"), 128),
      url: firstText(readPath(doc, "url.full"), 2048),
      mitre_tactic_ids: mitre.tactics,
      mitre_technique_ids: mitre.techniques,
      elastic_index: firstText(r._index, 256),
    });
    const timestamp = timestampInto(readFirst(doc, ["@timestamp", "kibana.alert.original_time", "signal.original_time"]), fields);

    return ok({
      alert_id: firstText(readFirst(doc, ["kibana.alert.uuid", "event.id"]), 512) ?? asText(hitId, 512),
      alert_name: name,
      severity: severity ?? "medium",
      source_ip: firstText(readFirst(doc, ["source.ip", "client.ip"]), 128),
      destination_ip: firstText(readFirst(doc, ["destination.ip", "server.ip"]), 128),
      user: firstText(readFirst(doc, ["user.name", "user.target.name"]), 1024),
      host: firstText(readFirst(doc, ["host.name", "host.hostname"]), 1024),
      timestamp,
      description: firstText(readFirst(doc, ["kibana.alert.reason", "signal.reason", "kibana.alert.rule.description", "signal.rule.description", "rule.description", "message"]), 65536),
      fields,
      raw: r,
    });
  },
};
