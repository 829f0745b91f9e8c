import type { Severity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asNumber, asText, compactFields, firstText, hasFlatFormatMarker, isObject, readFirst, readPath, textList, timestampInto } from "./fields.js";
import type { AlertFormat } from "./format.js";

/**
 * Wazuh rule level (0–16) → our scale, following the buckets of Wazuh's own dashboard (low 0–6, medium 7–11,
 * high 12–14, critical 15+) with levels 0–3 (ignored / low-priority notifications / successful, authorised
 * events in Wazuh's rule classification) read as info: 15–16 critical, 12–14 high, 7–11 medium, 4–6 low, 0–3 info.
 */
export function severityFromWazuhLevel(level: number): Severity | undefined {
  if (!Number.isInteger(level) || level < 0 || level > 16) return undefined;
  if (level >= 15) return "critical";
  if (level >= 12) return "high";
  if (level >= 7) return "medium";
  if (level >= 4) return "low";
  return "info";
}

// Decoded syslog fields first; Windows event channel and JSON-decoded Suricata EVE (data.src_ip) as fallbacks.
const SOURCE_IP = ["data.srcip", "data.win.eventdata.ipAddress", "data.src_ip"] as const;
const DESTINATION_IP = ["data.dstip", "data.dest_ip"] as const;

/** Wazuh manager alerts (alerts.json): rule.{level,description,id,groups,mitre}, agent, data.{srcip,dstip,srcuser,dstuser}. */
export const wazuhFormat: AlertFormat = {
  name: "wazuh",
  // Every Wazuh alert has a rule with a numeric level next to the agent/manager/decoder that produced it;
  // ECS documents have a `rule` too, but never `rule.level`.
  detect: (r) =>
    !hasFlatFormatMarker(r) && isObject(r.rule) && Object.hasOwn(r.rule, "level") && (isObject(r.agent) || isObject(r.manager) || isObject(r.decoder)),
  normalize(r) {
    const name = firstText(readPath(r, "rule.description"));
    if (!name) return invalid("missing_field", "rule.description is missing or not text (Wazuh names the rule there)");
    const levelValue = readPath(r, "rule.level");
    const level = asNumber(levelValue);
    const severity = level === undefined ? undefined : severityFromWazuhLevel(level);
    if (!severity && levelValue !== undefined && levelValue !== null) {
      return invalid("invalid_field", `rule.level ${JSON.stringify(levelValue).slice(0, 40)} is not an integer 0–16`);
    }

    // Windows event channel alerts carry the accounts under data.win.eventdata.
    const srcUser = firstText(readFirst(r, ["data.srcuser", "data.win.eventdata.subjectUserName"]), 1024);
    const dstUser = firstText(readFirst(r, ["data.dstuser", "data.win.eventdata.targetUserName"]), 1024);
    const fields = compactFields({
      rule_id: firstText(readPath(r, "rule.id"), 64),
      rule_level: level,
      rule_groups: textList(readPath(r, "rule.groups"), 16),
      rule_firedtimes: asNumber(readPath(r, "rule.firedtimes")),
      mitre_technique_ids: textList(readPath(r, "rule.mitre.id"), 16),
      mitre_tactics: textList(readPath(r, "rule.mitre.tactic"), 16),
      mitre_techniques: textList(readPath(r, "rule.mitre.technique"), 16),
      agent_id: firstText(readPath(r, "agent.id"), 64),
      agent_ip: firstText(readPath(r, "agent.ip"), 128),
      manager: firstText(readPath(r, "manager.name"), 256),
      decoder: firstText(readPath(r, "decoder.name"), 128),
      location: firstText(r.location, 1024),
      source_user: srcUser,
      target_user: srcUser && dstUser ? dstUser : undefined,
      source_port: asNumber(readPath(r, "data.srcport")),
      destination_port: asNumber(readPath(r, "data.dstport")),
      vulnerability_cve: firstText(readPath(r, "data.vulnerability.cve"), 64),
      file_path: firstText(readPath(r, "syscheck.path"), 4096),
    });
    const timestamp = timestampInto(readFirst(r, ["timestamp", "@timestamp"]), fields);

    return ok({
      alert_id: asText(r.id, 512),
      alert_name: name,
      severity: severity ?? "medium",
      source_ip: firstText(readFirst(r, SOURCE_IP), 128),
      destination_ip: firstText(readFirst(r, DESTINATION_IP), 128),
      // The acting account when there is one (sudo/su: srcuser), else the targeted one (sshd failures: dstuser).
      user: srcUser ?? dstUser,
      host: firstText(readFirst(r, ["agent.name", "manager.name"]), 1024),
      timestamp,
      description: firstText(r.full_log, 65536),
      fields,
      raw: r,
    });
  },
};
