import type { Severity } from "../../core/severity.js";
import { invalid, ok } from "../../core/result.js";
import { asNumber, asText, compactFields, firstText, hasFlatFormatMarker, isObject, readPath, textList, timestampInto } from "./fields.js";
import type { AlertFormat } from "./format.js";

/**
 * Suricata alert.severity is the rule's classtype priority, 1 most severe (classification.config uses 1–4):
 * 1 → high, 2 → medium, 3 → low, 4+ → info. A priority-1 signature whose ET metadata says
 * signature_severity "Critical" → critical: an IDS priority alone never justifies critical.
 */
export function severityFromSuricata(priority: number, signatureSeverity: string | null): Severity | undefined {
  if (!Number.isInteger(priority) || priority < 1) return undefined;
  if (priority === 1) return signatureSeverity?.toLowerCase() === "critical" ? "critical" : "high";
  if (priority === 2) return "medium";
  if (priority === 3) return "low";
  return "info";
}

/** The queried name of an EVE dns object: dns.rrname, or the first of dns.query[] (EVE v1) / dns.queries[] (v3). */
function dnsQuery(dns: unknown): string | null {
  if (!isObject(dns)) return null;
  const list = Array.isArray(dns.queries) ? dns.queries : Array.isArray(dns.query) ? dns.query : [];
  const first: unknown = list[0];
  return asText(dns.rrname, 1024) ?? (isObject(first) ? asText(first.rrname, 1024) : null);
}

// Keys every EVE record type carries next to event_type (the flow tuple or capture details).
const EVE_KEYS = ["flow_id", "src_ip", "dest_ip", "in_iface", "pcap_cnt"] as const;

/**
 * Suricata EVE JSON. Only event_type "alert" is triaged; other EVE records (flow, dns, http, stats...) are
 * recognised and rejected as not_an_alert so a misrouted eve.json shows up in the DLQ with a clear reason.
 * EVE has no alert id (flow_id names the flow, which can raise several alerts), so alert_id is left to the
 * content hash and flow_id goes to fields.
 */
export const suricataFormat: AlertFormat = {
  name: "suricata",
  detect: (r) => !hasFlatFormatMarker(r) && typeof r.event_type === "string" && (EVE_KEYS.some((k) => Object.hasOwn(r, k)) || isObject(r.alert)),
  normalize(r) {
    if (r.event_type !== "alert") {
      return invalid("not_an_alert", `EVE event_type ${JSON.stringify(r.event_type).slice(0, 40)} is not an alert; only event_type "alert" is triaged`);
    }
    if (!isObject(r.alert)) return invalid("missing_field", "alert object is missing from an EVE alert record");
    const name = asText(r.alert.signature);
    if (!name) return invalid("missing_field", "alert.signature is missing or not text");
    const priorityValue = r.alert.severity;
    const priority = asNumber(priorityValue);
    const signatureSeverity = firstText(readPath(r.alert, "metadata.signature_severity"), 32);
    const severity = priority === undefined ? undefined : severityFromSuricata(priority, signatureSeverity);
    if (!severity && priorityValue !== undefined && priorityValue !== null) {
      return invalid("invalid_field", `alert.severity ${JSON.stringify(priorityValue).slice(0, 40)} is not a priority 1 (most severe) or higher`);
    }

    const fields = compactFields({
      signature_id: asNumber(r.alert.signature_id),
      signature_rev: asNumber(r.alert.rev),
      generator_id: asNumber(r.alert.gid),
      category: asText(r.alert.category, 256),
      action: asText(r.alert.action, 32),
      priority,
      signature_severity: signatureSeverity,
      mitre_tactic_ids: textList(readPath(r.alert, "metadata.mitre_tactic_id"), 16),
      mitre_technique_ids: textList(readPath(r.alert, "metadata.mitre_technique_id"), 16),
      flow_id: asNumber(r.flow_id),
      community_id: asText(r.community_id, 128),
      proto: asText(r.proto, 16),
      app_proto: asText(r.app_proto, 32),
      src_port: asNumber(r.src_port),
      dest_port: asNumber(r.dest_port),
      direction: asText(r.direction, 16),
      in_iface: asText(r.in_iface, 64),
      sensor: asText(r.host, 256),
      http_hostname: firstText(readPath(r, "http.hostname"), 1024),
      http_url: firstText(readPath(r, "http.url"), 2048),
      dns_query: dnsQuery(r.dns),
      tls_sni: firstText(readPath(r, "tls.sni"), 1024),
    });
    const timestamp = timestampInto(r.timestamp, fields);

    return ok({
      alert_id: null,
      alert_name: name,
      severity: severity ?? "medium",
      source_ip: asText(r.src_ip, 128),
      destination_ip: asText(r.dest_ip, 128),
      user: null,
      // EVE's optional `host` is the sensor's name, not the host the alert is about: kept as fields.sensor.
      host: null,
      timestamp,
      description: asText(r.alert.category, 65536),
      fields,
      raw: r,
    });
  },
};
